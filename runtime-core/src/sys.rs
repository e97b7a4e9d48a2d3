//! The engine's syscalls, with `io::Result` and the OS error; callers add
//! context.
//!
//! Two halves. The first is built on `nix` and has no `unsafe`: the
//! functions there add what the engine needs on top of nix's calls (a retry
//! on EINTR, fd numbers as the engine passes them, one message's fds
//! checked as a whole). The second holds what nix does not wrap, or wraps
//! in a way the engine cannot use, each `unsafe` block with its `SAFETY:`
//! line and each function saying which it is: clone3 (CLONE_INTO_CGROUP,
//! CLONE_PIDFD), pidfds, the raw per-thread id calls, capset and the
//! capability prctls, scheduling and memory-policy attributes,
//! real-time signal dispositions, close_range, keyctl, bpf(2), seccomp(2)
//! with a listener, open_tree and mount_setattr, the pty ioctls, and the
//! rewrite of the process's own argument area.
//!
//! Crates considered and not used: `caps` (capability sets as hash sets
//! of a closed enum; the engine works on the raw 64-bit masks the spec
//! and the kernel use, including bits newer than the crate's enum), and
//! `cgroups-rs` (see the `cgroups` module).

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, FdFlag, OFlag, OpenHow, ResolveFlag, SealFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::socket::{self as sock, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

// ---- built on nix --------------------------------------------------------------

/// Retry a call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            r => return Ok(r?),
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

pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    let sig = match sig {
        0 => None,
        s => Some(Signal::try_from(s)?),
    };
    Ok(nix::sys::signal::kill(Pid::from_raw(pid), sig)?)
}

/// waitpid; returns (pid, raw status) as wait(2) encodes it, and pid 0
/// for a child still running under WNOHANG.
pub fn waitpid(pid: i32, flags: i32) -> io::Result<(i32, i32)> {
    let flags = WaitPidFlag::from_bits_retain(flags);
    Ok(match retry(|| nix::sys::wait::waitpid(Pid::from_raw(pid), Some(flags)))? {
        WaitStatus::Exited(p, code) => (p.as_raw(), (code & 0xff) << 8),
        WaitStatus::Signaled(p, sig, core) => (p.as_raw(), sig as i32 | if core { 0x80 } else { 0 }),
        WaitStatus::Stopped(p, sig) | WaitStatus::PtraceEvent(p, sig, _) => (p.as_raw(), ((sig as i32) << 8) | 0x7f),
        WaitStatus::PtraceSyscall(p) => (p.as_raw(), ((libc::SIGTRAP | 0x80) << 8) | 0x7f),
        WaitStatus::Continued(p) => (p.as_raw(), 0xffff),
        WaitStatus::StillAlive => (0, 0),
    })
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

/// execve(2); returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    match nix::unistd::execve(path, argv, envp) {
        Err(e) => e.into(),
    }
}

/// execveat(2) of the file `fd` refers to; returns only on failure.
pub fn execveat_fd(fd: &impl AsFd, argv: &[CString], envp: &[CString]) -> io::Error {
    match nix::unistd::execveat(fd, c"", argv, envp, AtFlags::AT_EMPTY_PATH) {
        Err(e) => e.into(),
    }
}

pub fn setsid() -> io::Result<()> {
    nix::unistd::setsid()?;
    Ok(())
}

pub fn geteuid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

pub fn gettid() -> i32 {
    nix::unistd::gettid().as_raw()
}

fn sigset(sigs: &[i32]) -> io::Result<SigSet> {
    let mut set = SigSet::empty();
    for &s in sigs {
        set.add(Signal::try_from(s)?);
    }
    Ok(set)
}

/// Change this thread's signal mask by the given signals
/// (`libc::SIG_BLOCK`, `SIG_UNBLOCK` or `SIG_SETMASK`).
pub fn set_sigmask(how: i32, sigs: &[i32]) -> io::Result<()> {
    let how = match how {
        libc::SIG_BLOCK => SigmaskHow::SIG_BLOCK,
        libc::SIG_UNBLOCK => SigmaskHow::SIG_UNBLOCK,
        _ => SigmaskHow::SIG_SETMASK,
    };
    Ok(nix::sys::signal::pthread_sigmask(how, Some(&sigset(sigs)?), None)?)
}

