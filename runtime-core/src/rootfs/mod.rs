//! The container's filesystem view: the rootfs bind, the spec's mounts, the
//! switch into the rootfs, and the masked and read-only paths.
//!
//! Runs in the init, inside its new mount namespace. Every destination is
//! resolved inside the rootfs ([`inroot`]); device nodes are [`devices`];
//! a container without a mount namespace of its own keeps a record of its
//! mounts in the host's table ([`host_mounts`]). Every call that changes
//! a mount, a node or the root goes through [`kernel::Kernel`], so the
//! unit tests beside this module (`tests.rs`) check the calls a config
//! leads to without root.

pub mod devices;
pub mod host_mounts;
pub mod inroot;
pub mod kernel;
pub mod mount_options;
#[cfg(test)]
mod recorder;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::cgroups::Cgroup;
use crate::config::{Config, Mount};

use crate::error::{Error, Result};
use crate::procfs::{self, Proc};
use crate::sys;
use inroot::{Kind, Root};
use kernel::Kernel;
use mount_options::MountFlags;

/// The rootfs bind, the mounts and devices: everything before the switch
/// (createRuntime and createContainer hooks run between the two).
pub fn setup(k: &dyn Kernel, config: &Config, cgroup: Option<&Cgroup>) -> Result<()> {
    let rootfs = &config.rootfs;
    if !own_mount_ns(config) {
        return setup_in_runtime_ns(k, config, cgroup);
    }
    // Unbindable is for the container's own root (set after the switch):
    // until then the host's mounts are only private, so the spec's binds
    // from them still work.
    let propagation = match config.rootfs_propagation {
        p if p & libc::MS_UNBINDABLE != 0 => (p & libc::MS_REC) | libc::MS_PRIVATE,
        p => p,
    };
    k.mount(None, Path::new("/"), None, propagation, None)
        .map_err(|e| Error::sys("set propagation of / in the container's mount namespace", e))?;
    // Nothing of ours may propagate to the host, whatever `/` is now: the
    // mount holding the rootfs becomes private (a slave when a slave root
    // was asked for), so the rootfs bind and everything under it stay in
    // this namespace. pivot_root needs that too (its parent not shared).
    let parent = if config.rootfs_propagation & libc::MS_SLAVE != 0 { libc::MS_SLAVE } else { libc::MS_PRIVATE };
    unshare_mount_of(k, rootfs, parent)?;
    // pivot_root needs the new root to be a mount point.
    k.mount(Some(rootfs), rootfs, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| Error::path("bind rootfs onto itself", rootfs, e))?;
    mount_all(k, config, cgroup)
}

/// A container without a mount namespace of its own (runtime-spec: it
/// inherits the runtime's): its mounts go into the host's table, under a
/// private bind of the rootfs so none propagates elsewhere; `delete`
/// removes them (see [`crate::rootfs::host_mounts`]). Nothing of the host's own
/// mounts changes.
fn setup_in_runtime_ns(k: &dyn Kernel, config: &Config, cgroup: Option<&Cgroup>) -> Result<()> {
    let rootfs = &config.rootfs;
    k.mount(Some(rootfs), rootfs, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| Error::path("bind rootfs onto itself", rootfs, e))?;
    k.mount(None, rootfs, None, libc::MS_PRIVATE | libc::MS_REC, None)
        .map_err(|e| Error::path("make the rootfs bind private", rootfs, e))?;
    mount_all(k, config, cgroup)
}

fn own_mount_ns(config: &Config) -> bool {
    config.namespace(crate::config::NsKind::Mount).is_some()
}

