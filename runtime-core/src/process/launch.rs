//! The runtime's side of starting an init: clone it straight into its
//! namespaces (no re-exec), write its id maps, and wait until it reports
//! ready or fails. Any failure kills the half-made init.

use std::os::fd::OwnedFd;

use oci_spec::runtime as oci;

use crate::cgroups::Cgroup;
use crate::config::{Config, NsKind};
use crate::error::{Error, Result};
use crate::executor::Workload;
use crate::hooks::Kind;
use crate::namespaces;
use crate::process::channel::{self, Msg};
use crate::process::init;
use crate::procfs;
use crate::rootfs::kernel::{HOST, Kernel};
use crate::seccomp;
use crate::sys::{self, Forked};

pub struct LaunchArgs<'a> {
    pub config: &'a Config,
    pub workload: Box<dyn Workload>,
    /// What the init's 0, 1 and 2 become (else the caller's are inherited).
    pub stdio: Option<crate::process::Stdio>,
    pub start_fifo: Option<OwnedFd>,
    /// With startContainer hooks: where the init tells `start` how they went.
    pub start_reply: Option<OwnedFd>,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    /// Name of the session keyring to join, unless --no-new-keyring.
    pub keyring: Option<String>,
    /// The cgroup the init joins before it goes on: made and written
    /// already, or (systemd's) placed by `Cgroup::place` once cloned.
    pub cgroup: Option<&'a Cgroup>,
    /// The compiled seccomp filter the init loads.
    pub filter: Option<&'a seccomp::Filter>,
    /// The container's OCI state (status creating, pid unset), for hooks
    /// and a seccomp listener: the runtime's side and the init (its copy
    /// through the clone) each complete it as their hooks see it.
    pub state: oci::State,
    /// Where a running prestart/createRuntime hook's process group is
    /// recorded (see [`crate::hooks::Group`]).
    pub hook_group: &'a std::path::Path,
}

/// A live init, blocked before its workload.
pub struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub start_time: u64,
}

/// clone3 into `cgroup` (a cgroup2 directory), or where the kernel or a
/// seccomp profile answers ENOSYS, the legacy clone: then the child is
/// still to be moved into the cgroup (true), before it is told to go on.
pub(crate) fn clone_child(flags: u64, cgroup: Option<&OwnedFd>) -> std::io::Result<(Forked, bool)> {
    match sys::clone3(flags, cgroup) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok((sys::clone_legacy(flags)?, cgroup.is_some())),
        r => r.map(|f| (f, false)),
    }
}

/// Clone the init into its pid and time namespaces. With a user
/// namespace joined by path the launcher joins it first, so that a new
/// pid or time namespace is owned by it, not by the host's.
fn clone_init(config: &Config, flags: u64, into: Option<&OwnedFd>) -> Result<(Forked, bool)> {
    let what = "the container init";
    if let Some(user) = config.namespace(NsKind::User).and_then(|n| n.path.as_deref())
        && (config.creates(NsKind::Pid) || config.creates(NsKind::Time))
    {
        let user_ns = sys::open(user, libc::O_RDONLY).map_err(|e| Error::path("open namespace", user, e))?;
        let enter = || {
            HOST.setns(&user_ns, libc::CLONE_NEWUSER).map_err(|e| Error::path("join user namespace", user, e))?;
            namespaces::ForChildren::enter(config)?.forget();
            Ok(())
        };
        return through_launcher(enter, flags, into, what);
    }
    let enter = |g: &mut namespaces::ForChildren| {
        *g = namespaces::ForChildren::enter(config)?;
        Ok(())
    };
    clone_into(enter, flags, into, what)
}

/// Clone a container process (`what`) after `enter` set this process's
/// pid and time namespaces for children, put back right after the clone
/// (the caller's process is as it was). From a multi-threaded caller the
/// clone happens in the launcher: clone3 from a threaded process cannot
/// make a user namespace, and its child would inherit allocator locks
/// other threads hold (glibc's fork, which the launcher comes from,
/// resets them).
pub(crate) fn clone_into(
    enter: impl FnOnce(&mut namespaces::ForChildren) -> Result<()>,
    flags: u64,
    into: Option<&OwnedFd>,
    what: &str,
) -> Result<(Forked, bool)> {
    if procfs::threads_of_self() > 1 {
        let enter = || {
            let mut g = namespaces::ForChildren::none();
            enter(&mut g)?;
            g.forget();
            Ok(())
        };
        return through_launcher(enter, flags, into, what);
    }
    let mut for_children = namespaces::ForChildren::none();
    enter(&mut for_children)?;
    match clone_child(flags, into).map_err(|e| Error::sys(format!("clone {what} (flags {flags:#x})"), e))? {
        (Forked::Child, moved) => {
            crate::log::enter_container_process();
            for_children.forget();
            Ok((Forked::Child, moved))
        }
        (Forked::Parent { pid, pidfd }, moved) => match for_children.restore() {
            Ok(()) => Ok((Forked::Parent { pid, pidfd }, moved)),
            Err(e) => {
                let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
                let _ = sys::waitpid(pid, 0);
                Err(e)
            }
        },
    }
}

