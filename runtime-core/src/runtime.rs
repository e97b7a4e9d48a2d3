//! `Runtime`: a state root holding containers (the seeds' Factory).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::cgroups::Cgroup;
use crate::config::Config;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::executor::{self, PrepareContext};
use crate::hooks::Kind;
use crate::process::launch::{self, LaunchArgs};
use crate::state::{self, State, StateDir, Status};
use crate::{console, sys};

pub const DEFAULT_ROOT: &str = "/run/tandem";
/// Caches live apart from the state root: Docker hands one `--root` to
/// every runtime it knows, and runc's `list` would warn about anything in
/// it that is not a container.
pub const DEFAULT_CACHE: &str = "/var/cache/tandem";

/// Options of `create` beyond the bundle (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the caller keeps its own fd).
    pub console_socket_fd: Option<std::os::fd::RawFd>,
    /// The init's stdin, stdout and stderr (the caller keeps its fds);
    /// None: it inherits the caller's own 0, 1 and 2.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    /// Do not give the container a session keyring of its own.
    pub no_new_keyring: bool,
    /// Ask for systemd's cgroup driver (`--systemd-cgroup`).
    pub systemd_cgroup: bool,
}

pub struct Runtime {
    pub(crate) root: PathBuf,
    pub(crate) cache: PathBuf,
    /// Made by an unprivileged user (see [`crate::rootless`]).
    pub(crate) rootless: bool,
}

