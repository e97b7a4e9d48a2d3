#!/bin/busybox sh
# pid 1 of the systemd test VM (tests/systemd.rs), for a moment: pivot_root,
# which containers use, does not work with the initramfs as /, so copy it
# into a tmpfs, switch to that and hand pid 1 to systemd, which starts
# tandem-checks.service and nothing else.
/bin/busybox mount -t tmpfs -o size=1g root /newroot
/bin/busybox cp -a /bin /lib /lib64 /usr /etc /checks.sh /checks-lib.sh /newroot/
for d in dev proc sys tmp run; do /bin/busybox mkdir -p /newroot/$d; done
exec /bin/busybox switch_root /newroot /usr/lib/systemd/systemd \
    --unit=tandem-checks.service --log-target=console --log-level=warning --show-status=no
