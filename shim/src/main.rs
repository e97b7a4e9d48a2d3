//! `containerd-shim-tandem-v1`: containerd's shim v2 (runtime type
//! `io.containerd.tandem.v1`) serving tandem containers, native and wasm,
//! from one long-lived process per pod.
//!
//! containerd runs this binary three ways: `start` (find or spawn the
//! server for the container's pod and print its address), the server
//! itself (`-socket`: the ttrpc task API, [`service`]), and `delete`
//! (clean up after a server that died, [`shim`]). The server calls
//! tandem's runtime-core directly, no CLI per request: a container's init
//! and exec'd processes are the server's children, reaped by one thread
//! each ([`process`]), their stdio straight on containerd's fifos
//! ([`stdio`]).

mod events;
mod metrics;
mod oom;
mod options;
mod process;
mod service;
mod shim;
mod stdio;

#[cfg(feature = "native")]
use tandem_executor_native as _;
#[cfg(feature = "wasi-http")]
use tandem_plugin_wasi_http as _;
#[cfg(feature = "wasm")]
use tandem_wasm_select as _;

/// The runtime type containerd names this shim by.
pub const RUNTIME_ID: &str = "io.containerd.tandem.v1";

fn main() {
    // The server clones containers' processes: it runs from a sealed image
    // of this binary (CVE-2019-5736), as the tandem CLI does.
    if std::env::args().any(|a| a == "-socket" || a == "--socket")
        && let Err(e) = tandem_runtime_core::exe_seal::reexec()
    {
        eprintln!("{RUNTIME_ID}: {e}");
        std::process::exit(1);
    }
    // Exits are collected per process (`process::Proc::watch`), not by a
    // waitpid(-1) loop that would steal runtime-core's own children.
    let config = containerd_shim::Config { no_reaper: true, ..Default::default() };
    containerd_shim::run::<shim::TandemShim>(RUNTIME_ID, Some(config));
}
