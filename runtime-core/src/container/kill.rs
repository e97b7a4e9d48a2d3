//! `kill`: signal the init, or every process of the container.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::procfs;
use crate::state::Status;
use crate::sys;

impl Container {
    /// Send `sig` to the init, or with `all` to every process in the
    /// container.
    pub fn signal(&mut self, sig: i32, all: bool) -> Result<()> {
        let _dir = self.lock()?;
        let status = self.status();
        if !matches!(status, Status::Created | Status::Running | Status::Paused) {
            // The init is gone but what it left in the cgroup (a container
            // that is not the init of its own pid namespace leaves its
            // children behind) is still the container's: `--all` reaches
            // it, as with runc, which is how containerd's shim cleans up.
            if all
                && status == Status::Stopped
                && let Some(cg) = &self.state.cgroup
            {
                return cg.signal_all(sig);
            }
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        let Some(pidfd) = self.init_pidfd()? else {
            return Err(Error::NotRunning { id: self.id().to_string(), status: "stopped".into() });
        };
        if all {
            if let Some(cg) = &self.state.cgroup {
                // The cgroup is frozen while it is signalled, so no process
                // forks away from the list.
                return cg.signal_all(sig);
            }
            for pid in self.member_pids() {
                if pid != self.state.pid {
                    let _ = sys::kill(pid, sig);
                }
            }
        }
        sys::pidfd_send_signal(&pidfd, sig)
            .map_err(|e| Error::sys(format!("signal {sig} to {}", self.state.pid), e))?;
        // A frozen v1 cgroup holds even SIGKILL until it is thawed.
        if sig == libc::SIGKILL
            && status == Status::Paused
            && let Some(cg) = &self.state.cgroup
        {
            cg.thaw()?;
        }
        Ok(())
    }

    /// Processes in the container: those in its cgroup; for a container
    /// recorded without one, every process in its pid namespace when the
    /// init is pid 1 there (the container owns it), else just the init: a
    /// container that joined another's pid namespace must not reach the
    /// owner's processes.
    pub fn member_pids(&self) -> Vec<i32> {
        if let Some(pids) = self.state.cgroup.as_ref().and_then(|cg| cg.pids().ok()) {
            return pids;
        }
        let init = self.state.pid;
        let ns = match (procfs::ns_pid(init), procfs::ns_inode(init, "pid")) {
            (Some(1), Some(ns)) => ns,
            _ => return vec![init],
        };
        procfs::all_pids().into_iter().filter(|&p| procfs::ns_inode(p, "pid") == Some(ns)).collect()
    }
}
