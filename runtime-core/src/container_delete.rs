//! `delete`: remove a container; `force` kills a running one first.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::Status;
use crate::sys;

impl Container {
    /// Delete the container. A created or stopped one goes without force
    /// (as with runc); a running or paused one needs `force`.
    pub fn delete(mut self, force: bool) -> Result<()> {
        let dir = self.lock()?;
        let status = self.status();
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(Error::NotStopped { id: self.id().to_string(), status: status.to_string() });
        }
        if status == Status::Creating && !force {
            return Err(Error::NotStopped { id: self.id().to_string(), status: status.to_string() });
        }
        // Killing the init is enough: the init of a pid namespace takes every
        // process in it along; without one, only the init is known to be ours.
        if let Some(pidfd) = self.init_pidfd()? {
            let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
            if !sys::pidfd_wait_exit(&pidfd, 10_000).map_err(|e| Error::sys("wait for the init to die", e))? {
                return Err(Error::sys(
                    format!("kill init {}", self.state.pid),
                    std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                ));
            }
        }
        dir.remove()
    }
}
