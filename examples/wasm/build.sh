#!/bin/sh
# Build the wasm example bundle: examples/wasm/rootfs/wasi-demo.wasm from C.
# Needs clang, lld, wasi-libc and libclang-rt-14-dev-wasm32 (Debian).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/rootfs"
clang --target=wasm32-wasi --sysroot=/usr -O2 -o "$here/rootfs/wasi-demo.wasm" "$here/wasi-demo.c"
