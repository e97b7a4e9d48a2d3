//! The wasm executor: the container's workload is a WebAssembly module or
//! component, run by wasmtime + WASI inside the isolation the engine built
//! (namespaces, rootfs, capabilities: the same as a native container).
//!
//! Selection follows the ecosystem's annotations: crun's `run.oci.handler`
//! (`wasm`, `wasmtime`), `module.wasm.image/variant` (`compat`: always wasm;
//! `compat-smart`: wasm only when the entrypoint starts with the wasm magic
//! bytes), or tandem's `dev.tandem.executor=wasm`.
//!
//! At `create` ([`Executor::prepare`], in the runtime): the entrypoint is
//! read from the rootfs, validated and compiled, or loaded from the
//! compiled-code [`cache`], so `start` only instantiates. The compiled code
//! is inherited by the init through the clone; nothing is read from the
//! host after pivot_root. At `start` ([`run`]): WASI gets `args`, `env`, the
//! container's `/` preopened as `/` and the container's stdio; the module's
//! exit code becomes the container's.

pub mod cache;
mod entrypoint;
mod run;

use std::path::Path;

use tandem_runtime_core::{Claim, Config, Error, Executor, PrepareContext, Registration, Result, Workload};

pub use run::TRAP_EXIT_CODE;

pub struct Wasm;

tandem_runtime_core::inventory::submit!(Registration(&Wasm));

pub const HANDLER_ANNOTATION: &str = "run.oci.handler";
pub const VARIANT_ANNOTATION: &str = "module.wasm.image/variant";

pub(crate) fn err(why: impl Into<String>) -> Error {
    Error::Executor { executor: "wasm".into(), why: why.into() }
}

impl Executor for Wasm {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn can_handle(&self, config: &Config) -> Claim {
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

    fn prepare(&self, ctx: &PrepareContext) -> Result<Box<dyn Workload>> {
        let config = ctx.config;
        // The module runs in the init itself, which never execs: a label
        // meant for the workload's execve would not apply.
        if config.process.apparmor_profile.is_some() || config.process.selinux_label.is_some() {
            return Err(err(
                "process.apparmorProfile and process.selinuxLabel cannot be applied to a module run in the init (no execve)"
                    .to_string(),
            ));
        }
        let path = entrypoint::resolve(config)?;
        let bytes = entrypoint::read(config, &path)?;
        let kind = entrypoint::kind(&bytes).ok_or_else(|| {
            err(format!("{}: not a WebAssembly module or component (no \\0asm header)", path.display()))
        })?;
        let engine = cache::engine()?;
        let compiled = cache::Cache::at(ctx.state_root).load_or_compile(&engine, &bytes, kind, &path)?;
        Ok(Box::new(run::WasmWorkload::new(engine, compiled, memory_limit(config))))
    }
}

/// `linux.resources.memory.limit`, which bounds the module's linear memory.
fn memory_limit(config: &Config) -> Option<usize> {
    let limit = config.spec.linux().as_ref()?.resources().as_ref()?.memory().as_ref()?.limit()?;
    (limit > 0).then_some(limit as usize)
}

/// Path of the cache directory under a state root (for `tandem wasm-cache`).
pub fn cache_dir(state_root: &Path) -> std::path::PathBuf {
    cache::Cache::at(state_root).dir().to_path_buf()
}
