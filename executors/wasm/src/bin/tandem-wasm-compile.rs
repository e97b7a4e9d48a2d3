//! `tandem-wasm-compile module|component`: the module's bytes on stdin,
//! the compiled artifact on stdout (see `tandem_wasm_handoff`).

use std::io::{Read, Write};

use tandem_wasm_handoff::{INVALID, Kind};

fn main() {
    let kind = std::env::args().nth(1).and_then(|k| Kind::from_name(&k));
    let Some(kind) = kind else {
        eprintln!("usage: tandem-wasm-compile module|component < module > artifact");
        std::process::exit(2);
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("read the module: {e}");
        std::process::exit(2);
    }
    let engine = match tandem_executor_wasm::engine() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("create the wasm engine: {e:#}");
            std::process::exit(2);
        }
    };
    match tandem_executor_wasm::compile::compile(&engine, &bytes, kind) {
        Ok(artifact) => {
            if let Err(e) = std::io::stdout().lock().write_all(&artifact) {
                eprintln!("write the artifact: {e}");
                std::process::exit(2);
            }
        }
        Err(tandem_executor_wasm::compile::Invalid(why)) => {
            eprint!("{why}");
            std::process::exit(INVALID);
        }
    }
}
