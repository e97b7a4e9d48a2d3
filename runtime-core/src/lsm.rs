//! Linux security module labels of the workload: `process.apparmorProfile`
//! and `process.selinuxLabel`. Both are checked in the runtime (a label
//! this host cannot enforce is a config error, as with runc) and set in the
//! child to take effect at its execve.

use std::fs;
use std::path::Path;

use crate::config::Process;
use crate::error::{Error, Result};
use crate::procfs::Proc;

fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// In the runtime: refuse labels this host cannot enforce.
pub fn check(p: &Process) -> Result<()> {
    if p.apparmor_profile.is_some() && !apparmor_enabled() {
        return Err(Error::config("process.apparmorProfile", "AppArmor is not enabled on this host"));
    }
    if p.selinux_label.is_some() && !selinux_enabled() {
        return Err(Error::config("process.selinuxLabel", "SELinux is not enabled on this host"));
    }
    Ok(())
}

/// In the child, before it drops its capabilities: the labels its execve
/// will put on the workload.
pub fn set_on_exec(p: &Process) -> Result<()> {
    if p.apparmor_profile.is_none() && p.selinux_label.is_none() {
        return Ok(());
    }
    let proc = Proc::open()?;
    if let Some(profile) = &p.apparmor_profile {
        let value = format!("exec {profile}");
        // The per-LSM file where the kernel has it, the shared one otherwise.
        let file = ["attr/apparmor/exec", "attr/exec"]
            .into_iter()
            .find(|f| Path::new("/proc/thread-self").join(f).exists())
            .unwrap_or("attr/exec");
        proc.write(&Proc::thread_self(file), value.as_bytes())?;
    }
    if let Some(label) = &p.selinux_label {
        proc.write(&Proc::thread_self("attr/exec"), label.as_bytes())?;
    }
    Ok(())
}
