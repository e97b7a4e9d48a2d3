//! tandem's wasm engine: wasmtime + WASI, in two binaries of its own so
//! that `tandem` itself links no engine (`tandem-wasm-handoff` has their
//! protocol):
//!
//! - `tandem-wasm-compile` ([`compile`], with the `compiler` feature): run
//!   by `tandem create` on a cache miss as a child process (no thread ever
//!   exists in a process that clones a container). It compiles, and fails
//!   for whatever the module would only hit at start: invalid code, an
//!   import WASI does not provide or with another type, no `_start`, a
//!   component that is not a `wasi:cli/command`.
//! - `tandem-wasm-run` ([`run`]): the helper a wasm container's process
//!   `execve`s at `start`, wasmtime's runtime and WASI with no compiler.
//!   It loads the code compiled at create from an fd, and runs it with its
//!   own argv, environment and cwd: the container's process is a real
//!   process, whose environ, cmdline and exe are its own, labelled by its
//!   execve like a native workload. Its paths, absolute symlinks included,
//!   resolve as a native process's would ([`lookup`]).

#[cfg(feature = "compiler")]
pub mod compile;
mod linking;
mod lookup;
pub mod os;
pub mod run;

/// The engine every wasm container uses, the same in the compiler and the
/// helper (the helper's has no compiler: it only loads).
pub fn engine() -> wasmtime::Result<wasmtime::Engine> {
    let config = wasmtime::Config::new();
    wasmtime::Engine::new(&config)
}

#[cfg(test)]
mod tests {
    /// The cache key's engine id names the wasmtime this crate is built
    /// with (the workspace pins it exactly).
    #[test]
    fn the_engine_id_names_this_wasmtime() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
        let pinned = manifest.lines().find(|l| l.starts_with("wasmtime = ")).unwrap();
        let version = pinned.split('"').nth(1).unwrap().trim_start_matches('=');
        assert!(
            tandem_wasm_handoff::ENGINE_ID.starts_with(&format!("wasmtime-{version}-")),
            "{} does not name wasmtime {version}",
            tandem_wasm_handoff::ENGINE_ID
        );
    }
}
