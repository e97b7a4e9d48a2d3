//! The exec'd process: cloned by `Container::exec` (in the runtime's
//! process), it joins the init's namespaces, sets itself up as the init
//! does for its workload, reports over the channel, and becomes the
//! workload.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use crate::config::{Config, NsKind};
use crate::console;
use crate::error::{Error, Result};
use crate::executor::Workload;
use crate::process::channel::{self, Msg};
use crate::process::init;
use crate::rootfs::kernel::{HOST, Kernel};
use crate::seccomp;
use crate::sys;

/// What the exec'd process inherits to talk to the runtime and console,
/// and the v1 `tasks` files it moves itself with.
pub(crate) struct Channels {
    pub(crate) sync: OwnedFd,
    pub(crate) console_socket: Option<OwnedFd>,
    pub(crate) stdio: Option<crate::process::Stdio>,
    pub(crate) cgroup_joins: Vec<(PathBuf, OwnedFd)>,
    /// The init's root, for a container in the runtime's mount namespace.
    pub(crate) root: Option<OwnedFd>,
}

/// The exec'd process: join, set up, report, become the workload.
pub(crate) fn run(
    config: &Config,
    mut workload: Box<dyn Workload>,
    channels: Channels,
    to_join: Vec<(NsKind, OwnedFd)>,
    filter: Option<&seccomp::Filter>,
    preserve_fds: u32,
) -> ! {
    let Channels { sync, console_socket, stdio, cgroup_joins, root } = channels;
    // The tandem binary until execve: keep it out of the container's reach.
    if nix::sys::prctl::set_dumpable(false).is_err() {
        sys::exit_now(1);
    }
    if let Some(stdio) = stdio
        && let Err(e) = stdio.place()
    {
        let _ = channel::send(&sync, &Msg::failure(Error::init(format!("set up stdio: {e}"))));
        sys::exit_now(1);
    }
    let mut keep: Vec<i32> = to_join.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    keep.push(sync.as_raw_fd());
    keep.extend(console_socket.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(cgroup_joins.iter().map(|(_, fd)| fd.as_raw_fd()));
    keep.extend(root.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(workload.keep_fds());
    if let Err(e) = sys::close_from_except(3 + preserve_fds as i32, &keep) {
        let _ = channel::send(&sync, &Msg::failure(Error::init(format!("close inherited fds: {e}"))));
        sys::exit_now(1);
    }
    let setup = || -> Result<Option<OwnedFd>> {
        config.process.attrs.apply_initial_affinity()?;
        crate::cgroups::join_self(cgroup_joins)?;
        match channel::recv(&sync)? {
            Some(Msg::Proceed) => {}
            _ => return Err(Error::init("runtime went away")),
        }
        for (kind, fd) in &to_join {
            // An unprivileged runtime's launcher cloned it there already.
            if *kind == NsKind::User && in_user_namespace(fd) {
                continue;
            }
            HOST.setns(fd, kind.clone_flag())
                .map_err(|e| Error::sys(format!("join the {} namespace", kind.proc_name()), e))?;
        }
        drop(to_join);
        if let Some(root) = root {
            HOST.fchdir(&root).map_err(|e| Error::sys("chdir to the container's root", e))?;
            HOST.chroot(std::path::Path::new(".")).map_err(|e| Error::sys("chroot to the container's root", e))?;
        }
        sys::setsid().map_err(|e| Error::sys("setsid", e))?;
        if config.process.terminal {
            let sock = console_socket.as_ref().expect("checked by the runtime");
            console::setup(sock, config.process.console_size, false)?;
        }
        init::prepare_process(config, workload.as_mut(), preserve_fds, filter, true)
    };
    let outcome = setup();
    drop(console_socket);
    init::report_setup(&sync, outcome);
    if !matches!(channel::recv(&sync), Ok(Some(Msg::CgroupJoined))) {
        sys::exit_now(1);
    }
    drop(sync);
    init::become_workload(workload, &config.process, preserve_fds, filter, None)
}

/// Is this process in the user namespace `fd` refers to?
fn in_user_namespace(fd: &OwnedFd) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (sys::fstat(fd), std::fs::metadata("/proc/self/ns/user")) {
        (Ok(ns), Ok(own)) => (ns.st_dev, ns.st_ino) == (own.dev(), own.ino()),
        _ => false,
    }
}
