//! A [`Kernel`] that records the calls instead of making them, for unit
//! tests without root.
//!
//! The rootfs is a real directory the test made: lookups in it, and the
//! unprivileged calls (symlinks, and a placeholder file for each device
//! node, so later lookups find it), happen there for real. Mounts, chown,
//! the root switch and namespaces are only written down. Each call is one
//! line, its paths as the container sees them (`/dev/null`) or, outside
//! the rootfs, as the host does (`host:/sys`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::inroot::fd_path;
use super::kernel::Kernel;
use crate::procfs::{self, Mount};

pub struct Recorder {
    root: PathBuf,
    calls: RefCell<Vec<String>>,
    /// Recorded mounts (container path, fstype), for `fs_type`.
    mounted: RefCell<Vec<(PathBuf, String)>>,
    /// Device nodes made: (st_dev, st_ino) of the placeholder -> (mode, rdev).
    nodes: RefCell<HashMap<(u64, u64), (u32, u64)>>,
    /// The ST_* flags every mount reports (a user namespace's locked ones).
    pub mount_flags: u64,
    /// The mount table `mounts` answers with.
    pub table: Vec<Mount>,
    /// Calls that fail once, by the start of their line, with an errno.
    failures: RefCell<Vec<(String, i32)>>,
}

const FLAG_NAMES: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "ro"),
    (libc::MS_NOSUID, "nosuid"),
    (libc::MS_NODEV, "nodev"),
    (libc::MS_NOEXEC, "noexec"),
    (libc::MS_REMOUNT, "remount"),
    (libc::MS_NOATIME, "noatime"),
    (libc::MS_NODIRATIME, "nodiratime"),
    (libc::MS_BIND, "bind"),
    (libc::MS_MOVE, "move"),
    (libc::MS_REC, "rec"),
    (libc::MS_UNBINDABLE, "unbindable"),
    (libc::MS_PRIVATE, "private"),
    (libc::MS_SLAVE, "slave"),
    (libc::MS_SHARED, "shared"),
    (libc::MS_RELATIME, "relatime"),
    (libc::MS_STRICTATIME, "strictatime"),
];

fn flag_names(flags: u64) -> String {
    let names: Vec<&str> = FLAG_NAMES.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
    let rest = flags & !FLAG_NAMES.iter().fold(0, |a, (f, _)| a | f);
    let mut out = names.join(",");
    if rest != 0 {
        out.push_str(&format!(",{rest:#x}"));
    }
    if out.is_empty() { "-".into() } else { out }
}

fn ns_names(flags: i32) -> String {
    let all = [
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWNS, "mnt"),
        (libc::CLONE_NEWPID, "pid"),
        (libc::CLONE_NEWNET, "net"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWCGROUP, "cgroup"),
        (libc::CLONE_NEWTIME, "time"),
    ];
    all.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
}

impl Recorder {
    /// A recorder whose rootfs is `root` (made by the test).
    pub fn new(root: &Path) -> Recorder {
        Recorder {
            root: root.canonicalize().expect("the test's rootfs exists"),
            calls: RefCell::new(Vec::new()),
            mounted: RefCell::new(Vec::new()),
            nodes: RefCell::new(HashMap::new()),
            mount_flags: 0,
            table: Vec::new(),
            failures: RefCell::new(Vec::new()),
        }
    }

    /// The next call whose line starts with `call` fails with `errno`.
    pub fn fail_once(&self, call: &str, errno: i32) {
        self.failures.borrow_mut().push((call.to_string(), errno));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// The recorded lines starting with `prefix`.
    pub fn calls_of(&self, prefix: &str) -> Vec<String> {
        self.calls.borrow().iter().filter(|c| c.starts_with(prefix)).cloned().collect()
    }

    /// `path` as the container sees it, or `host:PATH` outside the rootfs;
    /// an fd's magic link is followed first.
    pub fn show(&self, path: &Path) -> String {
        let real = match path.strip_prefix("/proc/self/fd") {
            Ok(rest) => {
                let mut parts = rest.components();
                let fd = parts.next().map(|n| Path::new("/proc/self/fd").join(n)).unwrap_or_default();
                std::fs::read_link(&fd).map_or_else(|_| path.to_path_buf(), |dir| dir.join(parts.as_path()))
            }
            Err(_) if path.is_absolute() => path.to_path_buf(),
            Err(_) => return path.display().to_string(),
        };
        match real.strip_prefix(&self.root) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => format!("host:{}", real.display()),
        }
    }

    fn record(&self, line: String) -> io::Result<()> {
        let mut failures = self.failures.borrow_mut();
        let failed = failures.iter().position(|(p, _)| line.starts_with(p.as_str()));
        self.calls.borrow_mut().push(line);
        match failed {
            Some(i) => Err(io::Error::from_raw_os_error(failures.remove(i).1)),
            None => Ok(()),
        }
    }

