//! Thin wrappers over the Linux syscalls the engine needs.
//!
//! Every `unsafe` block of the crate lives here, each with a `SAFETY:` line.
//! Wrappers return `io::Result` with the OS error; callers add context.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

/// Turn a C-style return value into an `io::Result`.
fn cvt<T: Copy + PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Retry a call interrupted by a signal.
fn retry<T: Copy + PartialEq + From<i8>>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

pub fn cstring(s: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

pub fn cpath(p: &Path) -> io::Result<CString> {
    cstring(p.as_os_str())
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

// ---- processes -------------------------------------------------------------

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Child,
    Parent { pid: i32, pidfd: OwnedFd },
}

const CLONE_INTO_CGROUP: u64 = 0x200000000;

/// `clone3` used like `fork`, straight into the namespaces in `flags` (and,
/// given a cgroup2 directory fd, into that cgroup), with a pidfd for the
/// child. The caller must be single-threaded.
pub fn clone3(flags: u64, cgroup: Option<&OwnedFd>) -> io::Result<Forked> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64 | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        pidfd: &mut pidfd as *mut RawFd as u64,
        // A sibling (CLONE_PARENT) gets its exit signal from its parent;
        // clone3 wants none given then.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 },
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size passed; with no stack
    // the child continues on a copy of our stack, exactly like fork(2).
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, size_of::<CloneArgs>()) };
    match cvt(ret)? {
        0 => Ok(Forked::Child),
        // SAFETY: the kernel wrote a fresh pidfd we now own.
        pid => Ok(Forked::Parent { pid: pid as i32, pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) } }),
    }
}

/// Where clone3 is missing (ENOSYS: kernels before 5.3, or a nested
/// runtime's seccomp profile, as Docker's default one answers): the
/// legacy clone, like fork, with a pidfd (CLONE_PIDFD, 5.2). It cannot
/// clone into a cgroup: the caller moves the child.
pub fn clone_legacy(flags: u64) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let flags = flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
    // SAFETY: no stack (the child continues on a copy of ours, like
    // fork(2)); with CLONE_PIDFD the kernel writes the pidfd through the
    // parent_tid pointer, which points at an int we own.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, &mut pidfd as *mut libc::c_int, 0usize, 0usize) };
    match cvt(ret)? {
        0 => Ok(Forked::Child),
        // SAFETY: the kernel wrote a fresh pidfd we now own.
        pid => Ok(Forked::Parent { pid: pid as i32, pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) } }),
    }
}

/// Plain fork for helpers (no pidfd needed).
pub fn fork() -> io::Result<i32> {
    // SAFETY: the process is single-threaded where this is called.
    cvt(unsafe { libc::fork() })
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall, no pointers.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: no siginfo pointer is passed.
    cvt(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, ptr::null::<u8>(), 0) })?;
    Ok(())
}

/// Wait until the process behind `pidfd` has exited, at most `timeout_ms`
/// (-1: forever). Returns whether it exited.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = retry(|| unsafe { libc::poll(&mut pfd, 1, timeout_ms) })?;
    Ok(n > 0)
}

pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// waitpid; returns (pid, raw status).
pub fn waitpid(pid: i32, flags: i32) -> io::Result<(i32, i32)> {
    let mut status = 0;
    // SAFETY: status is a valid out pointer.
    let r = retry(|| unsafe { libc::waitpid(pid, &mut status, flags) })?;
    Ok((r, status))
}

/// A wait status as a shell would report it: the exit code, or 128+signal.
pub fn exit_code_of(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// Leave the process at once, without running destructors or atexit
/// handlers inherited from the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of valid C strings
    // that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

pub fn setsid() -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::setsid() })?;
    Ok(())
}

pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub fn getpid() -> i32 {
    // SAFETY: always succeeds.
    unsafe { libc::getpid() }
}

pub fn gettid() -> i32 {
    // SAFETY: always succeeds.
    unsafe { libc::gettid() }
}

