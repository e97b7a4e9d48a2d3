//! `update`: change a live container's resources.

use oci_spec::runtime::LinuxResources;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::Status;

impl Container {
    /// Write the fields of `res` that are set to the container's cgroup
    /// (a 0 where runc reads 0 as unset is not set); the others keep their
    /// values. Device rules, when given, replace the
    /// old ones (the container's own devices stay allowed).
    pub fn update(&mut self, res: &LinuxResources) -> Result<()> {
        let _dir = self.lock()?;
        let status = self.status();
        if matches!(status, Status::Stopped | Status::Creating) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        let res = &crate::cgroups::effective(res);
        let own_devices = match res.devices() {
            Some(_) => self
                .config()
                .map(|c| c.devices)
                .map_err(|e| Error::config("linux.resources.devices", format!("read the bundle's devices: {e}")))?,
            None => Vec::new(),
        };
        self.cgroup("update")?.update(res, &own_devices)
    }
}