/// The spec's mounts and the devices, under the rootfs.
fn mount_all(k: &dyn Kernel, config: &Config, cgroup: Option<&Cgroup>) -> Result<()> {
    let rootfs = &config.rootfs;
    let root = Root::open(rootfs).map_err(|e| Error::path("open rootfs", rootfs, e))?;
    // A read-only /dev is made read-only last, as runc does: devpts, the
    // device nodes and the rest that go under it are made first.
    let dev = Path::new("/dev");
    let ro_dev = config.mounts.iter().any(|m| m.destination == dev && m.flags.set & libc::MS_RDONLY != 0);
    for m in &config.mounts {
        let writable;
        let m = if ro_dev && m.destination == dev {
            writable =
                Mount { flags: MountFlags { set: m.flags.set & !libc::MS_RDONLY, ..m.flags.clone() }, ..m.clone() };
            &writable
        } else {
            m
        };
        mount_one(k, &root, m, cgroup).map_err(|e| {
            Error::sys(
                format!(
                    "mount {} on {}",
                    m.source.as_deref().unwrap_or(Path::new(&m.typ)).display(),
                    m.destination.display()
                ),
                e,
            )
        })?;
    }
    if !binds_host_dev(config) {
        devices::populate(k, &root, config)?;
    }
    devices::symlinks(k, &root)?;
    if ro_dev {
        let fd = root.open_path(dev).map_err(|e| Error::path("open", dev, e))?;
        let at = inroot::fd_path(&fd);
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(k, &at);
        k.mount(None, &at, None, flags, None).map_err(|e| Error::sys("make /dev read-only", e))?;
    }
    Ok(())
}

/// Make the prepared rootfs the process's `/`: pivot_root, or a move and
/// chroot with `--no-pivot`, or in the runtime's mount namespace (none of
/// the container's own) a chroot alone, as runc does.
/// stdio that is the host's /dev/null (what a detached `run` or a shim
/// hands over) becomes the container's own /dev/null, as runc does:
/// no fd of the container's points into the host's /dev mount, and CRIU
/// finds every stdio file among the container's mounts.
pub fn reopen_dev_null() -> Result<()> {
    let Ok(null) = sys::open(Path::new("/dev/null"), libc::O_RDWR) else { return Ok(()) };
    let ours = sys::fstat(&null).map_err(|e| Error::path("stat", "/dev/null", e))?;
    for fd in 0..3 {
        let Ok(st) = sys::fstat_raw(fd) else { continue };
        let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == ours.st_rdev;
        if is_null && (st.st_dev, st.st_ino) != (ours.st_dev, ours.st_ino) {
            sys::dup2(null.as_raw_fd(), fd).map_err(|e| Error::sys(format!("reopen fd {fd} as /dev/null"), e))?;
        }
    }
    Ok(())
}

pub fn enter(k: &dyn Kernel, config: &Config, no_pivot: bool) -> Result<()> {
    match (own_mount_ns(config), no_pivot) {
        (true, false) => pivot(k, &config.rootfs),
        (true, true) => move_root(k, &config.rootfs),
        (false, _) => chroot_into(k, &config.rootfs),
    }
}

fn chroot_into(k: &dyn Kernel, rootfs: &Path) -> Result<()> {
    k.chdir(rootfs).map_err(|e| Error::path("chdir", rootfs, e))?;
    k.chroot(Path::new(".")).map_err(|e| Error::path("chroot", rootfs, e))?;
    k.chdir(Path::new("/")).map_err(|e| Error::sys("chdir /", e))
}

/// Apply `flag` (MS_PRIVATE or MS_SLAVE) to the mount that holds `path`:
/// EINVAL means `path` is not a mount point, so its parent is tried.
fn unshare_mount_of(k: &dyn Kernel, path: &Path, flag: u64) -> Result<()> {
    let mut at = path;
    loop {
        match k.mount(None, at, None, flag, None) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && at.parent().is_some() => {
                at = at.parent().expect("checked");
            }
            Err(e) => return Err(Error::path("make the mount holding the rootfs private", at, e)),
        }
    }
}

