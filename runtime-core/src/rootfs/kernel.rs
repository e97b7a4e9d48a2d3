//! The seam between the container's setup and the kernel: every call the
//! rootfs, devices and namespace code makes that changes what a process
//! sees (mounts, device nodes, symlinks, the root switch, namespaces), or
//! asks about a mount, goes through [`Kernel`].
//!
//! [`HOST`] makes the calls (through `nix`, or `sys` for what `nix`
//! lacks). Unit tests give the same code a recording double instead
//! (`rootfs::recorder`, test builds only), so what the code would do for
//! a config is checked without root. Path lookups inside the rootfs are
//! not behind the seam: [`super::inroot::Root`]'s openat2 runs for real
//! in the tests too, on a directory the test made.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};

use crate::procfs;
use crate::sys;

pub trait Kernel {
    /// mount(2); an empty `data` is passed as none.
    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()>;
    /// umount2(2).
    fn umount(&self, target: &Path, flags: i32) -> io::Result<()>;
    /// mount_setattr(2) on the mount `at` is.
    fn mount_setattr(&self, at: &OwnedFd, set: u64, clear: u64, recursive: bool) -> io::Result<()>;
    /// mknodat(2): `mode` carries the file type.
    fn mknodat(&self, dir: &OwnedFd, name: &OsStr, mode: u32, dev: u64) -> io::Result<()>;
    /// The owner of the file `fd` (an O_PATH fd) is.
    fn chown(&self, fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()>;
    fn symlinkat(&self, target: &Path, dir: &OwnedFd, name: &OsStr) -> io::Result<()>;
    /// pivot_root(2) of the current directory onto itself.
    fn pivot_root_here(&self) -> io::Result<()>;
    fn chroot(&self, path: &Path) -> io::Result<()>;
    fn fchdir(&self, dir: &OwnedFd) -> io::Result<()>;
    fn chdir(&self, path: &Path) -> io::Result<()>;
    /// setns(2); `nstype` is a CLONE_NEW* flag.
    fn setns(&self, ns: &OwnedFd, nstype: i32) -> io::Result<()>;
    /// unshare(2) of CLONE_NEW* flags.
    fn unshare(&self, flags: i32) -> io::Result<()>;
    /// The ST_* flags of the mount `path` is on (statvfs).
    fn mount_flags(&self, path: &Path) -> io::Result<u64>;
    /// The filesystem type (statfs magic) `fd` is on.
    fn fs_type(&self, fd: &OwnedFd) -> io::Result<i64>;
    fn stat(&self, fd: &OwnedFd) -> io::Result<libc::stat>;
    /// This process's mount table (/proc/self/mountinfo).
    fn mounts(&self) -> io::Result<Vec<procfs::Mount>>;
}

/// The kernel itself.
pub struct Host;

pub static HOST: Host = Host;

fn ms(flags: u64) -> MsFlags {
    MsFlags::from_bits_retain(flags as libc::c_ulong)
}

impl Kernel for Host {
    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()> {
        let data = data.filter(|d| !d.is_empty());
        Ok(nix::mount::mount(src, target, fstype, ms(flags), data)?)
    }

    fn umount(&self, target: &Path, flags: i32) -> io::Result<()> {
        Ok(nix::mount::umount2(target, MntFlags::from_bits_retain(flags))?)
    }

    fn mount_setattr(&self, at: &OwnedFd, set: u64, clear: u64, recursive: bool) -> io::Result<()> {
        sys::mount_setattr(at, set, clear, recursive)
    }

    fn mknodat(&self, dir: &OwnedFd, name: &OsStr, mode: u32, dev: u64) -> io::Result<()> {
        let kind = SFlag::from_bits_retain(mode & libc::S_IFMT);
        let perm = Mode::from_bits_retain(mode & !libc::S_IFMT);
        Ok(nix::sys::stat::mknodat(dir, Path::new(name), kind, perm, dev)?)
    }

    fn chown(&self, fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
        let (uid, gid) = (Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
        Ok(nix::unistd::fchownat(fd, "", uid, gid, nix::fcntl::AtFlags::AT_EMPTY_PATH)?)
    }

    fn symlinkat(&self, target: &Path, dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
        Ok(nix::unistd::symlinkat(target, dir, Path::new(name))?)
    }

    fn pivot_root_here(&self) -> io::Result<()> {
        Ok(nix::unistd::pivot_root(".", ".")?)
    }

    fn chroot(&self, path: &Path) -> io::Result<()> {
        Ok(nix::unistd::chroot(path)?)
    }

    fn fchdir(&self, dir: &OwnedFd) -> io::Result<()> {
        Ok(nix::unistd::fchdir(dir)?)
    }

    fn chdir(&self, path: &Path) -> io::Result<()> {
        Ok(nix::unistd::chdir(path)?)
    }

    fn setns(&self, ns: &OwnedFd, nstype: i32) -> io::Result<()> {
        Ok(nix::sched::setns(ns, CloneFlags::from_bits_retain(nstype))?)
    }

    fn unshare(&self, flags: i32) -> io::Result<()> {
        Ok(nix::sched::unshare(CloneFlags::from_bits_retain(flags))?)
    }

    fn mount_flags(&self, path: &Path) -> io::Result<u64> {
        Ok(nix::sys::statvfs::statvfs(path)?.flags().bits() as u64)
    }

    fn fs_type(&self, fd: &OwnedFd) -> io::Result<i64> {
        sys::fstatfs_type(fd)
    }

    fn stat(&self, fd: &OwnedFd) -> io::Result<libc::stat> {
        sys::fstat(fd)
    }

    fn mounts(&self) -> io::Result<Vec<procfs::Mount>> {
        procfs::mounts().map_err(|e| io::Error::other(e.to_string()))
    }
}
