//! The wasm executor: the container's workload is a WebAssembly module or
//! component, run by wasmtime + WASI inside the isolation the engine built
//! (namespaces, rootfs, capabilities: the same as a native container).
//!
//! Which containers it claims is decided in `tandem-wasm-select`, which the
//! native-only `tandem` shares to hand wasm containers over to
//! `tandem-wasm`, the binary this executor is linked into.
//!
//! At `create` ([`Executor::prepare`], in the runtime): the entrypoint is
//! read from the rootfs, validated and compiled, or loaded from the
//! compiled-code [`cache`], so `start` only instantiates. The compiled code
//! is inherited by the init through the clone; nothing is read from the
//! host after pivot_root. At `start` ([`run`]): WASI gets `args`, `env`, the
//! container's `/` preopened as `/` and the container's stdio; the module's
//! exit code becomes the container's.

pub mod cache;
mod run;

use tandem_runtime_core::{Claim, Config, Executor, PrepareContext, Registration, Result, Workload};
pub use tandem_wasm_select::{HANDLER_ANNOTATION, VARIANT_ANNOTATION};
use tandem_wasm_select::{entrypoint, err};

pub use run::TRAP_EXIT_CODE;

pub struct Wasm;

tandem_runtime_core::inventory::submit!(Registration(&Wasm));

impl Executor for Wasm {
    fn name(&self) -> &'static str {
        tandem_wasm_select::NAME
    }

    fn can_handle(&self, config: &Config) -> Claim {
        tandem_wasm_select::claim(config)
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
        let compiled = cache::Cache::at(ctx.cache_dir).load_or_compile(&engine, &bytes, kind, &path)?;
        Ok(Box::new(run::WasmWorkload::new(engine, compiled, memory_limit(config))))
    }
}

/// `linux.resources.memory.limit`, which bounds the module's linear memory.
fn memory_limit(config: &Config) -> Option<usize> {
    let limit = config.spec.linux().as_ref()?.resources().as_ref()?.memory().as_ref()?.limit()?;
    (limit > 0).then_some(limit as usize)
}
