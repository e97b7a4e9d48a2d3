//! The container's init: what the cloned child does, top to bottom, until
//! it becomes the workload.
//!
//! Order matters and follows the OCI runtime spec and runc: the cgroup
//! (the init moves itself into the v1 hierarchies; clone3 put it in the
//! cgroup2 one), the runtime's go-ahead (id maps written), namespaces (the
//! cgroup namespace last, so its root is the container's cgroup),
//! mounts and devices, pivot_root, console, sysctl, hostname, read-only and
//! masked paths, rlimits, cwd, locating the program, user and groups,
//! capabilities, no_new_privs, the start barrier, startContainer hooks,
//! closing every fd but stdio and the preserved ones, then the executor,
//! which loads the seccomp filter as its last step before `execve` (see
//! [`seccomp::at_exec`] for when it loads earlier). createContainer hooks
//! run just before pivot_root, after the runtime's prestart and
//! createRuntime hooks. Signal dispositions are
//! the executor's business (the wasm engine keeps its trap handlers).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime as oci;

use crate::capabilities;
use crate::cgroups;
use crate::config::{Config, NsKind, Process};
use crate::console;
use crate::error::{Error, Result};
use crate::executor::Workload;
use crate::hooks;
use crate::namespaces;
use crate::process::channel::{self, Msg};
use crate::process::launch::LaunchArgs;
use crate::procfs;
use crate::rootfs::{self, kernel::HOST};
use crate::seccomp;
use crate::sys;

/// Never returns: the process becomes the workload or exits. `args` is
/// the init's copy of what the runtime launched it with (the clone copied
/// it); `sync` its end of the channel; `cgroup_joins` the v1 hierarchies'
/// `tasks` files it moves itself with; `maps_by_user`: an unprivileged
/// runtime writes its id maps (see below).
pub fn run(args: LaunchArgs, sync: OwnedFd, cgroup_joins: Vec<(PathBuf, OwnedFd)>, maps_by_user: bool) -> ! {
    let LaunchArgs {
        config,
        mut workload,
        stdio,
        start_fifo,
        start_reply,
        console_socket,
        preserve_fds,
        no_pivot,
        keyring,
        cgroup,
        filter,
        state: mut hook_state,
        hook_group: _,
    } = args;
    // Until execve this process is the tandem binary: keep /proc/<pid>/exe
    // and our memory out of reach of anything sharing the container's pid
    // namespace (CVE-2019-5736). execve makes the workload dumpable again.
    // An unprivileged runtime can write the id maps of a dumpable process
    // only (a non-dumpable one's /proc files are root's): then not before
    // they are written, while nothing else is in the container (as runc).
    if !maps_by_user && nix::sys::prctl::set_dumpable(false).is_err() {
        sys::exit_now(1);
    }
    if let Some(stdio) = stdio
        && let Err(e) = stdio.place()
    {
        let _ = channel::send(&sync, &Msg::failure(Error::init(format!("set up stdio: {e}"))));
        sys::exit_now(1);
    }
    // Shed whatever the runtime held (the state lock above all): only stdio,
    // preserved fds and our own channels stay.
    let keep: Vec<i32> = [Some(&sync), start_fifo.as_ref(), start_reply.as_ref(), console_socket.as_ref()]
        .into_iter()
        .flatten()
        .chain(cgroup_joins.iter().map(|(_, fd)| fd))
        .map(|f| f.as_raw_fd())
        .chain(workload.keep_fds())
        .collect();
    if let Err(e) = sys::close_from_except(3 + preserve_fds as i32, &keep) {
        let _ = channel::send(&sync, &Msg::failure(Error::init(format!("close inherited fds: {e}"))));
        sys::exit_now(1);
    }
    // The container's state as the hooks the init runs see it: created,
    // with its pid in the container's pid namespace.
    hook_state.set_status(oci::ContainerState::Created);
    let setup = || -> Result<Option<OwnedFd>> {
        // First, while the runtime writes the id maps: everything from here
        // on is charged to the container's cgroup.
        cgroups::join_self(cgroup_joins)?;
        match channel::recv(&sync)? {
            Some(Msg::Proceed) => {}
            _ => return Err(Error::init("runtime went away before writing the id maps")),
        }
        if maps_by_user {
            nix::sys::prctl::set_dumpable(false).map_err(|e| Error::sys("make the init non-dumpable", e))?;
        }
        let become_root = || -> Result<()> {
            sys::setresgid(0).map_err(|e| Error::sys("become root in the user namespace (gid)", e))?;
            sys::setresuid(0).map_err(|e| Error::sys("become root in the user namespace (uid)", e))
        };
        if config.creates(NsKind::User) {
            become_root()?;
        }
        namespaces::enter_in_init(&HOST, config)?;
        // A joined user namespace: root there, as in one of our own.
        if config.namespace(NsKind::User).is_some_and(|n| n.path.is_some()) {
            become_root()?;
        }
        sys::setsid().map_err(|e| Error::sys("setsid", e))?;
        if let Some(name) = &keyring {
            join_keyring(name)?;
        }
        rootfs::setup(&HOST, config, cgroup)?;
        if config.hooks.need_hook_point() {
            channel::send(&sync, &Msg::HookPoint)?;
            match channel::recv(&sync)? {
                Some(Msg::HooksRan) => {}
                _ => return Err(Error::init("runtime went away while running hooks")),
            }
            hook_state.set_pid(Some(sys::getpid()));
            // In the container's root, as runc runs them (the init leaves
            // this directory at pivot_root anyway).
            std::env::set_current_dir(&config.rootfs).map_err(|e| Error::path("chdir to", &config.rootfs, e))?;
            config.hooks.run(hooks::Kind::CreateContainer, &hook_state)?;
        }
        rootfs::enter(&HOST, config, no_pivot)?;
        rootfs::reopen_dev_null()?;
        if config.process.terminal {
            let sock = console_socket
                .as_ref()
                .ok_or_else(|| Error::Console("process.terminal is set but no --console-socket was given".into()))?;
            console::setup(sock, config.process.console_size, true)?;
        }
        rootfs::apply_sysctl(config)?;
        if let Some(h) = &config.hostname {
            nix::unistd::sethostname(h).map_err(|e| Error::sys(format!("set hostname '{h}'"), e))?;
        }
        if let Some(d) = &config.domainname {
            sys::setdomainname(d).map_err(|e| Error::sys(format!("set domainname '{d}'"), e))?;
        }
        rootfs::finish(&HOST, config, Path::new("/"))?;
        namespaces::enter_cgroup_ns(&HOST, config)?;
        prepare_process(config, workload.as_mut(), preserve_fds, filter, false)
    };
    let outcome = setup();
    drop(console_socket);
    report_setup(&sync, outcome);
    drop(sync);

    if let Some(fifo) = start_fifo {
        let mut b = [0u8; 1];
        match sys::read(&fifo, &mut b) {
            Ok(1) => {}
            _ => sys::exit_now(1),
        }
    }
    if let Err(e) = config.hooks.run(hooks::Kind::StartContainer, &hook_state) {
        // `start` destroys the container on this.
        if let Some(reply) = &start_reply {
            let _ = sys::write(reply, &channel::StartReply::HookFailed(e.to_string()).encode());
        }
        sys::exit_now(1);
    }
    become_workload(workload, &config.process, preserve_fds, filter, start_reply)
}