/// Unblock every signal and put every handler back to its default, so the
/// workload starts with a clean signal state.
pub fn reset_signals() -> io::Result<()> {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; invalid numbers
        // (32, 33 used by glibc) just fail with EINVAL, which is ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    set_sigmask(libc::SIG_SETMASK, &[])
}

fn sigset(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Change the signal mask by the given signals.
pub fn set_sigmask(how: i32, sigs: &[i32]) -> io::Result<()> {
    let set = sigset(sigs);
    // SAFETY: a valid sigset; the old mask is not wanted.
    let r = unsafe { libc::pthread_sigmask(how, &set, ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

// ---- identity and privileges ----------------------------------------------

pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: the raw syscall sets only this thread's ids, which is right for
    // a single-threaded init and avoids glibc's cross-thread signalling.
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: as for setresuid.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    Ok(())
}

pub fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid slice.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) })?;
    Ok(())
}

pub fn umask(mask: u32) {
    // SAFETY: cannot fail.
    unsafe { libc::umask(mask) };
}

pub fn prctl(option: i32, arg: u64) -> io::Result<()> {
    // SAFETY: the options used here take integer arguments only.
    cvt(unsafe { libc::prctl(option, arg, 0u64, 0u64, 0u64) })?;
    Ok(())
}

pub fn prctl_ambient(op: u64, cap: u64) -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT takes integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_CAP_AMBIENT, op, cap, 0u64, 0u64) })?;
    Ok(())
}

/// The three 64-bit capability sets of this thread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

pub fn capset(sets: CapSets) -> io::Result<()> {
    let hdr = CapHeader { version: CAP_V3, pid: 0 };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        CapData { effective: lo(sets.effective), permitted: lo(sets.permitted), inheritable: lo(sets.inheritable) },
        CapData { effective: hi(sets.effective), permitted: hi(sets.permitted), inheritable: hi(sets.inheritable) },
    ];
    // SAFETY: v3 header with two data structs, as the kernel expects.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) })?;
    Ok(())
}

// ---- namespaces, mounts, files ---------------------------------------------

pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::unshare(flags) })?;
    Ok(())
}

pub fn setns(fd: &OwnedFd, nstype: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), nstype) })?;
    Ok(())
}

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> io::Result<()> {
    // SAFETY: every pointer is a valid C string or NULL.
    cvt(unsafe {
        libc::mount(opt_ptr(source), target.as_ptr(), opt_ptr(fstype), flags, opt_ptr(data) as *const libc::c_void)
    })?;
    Ok(())
}

pub fn umount2(target: &CStr, flags: i32) -> io::Result<()> {
    // SAFETY: valid C string.
    cvt(unsafe { libc::umount2(target.as_ptr(), flags) })?;
    Ok(())
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: valid C strings.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })?;
    Ok(())
}

pub fn chroot(path: &CStr) -> io::Result<()> {
    // SAFETY: valid C string.
    cvt(unsafe { libc::chroot(path.as_ptr()) })?;
    Ok(())
}

pub fn fchdir(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) })?;
    Ok(())
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe the string's bytes.
    cvt(unsafe { libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()) })?;
    Ok(())
}

pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe the string's bytes.
    cvt(unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) })?;
    Ok(())
}

pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: valid rlimit pointer; pid 0 is ourselves.
    cvt(unsafe { libc::prlimit(0, resource as _, &lim, ptr::null_mut()) })?;
    Ok(())
}

/// `struct sched_attr` (linux/sched/types.h), version 1 (56 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: a valid sched_attr of the size it states; pid 0 is ourselves.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })?;
    Ok(())
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, value).
pub fn ioprio_set(value: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) })?;
    Ok(())
}

pub fn personality(persona: u64) -> io::Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::personality(persona as libc::c_ulong) })?;
    Ok(())
}

/// set_mempolicy(mode, nodemask, maxnode): `nodes` is a word mask.
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() { (ptr::null(), 0) } else { (nodes.as_ptr(), nodes.len() * 64 + 1) };
    // SAFETY: `ptr` covers `maxnode - 1` bits of `nodes` (or is null with 0).
    cvt(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })?;
    Ok(())
}

