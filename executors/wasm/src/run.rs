//! `tandem-wasm-run`: the helper a wasm container's process `execve`s at
//! `start` (see `tandem-wasm-handoff` for what it is handed). It runs the
//! module as the container's process: WASI gets its argv, its environment
//! (`process.env`), the container's `/` preopened as `/` and its cwd as
//! `.` (paths in them looked up as the kernel would: [`crate::lookup`]),
//! its stdio and network namespace; the module's exit code becomes its
//! own.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use tandem_wasm_handoff::{CODE_FD_OFFSET, Kind, PARAMS_FD_OFFSET, Params};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Module, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::linking::{self, P1State, P2State};
use crate::lookup;
use crate::os;

/// Exit status of a container whose module trapped (as the wasmtime CLI
/// reports a trap: 128 + SIGABRT).
pub const TRAP_EXIT_CODE: i32 = 134;

/// Exit status when the helper cannot run the module at all (not started
/// by tandem, or code another engine compiled).
pub const CANNOT_RUN: i32 = 127;

/// Signals that stop the module (it runs as pid 1, which ignores signals
/// that have no handler).
const STOP_SIGNALS: &[i32] = &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// Kernel memory charged with the process (page tables, stacks, the
/// engine's bookkeeping as the module grows) that RssAnon does not show.
const SLACK: u64 = 1 << 20;

/// The helper's whole life: the module's exit status, or why it could not
/// run (then [`CANNOT_RUN`]).
pub fn main() -> i32 {
    match prepare() {
        Ok((params, code)) => run(params, code),
        Err(why) => {
            eprintln!("tandem-wasm-run: {why}");
            CANNOT_RUN
        }
    }
}

/// The process's name (`comm`, what ps and top show) as a native
/// program's would be: its file's name, the module's here (the kernel named
/// it after the `/proc/self/fd/N` it was exec'd through).
fn name_after_the_module() {
    if let Some(arg0) = std::env::args_os().next() {
        os::set_name(std::path::Path::new(&arg0).file_name().unwrap_or(&arg0).as_encoded_bytes());
    }
}

fn prepare() -> Result<(Params, File), String> {
    name_after_the_module();
    let name = os::exec_name().unwrap_or_default();
    let base = tandem_wasm_handoff::base_from_execfn(&name)
        .ok_or_else(|| format!("started as '{name}': this helper is run by tandem, in a wasm container"))?;
    // Both were written or read through before: from their start.
    let mut params = Vec::new();
    let mut file = File::from(os::take_fd(base + PARAMS_FD_OFFSET).ok_or("no parameters fd")?);
    file.rewind().and_then(|()| file.read_to_end(&mut params)).map_err(|e| format!("read the parameters: {e}"))?;
    let params = Params::decode(&params).ok_or("parameters from another version of tandem")?;
    let mut code = File::from(os::take_fd(base + CODE_FD_OFFSET).ok_or("no compiled code fd")?);
    code.rewind().map_err(|e| format!("the compiled code: {e}"))?;
    // The helper's own image: the kernel has it mapped, this fd is spare.
    drop(os::take_fd(base));
    // Nothing blocked, and the stop signals end the module.
    os::exit_on_signals(STOP_SIGNALS);
    Ok((params, code))
}

fn run(params: Params, code: File) -> i32 {
    let engine = match crate::engine() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tandem-wasm-run: create the wasm engine: {e:#}");
            return CANNOT_RUN;
        }
    };
    // The cgroup charges this whole process: linear memory gets what the
    // helper itself does not use, so growing past it traps cleanly instead
    // of meeting the OOM killer.
    let memory_limit = params.memory_limit.map(|l| l.saturating_sub(own_anonymous_memory() + SLACK) as usize);
    // WASI on this thread alone: a pids limit of one runs a module.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem-wasm-run: start WASI's event loop: {e}");
            return CANNOT_RUN;
        }
    };
    let result = runtime.block_on(async {
        match params.kind {
            Kind::Module => run_module(&engine, &load_module(&engine, code)?, memory_limit).await,
            Kind::Component => run_component(&engine, &load_component(&engine, code)?, memory_limit).await,
        }
    });
    match result {
        Ok(status) => status,
        Err(e) => {
            eprintln!("tandem-wasm-run: {e}");
            CANNOT_RUN
        }
    }
}

fn load_module(engine: &Engine, code: File) -> Result<Module, String> {
    // SAFETY: the code was serialized by tandem-wasm-compile for this
    // engine id (the cache key holds it) and checked against the checksum
    // recorded with it; the file is never written in place (cache entries
    // are renamed in) or is a sealed memfd.
    unsafe { Module::deserialize_open_file(engine, code) }
        .map_err(|e| format!("load the compiled module (tandem wasm-cache prune clears stale code): {e:#}"))
}

