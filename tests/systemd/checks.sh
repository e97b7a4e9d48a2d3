#!/bin/busybox sh
# The systemd cgroup driver's checks, run by systemd (pid 1) in a VM booted
# with a unified (tandem.mode=v2) or hybrid (tandem.mode=hybrid) cgroup
# layout. Each check prints "CHECK <name> ok" or "CHECK <name> FAIL: <why>";
# tests/systemd.rs lists the names it expects.
/bin/busybox --install -s /bin
mkdir -p /out /c

# A hung command fails its check after 120 s instead of stalling the VM.
T="timeout -k 5 120 tandem --root /run/tandem --systemd-cgroup"
MODE="$(sed -n 's/.*tandem\.mode=\([a-z0-9]*\).*/\1/p' /proc/cmdline)"

. /checks-lib.sh
status() { $T state "$1" 2>/dev/null | sed -n 's/.*"status": "\(.*\)".*/\1/p'; }
pid_of() { $T state "$1" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }
prop() { systemctl show -p "$2" --value "$1"; }

# Where a cgroup's files are, per layout: mem PATH, pids PATH, cpu PATH.
if [ "$MODE" = v2 ]; then
    mem() { echo /sys/fs/cgroup/$1/memory.max; }
    pids() { echo /sys/fs/cgroup/$1/pids.max; }
    quota() { cut -d' ' -f1 /sys/fs/cgroup/$1/cpu.max; }
    freezer() { echo /sys/fs/cgroup/$1; }
    MEMPROP=MemoryMax
    INSIDE_PIDS=/sys/fs/cgroup/pids.max
else
    mem() { echo /sys/fs/cgroup/memory/$1/memory.limit_in_bytes; }
    pids() { echo /sys/fs/cgroup/pids/$1/pids.max; }
    quota() { cat /sys/fs/cgroup/cpu,cpuacct/$1/cpu.cfs_quota_us; }
    freezer() { echo /sys/fs/cgroup/freezer/$1; }
    MEMPROP=MemoryLimit
    INSIDE_PIDS=/sys/fs/cgroup/pids/pids.max
fi

# One busybox rootfs for every container.
mkdir -p /rootfs/bin /rootfs/proc /rootfs/dev /rootfs/sys /rootfs/tmp /rootfs/out
cp /bin/busybox /rootfs/bin/
chroot /rootfs /bin/busybox --install -s /bin

# bundle NAME ARGS_JSON RESOURCES_JSON CGROUPS_PATH [ANNOTATIONS_JSON]
bundle() {
    mkdir -p /c/$1
    cat > /c/$1/config.json <<JSON
{
  "ociVersion": "1.2.0",
  "process": {
    "user": {"uid": 0, "gid": 0},
    "args": $2,
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
  },
  "root": {"path": "/rootfs"},
  "hostname": "sd",
  "annotations": ${5:-{\}},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/out", "type": "bind", "source": "/out", "options": ["rbind", "rw"]}
  ],
  "linux": {
    "cgroupsPath": "$4",
    "resources": $3,
    "namespaces": [{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]
  }
}
JSON
}

# --- the layout is the one asked for, and systemd runs it
if [ "$MODE" = v2 ]; then
    grep -q memory /sys/fs/cgroup/cgroup.controllers && ! grep -q " cgroup " /proc/mounts
else
    [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/unified ] && [ -d /sys/fs/cgroup/systemd ]
fi && [ -S /run/systemd/private ] && ok layout || fail layout "$MODE: $(grep cgroup /proc/mounts)"

# --- the default unit: tandem-<id>.scope in system.slice, with the limits
#     given to systemd as properties and written to the files
bundle c1 '["sleep","1000"]' \
    '{"memory":{"limit":268435456},"pids":{"limit":42},"cpu":{"shares":1024,"quota":50000,"period":100000}}' "" \
    '{"org.systemd.property.TimeoutStopUSec":"uint64 123456789","org.systemd.property.CollectMode":"'"'inactive-or-failed'"'"}'
