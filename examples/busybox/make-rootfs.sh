#!/bin/sh
# Build a minimal busybox rootfs from Debian's busybox-static:
#   examples/busybox/make-rootfs.sh DIR
# DIR/bin holds busybox and one symlink per applet; /etc has passwd/group.
set -eu
dir=${1:?usage: make-rootfs.sh DIR}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "busybox not found: apt-get install -y busybox-static" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root"
cp "$bb" "$dir/bin/busybox"
for applet in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
mkdir -p "$dir/usr"
[ -e "$dir/usr/bin" ] || ln -s ../bin "$dir/usr/bin"
[ -e "$dir/sbin" ] || ln -s bin "$dir/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnobody:x:65534:\n' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