/// Tell the runtime how setup went: the failure (then exit), or the
/// seccomp notification fd if there is one, then Ready.
pub(crate) fn report_setup(sync: &OwnedFd, outcome: Result<Option<OwnedFd>>) {
    let sent = match outcome {
        Err(e) => {
            let _ = channel::send(sync, &Msg::failure(e));
            sys::exit_now(1)
        }
        Ok(listener_fd) => listener_fd
            .map_or(Ok(()), |fd| channel::send(sync, &Msg::SeccompFd(fd)))
            .and_then(|()| channel::send(sync, &Msg::Ready)),
    };
    if sent.is_err() {
        sys::exit_now(1);
    }
}

/// The process settings an init and an exec'd process both get, in this
/// order: rlimits, scheduler and the other process attributes, cwd,
/// locating the program (before identity changes can
/// hide it), LSM labels, user, groups and capabilities, no_new_privs, the
/// preserved fds, and the seccomp filter where it loads during setup
/// ([`seccomp::at_exec`] says where). Returns the filter's
/// notification fd, if any.
pub(crate) fn prepare_process(
    config: &Config,
    workload: &mut dyn Workload,
    preserve_fds: u32,
    filter: Option<&seccomp::Filter>,
    exec: bool,
) -> Result<Option<OwnedFd>> {
    let p = &config.process;
    for r in &p.rlimits {
        sys::setrlimit(r.resource, r.soft, r.hard)
            .map_err(|e| Error::sys(format!("set rlimit {} to {}/{}", r.resource, r.soft, r.hard), e))?;
    }
    // While the capabilities are all there: a real-time policy needs them.
    crate::process::attrs::apply(config, exec)?;
    std::env::set_current_dir(&p.cwd).map_err(|e| Error::path("process.cwd: chdir to", &p.cwd, e))?;
    // A cwd reached through an fd that points outside the root (a leaked
    // directory fd, /proc/self/fd/N) has no path from the root: the kernel
    // names it "(unreachable)" and getcwd fails (CVE-2024-21626).
    match std::env::current_dir() {
        Ok(dir) if dir.is_absolute() => {}
        _ => {
            return Err(Error::sys(
                format!("process.cwd {}", p.cwd.display()),
                std::io::Error::other("the working directory is outside the container's root"),
            ));
        }
    }
    workload.locate(p)?;
    crate::lsm::set_on_exec(p)?;
    let mut listener_fd = None;
    if let Some(f) = filter
        && !p.no_new_privileges
    {
        listener_fd = f.load()?;
    }
    switch_identity(config)?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(|e| Error::sys("set no_new_privs", e))?;
    }
    crate::preserved_fds::hand_on(preserve_fds)?;
    if let Some(f) = filter
        && p.no_new_privileges
        && seccomp::at_exec(Some(f), true).is_none()
    {
        listener_fd = f.load()?;
    }
    // At create, not at start: nothing after this reads the environment.
    if !workload.execs() {
        show_as(p);
    }
    Ok(listener_fd)
}

