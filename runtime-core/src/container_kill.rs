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
            if all && status == Status::Stopped {
                return Ok(());
            }
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        let Some(pidfd) = self.init_pidfd()? else {
            return Err(Error::NotRunning { id: self.id().to_string(), status: "stopped".into() });
        };
        if all {
            for pid in self.member_pids() {
                if pid != self.state.pid {
                    let _ = sys::kill(pid, sig);
                }
            }
        }
        sys::pidfd_send_signal(&pidfd, sig).map_err(|e| Error::sys(format!("signal {sig} to {}", self.state.pid), e))
    }

    /// Processes in the container: those in the init's pid namespace when
    /// it has its own, else just the init.
    pub fn member_pids(&self) -> Vec<i32> {
        let init = self.state.pid;
        let (Some(ns), Some(host)) = (procfs::ns_inode(init, "pid"), procfs::ns_inode(1, "pid")) else {
            return vec![init];
        };
        if ns == host {
            return vec![init];
        }
        procfs::all_pids().into_iter().filter(|&p| procfs::ns_inode(p, "pid") == Some(ns)).collect()
    }
}