fn load_component(engine: &Engine, mut code: File) -> Result<Component, String> {
    let mut bytes = Vec::new();
    code.read_to_end(&mut bytes).map_err(|e| format!("read the compiled component: {e}"))?;
    // SAFETY: as for a module, above.
    unsafe { Component::deserialize(engine, &bytes) }
        .map_err(|e| format!("load the compiled component (tandem wasm-cache prune clears stale code): {e:#}"))
}

fn limits(memory_limit: Option<usize>) -> StoreLimits {
    let b = StoreLimitsBuilder::new().trap_on_grow_failure(true);
    match memory_limit {
        Some(l) => b.memory_size(l),
        None => b,
    }
    .build()
}

/// WASI as the container sees it: this process's argv and environment,
/// its `/` (after pivot_root, so the spec's mounts are there), its cwd,
/// its stdio and its network namespace.
fn wasi() -> Result<(WasiCtxBuilder, Vec<(PathBuf, String)>), String> {
    let mut b = WasiCtxBuilder::new();
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    b.args(&args).inherit_stdio().inherit_network().allow_blocking_current_thread(true);
    for (k, v) in std::env::vars_os() {
        b.env(k.to_string_lossy(), v.to_string_lossy());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("the working directory: {e}"))?;
    b.initial_cwd(cwd.to_string_lossy());
    let preopens = preopens(&cwd);
    for (dir, name) in &preopens {
        b.preopened_dir(dir, name, FsPerms::ReadWrite).map_err(|e| format!("preopen {}: {e:#}", dir.display()))?;
    }
    Ok((b, preopens))
}

/// The directories WASI preopens, in order, as (directory, name).
///
/// wasi-libc (what C, C++ and Rust modules link) starts with no cwd of its
/// own: it strips the leading `/` of a path and opens it from the preopen
/// whose name is the longest prefix of what is left, the last registered
/// winning a tie. So `/etc/x` and `etc/x` reach the host alike, and `/`
/// and `.` both name the empty prefix. With a cwd other than `/`: the root
/// as `/`, each directory at the top of the root by its own name (so an
/// absolute path into one, `/etc/x`, is the root's), and the cwd as `.`
/// last (so a relative path, `rel.txt`, is the cwd's). Left over where
/// the two cannot be told apart: a relative path whose first component
/// names a top-level directory (`etc/x` from `/srv` is the root's
/// `/etc/x`), a file at the top of the root (`/x` is the cwd's `x`), and
/// a directory made at the top of the root after start. A `..` above the
/// cwd (`../etc/x` from `/srv`), which cap-std refuses, is looked up from
/// the cwd by [`crate::lookup`], as the kernel would.
fn preopens(cwd: &Path) -> Vec<(PathBuf, String)> {
    let root = (Path::new("/").to_path_buf(), "/".to_string());
    if cwd == Path::new("/") {
        return vec![root];
    }
    let mut top: Vec<(PathBuf, String)> = std::fs::read_dir("/")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()))
        .filter_map(|e| Some((e.path(), format!("/{}", e.file_name().to_str()?))))
        .collect();
    top.sort();
    std::iter::once(root).chain(top).chain([(cwd.to_path_buf(), ".".to_string())]).collect()
}

/// Anonymous memory this process holds now (RssAnon): what the cgroup
/// already charges before the module allocates anything.
fn own_anonymous_memory() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("RssAnon:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
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

async fn run_module(engine: &Engine, module: &Module, memory_limit: Option<usize>) -> Result<i32, String> {
    let linker = linking::module_linker(engine).map_err(|e| format!("{e:#}"))?;
    let (mut wasi, preopens) = wasi()?;
    let dirs: Vec<PathBuf> = preopens.into_iter().map(|(dir, _)| dir).collect();
    let lookups = lookup::p1::Lookups::new(Path::new("/"), &dirs);
    let mut store = Store::new(engine, P1State { wasi: wasi.build_p1(), limits: limits(memory_limit), lookups });
    store.limiter(|s| &mut s.limits);
    let result = async {
        let instance = linker.instantiate_async(&mut store, module).await?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    }
    .await;
    Ok(status(result, memory_limit))
}

async fn run_component(engine: &Engine, component: &Component, memory_limit: Option<usize>) -> Result<i32, String> {
    let linker = linking::component_linker(engine).map_err(|e| format!("{e:#}"))?;
    // wasi:cli/exit's exit-with-code(n) (WASI 0.2.12) gives an exact
    // status; plain exit(result) can only say 0 or 1.
    let (mut wasi, preopens) = wasi()?;
    let lookups = lookup::p2::Lookups::new(Path::new("/"), &preopens);
    let state = P2State { ctx: wasi.build(), table: ResourceTable::new(), limits: limits(memory_limit), lookups };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    let result = async {
        let command = Command::instantiate_async(&mut store, component, &linker).await?;
        command.wasi_cli_run().call_run(&mut store).await
    }
    .await;
    Ok(match result {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => status(Err(e), memory_limit),
    })
}
