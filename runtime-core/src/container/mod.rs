//! `Container`: a handle on one container; its lifecycle verbs live in
//! one file each beside this one (`start`, `exec`, `checkpoint`, ...),
//! each reading top-down: lock, check status, act, persist.

pub mod checkpoint;
mod delete;
pub mod events;
pub mod exec;
mod kill;
mod pause;
pub mod restore;
mod start;
mod update;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::procfs;
use crate::state::{State, StateDir, Status};
use crate::sys;

pub struct Container {
    pub(crate) root: PathBuf,
    /// The runtime's cache directory (compiled seccomp filters, executors'
    /// artifacts).
    pub(crate) cache: PathBuf,
    pub(crate) state: State,
    /// The init's pidfd when this process created it (for `run`).
    pub(crate) pidfd: Option<OwnedFd>,
    /// No state file yet: a create is under way or was killed half-way.
    pub(crate) incomplete: bool,
}

impl Container {
    pub(crate) fn new(root: PathBuf, cache: PathBuf, state: State, pidfd: Option<OwnedFd>) -> Container {
        Container { root, cache, state, pidfd, incomplete: false }
    }

    pub(crate) fn creating(root: PathBuf, cache: PathBuf, id: &str) -> Container {
        let state = State {
            oci_version: String::new(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            bundle: PathBuf::new(),
            annotations: Default::default(),
            rootfs: PathBuf::new(),
            created: (0, 0),
            init_start_time: 0,
            executor: String::new(),
            owner: String::new(),
            cgroup: None,
            hooks: Default::default(),
        };
        let mut c = Container { root, cache, state, pidfd: None, incomplete: true };
        c.state.cgroup = c.planned_cgroup();
        c
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.state.id)
    }

    /// The status now, derived from the live system.
    pub fn status(&self) -> Status {
        if self.incomplete {
            return Status::Creating;
        }
        self.state.live_status(&self.dir())
    }

    /// The recorded state (its `status` field is as written; see `status()`).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The OCI state JSON with the live status.
    pub fn oci_state(&self) -> serde_json::Value {
        self.state.to_oci_json(self.status())
    }

    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// Take the lock and re-read the state: every mutating verb starts here.
    pub(crate) fn lock(&mut self) -> Result<StateDir> {
        let dir = StateDir::open(&self.root, &self.state.id)?;
        match dir.load()? {
            Some(s) => {
                self.state = s;
                self.incomplete = false;
            }
            None => {
                self.incomplete = true;
                self.state.cgroup = self.planned_cgroup();
            }
        }
        Ok(dir)
    }

    /// A pidfd on the init, checked to be the process we started.
    pub(crate) fn init_pidfd(&self) -> Result<Option<OwnedFd>> {
        if self.state.pid <= 0 {
            return Ok(None);
        }
        let fd = match sys::pidfd_open(self.state.pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(Error::sys(format!("pidfd_open {}", self.state.pid), e)),
        };
        // Checked after opening: from here on the fd cannot follow a reused pid.
        if procfs::is_alive(self.state.pid, self.state.init_start_time) { Ok(Some(fd)) } else { Ok(None) }
    }

    /// Wait for the init to exit (only for the process that created it)
    /// and return its exit status as a shell reports it.
    pub fn wait(&mut self) -> Result<i32> {
        let (_, status) =
            sys::waitpid(self.state.pid, 0).map_err(|e| Error::sys(format!("wait for {}", self.state.pid), e))?;
        self.pidfd = None;
        Ok(sys::exit_code_of(status))
    }

    /// The init as a process handle this caller waits for and signals:
    /// only in the process that created the container (its parent; a
    /// long-lived caller such as the shim reaps it from a thread of its
    /// own). Taken once.
    pub fn take_init(&mut self) -> Option<crate::ExecProcess> {
        self.pidfd.take().map(|pidfd| crate::ExecProcess::new(self.state.pid, pidfd))
    }

    /// The container's config as create read it (for a container made by
    /// an older tandem, which kept no copy: the bundle's).
    pub fn config(&self) -> Result<crate::config::Config> {
        let saved = self.dir().join(crate::state::CONFIG_FILE);
        let file = saved.exists().then_some(saved.as_path());
        let (mut config, _) = crate::config::Config::load_with_source(&self.state.bundle, file)?;
        // As create saw it: with the mounts and devices its executor added
        // (an `update` of the device rules keeps those allowed).
        if let Some(executor) = crate::executor::by_name(&self.state.executor) {
            config.add(executor.name(), executor.additions(&config)?)?;
        }
        Ok(config)
    }

    pub(crate) fn fifo(&self) -> PathBuf {
        self.dir().join(crate::state::EXEC_FIFO)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cgroup a create recorded before making it (for a create killed
    /// half-way, which never wrote its state).
    fn planned_cgroup(&self) -> Option<Cgroup> {
        let text = std::fs::read(self.dir().join(crate::state::CGROUP_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The container's cgroup, or an error naming what needs it.
    pub(crate) fn cgroup(&self, what: &str) -> Result<&Cgroup> {
        self.state.cgroup.as_ref().ok_or_else(|| {
            Error::sys(format!("{what} container '{}'", self.id()), std::io::Error::other("it has no cgroup"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Additions, Claim, Executor, PrepareContext, Registration, Workload};

    /// An executor that claims nothing and adds a device to its containers.
    struct AddsADevice;

    impl Executor for AddsADevice {
        fn name(&self) -> &'static str {
            "test-adds-a-device"
        }
        fn can_handle(&self, _: &crate::config::Config) -> Claim {
            Claim::No
        }
        fn prepare(&self, _: &PrepareContext) -> Result<Box<dyn Workload>> {
            Err(Error::init("a test executor prepares nothing"))
        }
        fn additions(&self, _: &crate::config::Config) -> Result<Additions> {
            let fuse = r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#;
            Ok(Additions { mounts: vec![], devices: vec![serde_json::from_str(fuse).unwrap()] })
        }
    }

    inventory::submit!(Registration(&AddsADevice));

    /// `update` of the device rules allows the container's own devices
    /// again: its executor's among them, as at create.
    #[test]
    fn the_config_of_a_container_keeps_its_executors_additions() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        let spec = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
            "linux":{"namespaces":[{"type":"mount"}]}}"#;
        std::fs::write(bundle.join("config.json"), spec).unwrap();
        let created = crate::config::Config::load(&bundle).unwrap();
        let state = State::creating(&created, "c", AddsADevice.name());
        let c = Container::new(dir.path().join("root"), dir.path().join("cache"), state, None);
        let config = c.config().unwrap();
        let fuse = config.devices.iter().find(|d| d.path == Path::new("/dev/fuse"));
        assert_eq!(fuse.map(|d| (d.major, d.minor)), Some((10, 229)), "{:?}", config.devices);
    }
}
