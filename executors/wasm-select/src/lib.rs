//! Which containers the wasm executor runs, without the wasm engine: the
//! native-only `tandem` links this to hand wasm containers to
//! `tandem-wasm` (its sibling binary, which has wasmtime), and the wasm
//! executor links it to claim the same containers.
//!
//! Selection follows the ecosystem's annotations: crun's `run.oci.handler`
//! (`wasm`, `wasmtime`), `module.wasm.image/variant` (`compat`: always wasm;
//! `compat-smart`: wasm only when the entrypoint starts with the wasm magic
//! bytes), or tandem's `dev.tandem.executor=wasm`.

pub mod entrypoint;

use tandem_runtime_core::{Claim, Config, Error, Executor, PrepareContext, Result, Workload};

pub const HANDLER_ANNOTATION: &str = "run.oci.handler";
pub const VARIANT_ANNOTATION: &str = "module.wasm.image/variant";
/// The executor's name, as `dev.tandem.executor` gives it.
pub const NAME: &str = "wasm";
/// The binary that has the wasm executor, next to `tandem`.
pub const BINARY: &str = "tandem-wasm";

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

/// The wasm executor as a build without it sees it: it claims what the
/// real one claims, and says which binary runs it.
pub struct InSibling;

impl Executor for InSibling {
    fn name(&self) -> &'static str {
        NAME
    }

    fn can_handle(&self, config: &Config) -> Claim {
        claim(config)
    }

    fn runs_in(&self) -> Option<&'static str> {
        Some(BINARY)
    }

    fn prepare(&self, _: &PrepareContext) -> Result<Box<dyn Workload>> {
        Err(err(format!("this build has no wasm engine: {BINARY} runs wasm containers")))
    }
}