$T run -d -b /c/c1 c1 || fail default-unit "run failed"
U=system.slice/tandem-c1.scope
expect default-unit "active running" "$(systemctl is-active tandem-c1.scope) $(status c1)"
pid=$(pid_of c1)
# In the unit's cgroup in every hierarchy (v1: also those systemd leaves).
expect in-unit-everywhere "" "$(grep -v ":/$U\$" /proc/$pid/cgroup)"
expect properties "268435456 42 500ms 2min 3.456789s inactive-or-failed" \
    "$(prop tandem-c1.scope $MEMPROP) $(prop tandem-c1.scope TasksMax) $(prop tandem-c1.scope CPUQuotaPerSecUSec) $(prop tandem-c1.scope TimeoutStopUSec) $(prop tandem-c1.scope CollectMode)"
expect files "268435456 42 50000" "$(cat $(mem $U)) $(cat $(pids $U)) $(quota $U)"
expect delegated yes "$(prop tandem-c1.scope Delegate)"

# --- a daemon-reload re-applies every unit's properties: the limits stay
systemctl daemon-reload
expect survives-reload "268435456 42 50000" "$(cat $(mem $U)) $(cat $(pids $U)) $(quota $U)"

# --- update goes to systemd and to the files; the container sees it
$T update --memory 134217728 --pids-limit 7 c1
expect update "134217728 7 134217728 7" \
    "$(prop tandem-c1.scope $MEMPROP) $(prop tandem-c1.scope TasksMax) $(cat $(mem $U)) $(cat $(pids $U))"
expect exec-sees-limit 7 "$($T exec c1 cat $INSIDE_PIDS)"

# --- pause and resume through the freezer
$T pause c1
p="$(status c1)"
$T resume c1
expect pause-resume "paused running" "$p $(status c1)"

# --- a second container asking for the same unit is refused; the first
#     keeps its unit
bundle dup '["true"]' '{}' ":tandem:c1"
err="$($T run -b /c/dup dup 2>&1)"
if echo "$err" | grep -q "tandem-c1.scope" && [ ! -d /run/tandem/dup ] \
    && [ "$(systemctl is-active tandem-c1.scope)" = active ] && kill -0 $pid; then
    ok unit-in-use
else
    fail unit-in-use "$err / $(systemctl is-active tandem-c1.scope)"
fi

# --- delete stops the unit and removes every directory
$T delete -f c1
left="$(systemctl is-active tandem-c1.scope) $(find /sys/fs/cgroup -name tandem-c1.scope)"
expect delete "inactive " "$left"

# --- a slice of our own, nested: tandemtest-pod1.slice is in tandemtest.slice
bundle c2 '["sh","-c","cat /proc/self/cgroup > /out/c2; exec sleep 1000"]' '{"pids":{"limit":9}}' "tandemtest-pod1.slice:cri:c2"
$T run -d -b /c/c2 c2
U2=tandemtest.slice/tandemtest-pod1.slice/cri-c2.scope
expect custom-slice "active 9" "$(systemctl is-active cri-c2.scope) $(cat $(pids $U2))"
$T delete -f c2

# --- the container's cgroup is a slice unit: the init joins it
bundle c3 '["sleep","1000"]' '{"memory":{"limit":67108864}}' "system.slice:ignored:tandemtest-c3.slice"
$T run -d -b /c/c3 c3
U3=tandemtest.slice/tandemtest-c3.slice
expect slice-unit "active 67108864 $(pid_of c3)" \
    "$(systemctl is-active tandemtest-c3.slice) $(cat $(mem $U3)) $(cat $(freezer $U3)/cgroup.procs)"
$T delete -f c3
expect slice-unit-stopped inactive "$(systemctl is-active tandemtest-c3.slice)"

# --- run to the end: exit status, and the scope goes with the container
bundle c4 '["sh","-c","exit 3"]' '{}' ""
$T run -b /c/c4 c4
code=$?
wait_for "[ \"\$(systemctl is-active tandem-c4.scope)\" != active ]"
expect run-exit "3 inactive" "$code $(systemctl is-active tandem-c4.scope)"

# --- a bad cgroupsPath is a config error (exit 8)
bundle c5 '["true"]' '{}' "/not/a/unit"
err="$($T run -b /c/c5 c5 2>&1)"
expect bad-path "8" "$?"