/// After the switch: read-only and masked paths, a read-only `/`, and the
/// root's propagation where it waits for the end.
///
/// `root` is the container's root as this process sees it: `/` after the
/// switch (a test's directory in unit tests); the paths are the config's.
pub fn finish(k: &dyn Kernel, config: &Config, root: &Path) -> Result<()> {
    for p in &config.readonly_paths {
        readonly_path(k, &under(root, p)).map_err(|e| Error::path("make read-only", p, e))?;
    }
    if !config.masked_paths.is_empty() {
        let null = null_device(k, root)?;
        for p in &config.masked_paths {
            mask_path(k, &under(root, p), &null).map_err(|e| Error::path("mask", p, e))?;
        }
    }
    if config.readonly_root {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(k, root);
        k.mount(None, root, None, flags, None).map_err(|e| Error::sys("remount / read-only", e))?;
    }
    // Shared and unbindable apply to the container's own root only now:
    // before the switch they would have reached the host's mounts, and an
    // unbindable tree refuses the binds above. Private and slave hold
    // since setup.
    if config.rootfs_propagation & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
        k.mount(None, root, None, config.rootfs_propagation, None)
            .map_err(|e| Error::sys("set linux.rootfsPropagation on the container's /", e))?;
    }
    Ok(())
}

fn binds_host_dev(config: &Config) -> bool {
    config.mounts.iter().any(|m| m.destination == Path::new("/dev") && m.is_bind())
}

/// A container path under `root`.
fn under(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Flags the kernel will not let a remount in a user namespace drop, read
/// from the mount as it is now.
fn locked_flags(k: &dyn Kernel, path: &Path) -> u64 {
    let Ok(f) = k.mount_flags(path) else { return 0 };
    let mut out = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms_flag;
        }
    }
    out
}

/// What a mount's destination is made as when missing: a file for a bind
/// of anything but a directory, else a directory.
pub(crate) fn mount_point_kind(m: &Mount) -> io::Result<Kind> {
    Ok(match &m.source {
        Some(src) if m.is_bind() && !src.is_dir() => {
            if !src.exists() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("source {} does not exist", src.display()),
                ));
            }
            Kind::File
        }
        _ => Kind::Dir,
    })
}

fn mount_one(k: &dyn Kernel, root: &Root, m: &Mount, cgroup: Option<&Cgroup>) -> io::Result<()> {
    if m.typ == "cgroup" || m.typ == "cgroup2" {
        return mount_cgroup(k, root, m, cgroup);
    }
    let target_fd = root.ensure(&m.destination, mount_point_kind(m)?)?;
    check_target(k, root, m, &target_fd)?;
    let target = inroot::fd_path(&target_fd);
    let f = &m.flags;
    if m.is_bind() {
        let src = m.source.as_deref().expect("validated: binds have a source");
        k.mount(Some(src), &target, None, libc::MS_BIND | (f.set & libc::MS_REC), None)?;
        // Bind mounts ignore most flags on the first call: apply them by remount.
        let extra = f.set & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            let target_fd = root.open_path(&m.destination)?;
            let target = inroot::fd_path(&target_fd);
            let keep = locked_flags(k, &target) & !f.clear;
            k.mount(None, &target, None, libc::MS_BIND | libc::MS_REMOUNT | extra | keep, None)?;
        }
    } else {
        let src = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.typ));
        let flags = f.set & !libc::MS_REC;
        let r = k.mount(Some(&src), &target, Some(&m.typ), flags, Some(&f.data));
        match r {
            // devpts in a user namespace without gid 5 mapped: drop gid=.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && m.typ == "devpts" && f.data.contains("gid=") => {
                let data: Vec<&str> = f.data.split(',').filter(|o| !o.starts_with("gid=")).collect();
                k.mount(Some(&src), &target, Some(&m.typ), flags, Some(&data.join(",")))?;
            }
            // sysfs needs a network namespace of our own; fall back to the host's, read-only.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && m.typ == "sysfs" => {
                k.mount(Some(Path::new("/sys")), &target, None, libc::MS_BIND | libc::MS_REC, None)?;
                let target_fd = root.open_path(&m.destination)?;
                let t = inroot::fd_path(&target_fd);
                k.mount(
                    None,
                    &t,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(k, &t),
                    None,
                )?;
            }
            r => r?,
        }
    }
    if f.recursive_set | f.recursive_clear != 0 {
        let target_fd = root.open_path(&m.destination)?;
        k.mount_setattr(&target_fd, f.recursive_set, f.recursive_clear, true)?;
    }
    if !f.propagation.is_empty() {
        let target_fd = root.open_path(&m.destination)?;
        let target = inroot::fd_path(&target_fd);
        for &p in &f.propagation {
            k.mount(None, &target, None, p, None)?;
        }
    }
    Ok(())
}