/// A signalfd for the given (already blocked) signals.
pub fn signalfd(sigs: &[i32]) -> io::Result<OwnedFd> {
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    Ok(SignalFd::with_flags(&sigset(sigs)?, SfdFlags::SFD_CLOEXEC)?.into())
}

/// Read one signal number from a signalfd.
pub fn read_signal(fd: &OwnedFd) -> io::Result<i32> {
    let mut buf = [0u8; size_of::<libc::signalfd_siginfo>()];
    read(fd, &mut buf)?;
    // ssi_signo is the struct's first field, a u32.
    Ok(u32::from_ne_bytes(buf[..4].try_into().expect("four bytes")) as i32)
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2): open `path` relative to `dir` under the `resolve` rules.
pub fn openat2(dir: &OwnedFd, path: &Path, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let how = || {
        OpenHow::new()
            .flags(OFlag::from_bits_retain(flags | libc::O_CLOEXEC))
            .resolve(ResolveFlag::from_bits_retain(resolve))
    };
    // With RESOLVE_IN_ROOT the kernel answers EAGAIN when a mount or rename
    // anywhere on the system raced with the walk (openat2(2)): try again.
    let mut attempts = 0;
    loop {
        match nix::fcntl::openat2(dir, path, how()) {
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) if attempts < 1000 => attempts += 1,
            Err(Errno::ENOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2 is missing: tandem resolves paths in a rootfs with it and needs Linux 5.6 or later",
                ));
            }
            r => return Ok(r?),
        }
    }
}

pub fn open(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let flags = OFlag::from_bits_retain(flags | libc::O_CLOEXEC);
    retry(|| nix::fcntl::open(path, flags, Mode::from_bits_retain(0o644)))
}

pub fn mkdirat(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    Ok(nix::sys::stat::mkdirat(dir, Path::new(name), Mode::from_bits_retain(mode))?)
}

/// Create a new regular file `name` in `dir` for writing (O_EXCL: never
/// a file or link that is already there).
pub fn create_new_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    retry(|| nix::fcntl::openat(dir, Path::new(name), flags, Mode::from_bits_retain(mode)))
}

/// rename(2) of `from` to `to`, both in `dir` (a link at `to` is replaced, not followed).
pub fn renameat(dir: &OwnedFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    Ok(nix::fcntl::renameat(dir, Path::new(from), dir, Path::new(to))?)
}

pub fn unlinkat(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(dir, Path::new(name), nix::unistd::UnlinkatFlags::NoRemoveDir)?)
}

/// Create an empty regular file `name` in `dir` (O_EXCL: never through a link).
pub fn create_file_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    create_new_at(dir, name, mode).map(drop)
}

/// fstat of an fd by number (stdio, which no OwnedFd of ours holds).
pub fn fstat_raw(fd: RawFd) -> io::Result<libc::stat> {
    Ok(nix::sys::stat::fstat(borrow(fd)?)?)
}

pub fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    Ok(nix::sys::stat::fstat(fd)?)
}

/// The filesystem type (statfs f_type magic) `fd` is on.
pub fn fstatfs_type(fd: &OwnedFd) -> io::Result<i64> {
    Ok(nix::sys::statfs::fstatfs(fd)?.filesystem_type().0 as i64)
}

/// The mount flags (`ST_*`) of the mount `fd` is on.
pub fn fstatvfs_flags(fd: &OwnedFd) -> io::Result<u64> {
    Ok(nix::sys::statvfs::fstatvfs(fd)?.flags().bits() as u64)
}

/// lstat of `name` in `dir`: a symlink is reported, not followed.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<libc::stat> {
    Ok(nix::sys::stat::fstatat(dir, Path::new(name), AtFlags::AT_SYMLINK_NOFOLLOW)?)
}

pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    Ok(nix::unistd::mkfifo(path, Mode::from_bits_retain(mode))?)
}

/// flock(2) on an fd the caller keeps (the lock lives as long as it).
pub fn flock(fd: &impl AsRawFd, op: i32) -> io::Result<()> {
    let arg = match op {
        libc::LOCK_SH => nix::fcntl::FlockArg::LockShared,
        libc::LOCK_UN => nix::fcntl::FlockArg::Unlock,
        _ => nix::fcntl::FlockArg::LockExclusive,
    };
    // Its replacement, `Flock`, takes the fd's ownership.
    #[allow(deprecated)]
    let locked = retry(|| nix::fcntl::flock(fd.as_raw_fd(), arg));
    locked
}

/// Is `fd` open in this process?
pub fn fd_is_open(fd: RawFd) -> bool {
    borrow(fd).is_ok_and(|fd| nix::fcntl::fcntl(fd, FcntlArg::F_GETFD).is_ok())
}

pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    nix::fcntl::fcntl(borrow(fd)?, FcntlArg::F_SETFD(FdFlag::empty()))?;
    Ok(())
}

pub fn read(fd: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| nix::unistd::read(fd, buf))
}

pub fn write(fd: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    retry(|| nix::unistd::write(fd, buf))
}

/// A connected pair of message sockets (close-on-exec).
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (kind, flags) = (sock::SockType::SeqPacket, sock::SockFlag::SOCK_CLOEXEC);
    Ok(sock::socketpair(sock::AddressFamily::Unix, kind, None, flags)?)
}

/// Send `fd` over a unix socket with `name` as the payload (runc's format
/// for the console socket).
pub fn send_fd(sock: &impl AsRawFd, fd: RawFd, name: &[u8]) -> io::Result<()> {
    send_fds(sock, &[fd], name)
}

/// Send `fds` in one message with `payload`.
pub fn send_fds(sock: &impl AsRawFd, fds: &[RawFd], payload: &[u8]) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    retry(|| sock::sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None))?;
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
    // Room for the most fds one message can carry (SCM_MAX_FD, 253), so
    // that extra fds arrive and are closed here rather than being cut
    // off; nix will not walk a control buffer the kernel cut.
    let mut space = nix::cmsg_space!([RawFd; 253]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match sock::recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            r => break r?,
        }
    };
    let mut got: Vec<OwnedFd> = Vec::new();
    let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                got.extend(fds.into_iter().map(owned));
            }
        }
    }
    if truncated {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "control message truncated (fds were lost)"));
    }
    if got.len() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} fds in one message, expected one", got.len()),
        ));
    }
    Ok((msg.bytes, got.pop()))
}

pub fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    dup_cloexec_from(fd, 3)
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_cloexec_from(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    Ok(owned(nix::fcntl::fcntl(borrow(fd)?, FcntlArg::F_DUPFD_CLOEXEC(min))?))
}

/// poll(2) on `fds` (fd, events); returns the revents of each.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p = Vec::with_capacity(fds.len());
    for &(fd, events) in fds {
        p.push(PollFd::new(borrow(fd)?, PollFlags::from_bits_retain(events)));
    }
    let timeout =
        if timeout_ms < 0 { PollTimeout::NONE } else { PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX) };
    retry(|| nix::poll::poll(&mut p, timeout))?;
    Ok(p.iter().map(|p| p.revents().map_or(0, |r| r.bits())).collect())
}

/// Wait until the process behind `pidfd` has exited, at most `timeout_ms`
/// (-1: forever). Returns whether it exited.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    Ok(poll(&[(pidfd.as_raw_fd(), libc::POLLIN)], timeout_ms)?[0] != 0)
}

pub fn isatty(fd: RawFd) -> bool {
    borrow(fd).is_ok_and(|fd| nix::unistd::isatty(fd).unwrap_or(false))
}

/// Put the terminal on `fd` in raw mode; returns the settings to restore.
pub fn make_raw(fd: RawFd) -> io::Result<libc::termios> {
    use nix::sys::termios;
    let fd = borrow(fd)?;
    let old = termios::tcgetattr(fd)?;
    let mut raw = old.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(fd, termios::SetArg::TCSANOW, &raw)?;
    Ok(old.into())
}

