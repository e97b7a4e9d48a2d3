//! WASI as modules and components link against it: the same definitions
//! for the compiler's checks and the helper's run. Async: the helper runs
//! the module on one current-thread runtime, so WASI never needs a thread
//! of its own (wasmtime-wasi's synchronous mode starts a worker per CPU).

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Linker, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::lookup;

pub struct P1State {
    pub wasi: WasiP1Ctx,
    pub limits: StoreLimits,
    pub lookups: lookup::p1::Lookups,
}

pub struct P2State {
    pub ctx: WasiCtx,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    pub lookups: lookup::p2::Lookups,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

/// WASI preview 1, with an exact `proc_exit` and paths looked up as the
/// kernel would ([`lookup`]).
pub fn module_linker(engine: &Engine) -> wasmtime::Result<Linker<P1State>> {
    let mut linker: Linker<P1State> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s| &mut s.wasi)?;
    lookup::p1::add_to_linker(&mut linker)?;
    // wasmtime-wasi turns proc_exit(n >= 126) into a trap; a container's
    // exit status is exact, as a native one's is (255 included).
    linker.allow_shadowing(true);
    linker.func_wrap("wasi_snapshot_preview1", "proc_exit", |code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(I32Exit(code)))
    })?;
    Ok(linker)
}

/// WASI 0.2, as `wasi:cli/command` imports it, with paths looked up as
/// the kernel would ([`lookup`]).
pub fn component_linker(engine: &Engine) -> wasmtime::Result<wasmtime::component::Linker<P2State>> {
    let mut linker = wasmtime::component::Linker::<P2State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    lookup::p2::add_to_linker(&mut linker)?;
    Ok(linker)
}