/// Files under /proc a mount may cover (lxcfs's, as runc allows them).
const PROC_TARGETS_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Where a mount may not go (CVE-2019-19921, CVE-2023-27561,
/// CVE-2025-52881): `proc` and `sysfs` only on a real directory (not
/// through a symlink the image put there); on `/proc` only a procfs; and
/// nothing into procfs (reached by path or through the image's symlinks)
/// but the allow-listed files, or /proc/sys writes could be redirected.
fn check_target(k: &dyn Kernel, root: &Root, m: &Mount, target: &OwnedFd) -> io::Result<()> {
    let refuse = |why: &str| Err(io::Error::other(why.to_string()));
    if m.typ == "proc" || m.typ == "sysfs" {
        let (dir, name) = root.parent_dir(&m.destination)?;
        if sys::lstat_at(&dir, name.as_os_str())?.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return refuse(&format!("{} must be mounted on a directory, not a symlink or file", m.typ));
        }
    }
    if m.destination == Path::new("/proc") {
        let source_is_proc = m.is_bind()
            && m.source.as_deref().is_some_and(|s| sys::open(s, libc::O_PATH).is_ok_and(|fd| is_procfs(k, &fd)));
        if m.typ != "proc" && !source_is_proc {
            return refuse("only a procfs may be mounted on /proc");
        }
    }
    let allowed = PROC_TARGETS_ALLOWED.iter().any(|a| m.destination == Path::new(a));
    if is_procfs(k, target) && !allowed {
        return refuse("the destination is inside /proc (only a few /proc files may be covered)");
    }
    Ok(())
}

fn is_procfs(k: &dyn Kernel, fd: &OwnedFd) -> bool {
    k.fs_type(fd).is_ok_and(|t| t == procfs::PROC_SUPER_MAGIC)
}

/// The host's cgroup and cgroup2 mounts under /sys/fs/cgroup.
fn host_cgroup_mounts(k: &dyn Kernel) -> io::Result<Vec<procfs::Mount>> {
    Ok(k.mounts()?
        .into_iter()
        .filter(|m| matches!(m.fstype.as_str(), "cgroup" | "cgroup2") && m.point.starts_with("/sys/fs/cgroup"))
        .collect())
}

