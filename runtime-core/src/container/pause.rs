//! `pause` and `resume`: freeze and thaw every process of the container.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::Status;

impl Container {
    /// Freeze a running (or created) container.
    pub fn pause(&mut self) -> Result<()> {
        let _dir = self.lock()?;
        let status = self.status();
        if !matches!(status, Status::Running | Status::Created) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        self.cgroup("pause")?.freeze()
    }

    /// Thaw a paused container.
    pub fn resume(&mut self) -> Result<()> {
        let _dir = self.lock()?;
        let status = self.status();
        if status != Status::Paused {
            return Err(Error::NotPaused { id: self.id().to_string(), status: status.to_string() });
        }
        self.cgroup("resume")?.thaw()
    }
}
