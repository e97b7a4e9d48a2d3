//! `exec`: run another process in a live container. It joins every
//! namespace of the container's init that differs from ours (the user
//! namespace first), the container's cgroup, and gets the isolation the
//! process spec asks for (identity, capabilities, rlimits, no_new_privs),
//! then the executor chosen by the same rules as for the init runs it.
//!
//! pid and time namespaces take effect for children only, so the runtime
//! joins those before the clone; the others are joined in the child, which
//! is not dumpable until it becomes the workload (it is the tandem binary
//! inside the container until then).

use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;

use crate::config::{NsKind, Process};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::executor::{self, PrepareContext};
use crate::process::channel::{self, Msg};
use crate::rootfs::kernel::{HOST, Kernel};
use crate::state::{self, Status};
use crate::sys::{self, Forked};
use crate::{console, procfs, seccomp};

/// Options of `exec` beyond the process (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the caller keeps its own fd).
    pub console_socket_fd: Option<RawFd>,
    /// The process's stdin, stdout and stderr (the caller keeps its fds);
    /// None: it inherits the caller's own 0, 1 and 2.
    pub stdio: Option<[RawFd; 3]>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Exec into a paused container (the process starts frozen).
    pub ignore_paused: bool,
    /// Existing sub-cgroups to run in instead of the container's cgroup:
    /// `(controller, path)`, the controller None for every hierarchy.
    pub sub_cgroups: Vec<(Option<String>, String)>,
}

/// A process started by `exec` (or the init, see `Container::take_init`).
pub struct ExecProcess {
    pid: i32,
    pidfd: OwnedFd,
}

impl ExecProcess {
    pub(crate) fn new(pid: i32, pidfd: OwnedFd) -> ExecProcess {
        ExecProcess { pid, pidfd }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Signal it (through its pidfd: never a reused pid).
    pub fn signal(&self, sig: i32) -> Result<()> {
        sys::pidfd_send_signal(&self.pidfd, sig).map_err(|e| Error::sys(format!("signal {sig} to {}", self.pid), e))
    }

    /// Wait for it (only in the process that called exec) and return its
    /// exit status as a shell reports it.
    pub fn wait(self) -> Result<i32> {
        let (_, status) = sys::waitpid(self.pid, 0).map_err(|e| Error::sys(format!("wait for {}", self.pid), e))?;
        Ok(sys::exit_code_of(status))
    }
}

/// The namespaces an exec'd process joins, in order: user first (the
/// others are owned by it), then the rest; pid and time are joined by the
/// runtime before the clone.
const JOIN_ORDER: [NsKind; 6] = [NsKind::User, NsKind::Mount, NsKind::Uts, NsKind::Ipc, NsKind::Net, NsKind::Cgroup];

impl Container {
    /// Start `process` inside the container. The runtime must be
    /// single-threaded (it clones, and may join a pid namespace).
    pub fn exec(&self, process: Process, opts: &ExecOptions) -> Result<ExecProcess> {
        crate::preserved_fds::check(opts.preserve_fds)?;
        let status = self.status();
        match status {
            Status::Running | Status::Created => {}
            Status::Paused if opts.ignore_paused => {}
            Status::Paused => return Err(Error::Paused(self.id().to_string())),
            _ => return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() }),
        }
        crate::exe_seal::require()?;
        let init_pid = self.state.pid;
        // The bundle's config with the exec'd process: the executor is
        // chosen and prepared the same way as for the init.
        let mut config = self.config()?;
        config.process = process;
        crate::lsm::check(&config.process)?;
        let executor = executor::select_exec(&config)?;
        let ctx = PrepareContext { id: self.id(), state_dir: &self.dir(), config: &config, cache_dir: &self.cache };
        let workload = executor.prepare(&ctx)?;

