//! Reading facts about processes from /proc, and writing to it through a
//! handle checked to be procfs.
//!
//! In the container, `/proc` is a path in a rootfs an image made: every
//! write tandem makes there (sysctls, LSM attributes) goes through [`Proc`],
//! which refuses a `/proc` that is not the root of a procfs mount and any
//! path that crosses a symlink or another mount on the way (a bind over
//! `/proc/sys/...` cannot redirect a namespaced sysctl to a host file).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

pub(crate) const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// The inode number of every procfs's root directory.
const PROC_ROOT_INO: u64 = 1;

/// Is `fd` on a procfs?
pub fn is_procfs(fd: &OwnedFd) -> bool {
    sys::fstatfs_type(fd).is_ok_and(|t| t == PROC_SUPER_MAGIC)
}

/// `/proc` of this process's root, verified as the root of a procfs mount.
pub struct Proc {
    root: OwnedFd,
}

impl Proc {
    pub fn open() -> Result<Proc> {
        let path = Path::new("/proc");
        let root = sys::open(path, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .map_err(|e| Error::path("open", path, e))?;
        let ino = sys::fstat(&root).map_err(|e| Error::path("stat", path, e))?.st_ino;
        if !is_procfs(&root) || ino != PROC_ROOT_INO {
            return Err(Error::path("use", path, io::Error::other("it is not the root of a procfs mount")));
        }
        Ok(Proc { root })
    }

    /// Write `value` to `/proc/<rel>`, reached without a symlink, a magic
    /// link or another mount on the way, and itself on procfs.
    pub fn write(&self, rel: &str, value: &[u8]) -> Result<()> {
        let what = |e| Error::path("write", Path::new("/proc").join(rel), e);
        let resolve =
            sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS | sys::RESOLVE_NO_XDEV;
        let fd = sys::openat2(&self.root, Path::new(rel), libc::O_WRONLY | libc::O_NOFOLLOW, resolve).map_err(what)?;
        if !is_procfs(&fd) {
            return Err(what(io::Error::other("not a procfs file")));
        }
        let n = sys::write(&fd, value).map_err(what)?;
        if n != value.len() {
            return Err(what(io::Error::from_raw_os_error(libc::EIO)));
        }
        Ok(())
    }

    /// `thread-self/<file>` without the symlink: `<pid>/task/<tid>/<file>`.
    pub fn thread_self(file: &str) -> String {
        format!("{}/task/{}/{file}", sys::getpid(), sys::gettid())
    }

    /// `self/<file>` without the symlink.
    pub fn self_file(file: &str) -> String {
        format!("{}/{file}", sys::getpid())
    }
}

/// `read` given the fields of /proc/<who>/stat (`who`: a pid or "self"),
/// numbered as proc(5) numbers them: `f[n]` is field n, from 3 (the
/// state) on. The command name before them is in parentheses and may
/// itself hold spaces or ')'.
fn with_stat<R>(who: &str, read: impl FnOnce(&[&str]) -> Option<R>) -> Option<R> {
    let text = fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    let fields: Vec<&str> = ["", "", ""].into_iter().chain(text[text.rfind(')')? + 2..].split_whitespace()).collect();
    read(&fields)
}

fn field<T: std::str::FromStr>(f: &[&str], n: usize) -> Option<T> {
    f.get(n)?.parse().ok()
}

/// (state, start time): fields 3 and 22 of /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(char, u64)> {
    with_stat(&pid.to_string(), |f| Some((f.get(3)?.chars().next()?, field(f, 22)?)))
}

/// The live processes of process group `pgid` (field 5), with their start times.
pub fn group_members(pgid: i32) -> Vec<(i32, u64)> {
    let member = |f: &[&str]| (field::<i32>(f, 5)? == pgid && f[3] != "Z").then_some(field(f, 22)?);
    all_pids().into_iter().filter_map(|pid| Some((pid, with_stat(&pid.to_string(), member)?))).collect()
}

/// This process's argument and environment areas (arg_start, arg_end,
/// env_start, env_end: fields 48 to 51 of /proc/self/stat).
pub fn own_arg_and_env_areas() -> Option<[usize; 4]> {
    with_stat("self", |f| Some([field(f, 48)?, field(f, 49)?, field(f, 50)?, field(f, 51)?]))
}

/// How many threads this process has (field 20; 1 if it cannot tell).
pub fn threads_of_self() -> usize {
    with_stat("self", |f| field(f, 20)).unwrap_or(1)
}

pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Alive (not a zombie) and still the process that started at `start`.
pub fn is_alive(pid: i32, start: u64) -> bool {
    matches!(stat(pid), Some((s, t)) if t == start && s != 'Z' && s != 'X')
}

/// Inode of one of a process's namespaces, e.g. `ns_inode(pid, "pid")`.
pub fn ns_inode(pid: i32, ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/{pid}/ns/{ns}")).ok().map(|m| m.ino())
}

/// The process's pid in its innermost pid namespace (last field of NSpid).
pub fn ns_pid(pid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("NSpid:"))?.split_whitespace().last()?.parse().ok()
}

/// Every pid on the host.
pub fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
}

/// One line of /proc/self/mountinfo (proc(5)), its paths unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub id: u64,
    /// The root of the mount within its filesystem (`/` for a whole one).
    pub root: PathBuf,
    pub point: PathBuf,
    pub fstype: String,
    pub super_opts: String,
}

/// This process's mount table, in the kernel's order (a mount after the
/// one it sits on).
pub(crate) fn mounts() -> Result<Vec<Mount>> {
    let path = "/proc/self/mountinfo";
    fs::read_to_string(path).map(|t| parse_mountinfo(&t)).map_err(|e| Error::path("read", path, e))
}

/// The one mountinfo parser: the optional fields before ` - ` vary in
/// number, so the fields after it are found from the separator.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let mut post = post.split(' ');
            let (fstype, _source, super_opts) = (post.next()?, post.next()?, post.next()?);
            Some(Mount {
                id: pre.first()?.parse().ok()?,
                root: PathBuf::from(unescape_mountinfo(pre.get(3)?)),
                point: PathBuf::from(unescape_mountinfo(pre.get(4)?)),
                fstype: fstype.to_string(),
                super_opts: super_opts.to_string(),
            })
        })
        .collect()
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as \ooo.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_parse_with_escapes_and_optional_fields() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n\
                    40 25 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                    garbage line\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].id, m[0].root.to_str(), m[0].point.to_str()), (36, Some("/mnt1"), Some("/mnt/with space")));
        assert_eq!((m[0].fstype.as_str(), m[0].super_opts.as_str()), ("ext3", "rw,errors=continue"));
        assert_eq!((m[1].fstype.as_str(), m[1].super_opts.as_str()), ("cgroup", "rw,memory"));
    }

    #[test]
    fn our_own_stat_is_readable() {
        let pid = std::process::id() as i32;
        let (state, start) = stat(pid).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(is_alive(pid, start));
        assert!(!is_alive(pid, start + 1));
    }
}
