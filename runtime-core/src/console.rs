//! `process.terminal`: a pty made inside the container, its master sent to
//! the caller over `--console-socket`, its slave made the init's stdio and
//! controlling terminal.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys;

/// In the runtime: connect to the caller's socket before the clone, so the
/// init can use it after pivot_root.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path).map_err(|e| Error::Console(format!("connect to {}: {e}", path.display())))?;
    Ok(OwnedFd::from(s))
}

/// In the init, after pivot_root: make the pty and hand its master over.
pub fn setup(socket: &OwnedFd, size: Option<(u16, u16)>) -> Result<()> {
    let (master, slave_path) =
        sys::open_pty(Path::new("/dev/ptmx")).map_err(|e| Error::Console(format!("open /dev/ptmx: {e}")))?;
    let slave = sys::open(Path::new(&slave_path), libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| Error::Console(format!("open {slave_path}: {e}")))?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(master.as_raw_fd(), rows, cols).map_err(|e| Error::Console(format!("set size: {e}")))?;
    }
    sys::send_fd(socket, master.as_raw_fd(), slave_path.as_bytes())
        .map_err(|e| Error::Console(format!("send the pty master: {e}")))?;
    drop(master);
    for fd in 0..3 {
        sys::dup2(slave.as_raw_fd(), fd).map_err(|e| Error::Console(format!("dup the pty onto fd {fd}: {e}")))?;
    }
    sys::set_controlling_tty(0).map_err(|e| Error::Console(format!("make the pty the controlling terminal: {e}")))
}
