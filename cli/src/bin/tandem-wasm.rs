//! `tandem-wasm`: tandem's command line with the wasm executor (wasmtime +
//! WASI) linked in as well as the native one. `tandem` runs every command
//! itself except those a wasm container needs, which it hands over to this
//! binary, installed next to it.

use tandem_cli::CacheAction;
use tandem_runtime_core::{Error, Runtime};
// Link the wasm executor so its registration is in this binary.
use tandem_executor_wasm as _;

fn main() {
    tandem_cli::main(Some(wasm_cache));
}

fn wasm_cache(rt: &Runtime, action: CacheAction) -> Result<(), Error> {
    use tandem_executor_wasm::cache::{self, Cache};
    let c = Cache::at(rt.cache());
    match action {
        CacheAction::List => {
            for e in c.list() {
                let age = e.modified.elapsed().map(|d| d.as_secs()).unwrap_or(0);
                println!("{} {} {:>10} bytes {:>8}s old {}", e.module_sha256, e.engine, e.bytes, age, e.path.display());
            }
        }
        CacheAction::Prune { all } => {
            let n = c.prune(&cache::engine()?, all).map_err(|e| Error::path("prune", c.dir(), e))?;
            println!("removed {n} file(s) from {}", c.dir().display());
        }
    }
    Ok(())
}
