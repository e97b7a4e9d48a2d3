//! `delete`: remove a container; `force` kills a running one first.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::executor::CleanupContext;
use crate::hooks::Kind;
use crate::state::{StateDir, Status};
use crate::sys;

impl Container {
    /// Delete the container. A created or stopped one goes without force
    /// (as with runc); a running or paused one needs `force`. Every process
    /// in its cgroup is killed, then the cgroup and the state go, then the
    /// poststop hooks run.
    pub fn delete(mut self, force: bool) -> Result<()> {
        let dir = self.lock()?;
        let status = self.status();
        if matches!(status, Status::Running | Status::Paused | Status::Creating) && !force {
            return Err(Error::NotStopped { id: self.id().to_string(), status: status.to_string() });
        }
        self.destroy(dir)
    }

    /// Undo what create did, under the lock `dir` holds.
    pub(crate) fn destroy(&mut self, dir: StateDir) -> Result<()> {
        // A create killed while a runtime hook ran: the hook's group goes.
        crate::hooks::Group::kill_recorded(&dir.path.join(crate::state::HOOK_GROUP_FILE));
        // The cgroup holds every process of the container, in its own pid
        // namespace or not; SIGKILL also reaches frozen ones (the cgroup is
        // thawed after it).
        if let Some(cg) = &self.state.cgroup
            && cg.dirs.values().any(|d| d.exists())
        {
            cg.signal_all(libc::SIGKILL)?;
        }
        if let Some(pidfd) = self.init_pidfd()? {
            let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
            if !sys::pidfd_wait_exit(&pidfd, 10_000).map_err(|e| Error::sys("wait for the init to die", e))? {
                return Err(Error::sys(
                    format!("kill init {}", self.state.pid),
                    std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                ));
            }
        }
        if let Some(cg) = &self.state.cgroup {
            cg.destroy()?;
        }
        if let Some(record) = crate::state::read_host_mounts(&dir.path) {
            record.undo()?;
        }
        if let Some(executor) = crate::executor::by_name(&self.state.executor) {
            let ctx = CleanupContext { id: self.id(), state_dir: &dir.path, cache_dir: &self.cache };
            if let Err(e) = executor.cleanup(&ctx) {
                crate::log::warn(&format!("executor {}: clean up after '{}': {e}", executor.name(), self.id()));
            }
        }
        dir.remove()?;
        self.state.hooks.run_warning(Kind::Poststop, || self.state.hook_state(Status::Stopped));
        Ok(())
    }
}
