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

# --- nothing is left (the parent slices stay, as with runc: they are the
#     orchestrator's, holding other pods)
left="$(systemctl list-units --all --plain --no-legend 'tandem-c[0-9]*' 'cri-*' 'tandemtest-c3.slice' | grep -v inactive)"
left="$left$(find /sys/fs/cgroup -name 'tandem-c[0-9]*.scope' -o -name 'cri-*' -o -name 'tandemtest-c3.slice')$($T list -q)"
expect nothing-left "" "$left"

echo "CHECKS DONE"
poweroff -f