pub fn restore_terminal(fd: RawFd, t: &libc::termios) {
    use nix::sys::termios;
    if let Ok(fd) = borrow(fd) {
        let _ = termios::tcsetattr(fd, termios::SetArg::TCSANOW, &termios::Termios::from(*t));
    }
}

/// An inotify fd watching one file for `mask` events (non-blocking).
pub fn inotify_watch(path: &Path, mask: u32) -> io::Result<OwnedFd> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let fd = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
    fd.add_watch(path, AddWatchFlags::from_bits_retain(mask))?;
    Ok(fd.into())
}

/// Read and drop whatever is pending on a non-blocking fd.
pub fn drain(fd: &impl AsFd) {
    let mut buf = [0u8; 4096];
    while matches!(read(fd, &mut buf), Ok(n) if n > 0) {}
}

pub fn makedev(major: i64, minor: i64) -> u64 {
    libc::makedev(major as u32, minor as u32)
}

/// A memfd holding `data`, sealed against any change.
pub fn sealed_memfd(name: &CStr, data: &[u8]) -> io::Result<OwnedFd> {
    use nix::sys::memfd::MFdFlags;
    let fd = nix::sys::memfd::memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
    let mut done = 0;
    while done < data.len() {
        done += write(&fd, &data[done..])?;
    }
    add_seals(&fd, libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE)?;
    Ok(fd)
}

/// An anonymous in-memory file (close-on-exec).
pub fn memfd(name: &CStr) -> io::Result<OwnedFd> {
    Ok(nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?)
}

/// A memfd that can be sealed and executed (MFD_EXEC where the kernel
/// knows it: vm.memfd_noexec may otherwise make it non-executable).
pub fn memfd_sealable_exec(name: &CStr) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    match memfd_create(name, base | MFdFlags::from_bits_retain(libc::MFD_EXEC)) {
        // A kernel before 6.3: no MFD_EXEC.
        Err(Errno::EINVAL) => Ok(memfd_create(name, base)?),
        r => Ok(r?),
    }
}

/// Copy all of `from` (from its start) to `to` in the kernel.
pub fn copy_all(from: &OwnedFd, to: &OwnedFd, len: u64) -> io::Result<()> {
    let mut done = 0u64;
    while done < len {
        let chunk = (len - done).min(1 << 30) as usize;
        let n = retry(|| nix::sys::sendfile::sendfile(to, from, None, chunk))?;
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        done += n as u64;
    }
    Ok(())
}

pub fn add_seals(fd: &OwnedFd, seals: i32) -> io::Result<()> {
    nix::fcntl::fcntl(fd, FcntlArg::F_ADD_SEALS(SealFlag::from_bits_retain(seals)))?;
    Ok(())
}

pub fn get_seals(fd: &OwnedFd) -> io::Result<i32> {
    Ok(nix::fcntl::fcntl(fd, FcntlArg::F_GET_SEALS)?)
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
    close_range(from, u32::MAX)
}

// ---- what nix lacks --------------------------------------------------------------

/// Turn a C-style return value into an `io::Result`.
fn cvt<T: Copy + PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// An fd number the engine was handed (stdio, an inherited fd, one an
/// `OwnedFd` of the caller's holds) as nix's borrowed fd, for one call.
/// A negative number is EBADF, as the kernel would answer.
fn borrow<'a>(fd: RawFd) -> io::Result<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the borrow lives for one call, during which the caller keeps
    // the fd open (or the call fails with EBADF, as with the raw number).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// An fd the kernel has just given us.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: a new fd returned by the kernel to this process, owned by
    // nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

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
/// child. The caller must be single-threaded. (nix has no clone3.)
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
        pid => Ok(Forked::Parent { pid: pid as i32, pidfd: owned(pidfd) }),
    }
}