/// sched_setaffinity(self, mask): `cpus` is a word mask.
pub fn sched_setaffinity(cpus: &[u64]) -> io::Result<()> {
    // SAFETY: the length passed is the mask's size in bytes.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, cpus.len() * 8, cpus.as_ptr()) })?;
    Ok(())
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): open `path` relative to `dir` under the `resolve` rules.
pub fn openat2(dir: &OwnedFd, path: &Path, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: 0, resolve };
    // With RESOLVE_IN_ROOT the kernel answers EAGAIN when a mount or rename
    // anywhere on the system raced with the walk (openat2(2)): try again.
    let mut attempts = 0;
    let fd = loop {
        // SAFETY: valid fd, C string and open_how of the size passed.
        let r = retry(|| unsafe {
            libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), c.as_ptr(), &how as *const OpenHow, size_of::<OpenHow>())
        });
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && attempts < 1000 => attempts += 1,
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2 is missing: tandem resolves paths in a rootfs with it and needs Linux 5.6 or later",
                ));
            }
            r => break r?,
        }
    };
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn open(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: valid C string.
    let fd = retry(|| unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o644) })?;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn mkdirat(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid fd and C string.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) })?;
    Ok(())
}

/// Create a new regular file `name` in `dir` for writing (O_EXCL: never
/// a file or link that is already there).
pub fn create_new_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    let c = cstring(name)?;
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // SAFETY: valid fd and C string; the fd returned is new and ours.
    let fd = retry(|| unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, mode) })?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// rename(2) of `from` to `to`, both in `dir` (a link at `to` is replaced, not followed).
pub fn renameat(dir: &OwnedFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (f, t) = (cstring(from)?, cstring(to)?);
    // SAFETY: valid fd and C strings.
    cvt(unsafe { libc::renameat(dir.as_raw_fd(), f.as_ptr(), dir.as_raw_fd(), t.as_ptr()) })?;
    Ok(())
}

pub fn unlinkat(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid fd and C string.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })?;
    Ok(())
}

/// Create an empty regular file `name` in `dir` (O_EXCL: never through a link).
pub fn create_file_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid fd and C string; the fd returned is closed at once.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode,
        )
    })?;
    // SAFETY: fd is ours.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

pub fn mknodat(dir: &OwnedFd, name: &OsStr, mode: u32, dev: u64) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid fd and C string.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) })?;
    Ok(())
}

pub fn symlinkat(target: &Path, dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let t = cpath(target)?;
    let c = cstring(name)?;
    // SAFETY: valid fd and C strings.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) })?;
    Ok(())
}

pub fn fchownat_empty(fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH.
    cvt(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })?;
    Ok(())
}

/// fstat of an fd by number (stdio, which no OwnedFd of ours holds).
pub fn fstat_raw(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: st is a valid out pointer, zeroed is a valid stat value.
    unsafe {
        let mut st: libc::stat = zeroed();
        cvt(libc::fstat(fd, &mut st))?;
        Ok(st)
    }
}

pub fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: st is a valid out pointer, zeroed is a valid stat value.
    unsafe {
        let mut st: libc::stat = zeroed();
        cvt(libc::fstat(fd.as_raw_fd(), &mut st))?;
        Ok(st)
    }
}

/// The filesystem type (statfs f_type magic) `fd` is on.
pub fn fstatfs_type(fd: &OwnedFd) -> io::Result<i64> {
    // SAFETY: st is a valid out pointer, zeroed is a valid statfs value.
    unsafe {
        let mut st: libc::statfs = zeroed();
        cvt(libc::fstatfs(fd.as_raw_fd(), &mut st))?;
        Ok(st.f_type as i64)
    }
}

/// lstat of `name` in `dir`: a symlink is reported, not followed.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<libc::stat> {
    let c = cstring(name)?;
    // SAFETY: valid fd and C string; st is a valid out pointer.
    unsafe {
        let mut st: libc::stat = zeroed();
        cvt(libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW))?;
        Ok(st)
    }
}

pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::mkfifo(c.as_ptr(), mode) })?;
    Ok(())
}

pub fn flock(fd: &impl AsRawFd, op: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    retry(|| unsafe { libc::flock(fd.as_raw_fd(), op) })?;
    Ok(())
}

/// Close every fd from `first` upwards.
pub fn close_from(first: u32) -> io::Result<()> {
    close_range(first, u32::MAX)
}

/// Close every fd from `first` on but those in `keep`, in ranges
/// (close_range: no /proc needed where the kernel has it).
pub fn close_from_except(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|&&k| k >= first).map(|&k| k as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = first as u32;
    for k in keep {
        if k > from {
            close_range(from, k - 1)?;
        }
        from = k + 1;
    }
    close_from(from)
}

/// Close fds `first..=last` (close_range, 5.9; one by one from
/// /proc/self/fd where it is missing).
pub fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: closing fds we no longer use; nothing owns them afterwards.
    match cvt(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let open: Vec<u32> = std::fs::read_dir("/proc/self/fd")?
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd >= first && fd <= last)
                .collect();
            for fd in open {
                // SAFETY: as above (the read_dir fd is closed already; EBADF is harmless).
                unsafe { libc::close(fd as RawFd) };
            }
            Ok(())
        }
        r => r.map(drop),
    }
}

/// Is `fd` open in this process?
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only inspects the fd number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd number; fails cleanly if it is not open.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
    Ok(())
}

pub fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on fd numbers.
    retry(|| unsafe { libc::dup2(old, new) })?;
    Ok(())
}

/// Duplicate `old` onto `new` (closing what was there), which this process
/// then owns; not close-on-exec.
pub fn dup2_owned(old: &impl AsRawFd, new: RawFd) -> io::Result<OwnedFd> {
    dup2(old.as_raw_fd(), new)?;
    // SAFETY: dup2 made `new` a fresh descriptor; whatever owned the
    // number before was closed by it and the caller hands it over here.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

pub fn read(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of its length.
    let n = retry(|| unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

pub fn write(fd: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for reads of its length.
    let n = retry(|| unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// A connected pair of message sockets (close-on-exec).
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid out array of two ints.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: two new fds we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A control-message buffer for `fds` descriptors, aligned for `cmsghdr`
/// (a byte buffer is not: reading a header from it is undefined).
fn cmsg_buffer(fds: usize) -> (Vec<u64>, usize) {
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE((fds * size_of::<RawFd>()) as u32) } as usize;
    (vec![0u64; space.div_ceil(size_of::<u64>())], space)
}

/// Send `fd` over a unix socket with `name` as the payload (runc's format
/// for the console socket).
pub fn send_fd(sock: &impl AsRawFd, fd: RawFd, name: &[u8]) -> io::Result<()> {
    send_fds(sock, &[fd], name)
}

/// Send `fds` in one message with `payload`.
pub fn send_fds(sock: &impl AsRawFd, fds: &[RawFd], payload: &[u8]) -> io::Result<()> {
    let (mut cbuf, space) = cmsg_buffer(fds.len());
    // SAFETY: msghdr, iovec and the aligned control buffer are valid for the
    // call; CMSG_* compute offsets within that buffer, which has room for
    // one header and `fds`.
    unsafe {
        let mut iov = libc::iovec { iov_base: payload.as_ptr() as *mut _, iov_len: payload.len() };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of_val(fds) as u32) as usize;
        ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg) as *mut RawFd, fds.len());
        retry(|| libc::sendmsg(sock.as_raw_fd(), &msg, 0) as i64)?;
    }
    Ok(())
}

/// Receive one fd sent by [`send_fd`]; returns it and the payload.
pub fn recv_fd(sock: &impl AsRawFd) -> io::Result<(OwnedFd, Vec<u8>)> {
    let mut buf = vec![0u8; 4096];
    let (n, fd) = recv_with_fd(sock, &mut buf)?;
    let fd = fd.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no fd in message"))?;
    buf.truncate(n);
    Ok((fd, buf))
}

/// Receive one message into `buf`, and the fd sent with it if there is one
/// (a plain read would close it unseen). More than one fd, or a control
/// message the kernel had to cut (MSG_CTRUNC), is refused, and every fd
/// that did arrive is closed.
pub fn recv_with_fd(sock: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    // Room for more than one, so that extra fds arrive (and are closed)
    // rather than being cut off unseen.
    let (mut cbuf, space) = cmsg_buffer(4);
    let mut got: Vec<OwnedFd> = Vec::new();
    // SAFETY: as in send_fds; every fd taken from an SCM_RIGHTS message is
    // new and owned by us from here.
    let (n, flags) = unsafe {
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let n = retry(|| libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) as i64)?;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                let count = ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                for k in 0..count {
                    got.push(OwnedFd::from_raw_fd(ptr::read_unaligned(data.add(k))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        (n as usize, msg.msg_flags)
    };
    if flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "control message truncated (fds were lost)"));
    }
    if got.len() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} fds in one message, expected one", got.len()),
        ));
    }
    Ok((n, got.pop()))
}

