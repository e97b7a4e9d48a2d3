//! `restore`: a container made again from a checkpoint's CRIU images, as
//! runc does it. The state dir and the cgroup are made as `create` makes
//! them; CRIU recreates the processes and their namespaces under the
//! bundle's rootfs (bound at a mount point of the state dir's, which CRIU
//! needs), remapping the checkpointed cgroup onto this container's and
//! the bind mounts onto their sources; the restored init is the caller's
//! child (CRIU's `rst_sibling`). On failure nothing it made is left.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::cgroups::Cgroup;
use crate::config::Config;
use crate::container::Container;
use crate::container::checkpoint::{CHECKPOINT_RECORD, CheckpointRecord, cgroup_mode, empty_ns_flags, open_dir};
use crate::criu::{self, Criu, Opts, ReqType};
use crate::error::{Error, Result};
use crate::rootfs::kernel::{HOST, Kernel};
use crate::runtime::Runtime;
use crate::state::{self, State, StateDir, Status};
use crate::{procfs, sys};

const RESTORE_LOG: &str = "restore.log";
/// In the state dir: the rootfs bound where CRIU wants it (a mount point).
const CRIU_ROOT: &str = "criu-root";

/// runc's `restore` flags (beyond the bundle).
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub criu: Option<PathBuf>,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Where the restored terminal's new pty master goes (as at create).
    pub console_socket: Option<PathBuf>,
    /// The same, as a connected socket the caller holds (the shim's).
    pub console_socket_fd: Option<std::os::fd::RawFd>,
    /// The restored stdio (fds of this process), instead of its own 0-2:
    /// a long-lived caller serving many containers gives each its own.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<String>,
    /// Namespaces (`network`) made empty for the caller to set up.
    pub empty_ns: Vec<String>,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    pub systemd_cgroup: bool,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

impl Runtime {
    /// Restore container `id` of `bundle` from `opts.image_path`: running
    /// when it returns, its init this process's child.
    pub fn restore(&self, id: &str, bundle: &Path, opts: &RestoreOptions) -> Result<Container> {
        state::validate_id(id)?;
        crate::rootless::refuse_checkpoint(format!("restore '{id}'"))?;
        let (config, config_text) = Config::load_with_source(bundle, None)?;
        let record_path = opts.image_path.join(CHECKPOINT_RECORD);
        let record: CheckpointRecord = std::fs::read(&record_path)
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .ok_or_else(|| Error::Criu {
            what: format!("restore '{id}'"),
            why: format!("{} holds no finished tandem checkpoint (no {CHECKPOINT_RECORD})", opts.image_path.display()),
        })?;
        let dir = StateDir::create(&self.root, id)?;
        let mut state = State::creating(&config, id, "restored");
        let criu_root = dir.path.join(CRIU_ROOT);
        let made = (|| {
            state::write_atomic(&dir.path.join(state::CONFIG_FILE), &config_text)?;
            let mut cg = Cgroup::plan(&config, id, opts.systemd_cgroup, self.rootless)?;
            cg.claim()?;
            state::write_atomic(&dir.path.join(state::CGROUP_FILE), &serde_json::to_vec(&cg).expect("plain data"))?;
            state.cgroup = Some(cg);
            let cg = state.cgroup.as_ref().expect("just set");
            cg.create()?;
            cg.apply(&config.resources, &config.devices, true)?;
            bind_root(&config.rootfs, &criu_root)?;
            make_mount_points(&config, &criu_root)?;
            let pid = restore_processes(&config, cg, &record, &criu_root, opts, id)?;
            let _ = unbind_root(&criu_root);
            let pidfd = sys::pidfd_open(pid).map_err(|e| Error::sys(format!("pidfd_open restored init {pid}"), e))?;
            state.pid = pid;
            state.init_start_time = procfs::start_time(pid).unwrap_or(0);
            state.status = Status::Running;
            dir.save(&state)?;
            if let Some(p) = &opts.pid_file {
                state::write_pid_file(p, pid)?;
            }
            Ok(pidfd)
        })();
        match made {
            Ok(pidfd) => Ok(Container::new(self.root.clone(), self.cache.clone(), state, Some(pidfd))),
            Err(e) => {
                let _ = unbind_root(&criu_root);
                if let Some(cg) = &state.cgroup {
                    let _ = cg.signal_all(libc::SIGKILL);
                    let _ = cg.destroy();
                }
                let _ = dir.remove();
                Err(e)
            }
        }
    }
}

