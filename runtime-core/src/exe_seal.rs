//! The runtime's own binary is never a writable host file inside a
//! container (CVE-2019-5736).
//!
//! A container's init and an exec'd process run tandem's code in the
//! container until their execve, and a `#!/proc/self/exe` script there
//! makes the kernel run tandem's binary again, as the container's process.
//! Whoever in the container can open `/proc/PID/exe` of such a process
//! would reopen it for writing once tandem exits and replace the host's
//! binary. So the process that clones them runs from a sealed image: a
//! detached, read-only bind mount of its own file (no copy; the mount is
//! in no namespace, nobody can remount it, it goes with the last process
//! using it), or where the kernel or privileges do not allow that, a
//! sealed memfd copy. A write through either fails (EROFS, EPERM).
//!
//! [`reexec`] does that once, at the start of a command that starts
//! container processes; [`require`] is the check `launch` and `exec`
//! make before they clone.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

const SELF: &str = "/proc/self/exe";

/// Is this process's binary sealed: on a read-only mount or a memfd
/// sealed against writes?
pub fn is_sealed() -> bool {
    let Ok(fd) = sys::open(Path::new(SELF), libc::O_PATH) else { return false };
    if sys::fstatvfs_flags(&fd).is_ok_and(|f| f & libc::ST_RDONLY != 0) {
        return true;
    }
    sys::open(Path::new(SELF), libc::O_RDONLY)
        .and_then(|fd| sys::get_seals(&fd))
        .is_ok_and(|s| s & libc::F_SEAL_WRITE != 0)
}

/// Refuse to clone a container process from an unsealed binary (a caller
/// of the library runs [`reexec`] first, as the CLI does).
pub fn require() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    Err(Error::sys(
        format!("clone a container process from {}", self_path().display()),
        io::Error::other(
            "the binary is writable, a container could replace it through /proc (CVE-2019-5736): \
             run exe_seal::reexec first",
        ),
    ))
}

/// The file this process's binary was run from. Once sealed, the kernel
/// names the detached mount `/` (or the memfd): the path is kept in `argv[0]`.
pub fn self_path() -> PathBuf {
    if is_sealed()
        && let Some(arg0) = std::env::args_os().next().map(PathBuf::from)
        && arg0.is_absolute()
    {
        return arg0;
    }
    std::fs::read_link(SELF).unwrap_or_else(|_| PathBuf::from(SELF))
}

/// Run this command line again from a sealed image of this binary, unless
/// it already runs from one. Returns only on failure.
pub fn reexec() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let path = std::fs::read_link(SELF).map_err(|e| Error::path("read the runtime's binary", SELF, e))?;
    Err(exec(&path, std::env::args_os().skip(1).collect()))
}

/// Execute `binary` with `args` from a sealed image of it, `argv[0]` being
/// its path. Returns only on failure.
pub fn exec(binary: &Path, args: Vec<OsString>) -> Error {
    let image = match sealed_image(binary) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let argv: Result<Vec<CString>> = std::iter::once(binary.as_os_str().to_owned())
        .chain(args)
        .map(|a| CString::new(a.as_bytes()).map_err(|e| Error::path("execute", binary, io::Error::other(e))))
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    match argv {
        Ok(argv) => Error::path("execute the sealed image of", binary, sys::execveat_fd(&image, &argv, &env)),
        Err(e) => e,
    }
}

/// A read-only, executable image of `binary`: a detached read-only bind
/// mount of it, else a sealed memfd copy. What a container process execs
/// of the host's (an executor's helper) comes from one, so that nothing in
/// the container can write it through `/proc/PID/exe`.
pub fn sealed_image(binary: &Path) -> Result<OwnedFd> {
    let c = sys::cpath(binary).map_err(|e| Error::path("seal", binary, e))?;
    let bound = sys::open_tree_clone(&c).and_then(|fd| {
        sys::mount_setattr_fd(&fd, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV)?;
        Ok(fd)
    });
    match bound {
        Ok(fd) => Ok(fd),
        Err(e) => {
            crate::log::debug(&format!("no read-only bind of {} ({e}): sealing a copy in memory", binary.display()));
            sealed_copy(binary)
        }
    }
}

fn sealed_copy(binary: &Path) -> Result<OwnedFd> {
    let what = |e| Error::path("make a sealed copy of", binary, e);
    let file = sys::open(binary, libc::O_RDONLY).map_err(what)?;
    let len = sys::fstat(&file).map_err(what)?.st_size as u64;
    let copy = sys::memfd_sealable_exec(c"tandem").map_err(what)?;
    sys::copy_all(&file, &copy, len).map_err(what)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    sys::add_seals(&copy, seals).map_err(what)?;
    Ok(copy)
}