// ---- terminals ---------------------------------------------------------------

/// Open a new pty pair from `ptmx`; returns (master, slave path).
pub fn open_pty(ptmx: &Path) -> io::Result<(OwnedFd, String)> {
    let master = open(ptmx, libc::O_RDWR | libc::O_NOCTTY)?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: the ioctl takes a pointer to an int we own.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) })?;
    let n = pty_number(&master)?;
    Ok((master, format!("/dev/pts/{n}")))
}

/// The index of a pty master's slave (`/dev/pts/N`).
pub fn pty_number(master: &OwnedFd) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: the ioctl takes a pointer to an unsigned int we own.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })?;
    Ok(n)
}

/// The slave side of a pty master, opened by the kernel from the master
/// itself (TIOCGPTPEER): no path lookup a container could redirect.
pub fn pty_peer(master: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd we own.
    let fd = cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY) })?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) })?;
    Ok(())
}

pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

pub fn makedev(major: i64, minor: i64) -> u64 {
    libc::makedev(major as u32, minor as u32)
}

/// Close every fd from `first` upwards except those in `keep`.
pub fn close_fds_except(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let fds: Vec<RawFd> =
        std::fs::read_dir("/proc/self/fd")?.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    for fd in fds {
        if fd >= first && !keep.contains(&fd) {
            // SAFETY: the fd is inherited and owned by nothing in this process
            // (the read_dir fd is already closed; EBADF is harmless).
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Join a new session keyring named `name` (so containers do not share the
/// caller's keys). Returns the keyring's serial.
pub fn join_session_keyring(name: &CStr) -> io::Result<i64> {
    const KEYCTL_JOIN_SESSION_KEYRING: i64 = 1;
    // SAFETY: keyctl with a valid C string argument.
    cvt(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
}

pub fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    dup_cloexec_from(fd, 3)
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_cloexec_from(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on an fd number; the new fd is ours.
    let new = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A signalfd for the given (already blocked) signals.
pub fn signalfd(sigs: &[i32]) -> io::Result<OwnedFd> {
    let set = sigset(sigs);
    // SAFETY: a valid sigset; the fd returned is new and ours.
    let fd = cvt(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) })?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Read one signal number from a signalfd.
pub fn read_signal(fd: &OwnedFd) -> io::Result<i32> {
    // SAFETY: signalfd_siginfo is plain data; zeroed is a valid value.
    let mut info: libc::signalfd_siginfo = unsafe { zeroed() };
    // SAFETY: the buffer is exactly one signalfd_siginfo.
    let buf =
        unsafe { std::slice::from_raw_parts_mut(&mut info as *mut _ as *mut u8, size_of::<libc::signalfd_siginfo>()) };
    read(fd, buf)?;
    Ok(info.ssi_signo as i32)
}

/// poll(2) on `fds` (fd, events); returns the revents of each.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
    // SAFETY: p is a valid array of pollfd of the length passed.
    retry(|| unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) })?;
    Ok(p.iter().map(|p| p.revents).collect())
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn get_winsize(fd: RawFd) -> io::Result<(u16, u16)> {
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    unsafe {
        let mut ws: libc::winsize = zeroed();
        cvt(libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws))?;
        Ok((ws.ws_row, ws.ws_col))
    }
}

/// Put the terminal on `fd` in raw mode; returns the settings to restore.
pub fn make_raw(fd: RawFd) -> io::Result<libc::termios> {
    // SAFETY: termios is plain data filled in by tcgetattr before use.
    unsafe {
        let mut t: libc::termios = zeroed();
        cvt(libc::tcgetattr(fd, &mut t))?;
        let old = t;
        libc::cfmakeraw(&mut t);
        cvt(libc::tcsetattr(fd, libc::TCSANOW, &t))?;
        Ok(old)
    }
}

pub fn restore_terminal(fd: RawFd, t: &libc::termios) {
    // SAFETY: t came from tcgetattr.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, t) };
}

extern "C" fn exit_for_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Make each of `sigs` end the process with status 128+signal. A pid 1
/// ignores signals it has no handler for; a workload that runs inside the
/// init's own process (wasm) needs this for `kill` to stop it.
pub fn exit_on_signals(sigs: &[i32]) -> io::Result<()> {
    for &sig in sigs {
        // SAFETY: the handler only calls _exit, which is async-signal-safe.
        let r = unsafe { libc::signal(sig, exit_for_signal as *const () as libc::sighandler_t) };
        if r == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// An inotify fd watching one file for `mask` events (non-blocking).
pub fn inotify_watch(path: &Path, mask: u32) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: inotify_init1 returns a new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK))?) };
    // SAFETY: c is a valid C string; the watch belongs to fd.
    cvt(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) })?;
    Ok(fd)
}

