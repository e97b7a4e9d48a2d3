#!/bin/busybox sh
# The cgroup v2 checks, run as pid 1 in a VM booted with cgroup_no_v1=all.
# Each check prints "CHECK <name> ok" or "CHECK <name> FAIL: <why>";
# tests/cgroup_v2.rs lists the names it expects.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /out

# A hung command fails its check after 120 s instead of stalling the VM.
T="timeout -k 5 120 tandem --root /run/tandem"
CG=/sys/fs/cgroup/tandem

. /checks-lib.sh

# One busybox rootfs for every container.
mkdir -p /rootfs/bin /rootfs/proc /rootfs/dev /rootfs/sys /rootfs/tmp /rootfs/out
cp /bin/busybox /rootfs/bin/
chroot /rootfs /bin/busybox --install -s /bin

# bundle NAME ARGS_JSON RESOURCES_JSON [NAMESPACES_JSON] [EXTRA_CAP]
bundle() {
    mkdir -p /c/$1
    ns=${4:-'{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}'}
    caps='"CAP_KILL","CAP_AUDIT_WRITE"'
    [ -n "$5" ] && caps="$caps,\"$5\""
    cat > /c/$1/config.json <<JSON
{
  "ociVersion": "1.2.0",
  "process": {
    "user": {"uid": 0, "gid": 0},
    "args": $2,
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]}
  },
  "root": {"path": "/rootfs"},
  "hostname": "v2",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]},
    {"destination": "/out", "type": "bind", "source": "/out", "options": ["rbind", "rw"]}
  ],
  "linux": {
    "resources": $3,
    "namespaces": [$ns]
  }
}
JSON
}

# --- the host is v2 with its controllers
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -q memory /sys/fs/cgroup/cgroup.controllers \
    && ! grep -q " cgroup " /proc/mounts; then
    ok layout-is-v2
else
    fail layout-is-v2 "$(cat /sys/fs/cgroup/cgroup.controllers; grep cgroup /proc/mounts)"
fi

# --- every resource lands in its file, and the container sees its limits
bundle res '["sh","-c","cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max > /out/inside.tmp; mv /out/inside.tmp /out/inside; exec sleep 1000"]' \
    '{"devices":[{"allow":false,"access":"rwm"}],
      "memory":{"limit":67108864,"reservation":33554432,"swap":134217728},
      "pids":{"limit":25},
      "cpu":{"shares":512,"quota":25000,"period":50000,"burst":1000,"cpus":"0","mems":"0"},
      "blockIO":{"weight":500},
      "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
      "unified":{"memory.high":"62914560"}}'
$T run -d -b /c/res res || fail resources-in-files "run failed"
got="$(cat $CG/res/memory.max $CG/res/memory.low $CG/res/memory.swap.max $CG/res/pids.max $CG/res/cpu.weight $CG/res/cpu.max $CG/res/cpuset.cpus $CG/res/hugetlb.2MB.max | tr '\n' ' ')"
expect resources-in-files "67108864 33554432 67108864 25 20 25000 50000 0 4194304 " "$got"
wait_for "[ -f /out/inside ]"
expect resources-inside "67108864 25 25000 50000 " "$(cat /out/inside | tr '\n' ' ')"
expect unified-key 62914560 "$(cat $CG/res/memory.high)"
expect cpu-burst-io-weight "1000 default 4950 " "$(cat $CG/res/cpu.max.burst $CG/res/io.weight | tr '\n' ' ')"
$T delete -f res

# --- cpu.idle, alone (an idle group has no weight to set)
bundle idle '["true"]' '{"cpu":{"idle":1}}'
$T create -b /c/idle idle
expect cpu-idle 1 "$(cat $CG/idle/cpu.idle)"
$T delete idle

# --- device rules through the eBPF filter: /dev/kmsg (c 1:11) write only
script='mknod /tmp/km c 1 11; (exec 3>/tmp/km) 2>/dev/null && echo write-ok || echo write-denied; cat /dev/null && echo null-ok'
bundle dev1 "[\"sh\",\"-c\",\"$script\"]" '{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"w"}]}' "" CAP_MKNOD
bundle dev2 "[\"sh\",\"-c\",\"$script\"]" '{"devices":[{"allow":false,"access":"rwm"}]}' "" CAP_MKNOD
a="$($T run -b /c/dev1 dev1 | tr '\n' ' ')"
b="$($T run -b /c/dev2 dev2 | tr '\n' ' ')"
expect devices-ebpf "write-ok null-ok | write-denied null-ok " "$a| $b"

# --- pause and resume a busy loop; kill a paused container
bundle loop '["sh","-c","while :; do :; done"]' '{}'
$T run -d -b /c/loop loop
$T pause loop
if grep -q "frozen 1" $CG/loop/cgroup.events; then ok pause-frozen; else fail pause-frozen "$(cat $CG/loop/cgroup.events)"; fi
expect pause-state paused "$($T state loop | sed -n 's/.*"status": "\(.*\)".*/\1/p')"
$T resume loop
expect resume-state running "$($T state loop | sed -n 's/.*"status": "\(.*\)".*/\1/p')"
$T pause loop
$T kill loop KILL
if wait_for "$T state loop | grep -q stopped" && $T delete loop && [ ! -d $CG/loop ]; then
    ok kill-paused
