//! `tandem-wasm-compile`: compile a module or component for the helper,
//! and check everything it would otherwise only find at start.

use wasmtime::component::Component;
use wasmtime::{Engine, ExternType, Module};
use wasmtime_wasi::p2::bindings::CommandPre;

use tandem_wasm_handoff::Kind;

use crate::linking;

/// Why a module cannot run: it is not valid, or will not link or start.
#[derive(Debug)]
pub struct Invalid(pub String);

/// The serialized artifact of `bytes`, once it is known to instantiate
/// against the helper's WASI and to have its entry point.
pub fn compile(engine: &Engine, bytes: &[u8], kind: Kind) -> Result<Vec<u8>, Invalid> {
    let invalid = |e: wasmtime::Error| Invalid(format!("{e:#}"));
    match kind {
        Kind::Module => {
            let module =
                Module::from_binary(engine, bytes).map_err(|e| Invalid(format!("invalid WebAssembly: {e:#}")))?;
            match module.get_export("_start") {
                Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
                Some(_) => {
                    return Err(Invalid("its `_start` export is not a function of no parameters and results".into()));
                }
                None => {
                    return Err(Invalid(
                        "it exports no `_start` function: not a WASI command (a reactor or a library?)".into(),
                    ));
                }
            }
            linking::module_linker(engine).and_then(|l| l.instantiate_pre(&module)).map_err(invalid)?;
            module.serialize().map_err(invalid)
        }
        Kind::Component => {
            let component =
                Component::from_binary(engine, bytes).map_err(|e| Invalid(format!("invalid WebAssembly: {e:#}")))?;
            let pre = linking::component_linker(engine).and_then(|l| l.instantiate_pre(&component)).map_err(invalid)?;
            CommandPre::new(pre).map_err(|e| Invalid(format!("not a wasi:cli/command component: {e:#}")))?;
            component.serialize().map_err(invalid)
        }
    }
}