/// A new eventfd (non-blocking).
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd returns a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(cvt(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?) })
}

/// Read and drop whatever is pending on a non-blocking fd.
pub fn drain(fd: &impl AsRawFd) {
    let mut buf = [0u8; 4096];
    while matches!(read(fd, &mut buf), Ok(n) if n > 0) {}
}

/// One eBPF instruction (struct bpf_insn).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// union bpf_attr, as the u32 words the commands used here need (the
/// kernel wants the unused tail zeroed).
#[repr(C, align(8))]
struct BpfAttr([u32; 32]);

impl BpfAttr {
    fn new() -> Self {
        BpfAttr([0; 32])
    }
    fn set_u64(&mut self, word: usize, v: u64) {
        self.0[word] = v as u32;
        self.0[word + 1] = (v >> 32) as u32;
    }
}

fn bpf(cmd: libc::c_long, attr: &mut BpfAttr) -> io::Result<i32> {
    // SAFETY: attr is a zero-initialised bpf_attr large enough for cmd,
    // and every pointer in it points to memory alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut BpfAttr, size_of::<BpfAttr>() as u32) };
    cvt(r).map(|r| r as i32)
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: a new fd returned by the kernel to us.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Load a cgroup device program; the verifier's log is the error on failure.
pub fn bpf_load_device_prog(insns: &[BpfInsn]) -> io::Result<OwnedFd> {
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = BpfAttr::new();
    attr.0[0] = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.0[1] = insns.len() as u32;
    attr.set_u64(2, insns.as_ptr() as u64);
    attr.set_u64(4, license.as_ptr() as u64);
    attr.0[6] = 1; // log_level
    attr.0[7] = log.len() as u32;
    attr.set_u64(8, log.as_mut_ptr() as u64);
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            if text.is_empty() { Err(e) } else { Err(io::Error::new(e.kind(), format!("{e}: {text}"))) }
        }
    }
}

