//! `start`: release a created container's init into its workload; with
//! startContainer hooks, wait for the init's word on them; then the
//! poststart hooks.

use std::os::fd::AsRawFd;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::hooks::Kind;
use crate::state::{self, Status};
use crate::sys;

impl Container {
    /// Run the workload of a created container. A failing startContainer
    /// hook fails the start and destroys the container (poststop hooks
    /// run); a failing poststart hook is a warning.
    pub fn start(&mut self) -> Result<()> {
        let dir = self.lock()?;
        let status = self.status();
        if status != Status::Created {
            return Err(Error::NotCreated { id: self.id().to_string(), status: status.to_string() });
        }
        let reply_path = self.dir().join(state::START_REPLY);
        // Opened before the go-ahead, so the verdict cannot be missed.
        let reply = if self.state.hooks.start_container.is_empty() {
            None
        } else {
            let fd = sys::open(&reply_path, libc::O_RDONLY | libc::O_NONBLOCK)
                .map_err(|e| Error::path("open", &reply_path, e))?;
            Some((fd, self.init_pidfd()?))
        };
        let fifo = self.fifo();
        // The init holds the fifo open for reading, so this cannot block.
        let fd = sys::open(&fifo, libc::O_WRONLY | libc::O_NONBLOCK).map_err(|e| Error::path("open", &fifo, e))?;
        sys::write(&fd, b"0").map_err(|e| Error::path("write", &fifo, e))?;
        // With the fifo gone the live status reads "running": nothing else to write.
        std::fs::remove_file(&fifo).map_err(|e| Error::path("remove", &fifo, e))?;
        if let Some((reply, pidfd)) = reply {
            let verdict = read_verdict(&reply, pidfd.as_ref());
            let _ = std::fs::remove_file(&reply_path);
            if let Err(e) = verdict {
                // The lifecycle goes on at "delete": nothing is left.
                if let Err(d) = self.destroy(dir) {
                    crate::log::warn(&format!("destroy '{}' after its startContainer hook failed: {d}", self.id()));
                }
                return Err(e);
            }
        }
        self.state.hooks.run_warning(Kind::Poststart, || self.state.to_oci_json(Status::Running));
        Ok(())
    }
}

/// What the init said of its startContainer hooks: "0" when they ran.
fn read_verdict(reply: &std::os::fd::OwnedFd, pidfd: Option<&std::os::fd::OwnedFd>) -> Result<()> {
    let mut fds = vec![(reply.as_raw_fd(), libc::POLLIN)];
    fds.extend(pidfd.map(|p| (p.as_raw_fd(), libc::POLLIN)));
    sys::poll(&fds, -1).map_err(|e| Error::sys("wait for the startContainer hooks", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = match sys::read(reply, &mut buf) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => 0,
        Err(e) => return Err(Error::sys("read the startContainer hooks' outcome", e)),
    };
    match &buf[..n] {
        b"0" => Ok(()),
        [] => Err(Error::init("the init exited before running its startContainer hooks")),
        text => Err(Error::Hook(String::from_utf8_lossy(text).into_owned())),
    }
}
