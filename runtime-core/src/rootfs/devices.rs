//! Device nodes in the container's /dev: the defaults every container gets,
//! the spec's `linux.devices`, and the standard symlinks.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use super::inroot::{self, Kind, Root};
use super::kernel::Kernel;
use crate::config::{Config, Device, NsKind};
use crate::error::{Error, Result};
use crate::sys;

/// null, zero, full, random, urandom, tty: what runc gives every container.
pub fn defaults() -> Vec<Device> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(name, major, minor)| Device {
            path: PathBuf::from("/dev").join(name),
            kind: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

pub fn populate(k: &dyn Kernel, root: &Root, config: &Config) -> Result<()> {
    // mknod is not allowed in a user namespace: bind the host's node
    // instead. Where the runtime itself runs in one (rootless Podman) and
    // the config asks for none, mknod's EPERM says so (as runc falls back).
    let bind = config.namespace(NsKind::User).is_some();
    let mut all = defaults();
    all.retain(|d| !config.devices.iter().any(|c| c.path == d.path));
    all.extend(config.devices.iter().cloned());
    for d in &all {
        let r = match bind {
            true => bind_device(k, root, d),
            false => match make_device(k, root, config, d) {
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => bind_device(k, root, d),
                r => r,
            },
        };
        r.map_err(|e| Error::path("create device", &d.path, e))?;
    }
    Ok(())
}

fn make_device(k: &dyn Kernel, root: &Root, config: &Config, d: &Device) -> io::Result<()> {
    let (dir, name) = root.parent_dir(&d.path)?;
    let name = name.as_os_str();
    match k.mknodat(&dir, name, d.kind | d.mode, sys::makedev(d.major, d.minor)) {
        // Whatever the image (or a mount) has there stays, as runc leaves
        // it: tandem neither removes a file nor writes through a link.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(()),
        r => r?,
    }
    let node = root.open_path(&d.path)?;
    // mknod is subject to the umask; set the mode exactly.
    std::fs::set_permissions(inroot::fd_path(&dir).join(name), std::os::unix::fs::PermissionsExt::from_mode(d.mode))?;
    let uid = config.host_uid(d.uid).unwrap_or(d.uid);
    let gid = config.host_gid(d.gid).unwrap_or(d.gid);
    k.chown(&node, uid, gid)
}

fn bind_device(k: &dyn Kernel, root: &Root, d: &Device) -> io::Result<()> {
    let target = root.ensure(&d.path, Kind::File)?;
    k.mount(Some(&d.path), &inroot::fd_path(&target), None, libc::MS_BIND, None)
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (and /dev/core where the host
/// has /proc/kcore), as runc creates them.
pub fn symlinks(k: &dyn Kernel, root: &Root) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    let has_pts = root.open_path(Path::new("/dev/pts/ptmx")).is_ok();
    for (target, link) in links {
        make_link(k, root, target, link, false).map_err(|e| Error::path("create symlink", link, e))?;
    }
    if has_pts {
        make_link(k, root, "pts/ptmx", "/dev/ptmx", true).map_err(|e| Error::path("create symlink", "/dev/ptmx", e))?;
    }
    Ok(())
}

fn make_link(k: &dyn Kernel, root: &Root, target: &str, link: &str, replace: bool) -> io::Result<()> {
    let (dir, name) = root.parent_dir(Path::new(link))?;
    let name: &OsStr = name.as_os_str();
    match k.symlinkat(Path::new(target), &dir, name) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            if replace {
                std::fs::remove_file(inroot::fd_path(&dir).join(name))?;
                k.symlinkat(Path::new(target), &dir, name)?;
            }
            Ok(())
        }
        r => r,
    }
}
