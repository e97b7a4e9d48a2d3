//! Mounts in the runtime's own mount namespace, for a container that has
//! none of its own: runtime-spec says an unlisted namespace is inherited,
//! so such a container's init mounts its `/proc`, `/dev` and the rest
//! under the rootfs in the host's mount table and chroots into it.
//!
//! `create` records the mounts that were already at or under the rootfs
//! (containerd's own rootfs mount, say); `delete` unmounts everything else
//! there, deepest first, so the host keeps nothing of the container.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rootfs::kernel::{HOST, Kernel};

/// What `create` records in the state directory (before the init mounts
/// anything, so a create killed half-way is cleaned up too).
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub rootfs: PathBuf,
    /// Mount ids at or under the rootfs that were not the container's.
    pub before: Vec<u64>,
}

impl Record {
    pub fn take(rootfs: &Path) -> Result<Record> {
        Ok(Record { rootfs: rootfs.to_path_buf(), before: under(rootfs)?.into_iter().map(|(id, _)| id).collect() })
    }

    /// Unmount what the container added.
    pub fn undo(&self) -> Result<()> {
        remove_new(&self.rootfs, &self.before)
    }
}

/// (mount id, mount point) of every mount at or under `root`, in the order
/// the kernel lists them (a mount after the one it sits on).
pub fn under(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    Ok(under_in(crate::procfs::mounts()?, root))
}

fn under_in(mounts: Vec<crate::procfs::Mount>, root: &Path) -> Vec<(u64, PathBuf)> {
    mounts.into_iter().filter(|m| m.point.starts_with(root)).map(|m| (m.id, m.point)).collect()
}

/// Unmount every mount at or under `root` that is not in `before`, the
/// last made first (lazily: a process still in one cannot hold it).
pub fn remove_new(root: &Path, before: &[u64]) -> Result<()> {
    for (id, point) in under(root)?.into_iter().rev().filter(|(id, _)| !before.contains(id)) {
        match HOST.umount(&point, libc::MNT_DETACH) {
            Ok(()) => {}
            // Gone with its parent already.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {}
            Err(e) => return Err(Error::sys(format!("unmount {} (mount {id})", point.display()), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_under_a_root_in_order() {
        let text = "27 1 254:0 / / rw - ext4 /dev/vda rw\n\
                    40 27 0:50 / /b/root rw - overlay o rw\n\
                    41 40 0:51 / /b/root/proc rw - proc proc rw\n\
                    42 27 0:52 / /b/rootfs2 rw - tmpfs t rw\n\
                    43 41 0:53 / /b/root/dir\\040with\\040space rw - tmpfs t rw\n";
        let got = under_in(crate::procfs::parse_mountinfo(text), Path::new("/b/root"));
        let want = [(40, "/b/root"), (41, "/b/root/proc"), (43, "/b/root/dir with space")];
        assert_eq!(got, want.map(|(i, p)| (i, PathBuf::from(p))));
    }
}
