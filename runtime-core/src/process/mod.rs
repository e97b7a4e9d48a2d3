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
//!     (prestart/createRuntime in caller) ◄──── HooksRan(state)
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
//! the process boundary. A multi-threaded caller never clones a container
//! process itself: clone3 from it cannot make a user namespace, setns
//! into a time namespace refuses it, and the child would inherit locks
//! other threads hold; the launcher comes from glibc's fork (which resets
//! the allocator's locks) and is single-threaded. What this leaves: a
//! lock another thread held at the fork outside the allocator (Rust's
//! stderr, the environment) stays held in the container process; it
//! writes to stderr only when its workload cannot start. A fresh image
//! for the launcher would close that too, at the cost of an execve.

pub(crate) mod channel;
pub(crate) mod exec;
pub(crate) mod init;
pub(crate) mod launch;