pub fn bpf_attach_device_prog(cgroup: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = BpfAttr::new();
    attr.0[0] = cgroup.as_raw_fd() as u32;
    attr.0[1] = prog.as_raw_fd() as u32;
    attr.0[2] = BPF_CGROUP_DEVICE;
    attr.0[3] = BPF_F_ALLOW_MULTI;
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

pub fn bpf_detach_device_prog(cgroup: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = BpfAttr::new();
    attr.0[0] = cgroup.as_raw_fd() as u32;
    attr.0[1] = prog.as_raw_fd() as u32;
    attr.0[2] = BPF_CGROUP_DEVICE;
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// The ids of the device programs attached to this cgroup itself.
pub fn bpf_query_device_progs(cgroup: &OwnedFd) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = BpfAttr::new();
    attr.0[0] = cgroup.as_raw_fd() as u32;
    attr.0[1] = BPF_CGROUP_DEVICE;
    attr.set_u64(4, ids.as_mut_ptr() as u64);
    attr.0[6] = ids.len() as u32;
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.0[6] as usize);
    Ok(ids)
}

pub fn bpf_prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = BpfAttr::new();
    attr.0[0] = id;
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned)
}

// ---- seccomp -------------------------------------------------------------------

/// An anonymous in-memory file (close-on-exec).
/// A memfd holding `data`, sealed against any change.
pub fn sealed_memfd(name: &CStr, data: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: name is a valid C string; the fd returned is new and ours.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) })?;
    // SAFETY: a new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut done = 0;
    while done < data.len() {
        done += write(&fd, &data[done..])?;
    }
    add_seals(&fd, libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE)?;
    Ok(fd)
}

pub fn memfd(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: name is a valid C string; the fd returned is new and ours.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Install a classic BPF program as this thread's seccomp filter. With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER in `flags` the kernel returns the
/// notification fd.
pub fn seccomp_set_filter(flags: u64, prog: &[libc::sock_filter]) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let fprog = libc::sock_fprog { len, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `prog`, which outlives the call; the kernel
    // copies the program.
    let r = cvt(unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &fprog as *const libc::sock_fprog)
    } as i32)?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the return value is a new fd we own.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(r) }))
    } else {
        Ok(None)
    }
}

// ---- the runtime's own binary -------------------------------------------------

/// open_tree(2) with OPEN_TREE_CLONE: a detached bind mount of `path`
/// (in no mount namespace, gone with its last reference), as an O_PATH fd.
pub fn open_tree_clone(path: &CStr) -> io::Result<OwnedFd> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: valid C string; the fd returned is new and ours.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) on the mount `fd` refers to: set the `set` attributes.
pub fn mount_setattr_fd(fd: &OwnedFd, set: u64) -> io::Result<()> {
    mount_setattr(fd, set, 0, false)
}

/// mount_setattr(2) on the mount `fd` refers to (and with `recursive`
/// every mount under it): set `set`, clear `clear`.
pub fn mount_setattr(fd: &OwnedFd, set: u64, clear: u64, recursive: bool) -> io::Result<()> {
    let attr = libc::mount_attr { attr_set: set, attr_clr: clear, propagation: 0, userns_fd: 0 };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, a mount_attr of the size passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            size_of::<libc::mount_attr>(),
        )
    })?;
    Ok(())
}

/// execveat(2) of the file `fd` refers to; returns only on failure.
pub fn execveat_fd(fd: &impl AsRawFd, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(ptr::null());
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, NULL-terminated
    // arrays of valid C strings that outlive the call.
    unsafe {
        libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), c"".as_ptr(), a.as_ptr(), e.as_ptr(), libc::AT_EMPTY_PATH)
    };
    io::Error::last_os_error()
}

