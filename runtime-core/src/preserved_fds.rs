//! The fds a caller hands to the workload (`--preserve-fds N`: 3 ..
//! 3+N-1). Only fds the caller really passed may reach the container:
//! where one of them is missing, an fd tandem opens for itself (a cgroup
//! directory, the state lock) would take its number and be handed on, a
//! way out of the container (CVE-2024-21626). So every one of them must be
//! open before tandem opens anything, and the init keeps no other.

use crate::error::{Error, Result};
use crate::sys;

/// Check, before opening anything of the runtime's own, that the caller
/// passed each of the `count` fds from 3 up.
pub fn check(count: u32) -> Result<()> {
    match (3..3u32.saturating_add(count)).find(|&fd| fd > i32::MAX as u32 || !sys::fd_is_open(fd as i32)) {
        None => Ok(()),
        Some(fd) => Err(Error::sys(
            format!("--preserve-fds {count}: fd {fd} was not passed (only fds 3 to {} may be preserved)", 2 + count),
            std::io::Error::from_raw_os_error(libc::EBADF),
        )),
    }
}

/// In the init or an exec'd process: the preserved fds stay open across
/// the workload's execve.
pub(crate) fn hand_on(count: u32) -> Result<()> {
    for fd in 3..3 + count {
        sys::clear_cloexec(fd as i32).map_err(|e| Error::sys(format!("preserve fd {fd}"), e))?;
    }
    Ok(())
}
