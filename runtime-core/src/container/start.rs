//! `start`: release a created container's init into its workload, wait
//! until the workload has started (or hear why it did not, a
//! startContainer hook's failure included), then the poststart hooks.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::hooks::Kind;
use crate::process::channel::StartReply;
use crate::state::{self, Status};
use crate::sys;

impl Container {
    /// Run the workload of a created container. A failing startContainer
    /// or poststart hook fails the start and destroys the container
    /// (poststop hooks run).
    pub fn start(&mut self) -> Result<()> {
        let dir = self.lock()?;
        let status = self.status();
        if status != Status::Created {
            return Err(Error::NotCreated { id: self.id().to_string(), status: status.to_string() });
        }
        let reply_path = self.dir().join(state::START_REPLY);
        // Opened before the go-ahead, so the outcome cannot be missed (a
        // container made before start replies existed has none).
        let reply = match sys::open(&reply_path, libc::O_RDONLY | libc::O_NONBLOCK) {
            Ok(fd) => Some((fd, self.init_pidfd()?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::path("open", &reply_path, e)),
        };
        let fifo = self.fifo();
        // The init holds the fifo open for reading, so this cannot block.
        let fd = sys::open(&fifo, libc::O_WRONLY | libc::O_NONBLOCK).map_err(|e| Error::path("open", &fifo, e))?;
        sys::write(&fd, b"0").map_err(|e| Error::path("write", &fifo, e))?;
        // With the fifo gone the live status reads "running": nothing else to write.
        std::fs::remove_file(&fifo).map_err(|e| Error::path("remove", &fifo, e))?;
        if let Some((reply, pidfd)) = reply {
            let outcome = read_outcome(&reply, pidfd.as_ref());
            let _ = std::fs::remove_file(&reply_path);
            match outcome {
                Ok(()) => {}
                Err(e @ Error::Hook(_)) => {
                    // The lifecycle goes on at "delete": nothing is left.
                    if let Err(d) = self.destroy(dir) {
                        crate::log::warn(&format!("destroy '{}' after its startContainer hook failed: {d}", self.id()));
                    }
                    return Err(e);
                }
                // The workload did not start: the container is stopped.
                Err(e) => return Err(e),
            }
        }
        // runtime-spec 1.3: a failing poststart hook is an error that stops
        // the container, like the create-time hooks (runc kills it too).
        if !self.state.hooks.poststart.is_empty() {
            let state = self.state.hook_state(Status::Running);
            if let Err(e) = self.state.hooks.run(Kind::Poststart, &state) {
                if let Err(d) = self.destroy(dir) {
                    crate::log::warn(&format!("destroy '{}' after its poststart hook failed: {d}", self.id()));
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Wait until the init has started the workload (its execve closed the
/// reply: end of file) or says why not.
fn read_outcome(reply: &OwnedFd, pidfd: Option<&OwnedFd>) -> Result<()> {
    let mut fds = vec![(reply.as_raw_fd(), libc::POLLIN)];
    fds.extend(pidfd.map(|p| (p.as_raw_fd(), libc::POLLIN)));
    sys::poll(&fds, -1).map_err(|e| Error::sys("wait for the workload to start", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = match sys::read(reply, &mut buf) {
        Ok(n) => n,
        // Nothing written and a writer still there: the init died (pidfd).
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => 0,
        Err(e) => return Err(Error::sys("read whether the workload started", e)),
    };
    match StartReply::decode(&buf[..n]) {
        None => Ok(()),
        Some(StartReply::HookFailed(why)) => Err(Error::Hook(why)),
        Some(StartReply::NotStarted { status, why }) => Err(Error::Init { why, status }),
    }
}