/// Where clone3 is missing (ENOSYS: kernels before 5.3, or a nested
/// runtime's seccomp profile, as Docker's default one answers): the
/// legacy clone, like fork, with a pidfd (CLONE_PIDFD, 5.2). It cannot
/// clone into a cgroup: the caller moves the child. (nix's `clone` wants
/// a stack and a callback.)
pub fn clone_legacy(flags: u64) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let flags = flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
    // SAFETY: no stack (the child continues on a copy of ours, like
    // fork(2)); with CLONE_PIDFD the kernel writes the pidfd through the
    // parent_tid pointer, which points at an int we own.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, &mut pidfd as *mut libc::c_int, 0usize, 0usize) };
    match cvt(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { pid: pid as i32, pidfd: owned(pidfd) }),
    }
}

/// Leave the process at once, without running destructors or atexit
/// handlers inherited from the parent (nix has no `_exit`).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Plain fork for helpers (no pidfd needed).
pub fn fork() -> io::Result<i32> {
    // SAFETY: the callers are single-threaded, or call only
    // async-signal-safe code in the child before exec or _exit.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(0),
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw()),
    }
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall, no pointers.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    Ok(owned(fd as RawFd))
}

pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: no siginfo pointer is passed.
    cvt(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, ptr::null::<u8>(), 0) })?;
    Ok(())
}

/// Unblock every signal and put every handler back to its default, so the
/// workload starts with a clean signal state. nix's `Signal` has no
/// real-time signals, so the dispositions are set by number up to SIGRTMAX.
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

/// setresuid of this thread alone: the raw syscall, not libc's, which
/// signals every thread of the process to change theirs too (nix calls
/// libc's).
pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

/// As [`setresuid`], for the gid.
pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    Ok(())
}

/// As [`setresuid`], for the supplementary groups.
pub fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid slice.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) })?;
    Ok(())
}

/// prctl(2) with integer arguments, for the options nix has no function
/// for (the bounding and ambient capability sets, dumpable, keepcaps and
/// no_new_privs by the same path).
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

/// capset(2), version 3 (nix has none).
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

/// setdomainname(2) (nix has only sethostname).
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe the string's bytes.
    cvt(unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) })?;
    Ok(())
}

/// prlimit(2) on this process by resource number (nix's `Resource` enum
/// has no conversion from the number the spec's name maps to).
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

/// sched_setattr(2) (nix has none).
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: a valid sched_attr of the size it states; pid 0 is ourselves.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })?;
    Ok(())
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, value) (nix has none).
pub fn ioprio_set(value: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) })?;
    Ok(())
}

/// set_mempolicy(mode, nodemask, maxnode): `nodes` is a word mask (nix has none).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() { (ptr::null(), 0) } else { (nodes.as_ptr(), nodes.len() * 64 + 1) };
    // SAFETY: `ptr` covers `maxnode - 1` bits of `nodes` (or is null with 0).
    cvt(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })?;
    Ok(())
}

/// sched_setaffinity(self, mask): `cpus` is a word mask of any length
/// (nix's `CpuSet` stops at 1024 CPUs).
pub fn sched_setaffinity(cpus: &[u64]) -> io::Result<()> {
    // SAFETY: the length passed is the mask's size in bytes.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, cpus.len() * 8, cpus.as_ptr()) })?;
    Ok(())
}

/// Close fds `first..=last` (close_range, 5.9; one by one from
/// /proc/self/fd where it is missing). nix has no close_range.
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

pub fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on fd numbers; whatever was at `new` is closed
    // by it, which the callers intend (stdio being replaced).
    retry(|| Errno::result(unsafe { libc::dup2(old, new) }))?;
    Ok(())
}

/// Duplicate `old` onto `new` (closing what was there), which this process
/// then owns; not close-on-exec.
pub fn dup2_owned(old: &impl AsRawFd, new: RawFd) -> io::Result<OwnedFd> {
    dup2(old.as_raw_fd(), new)?;
    Ok(owned(new))
}

/// Open a new pty pair from `ptmx` (the container's own devpts, not the
/// `/dev/ptmx` nix's `posix_openpt` opens); returns (master, slave path).
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
    Ok(owned(fd))
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