/// A `cgroup` mount: cgroup2 on a unified host; on a v1 or hybrid host a
/// tmpfs holding one mount per hierarchy, as runc lays it out. Each is a
/// read-only-capable bind of the container's own cgroup directory, so the
/// container sees its cgroup as the root with or without a cgroup
/// namespace; and being binds of directories made before the clone, they
/// need not wait for the init to be moved into its cgroup. A hierarchy the
/// container did not join is bound whole.
fn mount_cgroup(k: &dyn Kernel, root: &Root, m: &Mount, cgroup: Option<&Cgroup>) -> io::Result<()> {
    let flags = m.flags.set & !(libc::MS_BIND | libc::MS_REC);
    let host = host_cgroup_mounts(k)?;
    let unified = host.iter().any(|h| h.fstype == "cgroup2" && h.point == Path::new("/sys/fs/cgroup"));
    // `at` is the mount point inside the rootfs.
    let hierarchy = |h: &procfs::Mount, at: &Path| -> io::Result<()> {
        let target_fd = root.ensure(at, Kind::Dir)?;
        let target = &inroot::fd_path(&target_fd);
        let own = cgroup.map(|cg| h.point.join(cg.path.strip_prefix("/").unwrap_or(&cg.path)));
        let source = match own {
            Some(dir) if cgroup.is_some_and(|cg| cg.dirs.values().any(|d| *d == dir)) => dir,
            _ => h.point.clone(),
        };
        k.mount(Some(&source), target, None, libc::MS_BIND | libc::MS_REC, None)?;
        // The fd still names the directory under the new mount: open the
        // mount itself to remount it.
        let bound_fd = root.open_path(at)?;
        let bound = &inroot::fd_path(&bound_fd);
        let keep = locked_flags(k, bound);
        k.mount(None, bound, None, libc::MS_BIND | libc::MS_REMOUNT | flags | keep, None)
    };
    if unified || m.typ == "cgroup2" {
        let h = host
            .iter()
            .find(|h| h.fstype == "cgroup2")
            .ok_or_else(|| io::Error::other("no cgroup2 hierarchy on the host"))?;
        return hierarchy(h, &m.destination);
    }
    let dest_fd = root.ensure(&m.destination, Kind::Dir)?;
    let dest = inroot::fd_path(&dest_fd);
    k.mount(
        Some(Path::new("tmpfs")),
        &dest,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some("mode=755"),
    )?;
    for h in &host {
        let Some(name) = h.point.strip_prefix("/sys/fs/cgroup").ok().filter(|n| !n.as_os_str().is_empty()) else {
            continue;
        };
        hierarchy(h, &m.destination.join(name))?;
        // Co-mounted controllers (cpu,cpuacct) get a symlink per name.
        let name_str = name.to_string_lossy();
        if name_str.contains(',') {
            for part in name_str.split(',') {
                let (dir, link) = root.parent_dir(&m.destination.join(part))?;
                match k.symlinkat(name, &dir, link.as_os_str()) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e),
                    _ => {}
                }
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        let dest_fd = root.open_path(&m.destination)?;
        let d = inroot::fd_path(&dest_fd);
        k.mount(None, &d, None, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | locked_flags(k, &d), None)?;
    }
    Ok(())
}