/// A memfd that can be sealed and executed (MFD_EXEC where the kernel
/// knows it: vm.memfd_noexec may otherwise make it non-executable).
pub fn memfd_sealable_exec(name: &CStr) -> io::Result<OwnedFd> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: name is a valid C string; the fd returned is new and ours.
    let fd = match cvt(unsafe { libc::memfd_create(name.as_ptr(), base | libc::MFD_EXEC) }) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // SAFETY: as above (a kernel before 6.3: no MFD_EXEC).
            cvt(unsafe { libc::memfd_create(name.as_ptr(), base) })?
        }
        r => r?,
    };
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Copy all of `from` (from its start) to `to` in the kernel.
pub fn copy_all(from: &OwnedFd, to: &OwnedFd, len: u64) -> io::Result<()> {
    let mut done = 0u64;
    while done < len {
        let chunk = (len - done).min(1 << 30) as usize;
        // SAFETY: valid fds; a null offset uses and advances the file offsets.
        let n = retry(|| unsafe { libc::sendfile(to.as_raw_fd(), from.as_raw_fd(), ptr::null_mut(), chunk) })?;
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        done += n as u64;
    }
    Ok(())
}

pub fn add_seals(fd: &OwnedFd, seals: i32) -> io::Result<()> {
    // SAFETY: fcntl on a valid fd.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(())
}

pub fn get_seals(fd: &OwnedFd) -> io::Result<i32> {
    // SAFETY: fcntl on a valid fd.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })
}

/// The mount flags (ST_*) of the mount `fd` is on.
/// The mount flags (`ST_*`) of the filesystem at `path`.
pub fn statvfs_flags(path: &Path) -> io::Result<u64> {
    let c = cpath(path)?;
    // SAFETY: a valid C string and out pointer; zeroed is a valid statvfs value.
    unsafe {
        let mut st: libc::statvfs = zeroed();
        cvt(libc::statvfs(c.as_ptr(), &mut st))?;
        Ok(st.f_flag)
    }
}

pub fn fstatvfs_flags(fd: &OwnedFd) -> io::Result<u64> {
    // SAFETY: st is a valid out pointer, zeroed is a valid statvfs value.
    unsafe {
        let mut st: libc::statvfs = zeroed();
        cvt(libc::fstatvfs(fd.as_raw_fd(), &mut st))?;
        Ok(st.f_flag)
    }
}

/// Overwrite `[start, end)` of this process's own memory with `bytes`
/// (cut to fit, one NUL kept at the end), the rest with zeros: for the
/// argument and environment areas the kernel reports in /proc/self/stat,
/// which `/proc/PID/cmdline` and `environ` show.
pub fn overwrite_own_area(start: usize, end: usize, bytes: &[u8]) {
    if end <= start || start == 0 {
        return;
    }
    let len = end - start;
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, end) is this process's argument or environment area
    // on its initial stack, as the kernel reports it: mapped read-write
    // for the process's whole life. Nothing holds a Rust reference into
    // it; libc's argv and environ are raw pointers, and every string they
    // point at stays NUL-terminated (the area ends in zeros).
    unsafe {
        let p = start as *mut u8;
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, n);
        ptr::write_bytes(p.add(n), 0, len - n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fd_travels_with_its_payload() {
        let (a, b) = socketpair().unwrap();
        let (r, w) = std::io::pipe().unwrap();
        send_fd(&a, w.as_raw_fd(), b"name").unwrap();
        drop(w);
        let (got, payload) = recv_fd(&b).unwrap();
        assert_eq!(payload, b"name");
        write(&got, b"x").unwrap();
        let r = OwnedFd::from(r);
        let mut buf = [0u8; 1];
        assert_eq!(read(&r, &mut buf).unwrap(), 1);
    }

    /// Two fds where one is expected: refused, and both closed (the pipe's
    /// reader then sees the end of file: no write end is left open).
    #[test]
    fn extra_fds_are_refused_and_closed() {
        let (a, b) = socketpair().unwrap();
        let (r, w) = std::io::pipe().unwrap();
        let w2 = dup_cloexec(w.as_raw_fd()).unwrap();
        send_fds(&a, &[w.as_raw_fd(), w2.as_raw_fd()], b"two").unwrap();
        drop((w, w2));
        let r = OwnedFd::from(r);
        let mut buf = [0u8; 16];
        let e = recv_with_fd(&b, &mut buf).unwrap_err();
        assert!(e.to_string().contains("2 fds"), "{e}");
        assert_eq!(read(&r, &mut buf).unwrap(), 0, "a received fd was left open");
    }
}
