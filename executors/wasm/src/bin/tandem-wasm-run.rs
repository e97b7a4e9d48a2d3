//! `tandem-wasm-run`: the helper a wasm container's process execs (see
//! `tandem_executor_wasm::run`).

fn main() {
    std::process::exit(tandem_executor_wasm::run::main())
}
