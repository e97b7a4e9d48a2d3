#!/bin/sh
# Run the example containers with the tandem binary given as $1.
set -eu
tandem=$(realpath "${1:-target/x86_64-unknown-linux-gnu/release/tandem}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /tmp/tandem-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT

[ -d "$here/busybox/rootfs/bin" ] || "$here/busybox/make-rootfs.sh" "$here/busybox/rootfs"

echo "== native: busybox (examples/busybox)"
"$tandem" --root "$root" run --bundle "$here/busybox" "demo-native-$$"

[ -f "$here/wasm/rootfs/wasi-demo.wasm" ] || "$here/wasm/build.sh"
echo "== wasm: wasi-demo.wasm from C (examples/wasm), same isolation, run by wasmtime"
"$tandem" --root "$root" run --bundle "$here/wasm" "demo-wasm-$$"
