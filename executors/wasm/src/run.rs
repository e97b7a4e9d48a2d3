//! Running the prepared module in the container's init, after `start`.

use std::convert::Infallible;
use std::path::Path;

use tandem_runtime_core::{Process, Result, Seal, Workload, sys};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Linker, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::cache::Compiled;
use crate::err;

/// Exit status of a container whose module trapped (as the wasmtime CLI
/// reports a trap: 128 + SIGABRT).
pub const TRAP_EXIT_CODE: i32 = 134;

/// Signals that stop the module (it runs as pid 1, which ignores signals
/// that have no handler).
const STOP_SIGNALS: &[i32] = &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

pub struct WasmWorkload {
    engine: Engine,
    compiled: Option<Compiled>,
    memory_limit: Option<usize>,
}

impl WasmWorkload {
    pub fn new(engine: Engine, compiled: Compiled, memory_limit: Option<usize>) -> WasmWorkload {
        WasmWorkload { engine, compiled: Some(compiled), memory_limit }
    }

    fn limits(&self) -> StoreLimits {
        let b = StoreLimitsBuilder::new().trap_on_grow_failure(true);
        match self.memory_limit {
            Some(l) => b.memory_size(l),
            None => b,
        }
        .build()
    }
}

struct P1State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

struct P2State {
    ctx: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

/// WASI as the container sees it: its argv and env, its `/` (after
/// pivot_root, so the spec's mounts are there) preopened as `/`, its cwd as
/// `.`, its stdio and its network namespace.
fn wasi(process: &Process) -> Result<WasiCtxBuilder> {
    let mut b = WasiCtxBuilder::new();
    b.args(&process.args).inherit_stdio().inherit_network().allow_blocking_current_thread(true);
    for e in &process.env {
        if let Some((k, v)) = e.split_once('=') {
            b.env(k, v);
        }
    }
    b.preopened_dir("/", "/", FsPerms::ReadWrite).map_err(|e| err(format!("preopen /: {e:#}")))?;
    if process.cwd != Path::new("/") {
        b.preopened_dir(&process.cwd, ".", FsPerms::ReadWrite)
            .map_err(|e| err(format!("preopen {}: {e:#}", process.cwd.display())))?;
    }
    Ok(b)
}

/// Kernel memory charged with the process (page tables, stacks, the
/// engine's bookkeeping as the module grows) that RssAnon does not show.
const SLACK: usize = 1 << 20;

/// Anonymous memory this process holds now (RssAnon): what the cgroup
/// already charges before the module allocates anything.
fn own_anonymous_memory() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("RssAnon:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// The container's exit status for how the module ended.
fn status(result: wasmtime::Result<()>, memory_limit: Option<usize>) -> i32 {
    let e = match result {
        Ok(()) => return 0,
        Err(e) => e,
    };
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return exit.0;
    }
    let mut msg = format!("{e:?}");
    if let Some(limit) = memory_limit.filter(|_| msg.contains("memory")) {
        msg.push_str(&format!("\n(within the container's memory limit, {limit} bytes were left for linear memory)"));
    }
    eprintln!("tandem: wasm trap: {msg}");
    TRAP_EXIT_CODE
}

impl WasmWorkload {
    fn run_module(&self, module: &wasmtime::Module, process: &Process) -> Result<i32> {
        let mut linker: Linker<P1State> = Linker::new(&self.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi).map_err(|e| err(format!("{e:#}")))?;
        // wasmtime-wasi turns proc_exit(n >= 126) into a trap; a container's
        // exit status is exact, as a native one's is (255 included).
        linker.allow_shadowing(true);
        linker
            .func_wrap("wasi_snapshot_preview1", "proc_exit", |code: i32| -> wasmtime::Result<()> {
                Err(wasmtime::Error::new(I32Exit(code)))
            })
            .map_err(|e| err(format!("{e:#}")))?;
        let mut store = Store::new(&self.engine, P1State { wasi: wasi(process)?.build_p1(), limits: self.limits() });
        store.limiter(|s| &mut s.limits);
        let result = linker
            .instantiate(&mut store, module)
            .and_then(|i| i.get_typed_func::<(), ()>(&mut store, "_start"))
            .and_then(|f| f.call(&mut store, ()));
        Ok(status(result, self.memory_limit))
    }

    fn run_component(&self, component: &wasmtime::component::Component, process: &Process) -> Result<i32> {
        let mut linker = wasmtime::component::Linker::<P2State>::new(&self.engine);
        // wasi:cli/exit's exit-with-code(n) (WASI 0.2.12) gives an exact
        // status; plain exit(result) can only say 0 or 1.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| err(format!("{e:#}")))?;
        let state = P2State { ctx: wasi(process)?.build(), table: ResourceTable::new(), limits: self.limits() };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let result = Command::instantiate(&mut store, component, &linker)
            .and_then(|cmd| cmd.wasi_cli_run().call_run(&mut store));
        Ok(match result {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => status(Err(e), self.memory_limit),
        })
    }
}

impl Workload for WasmWorkload {
    /// The module runs in the init itself (no execve).
    fn execs(&self) -> bool {
        false
    }

    fn locate(&mut self, _process: &Process) -> Result<()> {
        // Read, validated and compiled at create, in the runtime.
        Ok(())
    }

    fn exec(mut self: Box<Self>, process: &Process, seal: Seal) -> Result<Infallible> {
        // Keep wasmtime's trap handlers (installed when the engine was made);
        // unblock what the runtime blocked and let kill stop the module.
        sys::set_sigmask(libc::SIG_SETMASK, &[]).map_err(|e| err(format!("unblock signals: {e}")))?;
        sys::exit_on_signals(STOP_SIGNALS).map_err(|e| err(format!("install signal handlers: {e}")))?;
        // The cgroup charges this whole process: linear memory gets what
        // the runtime itself does not use, so growing past it traps
        // cleanly instead of meeting the OOM killer.
        self.memory_limit = self.memory_limit.map(|l| l.saturating_sub(own_anonymous_memory() + SLACK));
        seal.apply()?;
        let code = match self.compiled.take().expect("exec runs once") {
            Compiled::Module(m) => self.run_module(&m, process)?,
            Compiled::Component(c) => self.run_component(&c, process)?,
        };
        sys::exit_now(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_growth_past_the_limit() {
        let engine = crate::cache::engine().unwrap();
        let wat = r#"(module (memory (export "memory") 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;
        let module = wasmtime::Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let w = WasmWorkload { engine: engine.clone(), compiled: None, memory_limit: Some(4 * 65536) };
        let mut store = Store::new(&engine, w.limits());
        store.limiter(|s| s);
        let i = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let grow = i.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
        assert!(grow.call(&mut store, 10).is_err(), "growth past the limit must trap");
    }
}