        let init_ns = |kind: NsKind| procfs::ns_inode(init_pid, kind.proc_name());
        let own_ns = |kind: NsKind| procfs::ns_inode(sys::getpid(), kind.proc_name());
        let differs = |kind: NsKind| init_ns(kind).is_some() && init_ns(kind) != own_ns(kind);
        // Opened now, while the init is known to be the container's.
        let mut to_join = Vec::new();
        for kind in JOIN_ORDER {
            if differs(kind) {
                let path = PathBuf::from(format!("/proc/{init_pid}/ns/{}", kind.proc_name()));
                let fd = sys::open(&path, libc::O_RDONLY).map_err(|e| Error::path("open namespace", &path, e))?;
                to_join.push((kind, fd));
            }
        }
        // In the runtime's mount namespace (the container has none of its
        // own) the process gets the init's root by chroot instead.
        let root = match differs(NsKind::Mount) || config.namespace(NsKind::Mount).is_some() {
            true => None,
            false => {
                let path = PathBuf::from(format!("/proc/{init_pid}/root"));
                Some(sys::open(&path, libc::O_PATH | libc::O_DIRECTORY).map_err(|e| Error::path("open", &path, e))?)
            }
        };
        if !procfs::is_alive(init_pid, self.state.init_start_time) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: "stopped".into() });
        }
        // pid and time namespaces apply to children: set for the clone.
        let for_children: Vec<(NsKind, PathBuf)> = [NsKind::Pid, NsKind::Time]
            .into_iter()
            .filter(|&kind| differs(kind))
            .map(|kind| (kind, PathBuf::from(format!("/proc/{init_pid}/ns/{}", kind.proc_name()))))
            .collect();
        let console_socket = match (opts.console_socket_fd, &opts.console_socket) {
            (Some(fd), _) => Some(sys::dup_cloexec(fd).map_err(|e| Error::Console(format!("dup fd {fd}: {e}")))?),
            (None, Some(path)) => Some(console::connect(path)?),
            (None, None) => None,
        };
        if config.process.terminal && console_socket.is_none() {
            return Err(Error::Console("a terminal needs --console-socket".into()));
        }
        let sub = match &self.state.cgroup {
            Some(cg) if !opts.sub_cgroups.is_empty() => Some(cg.sub_cgroup(&opts.sub_cgroups)?),
            _ => None,
        };
        let cgroup = sub.as_ref().or(self.state.cgroup.as_ref());
        // Into a frozen cgroup only at the very end: a frozen process could
        // not finish its setup and report back.
        // Otherwise straight into the cgroup2 directory, and the process
        // moves itself into the v1 hierarchies first thing (cheap, as the
        // init does).
        let (into, self_joins) = match (status, cgroup) {
            (Status::Paused, _) | (_, None) => (None, Vec::new()),
            (_, Some(cg)) => (cg.clone_target()?, cg.self_join_files()?),
        };
        let joins_self = into.is_some() || !self_joins.is_empty();
        let stdio = opts.stdio.map(crate::process::Stdio::dup).transpose()?;
        let cache = crate::runtime::seccomp_cache(&self.cache);
        let filter = config.seccomp.as_ref().map(|p| p.filter(&cache)).transpose()?;
        let (parent_sock, child_sock) = sys::socketpair().map_err(|e| Error::sys("socketpair", e))?;
        let what = "the exec'd process";
        let unprivileged = sys::geteuid() != 0;
        // An unprivileged runtime has a say over the container's pid
        // namespace only from inside its user namespace; and a rootless one
        // (also root in someone's user namespace, as under Podman) could
        // not return to its own pid namespace after joining the
        // container's. A throwaway launcher joins them and clones.
        let user_first = to_join.iter().find(|(k, _)| *k == NsKind::User).map(|(_, fd)| fd).filter(|_| unprivileged);
        let in_launcher = user_first.is_some() || (!for_children.is_empty() && crate::rootless::detect());
        let (forked, move_later) = if in_launcher {
            let enter = || {
                if let Some(user_ns) = user_first {
                    HOST.setns(user_ns, libc::CLONE_NEWUSER)
                        .map_err(|e| Error::sys("join the container's user namespace", e))?;
                }
                let mut g = crate::namespaces::ForChildren::none();
                for_children.iter().try_for_each(|(k, p)| g.join(*k, p))?;
                g.forget();
                Ok(())
            };
            crate::process::launch::through_launcher(enter, 0, into.as_ref(), what)?
        } else {
            let enter =
                |g: &mut crate::namespaces::ForChildren| for_children.iter().try_for_each(|(k, p)| g.join(*k, p));
            crate::process::launch::clone_into(enter, 0, into.as_ref(), what)?
        };
        match forked {
            Forked::Child => {
                drop(parent_sock);
                let channels = crate::process::exec::Channels {
                    sync: child_sock,
                    console_socket,
                    stdio,
                    cgroup_joins: self_joins,
                    root,
                };
                crate::process::exec::run(&config, workload, channels, to_join, filter.as_ref(), opts.preserve_fds)
            }
            Forked::Parent { pid, pidfd } => {
                drop(child_sock);
                drop(console_socket);
                drop(stdio);
                drop(self_joins);
                let ready = (|| {
                    if let Some(cg) = cgroup.filter(|_| move_later) {
                        cg.join_unified(pid)?;
                    }
                    let seccomp = |fd| {
                        seccomp::hand_over(config.seccomp.as_ref(), fd, pid, &self.state.hook_state(self.status()))
                    };
                    let no_hook_point = || Err(Error::init("the exec'd process asked for hooks"));
                    channel::proceed_until_ready(&parent_sock, pid, "exec'd process", seccomp, no_hook_point)?;
                    // Set up: into a paused container's cgroup now (frozen
                    // there), then on to the workload.
                    if let Some(cg) = cgroup
                        && !joins_self
                    {
                        cg.join(pid, false)?;
                    }
                    channel::send(&parent_sock, &Msg::CgroupJoined)
                })();
                if let Err(e) = ready {
                    let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
                    let _ = sys::waitpid(pid, 0);
                    return Err(e);
                }
                // As create does: a process whose pid file could not be
                // written is not left running unaccounted for.
                if let Some(p) = &opts.pid_file
                    && let Err(e) = state::write_pid_file(p, pid)
                {
                    let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
                    let _ = sys::waitpid(pid, 0);
                    return Err(e);
                }
                Ok(ExecProcess { pid, pidfd })
            }
        }
    }
}
