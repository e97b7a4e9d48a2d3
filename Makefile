# The few commands a newcomer needs. Everything runs as root on Debian 12.

CARGO ?= cargo
DEBIAN_PACKAGES = busybox-static pkg-config libseccomp-dev runc crun clang lld wasi-libc libclang-rt-14-dev-wasm32
# The cgroup v2 and systemd tests boot Debian's kernel under qemu (this host is v1
# hybrid and runs no systemd); the systemd VM runs the host's systemd as pid 1.
# The engine tests run the real engines, each on private sockets and dirs.
TEST_PACKAGES = $(DEBIAN_PACKAGES) qemu-system-x86 linux-image-amd64 binutils systemd containerd docker.io podman protobuf-compiler
# .cargo/config.toml names the target, so outputs live under it.
RELEASE = target/x86_64-unknown-linux-gnu/release

.PHONY: deps test-deps build demo test bench lint clean-examples

# System packages the examples and the bench use.
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEBIAN_PACKAGES)

# ... and what the tests use on top.
test-deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(TEST_PACKAGES)

# The wasm engine's two binaries, each built on its own so that the helper
# a wasm container execs (tandem-wasm-run) has no compiler in it, and only
# tandem-wasm-compile has (cargo would otherwise unify their features).
WASM_ENGINE = $(CARGO) build -j2 -p tandem-executor-wasm --bin tandem-wasm-run $(1) && \
	$(CARGO) build -j2 -p tandem-executor-wasm --features compiler --bin tandem-wasm-compile $(1)

build:
	$(CARGO) build --release -j2 -p tandem-cli -p tandem-bench
	$(call WASM_ENGINE,--release)

# tandem's main job: build it and run the example container(s).
demo: deps build
	./examples/run.sh $(RELEASE)/tandem

# The whole test suite: unit tests and integration tests running real containers.
test: test-deps
	$(call WASM_ENGINE,)
	$(CARGO) test --workspace -j2

# tandem against runc and crun on the same bundle: table, results.json, chart.svg.
bench: deps build
	$(RELEASE)/tandem-bench --out bench-results

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tandem-executor-wasm --features compiler --all-targets -- -D warnings

clean-examples:
	rm -rf examples/busybox/rootfs