pub fn get_winsize(fd: RawFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Join a new session keyring named `name` (so containers do not share the
/// caller's keys). Returns the keyring's serial. (nix has no keyctl.)
pub fn join_session_keyring(name: &CStr) -> io::Result<i64> {
    const KEYCTL_JOIN_SESSION_KEYRING: i64 = 1;
    // SAFETY: keyctl with a valid C string argument.
    cvt(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
}

/// A new eventfd (non-blocking). nix's `EventFd` does not give up its fd.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes integer arguments only.
    Ok(owned(cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?))
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

/// bpf(2) (nix has none).
fn bpf(cmd: libc::c_long, attr: &mut BpfAttr) -> io::Result<i32> {
    // SAFETY: attr is a zero-initialised bpf_attr large enough for cmd,
    // and every pointer in it points to memory alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut BpfAttr, size_of::<BpfAttr>() as u32) };
    cvt(r).map(|r| r as i32)
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

/// Install a classic BPF program as this thread's seccomp filter. With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER in `flags` the kernel returns the
/// notification fd. (nix has no seccomp.)
pub fn seccomp_set_filter(flags: u64, prog: &[libc::sock_filter]) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let fprog = libc::sock_fprog { len, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `prog`, which outlives the call; the kernel
    // copies the program.
    let r = cvt(unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &fprog as *const libc::sock_fprog)
    } as i32)?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 { Ok(Some(owned(r))) } else { Ok(None) }
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached bind mount of `path`
/// (in no mount namespace, gone with its last reference), as an O_PATH fd.
/// (nix has no open_tree.)
pub fn open_tree_clone(path: &CStr) -> io::Result<OwnedFd> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: valid C string; the fd returned is new and ours.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    Ok(owned(fd as RawFd))
}

/// mount_setattr(2) on the mount `fd` refers to: set the `set` attributes.
pub fn mount_setattr_fd(fd: &OwnedFd, set: u64) -> io::Result<()> {
    mount_setattr(fd, set, 0, false)
}

/// mount_setattr(2) on the mount `fd` refers to (and with `recursive`
/// every mount under it): set `set`, clear `clear`. (nix has none.)
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

    /// The most fds one message may carry, where one is expected: all
    /// arrive, the message is refused, and every one is closed.
    #[test]
    fn a_message_full_of_fds_is_refused_and_closed() {
        let (a, b) = socketpair().unwrap();
        let (r, w) = std::io::pipe().unwrap();
        let copies: Vec<OwnedFd> = (0..253).map(|_| dup_cloexec(w.as_raw_fd()).unwrap()).collect();
        let raw: Vec<RawFd> = copies.iter().map(|f| f.as_raw_fd()).collect();
        send_fds(&a, &raw, b"many").unwrap();
        drop((w, copies));
        let mut buf = [0u8; 16];
        let e = recv_with_fd(&b, &mut buf).unwrap_err();
        assert!(e.to_string().contains("253 fds"), "{e}");
        let r = OwnedFd::from(r);
        assert_eq!(read(&r, &mut buf).unwrap(), 0, "a received fd was left open");
    }

    #[test]
    fn wait_statuses_keep_wait_s_encoding() {
        for (code, want) in [(0, 0), (3, 3), (255, 255)] {
            let pid = fork().unwrap();
            if pid == 0 {
                exit_now(code);
            }
            let (got, status) = waitpid(pid, 0).unwrap();
            assert_eq!((got, exit_code_of(status)), (pid, want));
        }
        let pid = fork().unwrap();
        if pid == 0 {
            std::thread::sleep(std::time::Duration::from_secs(30));
            exit_now(0);
        }
        assert_eq!(waitpid(pid, libc::WNOHANG).unwrap(), (0, 0));
        kill(pid, libc::SIGKILL).unwrap();
        let (_, status) = waitpid(pid, 0).unwrap();
        assert_eq!(exit_code_of(status), 128 + libc::SIGKILL);
    }
}
