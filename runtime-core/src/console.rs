//! `process.terminal`: a pty made inside the container, its master sent to
//! the caller over `--console-socket`, its slave made the init's stdio and
//! controlling terminal and bound at `/dev/console` (runtime-spec). The
//! slave comes from the master (TIOCGPTPEER) and is bound from its fd,
//! never by a path the container's image could make a symlink
//! (CVE-2025-52565).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::{Error, Result};
use crate::rootfs::inroot::{self, Root};
use crate::rootfs::kernel::{HOST, Kernel};
use crate::sys;

/// In the runtime: connect to the caller's socket before the clone, so the
/// init can use it after pivot_root.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path).map_err(|e| Error::Console(format!("connect to {}: {e}", path.display())))?;
    Ok(OwnedFd::from(s))
}

/// In the init, after pivot_root: make the pty, bind it at /dev/console
/// (the init's only: an exec'd process shares the container's mounts and
/// leaves its console alone) and hand its master over.
pub fn setup(socket: &OwnedFd, size: Option<(u16, u16)>, console: bool) -> Result<()> {
    let (master, slave_path) =
        sys::open_pty(Path::new("/dev/ptmx")).map_err(|e| Error::Console(format!("open /dev/ptmx: {e}")))?;
    let slave = match sys::pty_peer(&master) {
        // Kernels before 4.13 have no TIOCGPTPEER.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            sys::open(Path::new(&slave_path), libc::O_RDWR | libc::O_NOCTTY | libc::O_NOFOLLOW)
        }
        r => r,
    }
    .map_err(|e| Error::Console(format!("open the pty's slave {slave_path}: {e}")))?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(master.as_raw_fd(), rows, cols).map_err(|e| Error::Console(format!("set size: {e}")))?;
    }
    if console {
        bind_console(&slave).map_err(|e| Error::Console(format!("bind the pty at /dev/console: {e}")))?;
    }
    sys::send_fd(socket, master.as_raw_fd(), slave_path.as_bytes())
        .map_err(|e| Error::Console(format!("send the pty master: {e}")))?;
    drop(master);
    for fd in 0..3 {
        sys::dup2(slave.as_raw_fd(), fd).map_err(|e| Error::Console(format!("dup the pty onto fd {fd}: {e}")))?;
    }
    sys::set_controlling_tty(0).map_err(|e| Error::Console(format!("make the pty the controlling terminal: {e}")))
}

/// Bind the pty slave (from its fd) over `/dev/console`: a file made for
/// it, or the image's own file or device node there, never a symlink.
fn bind_console(slave: &OwnedFd) -> io::Result<()> {
    let root = Root::open(Path::new("/"))?;
    let (dev, name) = root.parent_dir(Path::new("/dev/console"))?;
    match sys::create_file_at(&dev, name.as_os_str(), 0o600) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let kind = sys::lstat_at(&dev, name.as_os_str())?.st_mode & libc::S_IFMT;
            if kind != libc::S_IFREG && kind != libc::S_IFCHR {
                return Err(io::Error::other("/dev/console in the rootfs is not a file or a device"));
            }
        }
        r => r?,
    }
    let target = root.open_path(Path::new("/dev/console"))?;
    let kind = sys::fstat(&target)?.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(io::Error::other("/dev/console in the rootfs is not a file or a device"));
    }
    HOST.mount(Some(&inroot::fd_path(slave)), &inroot::fd_path(&target), None, libc::MS_BIND, None)
}
