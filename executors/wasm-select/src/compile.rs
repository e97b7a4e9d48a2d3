//! Compiling at `create`, on a cache miss: `tandem-wasm-compile`, next to
//! tandem, as a child process (the runtime stays single-threaded and
//! engine-free; see `tandem-wasm-handoff` for the protocol).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use tandem_runtime_core::Result;
use tandem_wasm_handoff::{INVALID, Kind};

use crate::err;

/// The artifact of `bytes` (the module at `module`, for messages).
pub fn compile(compiler: &Path, bytes: &[u8], kind: Kind, module: &Path) -> Result<Vec<u8>> {
    let mut child = Command::new(compiler)
        .arg(kind.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("this needs {} next to tandem, and running it failed: {e}", compiler.display())))?;
    // The compiler reads all of its input before it writes anything.
    let fed = child.stdin.take().expect("piped").write_all(bytes);
    let out = child.wait_with_output().map_err(|e| err(format!("wait for {}: {e}", compiler.display())))?;
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) if fed.is_ok() => Ok(out.stdout),
        Some(INVALID) => Err(err(format!("{}: {said}", module.display()))),
        _ => Err(err(format!("compile {} with {}: {} {said}", module.display(), compiler.display(), out.status))),
    }
}