fn bind_root(rootfs: &Path, at: &Path) -> Result<()> {
    std::fs::create_dir_all(at).map_err(|e| Error::path("create", at, e))?;
    HOST.mount(Some(rootfs), at, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| Error::path("bind the rootfs for criu at", at, e))
}

/// CRIU mounts onto the mount points the checkpointed container had, and
/// a fresh rootfs (a new snapshot of the image) lacks the ones `create`
/// made: they are made as `create` makes them, inside the rootfs. Binds
/// are bound meanwhile so that mount points inside them can be made too
/// (as runc does). Not those on one of the container's tmpfs mounts (CRIU
/// brings the tmpfs back whole) nor cgroup ones (they come with /sys or
/// the /sys/fs/cgroup tmpfs).
fn make_mount_points(config: &Config, root: &Path) -> Result<()> {
    let in_root = crate::rootfs::inroot::Root::open(root).map_err(|e| Error::path("open", root, e))?;
    let mounts = &config.mounts;
    let on_tmpfs = |dest: &Path| {
        mounts.iter().any(|t| t.typ == "tmpfs" && t.destination != dest && dest.starts_with(&t.destination))
    };
    let mut bound = Vec::new();
    let made = mounts.iter().filter(|m| !matches!(m.typ.as_str(), "cgroup" | "cgroup2")).try_for_each(|m| {
        if on_tmpfs(&m.destination) {
            return Ok(());
        }
        let what = |e| Error::path("make the restore's mount point", &m.destination, e);
        let target = in_root.ensure(&m.destination, crate::rootfs::mount_point_kind(m).map_err(what)?).map_err(what)?;
        if let (true, Some(src)) = (m.is_bind(), &m.source) {
            HOST.mount(Some(src), &crate::rootfs::inroot::fd_path(&target), None, libc::MS_BIND, None).map_err(what)?;
            bound.push(m.destination.clone());
        }
        Ok(())
    });
    for dest in bound.iter().rev() {
        if let Ok(fd) = in_root.open_path(dest) {
            let _ = HOST.umount(&crate::rootfs::inroot::fd_path(&fd), libc::MNT_DETACH);
        }
    }
    made
}

fn unbind_root(at: &Path) -> Result<()> {
    let _ = HOST.umount(at, libc::MNT_DETACH);
    match std::fs::remove_dir(at) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::path("remove", at, e)),
        _ => Ok(()),
    }
}

