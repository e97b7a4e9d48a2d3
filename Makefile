# The few commands a newcomer needs. Everything runs as root on Debian 12.

CARGO ?= cargo
DEBIAN_PACKAGES = busybox-static pkg-config libseccomp-dev runc crun clang lld wasi-libc libclang-rt-14-dev-wasm32
# The cgroup v2 and systemd tests boot Debian's kernel under qemu (this host is v1
# hybrid and runs no systemd); the systemd VM runs the host's systemd as pid 1.
# The engine tests run the real engines, each on private sockets and dirs.
# criu: Debian's 3.17 fails on 6.x kernels, but its libraries serve the
# CRIU 4.2 build in ../shared/tools, which the checkpoint tests use.
TEST_PACKAGES = $(DEBIAN_PACKAGES) qemu-system-x86 linux-image-amd64 binutils systemd containerd docker.io podman protobuf-compiler criu
# .cargo/config.toml names the target, so outputs live under it.
RELEASE = target/x86_64-unknown-linux-gnu/release

.PHONY: deps bench-deps test-deps build demo test bench lint clean-examples

# Installs what is missing (no apt-get at all when every package is
# installed: dpkg-query knows each and says "ii" for each).
APT_INSTALL = if ! dpkg-query -W $(1) >/dev/null 2>&1 || \
		dpkg-query -W -f='$${db:Status-Abbrev}\n' $(1) | grep -qv '^ii'; then \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(1); fi

# System packages the examples and the bench use.
deps:
	$(call APT_INSTALL,$(DEBIAN_PACKAGES))

# The bench also times containerd through tandem's shim and the runc shim.
BENCH_PACKAGES = $(DEBIAN_PACKAGES) containerd

bench-deps:
	$(call APT_INSTALL,$(BENCH_PACKAGES))

# ... and what the tests use on top.
test-deps:
	$(call APT_INSTALL,$(TEST_PACKAGES))

# The wasm engine's compiler, tandem-wasm-compile, is built on its own: in
# one build with the rest, cargo would give the helper a wasm container
# execs (tandem-wasm-run) the compiler's features too.
WASM_COMPILER = $(CARGO) build -j2 -p tandem-executor-wasm --features compiler --bin tandem-wasm-compile
# The wasi-http plugin's engine (its compiler and server in one binary),
# on its own for the same reason: the workspace's builds exclude it.
WASI_HTTP_ENGINE = $(CARGO) build -j2 -p tandem-wasi-http-engine

build:
	$(CARGO) build --release -j2 -p tandem-cli -p tandem-shim -p tandem-bench -p tandem-executor-wasm
	$(WASM_COMPILER) --release
	$(WASI_HTTP_ENGINE) --release

# tandem's main job: build it and run the example container(s).
demo: deps build
	./examples/run.sh $(RELEASE)/tandem

# The whole test suite: unit tests and integration tests running real containers.
# Everything the tests build, the helper included, with the tests' features.
test: test-deps
	$(CARGO) build --workspace --exclude tandem-wasi-http-engine --all-targets -j2
	$(WASM_COMPILER)
	$(WASI_HTTP_ENGINE)
	$(CARGO) test --workspace --exclude tandem-wasi-http-engine -j2

# tandem against runc and crun on the same bundle: table, results.json, chart.svg.
bench: bench-deps build
	$(RELEASE)/tandem-bench --out bench-results

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tandem-executor-wasm --features compiler --all-targets -- -D warnings
	$(CARGO) clippy -p tandem-cli --no-default-features --features native -- -D warnings

clean-examples:
	rm -rf examples/busybox/rootfs