    /// A container path of `fd`, if it is inside the rootfs.
    fn inside(&self, fd: &OwnedFd) -> Option<PathBuf> {
        let shown = self.show(&fd_path(fd));
        shown.starts_with('/').then(|| PathBuf::from(shown))
    }
}

impl Kernel for Recorder {
    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()> {
        let target_shown = self.show(target);
        let line = format!(
            "mount {} {} {} {} {}",
            src.map_or("-".into(), |s| self.show(s)),
            target_shown,
            fstype.unwrap_or("-"),
            flag_names(flags),
            data.filter(|d| !d.is_empty()).unwrap_or("-")
        );
        self.record(line)?;
        if let Some(t) = fstype {
            self.mounted.borrow_mut().push((PathBuf::from(target_shown), t.to_string()));
        }
        Ok(())
    }

    fn umount(&self, target: &Path, flags: i32) -> io::Result<()> {
        let detach = if flags & libc::MNT_DETACH != 0 { " detach" } else { "" };
        self.record(format!("umount {}{detach}", self.show(target)))
    }

    fn mount_setattr(&self, at: &OwnedFd, set: u64, clear: u64, recursive: bool) -> io::Result<()> {
        let rec = if recursive { " recursive" } else { "" };
        self.record(format!("mount_setattr {} set={set:#x} clear={clear:#x}{rec}", self.show(&fd_path(at))))
    }

    fn mknodat(&self, dir: &OwnedFd, name: &OsStr, mode: u32, dev: u64) -> io::Result<()> {
        let path = fd_path(dir).join(name);
        let kind = match mode & libc::S_IFMT {
            libc::S_IFCHR => "c",
            libc::S_IFBLK => "b",
            libc::S_IFIFO => "p",
            _ => "?",
        };
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        self.record(format!("mknod {} {kind} {major}:{minor} {:o}", self.show(&path), mode & 0o7777))?;
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        let md = file.metadata()?;
        self.nodes.borrow_mut().insert((md.dev(), md.ino()), (mode, dev));
        Ok(())
    }

    fn chown(&self, fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
        self.record(format!("chown {} {uid}:{gid}", self.show(&fd_path(fd))))
    }

    fn symlinkat(&self, target: &Path, dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
        let link = fd_path(dir).join(name);
        std::os::unix::fs::symlink(target, &link)?;
        self.record(format!("symlink {} -> {}", self.show(&link), target.display()))
    }

    fn pivot_root_here(&self) -> io::Result<()> {
        self.record("pivot_root . .".into())
    }

    fn chroot(&self, path: &Path) -> io::Result<()> {
        self.record(format!("chroot {}", self.show(path)))
    }

    fn fchdir(&self, dir: &OwnedFd) -> io::Result<()> {
        self.record(format!("chdir {}", self.show(&fd_path(dir))))
    }

    fn chdir(&self, path: &Path) -> io::Result<()> {
        self.record(format!("chdir {}", self.show(path)))
    }

    fn setns(&self, ns: &OwnedFd, nstype: i32) -> io::Result<()> {
        self.record(format!("setns {} {}", self.show(&fd_path(ns)), ns_names(nstype)))
    }

    fn unshare(&self, flags: i32) -> io::Result<()> {
        self.record(format!("unshare {}", ns_names(flags)))
    }

    fn mount_flags(&self, _path: &Path) -> io::Result<u64> {
        Ok(self.mount_flags)
    }

    /// procfs where a recorded `proc` mount covers the fd, else the real
    /// filesystem's type.
    fn fs_type(&self, fd: &OwnedFd) -> io::Result<i64> {
        if let Some(p) = self.inside(fd) {
            let mounted = self.mounted.borrow();
            let covering =
                mounted.iter().filter(|(at, _)| p.starts_with(at)).max_by_key(|(at, _)| at.as_os_str().len());
            if let Some((_, fstype)) = covering {
                return Ok(if fstype == "proc" { procfs::PROC_SUPER_MAGIC } else { 0x0102_1994 });
            }
        }
        crate::sys::fstatfs_type(fd)
    }

    /// The real stat, with a recorded device node's type and number.
    fn stat(&self, fd: &OwnedFd) -> io::Result<libc::stat> {
        let mut st = crate::sys::fstat(fd)?;
        if let Some(&(mode, rdev)) = self.nodes.borrow().get(&(st.st_dev, st.st_ino)) {
            st.st_mode = mode;
            st.st_rdev = rdev;
        }
        Ok(st)
    }

    fn mounts(&self) -> io::Result<Vec<Mount>> {
        Ok(self.table.clone())
    }
}
