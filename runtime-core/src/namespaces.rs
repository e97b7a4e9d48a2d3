//! Which namespaces the init is cloned into, which it joins, and the id
//! maps of a new user namespace.
//!
//! pid and time namespaces only take effect for children, so joining one
//! by path (and creating a time namespace, whose offsets must be written
//! before any process is in it) happens in the runtime just before the
//! clone. A new cgroup namespace is made by the init once it
//! is in its cgroup (`enter_cgroup_ns`: cloned into it, joined by the
//! init itself on v1, or placed by systemd while the init waits).
//! Everything else is either a clone flag or a `setns` in the init.

use std::os::fd::OwnedFd;
use std::path::Path;

use crate::config::{Config, IdMap, NsKind};
use crate::error::{Error, Result};
use crate::procfs::Proc;
use crate::rootfs::kernel::{HOST, Kernel};
use crate::sys;

/// Flags for clone3: every namespace to create. When the user namespace is
/// joined by path, the others are created by `unshare` in the init after
/// joining it, so they belong to that user namespace.
pub fn clone_flags(config: &Config) -> u64 {
    let user_joined = config.namespace(NsKind::User).is_some_and(|n| n.path.is_some());
    let mut flags = 0;
    for ns in &config.namespaces {
        if ns.path.is_some() || matches!(ns.kind, NsKind::Time | NsKind::Cgroup) {
            continue;
        }
        if user_joined && ns.kind != NsKind::Pid {
            continue;
        }
        flags |= ns.kind.clone_flag() as u64;
    }
    flags
}

/// The runtime's pid and time namespaces for its children, set to the
/// container's for one clone and put back right after it: whatever the
/// runtime starts next (prestart, createRuntime and poststart hooks,
/// poststop hooks after a failed create, another container) runs in the
/// caller's namespaces, and the caller's process is as it was.
pub struct ForChildren<'k> {
    kernel: &'k dyn Kernel,
    saved: Vec<(NsKind, OwnedFd)>,
}

impl ForChildren<'static> {
    /// Nothing changed yet.
    pub fn none() -> ForChildren<'static> {
        ForChildren::on(&HOST)
    }

    /// Enter pid/time namespaces given by path, or create the time
    /// namespace with its offsets, for the init's clone.
    pub fn enter(config: &Config) -> Result<ForChildren<'static>> {
        let mut guard = ForChildren::none();
        for kind in [NsKind::Pid, NsKind::Time] {
            let Some(ns) = config.namespace(kind) else {
                continue;
            };
            match &ns.path {
                Some(p) => guard.join(kind, p)?,
                None if kind == NsKind::Time => {
                    guard.save(kind)?;
                    HOST.unshare(libc::CLONE_NEWTIME).map_err(|e| Error::sys("create time namespace", e))?;
                    let offsets: String = config
                        .time_offsets
                        .iter()
                        .map(|(clock, secs, nanos)| format!("{clock} {secs} {nanos}\n"))
                        .collect();
                    if !offsets.is_empty() {
                        Proc::open()?.write(&Proc::self_file("timens_offsets"), offsets.as_bytes())?;
                    }
                }
                None => {}
            }
        }
        Ok(guard)
    }
}

impl<'k> ForChildren<'k> {
    /// Nothing changed yet; namespaces are entered through `kernel`.
    pub fn on(kernel: &'k dyn Kernel) -> ForChildren<'k> {
        ForChildren { kernel, saved: Vec::new() }
    }

    /// Join the pid or time namespace at `path` for the next clone.
    pub fn join(&mut self, kind: NsKind, path: &Path) -> Result<()> {
        self.save(kind)?;
        join(self.kernel, kind, path)
    }

    fn save(&mut self, kind: NsKind) -> Result<()> {
        let path = format!("/proc/self/ns/{}_for_children", kind.proc_name());
        let fd = sys::open(Path::new(&path), libc::O_RDONLY).map_err(|e| Error::path("open namespace", &path, e))?;
        self.saved.push((kind, fd));
        Ok(())
    }

    /// Back to the namespaces the runtime had for its children.
    pub fn restore(mut self) -> Result<()> {
        self.put_back()
    }

    fn put_back(&mut self) -> Result<()> {
        for (kind, fd) in self.saved.drain(..).rev() {
            self.kernel
                .setns(&fd, kind.clone_flag())
                .map_err(|e| Error::sys(format!("return to the runtime's {} namespace", kind.proc_name()), e))?;
        }
        Ok(())
    }

    /// In the cloned child: its namespaces are the container's; nothing to put back.
    pub fn forget(mut self) {
        self.saved.clear();
    }
}

impl Drop for ForChildren<'_> {
    fn drop(&mut self) {
        let _ = self.put_back();
    }
}

/// In the init: join namespaces given by path (user first), then create the
/// ones left for unshare.
pub fn enter_in_init(k: &dyn Kernel, config: &Config) -> Result<()> {
    let user_joined = config.namespace(NsKind::User).is_some_and(|n| n.path.is_some());
    for kind in NsKind::ALL {
        if matches!(kind, NsKind::Pid | NsKind::Time) {
            continue;
        }
        if let Some(p) = config.namespace(kind).and_then(|n| n.path.as_ref()) {
            // Cloned by the launcher, the init is in the user namespace already.
            if kind == NsKind::User && same_namespace(p, "/proc/self/ns/user") {
                continue;
            }
            join(k, kind, p)?;
        }
    }
    if user_joined {
        let flags = config
            .namespaces
            .iter()
            .filter(|n| {
                n.path.is_none() && !matches!(n.kind, NsKind::Pid | NsKind::Time | NsKind::User | NsKind::Cgroup)
            })
            .fold(0, |f, n| f | n.kind.clone_flag());
        if flags != 0 {
            k.unshare(flags).map_err(|e| Error::sys("unshare namespaces", e))?;
        }
    }
    Ok(())
}

/// In the init, once the runtime says it is in its cgroup: a new cgroup
/// namespace has that cgroup as its root.
pub fn enter_cgroup_ns(k: &dyn Kernel, config: &Config) -> Result<()> {
    if config.creates(NsKind::Cgroup) {
        k.unshare(libc::CLONE_NEWCGROUP).map_err(|e| Error::sys("create cgroup namespace", e))?;
    }
    Ok(())
}

fn same_namespace(a: &Path, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

fn join(k: &dyn Kernel, kind: NsKind, path: &Path) -> Result<()> {
    let fd = sys::open(path, libc::O_RDONLY).map_err(|e| Error::path("open namespace", path, e))?;
    k.setns(&fd, kind.clone_flag()).map_err(|e| Error::path(&format!("join {} namespace", kind.proc_name()), path, e))
}

pub(crate) fn map_text(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

/// In the runtime: write the init's uid and gid maps (as an unprivileged
/// user may, see [`crate::rootless`], when this process is one).
pub fn write_id_maps(pid: i32, config: &Config) -> Result<()> {
    if sys::geteuid() != 0 {
        return crate::rootless::write_id_maps(pid, config);
    }
    let proc = Proc::open()?;
    for (file, maps) in [("uid_map", &config.uid_mappings), ("gid_map", &config.gid_mappings)] {
        proc.write(&format!("{pid}/{file}"), map_text(maps).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_written_one_per_line() {
        let m = [
            IdMap { container_id: 0, host_id: 100000, size: 65536 },
            IdMap { container_id: 65536, host_id: 5, size: 1 },
        ];
        assert_eq!(map_text(&m), "0 100000 65536\n65536 5 1\n");
    }
}