/// Have CRIU restore the checkpoint's processes into `cg`: the init's pid.
fn restore_processes(
    config: &Config,
    cg: &Cgroup,
    record: &CheckpointRecord,
    root: &Path,
    opts: &RestoreOptions,
    id: &str,
) -> Result<i32> {
    let criu = Criu::new(opts.criu.as_deref());
    let images = open_dir(&opts.image_path)?;
    let work = opts.work_path.as_deref().map(open_dir).transpose()?;
    let mut o = Opts {
        images_dir_fd: Some(images.as_raw_fd()),
        work_dir_fd: work.as_ref().map(|w| w.as_raw_fd()),
        log_level: Some(4),
        log_file: Some(RESTORE_LOG.into()),
        rst_sibling: true,
        root: Some(root.to_string_lossy().into_owned()),
        evasive_devices: true,
        manage_cgroups: true,
        manage_cgroups_mode: Some(cgroup_mode(opts.manage_cgroups_mode.as_deref())?),
        shell_job: opts.shell_job,
        ext_unix_sk: opts.ext_unix_sk,
        tcp_established: opts.tcp_established,
        file_locks: opts.file_locks,
        orphan_pts_master: true,
        auto_dedup: opts.auto_dedup,
        lazy_pages: opts.lazy_pages,
        lsm_profile: opts.lsm_profile.clone(),
        lsm_mount_context: opts.lsm_mount_context.clone(),
        ..Default::default()
    };
    let empty = empty_ns_flags(&opts.empty_ns)?;
    if empty != 0 {
        o.empty_ns = Some(empty);
    }
    // Bind mounts onto their sources; files masked with /dev/null.
    for m in config.mounts.iter().filter(|m| m.is_bind()) {
        let source = m.source.as_deref().unwrap_or(Path::new(""));
        o.ext_mnt.push((m.destination.to_string_lossy().into_owned(), source.to_string_lossy().into_owned()));
    }
    if !config.masked_paths.is_empty() {
        o.ext_mnt.push(("/dev/null".into(), "/dev/null".into()));
    }
    // The container saw its cgroups bound at the mount points of the host's
    // hierarchies: now this container's.
    let own = cg.path.strip_prefix("/").unwrap_or(&cg.path);
    for point in &record.cgroup_mounts {
        let Some(source) = cg.dirs.values().find(|dir| dir.strip_prefix(point).is_ok_and(|rest| rest == own)) else {
            let why = format!("no cgroup hierarchy here for {}", point.display());
            return Err(Error::Criu { what: format!("restore '{id}'"), why });
        };
        o.ext_mnt.push((point.to_string_lossy().into_owned(), source.to_string_lossy().into_owned()));
    }
    // The checkpointed cgroup, wherever it was, becomes this container's.
    for ctrl in cg.dirs.keys() {
        o.cg_root.push(((!ctrl.is_empty()).then(|| ctrl.clone()), cg.path.to_string_lossy().into_owned()));
    }
    // A pipe or outside file the init had as stdio becomes the stdio
    // restore was given (CRIU's 0-2: `opts.stdio`, else ours).
    for (i, d) in record.descriptors.iter().enumerate() {
        if d.starts_with("pipe:") || d.starts_with("file[") {
            o.inherit_fd.push((d.clone(), i as i32));
        }
    }
    // A network namespace the container joined by path was left out of
    // the images (see checkpoint): CRIU gets it back as extRootNetNS.
    let netns = match config.namespace(crate::config::NsKind::Net).and_then(|n| n.path.as_deref()) {
        Some(path) => Some(sys::open(path, libc::O_RDONLY).map_err(|e| Error::path("open namespace", path, e))?),
        None => None,
    };
    // Files from outside the container's mounts: a sealed image of the
    // same tandem binary, or the checkpoint's copy.
    let files = crate::criu::files::provide(&record.external_files, &opts.image_path)?;
    let inherit: Vec<(&str, i32)> = netns
        .iter()
        .map(|fd| ("extRootNetNS", fd.as_raw_fd()))
        .chain(files.iter().map(|(key, fd)| (key.as_str(), fd.as_raw_fd())))
        .collect();
    // A terminal: CRIU makes a new pty for the restored slave and hands us
    // its master, which goes to the console socket as at create.
    let console = match (config.process.terminal, opts.console_socket_fd, &opts.console_socket) {
        (false, ..) => None,
        (true, Some(fd), _) => {
            Some(sys::dup_cloexec(fd).map_err(|e| Error::Console(format!("dup console socket fd {fd}: {e}")))?)
        }
        (true, None, Some(path)) => Some(crate::console::connect(path)?),
        (true, None, None) => {
            return Err(Error::Console("a container with a terminal is restored with --console-socket".into()));
        }
    };
    o.notify_scripts = console.is_some();
    let mut handed_over = false;
    let hand_over = |script: &str, master: Option<OwnedFd>| -> Result<()> {
        let (Some(socket), "orphan-pts-master") = (&console, script) else { return Ok(()) };
        let master = master.ok_or_else(|| Error::Console("criu sent no pty master".into()))?;
        let name = sys::pty_number(&master).map(|n| format!("/dev/pts/{n}")).unwrap_or_default();
        sys::send_fd(socket, master.as_raw_fd(), name.as_bytes())
            .map_err(|e| Error::Console(format!("send the restored pty master: {e}")))?;
        handed_over = true;
        Ok(())
    };
    let log = opts.work_path.as_deref().unwrap_or(&opts.image_path).join(RESTORE_LOG);
    let what = format!("restore '{id}'");
    let resp = criu
        .call(&what, ReqType::Restore, o, Some(opts.stdio.unwrap_or([0, 1, 2])), &inherit, hand_over)
        .map_err(|e| criu::explained_by_log(e, &log))?;
    if console.is_some() && !handed_over {
        return Err(Error::Console("criu restored the container's terminal without a new pty master".into()));
    }
    match resp.restored_pid {
        Some(pid) if pid > 0 => Ok(pid),
        _ => Err(Error::Criu { what, why: "criu restored no process".into() }),
    }
}