# --- rootless: uid 1000's own systemd manager (its private socket under
#     $XDG_RUNTIME_DIR) makes the unit, under the manager's cgroup; without
#     a manager, or on a hybrid host (no v1 controller is delegated to a
#     user), limits are refused in one line and no limits run without one.
echo 'u:x:1000:1000::/home/u:/bin/sh' >> /etc/passwd
echo 'u:x:1000:' >> /etc/group
mkdir -p /home/u/c/rl /home/u/c/rl2 /home/u/c/free /home/u/xdg
# rbundle NAME ARGS_JSON RESOURCES_JSON
rbundle() {
    cat > /home/u/c/$1/config.json <<JSON
{
  "ociVersion": "1.2.0",
  "process": {"user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"], "cwd": "/", "args": $2},
  "root": {"path": "/rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "resources": $3,
    "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "cgroup"}]
  }
}
JSON
}
LIMITS='{"memory":{"limit":33554432},"pids":{"limit":20}}'
rbundle rl '["sh","-c","cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"]' "$LIMITS"
rbundle rl2 '["sleep","1000"]' "$LIMITS"
rbundle free '["true"]' '{}'
chown -R 1000:1000 /home/u
as_u() { su -s /bin/sh u -c "export PATH=/bin XDG_RUNTIME_DIR=/home/u/xdg; $1"; }
err="$(as_u "timeout -k 5 60 tandem --systemd-cgroup run -b /home/u/c/rl rl" 2>&1)"
as_u "timeout -k 5 60 tandem --systemd-cgroup run -b /home/u/c/free free"
code=$?
if [ "$MODE" = v2 ]; then why="systemd manager does not run"; else why="no cgroup v1 controller to a user"; fi
if [ $code = 0 ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "resources.*$why"; then
    ok rootless-no-manager
else
    fail rootless-no-manager "$code: $err"
fi
if [ "$MODE" = v2 ]; then
    systemctl start tandem-user.service
    M=/sys/fs/cgroup/system.slice/tandem-user.service
    U=$M/user.slice/tandem-rl2.scope
    cat > /home/u/as-user.sh <<SH
T="timeout -k 5 60 tandem --systemd-cgroup"
\$T run -b /home/u/c/rl rl 2>&1 | xargs > /home/u/ran
\$T run -d -b /home/u/c/rl2 rl2 </dev/null >/dev/null 2>/home/u/live
pid=\$(\$T state rl2 | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')
echo \$(systemctl --user is-active tandem-rl2.scope) \$(cat /proc/\$pid/cgroup) \$(cat $U/memory.max) >> /home/u/live
\$T update --memory 16777216 rl2 >> /home/u/updated 2>&1
echo \$(cat $U/memory.max) \$(\$T exec rl2 cat /sys/fs/cgroup/memory.max) >> /home/u/updated
\$T pause rl2 && p=\$(\$T state rl2 | grep -o paused)
\$T resume rl2 && echo \$p \$(\$T state rl2 | grep -o running) >> /home/u/updated
\$T events --stats rl2 | grep -o '"limit":16777216' | head -1 | tr -d '"' >> /home/u/updated
\$T delete -f rl2
echo \$(systemctl --user is-active tandem-rl2.scope) \$(ls /run/user/1000/tandem) >> /home/u/deleted
SH
    chown 1000:1000 /home/u/as-user.sh
    su -s /bin/sh u -c "XDG_RUNTIME_DIR=/run/user/1000 timeout -k 5 240 systemctl --user start tandem-rootless.service" \
        || fail rootless-user-unit "systemctl --user start: $?"
    expect rootless-user-unit "33554432 20" "$(cat /home/u/ran)"
    expect rootless-user-scope "active 0::/system.slice/tandem-user.service/user.slice/tandem-rl2.scope 33554432" \
        "$(cat /home/u/live)"
    expect rootless-user-update "16777216 16777216 paused running limit:16777216" "$(xargs < /home/u/updated)"
    expect rootless-user-delete "inactive " "$(cat /home/u/deleted) $(ls -d $U 2>/dev/null)"
    systemctl stop tandem-user.service
fi

# --- nothing is left (the parent slices stay, as with runc: they are the
#     orchestrator's, holding other pods)
left="$(systemctl list-units --all --plain --no-legend 'tandem-c[0-9]*' 'cri-*' 'tandemtest-c3.slice' | grep -v inactive)"
left="$left$(find /sys/fs/cgroup -name 'tandem-c[0-9]*.scope' -o -name 'cri-*' -o -name 'tandemtest-c3.slice')$($T list -q)"
expect nothing-left "" "$left"

echo "CHECKS DONE"
poweroff -f
