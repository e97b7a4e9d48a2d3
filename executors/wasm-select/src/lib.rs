//! tandem's wasm executor, on the runtime's side: it links no wasm engine
//! (`tandem` stays small for native containers), and every lifecycle
//! command of a wasm container runs in `tandem` itself.
//!
//! Selection follows the ecosystem's annotations: crun's `run.oci.handler`
//! (`wasm`, `wasmtime`), `module.wasm.image/variant` (`compat`: always wasm;
//! `compat-smart`: wasm only when the entrypoint starts with the wasm magic
//! bytes), or tandem's `dev.tandem.executor=wasm`.
//!
//! At `create` ([`Executor::prepare`], in the runtime): the entrypoint is
//! read from the rootfs (or a bind-mounted volume), and its compiled code
//! taken from the [`cache`], or compiled by `tandem-wasm-compile` in a
//! child process, which also fails whatever would only fail at start (an
//! import WASI lacks, no `_start`, a component that is not a command).
//! The helper's sealed image and the code are opened then, before
//! pivot_root. At `start` the container's process `execve`s the helper
//! ([`workload`]): a real process with the module's argv and
//! `process.env`, whose `/proc/self/exe` no one can write, labelled by
//! its execve like a native workload.

pub mod cache;
pub mod compile;
pub mod entrypoint;
pub mod workload;

use std::path::{Path, PathBuf};

use tandem_executor_api::{Claim, Config, Error, Executor, PrepareContext, Registration, Result, Workload, host};
use tandem_wasm_handoff::{COMPILER, HELPER, Kind, Params};

pub const HANDLER_ANNOTATION: &str = "run.oci.handler";
pub const VARIANT_ANNOTATION: &str = "module.wasm.image/variant";
/// The executor's name, as `dev.tandem.executor` gives it.
pub const NAME: &str = "wasm";

pub fn err(why: impl Into<String>) -> Error {
    Error::Executor { executor: NAME.into(), why: why.into() }
}

/// How strongly the wasm executor claims a container.
pub fn claim(config: &Config) -> Claim {
    let ann = |k: &str| config.annotations.get(k).map(String::as_str);
    if matches!(ann(HANDLER_ANNOTATION), Some("wasm" | "wasmtime")) || ann(VARIANT_ANNOTATION) == Some("compat") {
        return Claim::Explicit;
    }
    if ann(VARIANT_ANNOTATION) == Some("compat-smart") {
        // Only this case reads a file, and only four bytes of it.
        return match entrypoint::resolve(config) {
            Ok(path) if entrypoint::has_wasm_magic(config, &path) => Claim::Maybe,
            _ => Claim::No,
        };
    }
    Claim::No
}

/// One of the engine's binaries, next to tandem's own.
pub fn sibling(name: &str) -> PathBuf {
    host::self_path().with_file_name(name)
}

pub struct Wasm;

tandem_executor_api::inventory::submit!(Registration(&Wasm));

impl Executor for Wasm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn can_handle(&self, config: &Config) -> Claim {
        claim(config)
    }

    /// A module exec'd into any container it would claim; anything else
    /// (a debug shell in the image) is not its.
    fn claims_exec(&self, config: &Config) -> Claim {
        match claim(config) {
            Claim::No => Claim::No,
            c => match entrypoint::resolve(config) {
                Ok(path) if entrypoint::has_wasm_magic(config, &path) => c,
                _ => Claim::No,
            },
        }
    }

    fn annotations(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (HANDLER_ANNOTATION, "wasm or wasmtime: run process.args[0] as WebAssembly (crun's)"),
            (
                VARIANT_ANNOTATION,
                "compat: the image is wasm; compat-smart: wasm only if the entrypoint starts with \\0asm",
            ),
        ]
    }

    fn prepare(&self, ctx: &PrepareContext) -> Result<Box<dyn Workload>> {
        let config = ctx.config;
        let path = entrypoint::resolve(config)?;
        let file = entrypoint::open(config, &path)?;
        let mut head = [0u8; 8];
        let n = std::os::unix::fs::FileExt::read_at(&file, &mut head, 0).unwrap_or(0);
        let kind = Kind::of(&head[..n]).ok_or_else(|| {
            err(format!("{}: not a WebAssembly module or component (no \\0asm header)", path.display()))
        })?;
        let helper_path = sibling(HELPER);
        let helper =
            host::sealed_image(&helper_path).map_err(|e| err(format!("this needs {HELPER} next to tandem: {e}")))?;
        let code = compiled(ctx.cache_dir, &file, kind, &path)?;
        let params = Params { kind, memory_limit: memory_limit(config) };
        let params = host::sealed_memfd(c"tandem-wasm-params", &params.encode())
            .map_err(|e| err(format!("hand the helper its parameters: {e}")))?;
        Ok(Box::new(workload::HelperWorkload::new(NAME, helper, params, code)))
    }
}

/// The compiled code of `bytes`, open: a verified cache entry, or compiled
/// now and filed (a sealed memfd of it when the cache cannot be written).
fn compiled(cache_dir: &Path, file: &std::fs::File, kind: Kind, path: &Path) -> Result<std::os::fd::OwnedFd> {
    let cache = cache::Cache::at(cache_dir);
    let key = cache.key_of(file).map_err(|e| err(format!("read module {}: {e}", path.display())))?;
    if let Some(fd) = cache.load(&key) {
        return Ok(fd);
    }
    let artifact = compile::compile(&sibling(COMPILER), &[kind.name()], file, path, err)?;
    if cache.store(&key, &artifact).is_ok()
        && let Some(fd) = cache.load(&key)
    {
        return Ok(fd);
    }
    host::sealed_memfd(c"tandem-wasm-code", &artifact).map_err(|e| err(format!("hold the compiled code: {e}")))
}

/// `linux.resources.memory.limit`, which bounds the module's linear memory.
pub fn memory_limit(config: &Config) -> Option<u64> {
    let limit = config.spec.linux().as_ref()?.resources().as_ref()?.memory().as_ref()?.limit()?;
    (limit > 0).then_some(limit as u64)
}
