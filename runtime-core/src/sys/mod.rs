//! The engine's syscalls, with `io::Result` and the OS error; callers add
//! context.
//!
//! Two halves. This module is built on `nix` and has no `unsafe`: the
//! functions there add what the engine needs on top of nix's calls (a retry
//! on EINTR, fd numbers as the engine passes them, one message's fds
//! checked as a whole). `raw` holds what nix does not wrap, or wraps
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
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, FdFlag, OFlag, OpenHow, ResolveFlag, SealFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::socket::{self as sock, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

mod raw;

pub use raw::*;
use raw::{borrow, owned};

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