/// The last step of an init or an exec'd process: only stdio and the
/// preserved fds reach the workload (closed, not just close-on-exec: an
/// executor that runs in this process never execs), then the executor,
/// which loads the seccomp filter last if it was left for then.
/// The start reply (the init's, not an exec'd process's) stays open,
/// close-on-exec, so `start` sees the workload's execve as the end of
/// file, or this process's failure to start it.
pub(crate) fn become_workload(
    workload: Box<dyn Workload>,
    process: &Process,
    preserve_fds: u32,
    filter: Option<&seccomp::Filter>,
    mut reply: Option<OwnedFd>,
) -> ! {
    if !workload.execs() {
        reply = None;
    }
    let first = 3 + preserve_fds as i32;
    // The numbers the workload may place its own fds at stay free.
    let free = first..first + crate::executor::WORKLOAD_FDS;
    if let Some(r) = reply.take_if(|r| free.contains(&r.as_raw_fd())) {
        reply = sys::dup_cloexec_from(r.as_raw_fd(), free.end).ok();
    }
    let keep: Vec<i32> = reply.iter().map(|r| r.as_raw_fd()).chain(workload.keep_fds()).collect();
    if let Err(e) = sys::close_from_except(first, &keep) {
        crate::log::stderr_line(&format!("tandem: close fds: {e}"));
        sys::exit_now(127);
    }
    let seal = crate::executor::Seal { filter: seccomp::at_exec(filter, process.no_new_privileges), fd_base: first };
    match workload.exec(process, seal) {
        Err(e) => {
            let status = if matches!(e, Error::ProgramNotExecutable { .. }) { 126 } else { 127 };
            if let Some(reply) = &reply {
                let _ = sys::write(reply, &channel::StartReply::NotStarted { status, why: e.to_string() }.encode());
            }
            // stderr is the container's: the workload's failure belongs there.
            crate::log::stderr_line(&format!("tandem: {e}"));
            sys::exit_now(status)
        }
    }
}

/// A workload that runs in this process (no execve) shows as the
/// container's process: `/proc/self/cmdline` its args and `environ` its
/// env (each cut to the room the caller's left), not the caller's command
/// line and environment, which may hold host paths and secrets.
fn show_as(process: &Process) {
    let Some([arg_start, arg_end, env_start, env_end]) = procfs::own_arg_and_env_areas() else { return };
    let joined = |items: &[String]| items.iter().flat_map(|s| s.bytes().chain([0])).collect::<Vec<u8>>();
    sys::overwrite_own_area(arg_start, arg_end, &joined(&process.args));
    sys::overwrite_own_area(env_start, env_end, &joined(&process.env));
}

/// A session keyring of the container's own, as runc makes one. Kernels
/// without keyrings (ENOSYS) or where it is refused (EACCES, e.g. in some
/// user namespaces) go on without one, as runc does.
fn join_keyring(name: &str) -> Result<()> {
    let c = sys::cstring(name).map_err(|e| Error::sys("keyring name", e))?;
    match sys::join_session_keyring(&c) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EDQUOT)) => Ok(()),
        Err(e) => Err(Error::sys(format!("join session keyring '{name}'"), e)),
    }
}

/// Groups, gid, uid, then the capability sets. The bounding set is cut
/// while we are still root; KEEPCAPS carries the permitted set across the
/// uid change.
fn switch_identity(config: &Config) -> Result<()> {
    let p = &config.process;
    let caps = &p.capabilities;
    capabilities::drop_bounding(caps.bounding).map_err(|e| Error::sys("drop bounding capabilities", e))?;
    nix::sys::prctl::set_keepcaps(true).map_err(|e| Error::sys("set keepcaps", e))?;
    let groups_allowed = std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny");
    if groups_allowed {
        sys::setgroups(&p.additional_gids).map_err(|e| Error::sys(format!("setgroups {:?}", p.additional_gids), e))?;
    }
    sys::setresgid(p.gid).map_err(|e| Error::sys(format!("set gid {}", p.gid), e))?;
    sys::setresuid(p.uid).map_err(|e| Error::sys(format!("set uid {}", p.uid), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| Error::sys("clear keepcaps", e))?;
    if let Some(mask) = p.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_retain(mask));
    }
    capabilities::apply(caps).map_err(|e| Error::sys("set capabilities", e))
}
