//! The process model: which process runs what, and how they talk.
//!
//! ```text
//!  caller (tandem CLI, or a library user): the runtime's side
//!   │  exe_seal::reexec first (CVE-2019-5736): runs from a sealed image
//!   │  launch::launch ── pid/time namespaces for children set, clone3,
//!   │                    put back (ForChildren): the caller is unchanged
//!   │     └─ from a multi-threaded caller, or with a user namespace
//!   │        joined by path: a forked launcher (single-threaded, gone
//!   │        right after) joins them and clones the init as the caller's
//!   │        child (CLONE_PARENT)
//!   ▼
//!  init (pid 1 of the container; init.rs)      channel.rs messages:
//!     joins its cgroup, waits            ◄──── Proceed (id maps written)
//!     namespaces, rootfs, mounts         ────► HookPoint
//!     (prestart/createRuntime in caller) ◄──── HooksRan
//!     pivot_root, console, sysctl, caps  ────► SeccompFd (with a listener)
//!     set up                             ────► Ready, or Failed{status}
//!     blocks on the exec fifo until `start`, then execs the workload
//!     (startContainer hooks first; the start reply says how it went)
//!
//!  exec'd process (exec.rs): cloned by Container::exec the same way,
//!     joins the init's namespaces    ◄──── Proceed
//!     set up                         ────► Ready, or Failed{status}
//!                                    ◄──── CgroupJoined
//!     becomes the workload
//! ```
//!
//! The caller reaps the init when it is its parent (a CLI caller exits
//! and leaves the init to its own parent; a long-lived caller that is a
//! subreaper gets the init's exit status). Errors come back with their
//! kind's exit status (`Msg::Failed`), so `Error::exit_code` holds across
//! the process boundary. The init starts from a copy of the
//! `LaunchArgs` the runtime launched it with (the clone copied them): no
//! argument crosses the channel but the messages above, and the hooks'
//! state is one typed `oci_spec` `State` that each side completes (the
//! runtime with the init's pid as it sees it, the init with its own).
//!
//! A multi-threaded caller never clones a container process itself:
//! clone3 from it cannot make a user namespace, setns into a time
//! namespace refuses it, and the child would inherit locks other threads
//! hold. The launcher comes from glibc's fork, which takes and resets the
//! allocator's locks (jemalloc and mimalloc do the same from their atfork
//! handlers), and is single-threaded. From the fork on, a container
//! process takes no other lock of the caller's: it writes its few lines
//! to stderr with one `write(2)` (not through std's stderr lock;
//! [`crate::log`] stops using the caller's sink), initialises no
//! `OnceLock`, and binds no symbol lazily (tandem's binaries are static;
//! Rust links others with `-z now`). The one lock left is std's
//! environment lock, read when the init spawns a createContainer or
//! startContainer hook: only a caller thread inside `set_var` at the fork
//! holds it for writing, and `set_var` in a threaded process is unsound
//! anyway (`unsafe` since Rust 2024). That is the equivalent the
//! launcher's fresh image would buy, without its execve on every create;
//! `tests/threaded.rs` holds std's stderr lock from another thread while
//! workloads fail at their execve.

pub mod attrs;

pub(crate) mod channel;
pub(crate) mod exec;
pub(crate) mod init;
pub(crate) mod launch;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A container process's stdin, stdout and stderr, given by the caller
/// (the shim's fifos and pipes) rather than inherited from its own 0-2,
/// which a long-lived caller serving many containers cannot hand out.
pub struct Stdio([OwnedFd; 3]);

impl Stdio {
    /// Close-on-exec copies numbered 3 and above: placing them at 0-2 in
    /// the child then never overwrites one still to be placed.
    pub(crate) fn dup(fds: [RawFd; 3]) -> crate::Result<Stdio> {
        let dup = |fd: RawFd| {
            crate::sys::dup_cloexec_from(fd, 3)
                .map_err(|e| crate::Error::sys(format!("duplicate stdio fd {fd} for the container process"), e))
        };
        Ok(Stdio([dup(fds[0])?, dup(fds[1])?, dup(fds[2])?]))
    }

    /// In the container process: make them its 0, 1 and 2 (the copies
    /// are closed with the other inherited fds).
    pub(crate) fn place(&self) -> std::io::Result<()> {
        for (target, fd) in self.0.iter().enumerate() {
            crate::sys::dup2(fd.as_raw_fd(), target as RawFd)?;
        }
        Ok(())
    }
}
