//! The helper's few calls to the kernel that std does not make, each a
//! thin wrapper.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The name the kernel gave this execve (`AT_EXECFN`).
pub fn exec_name() -> Option<String> {
    // SAFETY: getauxval has no preconditions; AT_EXECFN, when present, is
    // the address of a NUL-terminated string on this process's stack.
    let p = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const libc::c_char;
    if p.is_null() {
        return None;
    }
    // SAFETY: as above, a valid C string for the process's lifetime.
    Some(unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Take ownership of `fd` if it is open.
pub fn take_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor.
    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
    // SAFETY: fd is open and nothing else in this process owns it: the
    // handoff's layout gives it to the helper.
    open.then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// This thread's name (`comm`), cut to the kernel's 15 bytes.
pub fn set_name(name: &[u8]) {
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
}

/// Unblock every signal and make each of `sigs` end the process with
/// status 128 + its number (as pid 1, it ignores those without a handler).
pub fn exit_on_signals(sigs: &[i32]) {
    // SAFETY: an empty set, then handlers that only call _exit.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for &sig in sigs {
            libc::signal(sig, exit_for_signal as *const () as libc::sighandler_t);
        }
    }
}

extern "C" fn exit_for_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}
