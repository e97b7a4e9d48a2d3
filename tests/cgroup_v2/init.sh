#!/bin/busybox sh
# pid 1 of the cgroup v2 test VM (tests/cgroup_v2.rs). pivot_root, which
# containers use, does not work with the initramfs as /: copy it into a
# tmpfs and switch to that first.
/bin/busybox mount -t tmpfs -o size=1g root /newroot
/bin/busybox cp -a /bin /checks.sh /checks-lib.sh /newroot/
for d in dev proc sys tmp run; do /bin/busybox mkdir -p /newroot/$d; done
exec /bin/busybox switch_root /newroot /bin/busybox sh /checks.sh
