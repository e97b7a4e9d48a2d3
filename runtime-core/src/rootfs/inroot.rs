//! Paths from the bundle resolved inside the container's rootfs.
//!
//! Every lookup goes through openat2(RESOLVE_IN_ROOT): a symlink in the
//! rootfs, absolute or full of `..`, resolves as if the rootfs were `/` and
//! can never lead out of it. Mounts then target `/proc/self/fd/N` of the
//! resolved fd, so nothing is re-resolved between the check and the use.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::sys;

pub struct Root {
    fd: OwnedFd,
}

/// What to create at a path that does not exist yet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        Ok(Root { fd: sys::open(path, libc::O_PATH | libc::O_DIRECTORY)? })
    }

    fn rel(path: &Path) -> &Path {
        path.strip_prefix("/").unwrap_or(path)
    }

    /// Open `path` (container-absolute) inside the root, O_PATH.
    pub fn open_path(&self, path: &Path) -> io::Result<OwnedFd> {
        let rel = Self::rel(path);
        let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        sys::openat2(&self.fd, rel, libc::O_PATH, sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS)
    }

    /// Open the directory `path`, creating it and its parents as needed.
    pub fn mkdir_all(&self, path: &Path) -> io::Result<OwnedFd> {
        self.mkdir_all_depth(path, 0)
    }

    fn mkdir_all_depth(&self, path: &Path, depth: u32) -> io::Result<OwnedFd> {
        if depth > 40 {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let mut cur = self.open_path(Path::new("/"))?;
        let mut so_far = PathBuf::from("/");
        for comp in Self::rel(path).components() {
            let name = comp.as_os_str();
            so_far.push(name);
            match self.open_path(&so_far) {
                Ok(fd) => cur = fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let dir = sys::openat2(&cur, Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0)?;
                    // mkdirat needs a real directory fd, not O_PATH.
                    let dir = sys::open(&fd_path(&dir), libc::O_RDONLY | libc::O_DIRECTORY)?;
                    match sys::mkdirat(&dir, name, 0o755) {
                        Ok(()) => {}
                        // A dangling symlink: create its target, inside the root.
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                            let link = std::fs::read_link(fd_path(&dir).join(name))?;
                            let target = if link.is_absolute() {
                                link
                            } else {
                                so_far.parent().unwrap_or(Path::new("/")).join(link)
                            };
                            self.mkdir_all_depth(&crate::config::clean(&target), depth + 1)?;
                        }
                        Err(e) => return Err(e),
                    }
                    cur = self.open_path(&so_far)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(cur)
    }

    /// Make sure `path` exists (as `kind` if it has to be created) and open it.
    pub fn ensure(&self, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
        match self.open_path(path) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if kind == Kind::Dir {
            return self.mkdir_all(path);
        }
        let parent = self.mkdir_all(path.parent().unwrap_or(Path::new("/")))?;
        let parent = sys::open(&fd_path(&parent), libc::O_RDONLY | libc::O_DIRECTORY)?;
        let name = path.file_name().unwrap_or(OsStr::new("."));
        match sys::create_file_at(&parent, name, 0o644) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        self.open_path(path)
    }

    /// The parent directory of `path`, opened for *at() calls, and the
    /// final name: for creating device nodes and symlinks in place.
    pub fn parent_dir(&self, path: &Path) -> io::Result<(OwnedFd, PathBuf)> {
        let parent = self.mkdir_all(path.parent().unwrap_or(Path::new("/")))?;
        let parent = sys::open(&fd_path(&parent), libc::O_RDONLY | libc::O_DIRECTORY)?;
        Ok((parent, PathBuf::from(path.file_name().unwrap_or(OsStr::new(".")))))
    }
}

/// The magic link naming an open fd, for mount(2) and re-opening.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let base = std::env::temp_dir().join(format!("tandem-inroot-{}", std::process::id()));
        let root = base.join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/../../../../tmp", root.join("escape")).unwrap();
        let r = Root::open(&root).unwrap();
        // Creating through the link lands inside the root, not in /tmp.
        r.mkdir_all(Path::new("/escape/inside")).unwrap();
        assert!(root.join("tmp/inside").is_dir());
        r.ensure(Path::new("/etc/file"), Kind::File).unwrap();
        assert!(root.join("etc/file").is_file());
        fs::remove_dir_all(&base).unwrap();
    }
}
