//! The syscalls `nix` does not wrap, or wraps in a way the engine cannot
//! use; each function says which. Every `unsafe` block of the engine is
//! here or in `borrow`/`owned` below, each with its `SAFETY:` line.

use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::ptr;

use nix::errno::Errno;

use super::{open, retry, set_sigmask};

/// Turn a C-style return value into an `io::Result`.
pub(super) fn cvt<T: Copy + PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// An fd number the engine was handed (stdio, an inherited fd, one an
/// `OwnedFd` of the caller's holds) as nix's borrowed fd, for one call.
/// A negative number is EBADF, as the kernel would answer.
pub(super) fn borrow<'a>(fd: RawFd) -> io::Result<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the borrow lives for one call, during which the caller keeps
    // the fd open (or the call fails with EBADF, as with the raw number).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// An fd the kernel has just given us.
pub(super) fn owned(fd: RawFd) -> OwnedFd {
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
/// for (PR_CAPBSET_DROP: the bounding set).
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
