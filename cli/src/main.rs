//! `tandem`: the runc-compatible command line with the native executor.
//! Containers the wasm executor claims are recognised here (by
//! `tandem-wasm-select`, which has no engine) and their commands handed to
//! `tandem-wasm`, so no native command maps or pages in wasmtime.

use tandem_runtime_core::{Registration, inventory};

inventory::submit!(Registration(&tandem_wasm_select::InSibling));

fn main() {
    tandem_cli::main(None);
}
