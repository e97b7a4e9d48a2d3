//! `tandem-wasi-http`: the process a wasi-http container runs (see the
//! plugin's `handoff` for how it is started). It serves a
//! `wasi:http/proxy` component as `wasmtime serve` does: HTTP/1.1 on a
//! port of the container's network namespace, one fresh instance per
//! request from a pre-instantiated component (pooling allocator), a
//! request timeout, an access log line per request on stdout, and on
//! SIGTERM or SIGINT a graceful drain: no new connections, the requests in
//! flight finish, exit 0.
//!
//! `tandem-wasi-http compile` is the same engine's compiler, run by
//! `tandem create` on a cache miss: one binary, so the code always matches
//! the engine that loads it.

#[path = "../../src/handoff.rs"]
#[allow(dead_code)]
mod handoff;
mod serve;

use std::io::{Read, Write};

use tandem_wasm_handoff::INVALID;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use serve::State;

/// Exit status when the engine cannot serve at all.
const CANNOT_RUN: i32 = 127;

/// The configuration compiled code depends on: the same for the compiler
/// and the server. Epoch interruption: a request's instance yields to the
/// others at every tick, and a timed-out request can be dropped mid-run.
fn config() -> Config {
    let mut c = Config::new();
    c.epoch_interruption(true);
    c
}

/// WASI 0.2 and wasi:http, as a proxy component imports them.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

fn main() {
    let name = tandem_executor_wasm::os::exec_name().unwrap_or_default();
    let code = match tandem_wasm_handoff::base_from_execfn(&name) {
        Some(base) => serve::main(base),
        None if std::env::args().nth(1).as_deref() == Some("compile") => compile(),
        None => {
            eprintln!("usage: tandem-wasi-http compile < component > artifact (serving, it is run by tandem)");
            2
        }
    };
    std::process::exit(code);
}

/// The component on stdin, compiled, on stdout: once it is known to be a
/// `wasi:http/proxy` whose imports the engine provides.
fn compile() -> i32 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("read the component: {e}");
        return 2;
    }
    let engine = match Engine::new(&config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("create the wasm engine: {e:#}");
            return 2;
        }
    };
    let checked = (|| {
        let component = Component::from_binary(&engine, &bytes).map_err(|e| format!("invalid WebAssembly: {e:#}"))?;
        let pre = linker(&engine).and_then(|l| l.instantiate_pre(&component)).map_err(|e| format!("{e:#}"))?;
        ProxyPre::new(pre).map_err(|e| format!("not a wasi:http/proxy component: {e:#}"))?;
        component.serialize().map_err(|e| format!("{e:#}"))
    })();
    match checked {
        Ok(artifact) => match std::io::stdout().lock().write_all(&artifact) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("write the artifact: {e}");
                2
            }
        },
        Err(why) => {
            eprint!("{why}");
            INVALID
        }
    }
}