/// The launcher: a short-lived fork, single-threaded, that runs `enter`
/// (namespaces for its children: nothing of the caller's changes), clones
/// the container process as its sibling (CLONE_PARENT: the caller's
/// child, reaped by it) and reports its pid. Returns in the container
/// process as the child.
pub(crate) fn through_launcher(
    enter: impl FnOnce() -> Result<()>,
    flags: u64,
    into: Option<&OwnedFd>,
    what: &str,
) -> Result<(Forked, bool)> {
    let (report_rx, report_tx) = sys::socketpair().map_err(|e| Error::sys("socketpair", e))?;
    let launcher = sys::fork().map_err(|e| Error::sys("fork the launcher", e))?;
    if launcher == 0 {
        crate::log::enter_container_process();
        drop(report_rx);
        let cloned = (|| -> Result<(Forked, bool)> {
            enter()?;
            let flags = flags | libc::CLONE_PARENT as u64;
            clone_child(flags, into).map_err(|e| Error::sys(format!("clone {what} (flags {flags:#x})"), e))
        })();
        match cloned {
            Ok((Forked::Child, moved)) => {
                drop(report_tx);
                return Ok((Forked::Child, moved));
            }
            Ok((Forked::Parent { pid, .. }, moved)) => {
                let _ = channel::send(&report_tx, &Msg::Launched { pid, moved });
                sys::exit_now(0)
            }
            Err(e) => {
                let _ = channel::send(&report_tx, &Msg::failure(e));
                sys::exit_now(1)
            }
        }
    }
    drop(report_tx);
    let report = channel::recv(&report_rx);
    let _ = sys::waitpid(launcher, 0);
    match report? {
        Some(Msg::Launched { pid, moved }) => {
            let pidfd = sys::pidfd_open(pid).map_err(|e| Error::sys(format!("pidfd_open {what} {pid}"), e))?;
            Ok((Forked::Parent { pid, pidfd }, moved))
        }
        Some(Msg::Failed { status, why }) => Err(Error::Init { why, status }),
        _ => Err(Error::init(format!("the launcher exited without cloning {what}"))),
    }
}

/// Clone the init (from a multi-threaded caller through the launcher, see
/// [`clone_into`]), hand it its id maps and hooks, and wait until it is
/// ready or failed.
pub fn launch(args: LaunchArgs) -> Result<Launched> {
    let config = args.config;
    crate::exe_seal::require()?;
    let (parent_sock, child_sock) = sys::socketpair().map_err(|e| Error::sys("socketpair", e))?;
    let flags = namespaces::clone_flags(config);
    // Straight into the cgroup2 directory where there is one: no migration
    // afterwards there (and no RCU grace period to wait for).
    let made = args.cgroup.filter(|cg| !cg.by_systemd());
    let into = made.map(Cgroup::clone_target).transpose()?.flatten();
    // The other (v1) hierarchies: the init moves itself, the cheap way.
    let cgroup_joins = made.map(Cgroup::self_join_files).transpose()?.unwrap_or_default();
    // Known here, not in the child: there geteuid() says 0 as soon as we
    // have written its uid map (a race the child would lose).
    let maps_by_user = config.creates(NsKind::User) && sys::geteuid() != 0;
    let (forked, move_later) = clone_init(config, flags, into.as_ref())?;
    match forked {
        Forked::Child => {
            drop(parent_sock);
            init::run(args, child_sock, cgroup_joins, maps_by_user)
        }
        Forked::Parent { pid, pidfd } => {
            let moved = match (move_later, made) {
                (true, Some(cg)) => cg.join_unified(pid),
                _ => Ok(()),
            };
            if let Err(e) = moved {
                let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
                let _ = sys::waitpid(pid, 0);
                return Err(e);
            }
            drop(child_sock);
            drop(args.start_fifo);
            drop(args.start_reply);
            drop(args.console_socket);
            let mut state = args.state;
            state.set_pid(Some(pid));
            drop(cgroup_joins);
            let systemd = args.cgroup.filter(|cg| cg.by_systemd());
            match wait_ready(pid, config, systemd, &parent_sock, &state, args.hook_group) {
                Ok(()) => {
                    let start_time = procfs::start_time(pid)
                        .ok_or_else(|| Error::init(format!("init (pid {pid}) exited right after reporting ready")))?;
                    Ok(Launched { pid, pidfd, start_time })
                }
                Err(e) => {
                    let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
                    let _ = sys::waitpid(pid, 0);
                    Err(e)
                }
            }
        }
    }
}

fn wait_ready(
    pid: i32,
    config: &Config,
    systemd: Option<&Cgroup>,
    sock: &OwnedFd,
    state: &oci::State,
    hook_group: &std::path::Path,
) -> Result<()> {
    if let Some(cg) = systemd {
        cg.place(pid, config)?;
    }
    // Written from here: the init is not dumpable, so in a user namespace it
    // could not write its own /proc files. It survives execve.
    if let Some(adj) = config.process.oom_score_adj {
        procfs::Proc::open()?.write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes())?;
    }
    if config.creates(NsKind::User)
        && let Err(e) = namespaces::write_id_maps(pid, config)
    {
        // An init that failed first says why: its /proc files turned
        // root's as it exited, which is all the map's write saw.
        return Err(channel::pending_failure(sock).unwrap_or(e));
    }
    let seccomp = |fd| seccomp::hand_over(config.seccomp.as_ref(), fd, pid, state);
    let hook_point = || {
        // The create operation has built the environment: the hooks see
        // the container as created (runtime-spec).
        let mut state = state.clone();
        state.set_status(oci::ContainerState::Created);
        let group = Some(hook_group);
        config.hooks.run_recorded(Kind::Prestart, &state, group)?;
        config.hooks.run_recorded(Kind::CreateRuntime, &state, group)?;
        channel::send(sock, &Msg::HooksRan)
    };
    channel::proceed_until_ready(sock, pid, "init", seccomp, hook_point)
}
