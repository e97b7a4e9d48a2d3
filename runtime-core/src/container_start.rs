//! `start`: release a created container's init into its workload.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::Status;
use crate::sys;

impl Container {
    /// Run the workload of a created container.
    pub fn start(&mut self) -> Result<()> {
        let _dir = self.lock()?;
        let status = self.status();
        if status != Status::Created {
            return Err(Error::NotCreated { id: self.id().to_string(), status: status.to_string() });
        }
        let fifo = self.fifo();
        // The init holds the fifo open for reading, so this cannot block.
        let fd = sys::open(&fifo, libc::O_WRONLY | libc::O_NONBLOCK).map_err(|e| Error::path("open", &fifo, e))?;
        sys::write(&fd, b"0").map_err(|e| Error::path("write", &fifo, e))?;
        // With the fifo gone the live status reads "running": nothing else to write.
        std::fs::remove_file(&fifo).map_err(|e| Error::path("remove", &fifo, e))
    }
}