else
    fail kill-paused "$($T state loop 2>&1)"
fi

# --- ps and kill --all without a pid namespace: the cgroup says who is in
bundle ps '["sh","-c","sleep 1001 & sleep 1002 & wait"]' '{"pids":{"limit":50}}' '{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}'
$T run -d -b /c/ps ps
wait_for "[ \$($T ps --format json ps | tr ',' '\n' | wc -l) = 3 ]"
pids="$($T ps --format json ps)"
expect ps-json 3 "$(echo "$pids" | tr ',' '\n' | wc -l)"
if $T events --stats ps | grep -q '"pids":{"current":3,"limit":50}'; then ok stats; else fail stats "$($T events --stats ps)"; fi
$T kill --all ps KILL
if wait_for "[ -z \"\$(cat $CG/ps/cgroup.procs)\" ]" && wait_for "$T state ps | grep -q stopped"; then
    ok kill-all
else
    fail kill-all "left: $(cat $CG/ps/cgroup.procs)"
fi
$T delete ps

# --- update a running container
bundle upd '["sleep","1000"]' '{}'
$T run -d -b /c/upd upd
$T update --memory 48m --pids-limit 7 --cpu-quota 30000 --cpu-period 100000 --cpu-shares 256 upd
expect update "50331648 7 30000 100000 10 " "$(cat $CG/upd/memory.max $CG/upd/pids.max $CG/upd/cpu.max $CG/upd/cpu.weight | tr '\n' ' ')"
$T delete -f upd

# --- a value the kernel refuses fails create, names the file, leaves nothing
bundle bad '["true"]' '{"cpu":{"cpus":"4095"}}'
err="$($T create -b /c/bad bad 2>&1)"
if echo "$err" | grep -q "cpuset.cpus" && [ ! -d $CG/bad ] && [ ! -d /run/tandem/bad ]; then
    ok refused-value
else
    fail refused-value "$err"
fi

# --- an OOM kill is reported by events
bundle oom '["sh","-c","x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" a); echo survived"]' '{"memory":{"limit":16777216,"swap":16777216}}'
$T create -b /c/oom oom
$T events --interval 10s oom > /out/events &
wait_for "grep -q stats /out/events"
$T start oom
wait_for "$T state oom | grep -q stopped"
wait
if grep -q '{"type":"oom","id":"oom"}' /out/events; then ok oom-event; else fail oom-event "$(cut -c1-200 /out/events)"; fi
$T delete oom

# --- rootless: uid 1000 with a delegated subtree (what systemd's
# Delegate=yes gives a user's session) gets its limits applied there
D=/sys/fs/cgroup/user1000
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
mkdir -p $D/session /home/u/xdg /c/rl
chown -R 1000:1000 $D /home/u
cat > /c/rl/config.json <<JSON
{
  "ociVersion": "1.2.0",
  "process": {"user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"], "cwd": "/",
    "args": ["sh", "-c", "cat /proc/self/uid_map /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"]},
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
    "cgroupsPath": "/user1000/rl",
    "resources": {"memory": {"limit": 33554432}, "pids": {"limit": 20}},
    "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "cgroup"}]
  }
}
JSON
# The user's shell in its own subtree, as a session's is; then as uid 1000.
mkdir -p /etc /c/rl2
grep -q '^u:' /etc/passwd 2>/dev/null || echo 'u:x:1000:1000::/home/u:/bin/sh' >> /etc/passwd
grep -q '^u:' /etc/group 2>/dev/null || echo 'u:x:1000:' >> /etc/group
sed 's|"args": \[.*\]},|"args": ["sleep", "1000"]},|; s|/user1000/rl"|/user1000/rl2"|' /c/rl/config.json > /c/rl2/config.json
cat > /home/u/as-user.sh <<'SH'
export PATH=/bin XDG_RUNTIME_DIR=/home/u/xdg
T="timeout -k 5 120 tandem"
$T run -b /c/rl rl 2>&1 | xargs > /home/u/ran
$T run -d -b /c/rl2 rl2 </dev/null >/dev/null 2>/home/u/updated
$T update --memory 16777216 rl2 >> /home/u/updated 2>&1
cat /sys/fs/cgroup/user1000/rl2/memory.max >> /home/u/updated
$T delete -f rl2
SH
sh -c 'echo $$ > /sys/fs/cgroup/user1000/session/cgroup.procs; exec su -s /bin/sh u /home/u/as-user.sh'
expect rootless-delegated "0 1000 1 33554432 20" "$(cat /home/u/ran)"
expect rootless-update 16777216 "$(cat /home/u/updated)"
if [ ! -d $D/rl ] && [ ! -d $D/rl2 ] && [ -z "$(ls /home/u/xdg/tandem)" ]; then
    ok rootless-nothing-left
else
    fail rootless-nothing-left "$(ls $D /home/u/xdg/tandem)"
fi
rmdir $D/session $D

# --- nothing is left
left="$(find $CG -mindepth 1 -type d) $($T list -q)"
expect nothing-left " " "$left"

echo "CHECKS DONE"
poweroff -f