/// pivot_root into the rootfs, then detach the old root from underneath.
fn pivot(k: &dyn Kernel, rootfs: &Path) -> Result<()> {
    let old = sys::open(Path::new("/"), libc::O_DIRECTORY | libc::O_RDONLY).map_err(|e| Error::sys("open /", e))?;
    let new = sys::open(rootfs, libc::O_DIRECTORY | libc::O_RDONLY).map_err(|e| Error::path("open", rootfs, e))?;
    k.fchdir(&new).map_err(|e| Error::path("chdir", rootfs, e))?;
    // pivot_root(".", ".") stacks the old root on top of the new one.
    k.pivot_root_here().map_err(|e| Error::path("pivot_root", rootfs, e))?;
    k.fchdir(&old).map_err(|e| Error::sys("chdir to the old root", e))?;
    // Make sure the unmount does not propagate to the host.
    k.mount(None, Path::new("."), None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(|e| Error::sys("make the old root a slave", e))?;
    k.umount(Path::new("."), libc::MNT_DETACH).map_err(|e| Error::sys("detach the old root", e))?;
    k.chdir(Path::new("/")).map_err(|e| Error::sys("chdir /", e))
}

/// --no-pivot: move the rootfs over / and chroot (for ramdisk hosts).
fn move_root(k: &dyn Kernel, rootfs: &Path) -> Result<()> {
    hide_host_proc_and_sys(k, rootfs)?;
    k.chdir(rootfs).map_err(|e| Error::path("chdir", rootfs, e))?;
    k.mount(Some(rootfs), Path::new("/"), None, libc::MS_MOVE, None)
        .map_err(|e| Error::path("move mount", rootfs, e))?;
    k.chroot(Path::new(".")).map_err(|e| Error::path("chroot", rootfs, e))?;
    k.chdir(Path::new("/")).map_err(|e| Error::sys("chdir /", e))
}

/// Without pivot_root the host's mounts stay in the container's mount
/// namespace, above its chroot. A fully visible procfs or sysfs there
/// lets a process that makes a user namespace mount a fresh, unmasked one
/// (the kernel allows that only while such a mount exists in the
/// namespace): each one outside the rootfs is detached, or covered by an
/// empty tmpfs where it cannot be.
fn hide_host_proc_and_sys(k: &dyn Kernel, rootfs: &Path) -> Result<()> {
    let rootfs = fs::canonicalize(rootfs).map_err(|e| Error::path("resolve", rootfs, e))?;
    let mut points: Vec<PathBuf> = k
        .mounts()
        .map_err(|e| Error::sys("read this process's mounts", e))?
        .into_iter()
        .filter(|m| m.root == Path::new("/") && matches!(m.fstype.as_str(), "proc" | "sysfs"))
        .filter(|m| !m.point.starts_with(&rootfs))
        .map(|m| m.point)
        .collect();
    // The deepest first: /sys before a /sys under another mount.
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for p in points {
        let what = |e| Error::path("hide the host's mount", &p, e);
        match k.mount(None, &p, None, libc::MS_SLAVE | libc::MS_REC, None) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            r => r.map_err(what)?,
        }
        match k.umount(&p, libc::MNT_DETACH) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                k.mount(Some(Path::new("tmpfs")), &p, Some("tmpfs"), libc::MS_RDONLY, None).map_err(what)?
            }
            Err(e) => return Err(what(e)),
        }
    }
    Ok(())
}

fn readonly_path(k: &dyn Kernel, p: &Path) -> io::Result<()> {
    if fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    k.mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None)?;
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | locked_flags(k, p);
    k.mount(None, p, None, flags, None)
}

/// The container's /dev/null, checked to be the null device (char 1:3)
/// and never reached through a symlink: masking binds it from this fd, so
/// an image's /dev/null cannot put something else over a masked path
/// (CVE-2025-31133).
fn null_device(k: &dyn Kernel, root: &Path) -> Result<OwnedFd> {
    let path = &under(root, Path::new("/dev/null"));
    let fd = sys::open(path, libc::O_PATH | libc::O_NOFOLLOW).map_err(|e| Error::path("open", path, e))?;
    let st = k.stat(&fd).map_err(|e| Error::path("stat", path, e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != sys::makedev(1, 3) {
        return Err(Error::path("mask paths with", path, io::Error::other("it is not the null device (char 1:3)")));
    }
    Ok(fd)
}

/// A directory (or a symlink to one) gets an empty read-only tmpfs; any
/// other file the null device, bound from its fd.
fn mask_path(k: &dyn Kernel, p: &Path, null: &OwnedFd) -> io::Result<()> {
    match fs::metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => Ok(()),
        Err(e) => Err(e),
        Ok(md) if md.is_dir() => k.mount(Some(Path::new("tmpfs")), p, Some("tmpfs"), libc::MS_RDONLY, None),
        Ok(_) => k.mount(Some(&inroot::fd_path(null)), p, None, libc::MS_BIND, None),
    }
}

/// Write the container's sysctls (validated as namespaced), through the
/// container's verified procfs.
pub fn apply_sysctl(config: &Config) -> Result<()> {
    if config.sysctl.is_empty() {
        return Ok(());
    }
    let proc = Proc::open()?;
    for (key, value) in &config.sysctl {
        proc.write(&format!("sys/{}", key.replace('.', "/")), value.as_bytes())?;
    }
    Ok(())
}
