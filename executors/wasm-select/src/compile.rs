//! Compiling at `create`, on a cache miss: an engine's compiler next to
//! tandem (`tandem-wasm-compile`), as a child process (the runtime stays
//! single-threaded and engine-free; see `tandem-wasm-handoff` for the
//! protocol, which a plugin's engine may speak too).

use std::path::Path;
use std::process::{Command, Stdio};

use tandem_executor_api::Result;
use tandem_wasm_handoff::INVALID;

/// The artifact of the module in `file` (from its start; at `module`, for
/// messages), which is `compiler args`'s stdin; `err` makes the errors
/// of the executor that asked.
pub fn compile(
    compiler: &Path,
    args: &[&str],
    file: &std::fs::File,
    module: &Path,
    err: impl Fn(String) -> tandem_executor_api::Error,
) -> Result<Vec<u8>> {
    let input = file.try_clone().map_err(|e| err(format!("hand {} to the compiler: {e}", module.display())))?;
    let out = Command::new(compiler)
        .args(args)
        .stdin(Stdio::from(input))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| err(format!("this needs {} next to tandem, and running it failed: {e}", compiler.display())))?;
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => Ok(out.stdout),
        Some(INVALID) => Err(err(format!("{}: {said}", module.display()))),
        _ => Err(err(format!("compile {} with {}: {} {said}", module.display(), compiler.display(), out.status))),
    }
}
