//! `tandem`: the runc-compatible command line (see the `tandem_cli` crate).

fn main() {
    tandem_cli::main();
}