impl Runtime {
    /// Open (and make, if needed) the state root; caches go to
    /// [`DEFAULT_CACHE`] unless [`Runtime::with_cache`] says otherwise.
    pub fn open(root: impl Into<PathBuf>) -> Result<Runtime> {
        let root = root.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&root)
            .map_err(|e| Error::path("create state root", &root, e))?;
        Ok(Runtime { root, cache: PathBuf::from(DEFAULT_CACHE), rootless: false })
    }

    /// Keep caches (compiled seccomp filters, compiled wasm) in `dir`,
    /// made when first needed.
    pub fn with_cache(self, dir: impl Into<PathBuf>) -> Runtime {
        Runtime { cache: dir.into(), ..self }
    }

    /// Containers are an unprivileged user's: one that may make no cgroup
    /// runs without one when it sets no limits (see [`crate::rootless`]).
    pub fn with_rootless(self, rootless: bool) -> Runtime {
        Runtime { rootless, ..self }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// Create a container from a bundle: on success its init is blocked
    /// before the workload; on any error nothing it made is left behind.
    ///
    /// ```no_run
    /// # use tandem_runtime_core::{Runtime, CreateOptions};
    /// let rt = Runtime::open("/run/tandem")?;
    /// let mut c = rt.create("web", "/bundles/web".as_ref(), &CreateOptions::default())?;
    /// c.start()?;
    /// # Ok::<(), tandem_runtime_core::Error>(())
    /// ```
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Container> {
        crate::preserved_fds::check(opts.preserve_fds)?;
        state::validate_id(id)?;
        let (mut config, config_text) = Config::load_with_source(bundle, None)?;
        crate::lsm::check(&config.process)?;
        for name in config.seccomp.iter().flat_map(|p| &p.unknown) {
            crate::log::debug(&format!("seccomp: syscall {name} is unknown on this architecture: rule skipped"));
        }
        let executor = executor::select(&config)?;
        let additions = executor.additions(&config)?;
        config.add(executor.name(), additions)?;
        let dir = StateDir::create(&self.root, id)?;
        let fifo_path = dir.fifo();
        let reply_path = dir.path.join(state::START_REPLY);
        let mut state = State::creating(&config, id, executor.name());
        let made = (|| {
            let ctx = PrepareContext { id, state_dir: &dir.path, config: &config, cache_dir: &self.cache };
            let workload = executor.prepare(&ctx)?;
            state::write_atomic(&dir.path.join(state::CONFIG_FILE), &config_text)?;
            // Rootless, where this user may make no cgroup: without one.
            let without_cgroup = |e: &Error| -> Result<bool> {
                let without = self.rootless && crate::rootless::without_cgroup(e, &config)?;
                if without {
                    crate::log::debug(&format!("no cgroup for '{id}': {e}"));
                }
                Ok(without)
            };
            let planned = match Cgroup::plan(&config, id, opts.systemd_cgroup, self.rootless) {
                Err(e) if without_cgroup(&e)? => None,
                planned => Some(planned?),
            };
            if let Some(mut cg) = planned {
                cg.claim()?;
                let record = serde_json::to_vec(&cg).expect("plain data");
                state::write_atomic(&dir.path.join(state::CGROUP_FILE), &record)?;
                state.cgroup = Some(cg);
            }
            // Without a mount namespace of its own the init mounts in ours.
            if config.namespace(crate::config::NsKind::Mount).is_none() {
                let record = crate::rootfs::host_mounts::Record::take(&config.rootfs)?;
                let path = dir.path.join(state::HOST_MOUNTS_FILE);
                state::write_atomic(&path, &serde_json::to_vec(&record).expect("plain data"))?;
            }
            // systemd makes its unit once the init exists (Cgroup::place).
            let made = state.cgroup.as_ref().filter(|cg| !cg.by_systemd()).map(Cgroup::create);
            match made {
                None => {}
                Some(Err(e)) if without_cgroup(&e)? => {
                    state.cgroup = None;
                    let record = dir.path.join(state::CGROUP_FILE);
                    fs::remove_file(&record).map_err(|e| Error::path("remove", &record, e))?;
                }
                Some(made) => {
                    made?;
                    let cg = state.cgroup.as_ref().expect("made above");
                    match self.rootless {
                        true => cg.apply_limits(&config.resources)?,
                        false => cg.apply(&config.resources, &config.devices, true)?,
                    }
                }
            }
            sys::mkfifo(&fifo_path, 0o622).map_err(|e| Error::path("mkfifo", &fifo_path, e))?;
            let fifo = sys::open(&fifo_path, libc::O_RDWR).map_err(|e| Error::path("open", &fifo_path, e))?;
            // `start` learns there whether the workload started.
            sys::mkfifo(&reply_path, 0o600).map_err(|e| Error::path("mkfifo", &reply_path, e))?;
            let start_reply =
                Some(sys::open(&reply_path, libc::O_RDWR).map_err(|e| Error::path("open", &reply_path, e))?);
            let console_socket = match (opts.console_socket_fd, &opts.console_socket) {
                (Some(fd), _) => Some(sys::dup_cloexec(fd).map_err(|e| Error::Console(format!("dup fd {fd}: {e}")))?),
                (None, Some(path)) => Some(console::connect(path)?),
                (None, None) => None,
            };
            let filter = config.seccomp.as_ref().map(|p| p.filter(&seccomp_cache(&self.cache))).transpose()?;
            let stdio = opts.stdio.map(crate::process::Stdio::dup).transpose()?;
            let launched = launch::launch(LaunchArgs {
                config: &config,
                workload,
                stdio,
                start_fifo: Some(fifo),
                start_reply,
                console_socket,
                preserve_fds: opts.preserve_fds,
                no_pivot: opts.no_pivot,
                keyring: (!opts.no_new_keyring).then(|| id.to_string()),
                cgroup: state.cgroup.as_ref(),
                filter: filter.as_ref(),
                state: state.hook_state(Status::Creating),
                hook_group: &dir.path.join(state::HOOK_GROUP_FILE),
            })?;
            state.status = Status::Created;
            state.pid = launched.pid;
            state.init_start_time = launched.start_time;
            let persisted = dir.save(&state).and_then(|()| match &opts.pid_file {
                Some(p) => state::write_pid_file(p, launched.pid),
                None => Ok(()),
            });
            if let Err(e) = persisted {
                let _ = sys::pidfd_send_signal(&launched.pidfd, libc::SIGKILL);
                let _ = sys::waitpid(launched.pid, 0);
                return Err(e);
            }
            Ok(launched.pidfd)
        })();
        match made {
            Ok(pidfd) => Ok(Container::new(self.root.clone(), self.cache.clone(), state, Some(pidfd))),
            Err(e) => {
                if let Some(cg) = &state.cgroup {
                    let _ = cg.destroy();
                }
                if let Some(record) = state::read_host_mounts(&dir.path) {
                    let _ = record.undo();
                }
                let _ = dir.remove();
                // A failed hook stops the lifecycle at "delete": poststop runs.
                if matches!(e, Error::Hook(_)) {
                    state.hooks.run_warning(Kind::Poststop, || state.hook_state(Status::Stopped));
                }
                Err(e)
            }
        }
    }

    /// A container by id.
    pub fn load(&self, id: &str) -> Result<Container> {
        state::validate_id(id)?;
        let dir = self.root.join(id);
        // A symlink or a state recorded for another id is not this
        // container: acting on it could signal any pid on the host.
        if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::sys(
                format!("open the state of '{id}'"),
                std::io::Error::other(format!("{} is not a directory tandem made", dir.display())),
            ));
        }
        match state::read_state(&dir)? {
            Some(s) if s.id != id => Err(Error::sys(
                format!("open the state of '{id}'"),
                std::io::Error::other(format!("{} records container '{}'", dir.display(), s.id)),
            )),
            Some(s) => Ok(Container::new(self.root.clone(), self.cache.clone(), s, None)),
            None if dir.exists() => Ok(Container::creating(self.root.clone(), self.cache.clone(), id)),
            None => Err(Error::NotFound(id.to_string())),
        }
    }

    /// Every container under the root, sorted by id (another runtime's
    /// containers in a shared root are not listed).
    pub fn list(&self) -> Result<Vec<Container>> {
        let entries = fs::read_dir(&self.root).map_err(|e| Error::path("read", &self.root, e))?;
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| state::validate_id(id).is_ok() && state::is_container_dir(&self.root.join(id)))
            .collect();
        ids.sort();
        Ok(ids.iter().filter_map(|id| self.load(id).ok()).collect())
    }
}

/// Where compiled seccomp filters are kept in the cache directory.
pub(crate) fn seccomp_cache(cache: &Path) -> PathBuf {
    cache.join("seccomp")
}
