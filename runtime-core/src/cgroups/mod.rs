//! A container's cgroup: made at create, `linux.resources` written to it
//! (at create and on update), frozen and thawed, read for pids and stats,
//! and removed at delete. The init gets into it before it goes on: cloned
//! straight into the cgroup2 directory (clone3's CLONE_INTO_CGROUP), moving
//! itself into each v1 hierarchy through files opened for it
//! ([`Cgroup::self_join_files`]), moved by the runtime where the kernel
//! cannot clone into a cgroup, or placed by systemd (the `systemd`
//! driver, with the D-Bus client it alone uses).
//!
//! The same handle serves v1, v2 and hybrid hosts: it holds the
//! container's directory in every hierarchy it joined, and the per-version
//! modules turn resources into files. Every failed write names the file
//! and the value.
//!
//! Not `cgroups-rs`, which the design once named: it cannot clone a
//! process straight into a cgroup (it moves pids, the slow path above),
//! and its systemd support (0.5) is zbus on the system bus, a threaded
//! D-Bus stack and a bus daemon, where a few blocking calls on systemd's
//! private socket are all the driver needs.

mod device_filter;
mod devices;
pub mod layout;
pub mod stats;
pub mod systemd;
mod unset;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::sys;

pub use devices::DeviceRule;
pub use layout::Layout;
pub use stats::Stats;
pub use unset::effective;

/// Which kind of hierarchy holds the controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// The key of the cgroup2 directory in `Cgroup::dirs`.
const UNIFIED: &str = "";

/// Move the calling (single-threaded) process into the hierarchies whose
/// `tasks` files [`Cgroup::self_join_files`] opened.
pub fn join_self(files: Vec<(PathBuf, OwnedFd)>) -> Result<()> {
    for (path, fd) in files {
        sys::write(&fd, b"0").map_err(|e| Error::path("join the cgroup: write 0 to", &path, e))?;
    }
    Ok(())
}

/// A container's cgroup on this host: its directory in each hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub version: Version,
    /// The path inside each hierarchy, e.g. `/tandem/web`.
    pub path: PathBuf,
    /// v1 hierarchy name ("memory", "cpu,cpuacct") -> directory; `""` ->
    /// the cgroup2 directory (the only one on v2, the systemd-style
    /// companion on a hybrid host).
    pub dirs: BTreeMap<String, PathBuf>,
    /// With the systemd driver: the unit that is the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
    /// Directories that were there before the container (empty: see
    /// [`Cgroup::claim`]): used, and left in place by `destroy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existed: Vec<PathBuf>,
    /// Set when systemd refused the unit because it is already there:
    /// the cgroup is someone else's, and `destroy` leaves it alone.
    #[serde(skip)]
    foreign: std::cell::Cell<bool>,
}

impl Cgroup {
    /// A cgroup of our own (no systemd unit) at these directories.
    pub fn at(version: Version, path: PathBuf, dirs: BTreeMap<String, PathBuf>) -> Cgroup {
        Cgroup { version, path, dirs, systemd: None, existed: Vec::new(), foreign: Default::default() }
    }

    /// Where the container's cgroup goes on this host: a directory of our
    /// own, or with `by_systemd` the cgroup of a systemd unit (`rootless`:
    /// of the user's own systemd manager).
    pub fn plan(config: &Config, id: &str, by_systemd: bool, rootless: bool) -> Result<Cgroup> {
        let requested = config.spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let layout = Layout::detect()?;
        let unit = if by_systemd {
            let user_manager = if rootless {
                if let Layout::Legacy { .. } = layout {
                    let why = "systemd delegates no cgroup v1 controller to a user: this host is not on cgroup v2";
                    let e = io::Error::new(io::ErrorKind::PermissionDenied, why);
                    return Err(Error::sys("use the systemd cgroup driver rootless", e));
                }
                Some(systemd::user_manager()?)
            } else {
                systemd::check_running()?;
                None
            };
            let requested = requested
                .as_deref()
                .map(|p| p.to_str().ok_or_else(|| Error::config("linux.cgroupsPath", "it is not UTF-8")));
            Some(systemd::Unit::parse_for(requested.transpose()?, id, user_manager)?)
        } else {
            None
        };
        let own = layout::own_cgroups()?;
        match unit {
            Some(unit) => {
                let mut path = unit.cgroup_path()?;
                if let Some(socket) = &unit.user_manager {
                    let root = systemd::manager_cgroup(socket)?;
                    path = root.join(path.strip_prefix("/").unwrap_or(&path));
                }
                let mut cg = Cgroup::plan_in(&layout, &own, Some(&path), id)?;
                cg.systemd = Some(unit);
                Ok(cg)
            }
            None => Cgroup::plan_in(&layout, &own, requested.as_deref(), id),
        }
    }

    pub fn plan_in(
        layout: &Layout,
        own: &BTreeMap<String, PathBuf>,
        requested: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup> {
        match layout {
            Layout::Unified { mount } => {
                let path = layout::resolve(requested, id, own.get(UNIFIED).map(PathBuf::as_path))?;
                let dirs = BTreeMap::from([(UNIFIED.to_string(), under(mount, &path))]);
                Ok(Cgroup::at(Version::V2, path, dirs))
            }
            Layout::Legacy { hierarchies, unified } => {
                // One path for every hierarchy: relative paths start from our
                // own cgroup in the memory hierarchy (or the first one).
                let base = own.get("memory").or_else(|| own.values().next()).map(PathBuf::as_path);
                let path = layout::resolve(requested, id, base)?;
                // Named hierarchies (name=systemd) too, as runc joins them:
                // the container sees its own place in every hierarchy.
                let mut dirs: BTreeMap<String, PathBuf> =
                    hierarchies.iter().map(|(name, mount)| (name.clone(), under(mount, &path))).collect();
                if let Some(mount) = unified {
                    dirs.insert(UNIFIED.to_string(), under(mount, &path));
                }
                Ok(Cgroup::at(Version::V1, path, dirs))
            }
        }
    }

    /// The directory of a v1 controller, or of the v2 cgroup.
    pub(crate) fn dir(&self, controller: &str) -> Option<&Path> {
        match self.version {
            Version::V2 => self.dirs.get(UNIFIED).map(PathBuf::as_path),
            Version::V1 => self
                .dirs
                .iter()
                .find(|(name, _)| !name.is_empty() && name.split(',').any(|c| c == controller))
                .map(|(_, d)| d.as_path()),
        }
    }

    /// The cgroup2 directory, on v2 or a hybrid host.
    pub(crate) fn unified_dir(&self) -> Option<&Path> {
        self.dirs.get(UNIFIED).map(PathBuf::as_path)
    }

    /// Before anything is made: a cgroupsPath naming a cgroup that already
    /// holds processes is someone else's (`/system.slice` is every
    /// service): refused, as runc 1.2 does, so that `kill --all` and
    /// `delete --force` only ever reach the container's own processes.
    /// An existing empty one is used and recorded as not ours to remove.
    pub fn claim(&mut self) -> Result<()> {
        if self.by_systemd() {
            return Ok(());
        }
        for dir in self.dirs.values().filter(|d| d.exists()) {
            let pids = procs_under(dir)?;
            if !pids.is_empty() {
                let why = format!("container's cgroup is not empty: {} process(es) found", pids.len());
                return Err(Error::path("use the cgroup", dir, io::Error::other(why)));
            }
            self.existed.push(dir.clone());
        }
        Ok(())
    }

    /// Make the directories (and, on v2, enable the controllers on the way
    /// down; on v1, give new cpuset directories their parent's cpus and
    /// mems). On error, whatever was made is removed.
    pub fn create(&self) -> Result<()> {
        let mut made = Vec::new();
        let r = self.create_dirs(&mut made);
        if r.is_err() {
            for d in made.iter().rev() {
                let _ = fs::remove_dir(d);
            }
        }
        r
    }

    fn create_dirs(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        for (name, dir) in &self.dirs {
            let cpuset = name.split(',').any(|c| c == "cpuset");
            // v1: the parents (`/tandem`) usually exist; try the leaf first.
            if self.version == Version::V1 {
                match fs::create_dir(dir) {
                    Ok(()) => {
                        made.push(dir.clone());
                        if cpuset {
                            v1::inherit_cpuset(dir)?;
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::path("create cgroup", dir, e)),
                }
            }
            let mount = mount_of(dir, &self.path);
            let mut cur = mount.clone();
            for part in self.path.iter().skip(1) {
                if self.version == Version::V2 {
                    v2::enable_controllers(&cur)?;
                }
                cur.push(part);
                match fs::create_dir(&cur) {
                    Ok(()) => {
                        made.push(cur.clone());
                        if cpuset {
                            v1::inherit_cpuset(&cur)?;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Error::path("create cgroup", &cur, e)),
                }
            }
        }
        Ok(())
    }

    /// The same cgroup with some hierarchies pointed at an existing
    /// sub-cgroup (`exec --cgroup`): `(None, path)` for every hierarchy,
    /// `(Some(controller), path)` for the v1 hierarchy holding it. A path
    /// may not leave the container's cgroup.
    pub fn sub_cgroup(&self, subs: &[(Option<String>, String)]) -> Result<Cgroup> {
        let mut out = self.clone();
        for (controller, path) in subs {
            let rel = Path::new(path.trim_start_matches('/'));
            if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(Error::config(
                    "--cgroup",
                    format!("'{path}' must be a path inside the container's cgroup"),
                ));
            }
            for (name, dir) in out.dirs.iter_mut() {
                let wanted = match controller {
                    None => true,
                    Some(c) => name.split(',').any(|n| n == c) || (c == "unified" && name.is_empty()),
                };
                if wanted {
                    let d = dir.join(rel);
                    if !d.is_dir() {
                        return Err(Error::path("use sub-cgroup", &d, io::Error::from_raw_os_error(libc::ENOENT)));
                    }
                    *dir = d;
                }
            }
        }
        Ok(out)
    }

    /// True when systemd makes the cgroup: the init is placed with
    /// [`Cgroup::place`] once cloned, not cloned into it.
    pub fn by_systemd(&self) -> bool {
        self.systemd.is_some()
    }

    /// The systemd driver's create: start the unit with `pid` in it,
    /// check that systemd put it where the plan says, make and join what
    /// systemd does not manage (v1 hierarchies; a slice unit), then write
    /// the resources as the cgroupfs driver does.
    pub fn place(&self, pid: i32, config: &Config) -> Result<()> {
        let unit = self.systemd.as_ref().expect("place is for a systemd cgroup");
        let props = systemd::properties(&config.resources, self.version, &config.annotations)?;
        if let Err(e) = systemd::start(unit, pid, props) {
            self.foreign.set(matches!(e, systemd::StartError::Exists(_)));
            return Err(e.into());
        }
        let proc_cgroup = format!("/proc/{pid}/cgroup");
        let text = fs::read_to_string(&proc_cgroup).map_err(|e| Error::path("read", &proc_cgroup, e))?;
        let now = layout::parse_proc_cgroup(&text);
        let placed_by_systemd = now.get("name=systemd").or_else(|| now.get(UNIFIED));
        if !unit.is_slice() && placed_by_systemd != Some(&self.path) {
            return Err(Error::sys(
                format!("place the init in systemd unit {}", unit.name),
                io::Error::other(format!(
                    "systemd put it in {}, not {}: systemd's cgroup root is not this host's",
                    placed_by_systemd.map_or("no cgroup".into(), |p| p.display().to_string()),
                    self.path.display()
                )),
            ));
        }
        if self.version == Version::V1 {
            self.create()?;
        }
        for (name, dir) in &self.dirs {
            if now.get(name) != Some(&self.path) {
                write(dir, "cgroup.procs", &pid.to_string())?;
            }
        }
        // A user's manager: no device rules (see crate::rootless).
        match unit.user_manager {
            Some(_) => self.apply_limits(&config.resources),
            None => self.apply(&config.resources, &config.devices, true),
        }
    }

    /// `update`: systemd's properties first (so it keeps them), then the
    /// files.
    pub fn update(&self, res: &LinuxResources, devices: &[crate::config::Device]) -> Result<()> {
        if let Some(unit) = &self.systemd {
            systemd::set_properties(unit, &systemd::properties(res, self.version, &BTreeMap::new())?)?;
        }
        self.apply(res, devices, false)
    }

    /// An fd on the cgroup2 directory, for clone3's CLONE_INTO_CGROUP.
    pub fn clone_target(&self) -> Result<Option<OwnedFd>> {
        self.unified_dir()
            .map(|d| sys::open(d, libc::O_DIRECTORY | libc::O_RDONLY).map_err(|e| Error::path("open cgroup", d, e)))
            .transpose()
    }

    /// For a process about to be cloned into the cgroup2 directory: the
    /// `tasks` file of each v1 hierarchy, opened here for the child to move
    /// itself with [`join_self`]. A process moving its own (only) thread
    /// skips the threadgroup lock whose RCU grace period makes a move by
    /// pid cost milliseconds (measured here: 0.15 ms for nine hierarchies
    /// against 5 to 7 ms by pid).
    pub fn self_join_files(&self) -> Result<Vec<(PathBuf, OwnedFd)>> {
        self.dirs
            .iter()
            .filter(|(name, _)| name.as_str() != UNIFIED)
            .map(|(_, dir)| {
                let path = dir.join("tasks");
                let fd = sys::open(&path, libc::O_WRONLY).map_err(|e| Error::path("open", &path, e))?;
                Ok((path, fd))
            })
            .collect()
    }

    /// Move a process into the cgroup, in every hierarchy (but the cgroup2
    /// one when it was cloned into it).
    /// Move `pid` into the cgroup2 directory (a child cloned without
    /// CLONE_INTO_CGROUP where clone3 is missing).
    pub fn join_unified(&self, pid: i32) -> Result<()> {
        match self.unified_dir() {
            Some(dir) => write(dir, "cgroup.procs", &pid.to_string()),
            None => Ok(()),
        }
    }

    pub fn join(&self, pid: i32, in_unified: bool) -> Result<()> {
        for (name, dir) in &self.dirs {
            if !(in_unified && name == UNIFIED) {
                write(dir, "cgroup.procs", &pid.to_string())?;
            }
        }
        Ok(())
    }

    /// Write `linux.resources` (only the fields that are set). `devices`
    /// are the container's own device nodes, which are always allowed; at
    /// create the device rules are always enforced, on update only when
    /// given.
    pub fn apply(&self, res: &LinuxResources, devices: &[crate::config::Device], at_create: bool) -> Result<()> {
        self.apply_limits(res)?;
        self.apply_device_rules(res, devices, at_create)
    }

    /// Everything but the device rules: what a rootless container's
    /// cgroup gets (its user namespace cannot make device nodes, and a v2
    /// device program needs CAP_SYS_ADMIN, as in runc's rootless mode).
    pub fn apply_limits(&self, res: &LinuxResources) -> Result<()> {
        match self.version {
            Version::V1 => v1::apply(self, res)?,
            Version::V2 => v2::apply(self, res)?,
        }
        if let Some(unified) = res.unified().as_ref().filter(|u| !u.is_empty()) {
            let dir = self.unified_dir().ok_or_else(|| {
                Error::config("linux.resources.unified", "this host has no cgroup2 hierarchy to write it to")
            })?;
            v2::apply_unified(dir, unified)?;
        }
        Ok(())
    }

    fn apply_device_rules(
        &self,
        res: &LinuxResources,
        devices: &[crate::config::Device],
        at_create: bool,
    ) -> Result<()> {
        if let Some(rules) = devices::rules(res, devices, at_create)? {
            match self.dir("devices") {
                Some(dir) if self.version == Version::V1 => v1::apply_devices(dir, &rules)?,
                _ => {
                    let dir = self.unified_dir().ok_or_else(|| {
                        Error::config("linux.resources.devices", "this host has no devices controller")
                    })?;
                    device_filter::install(dir, &rules)?;
                }
            }
        }
        Ok(())
    }

    /// Freeze every process in the cgroup and wait until it is frozen.
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        match self.version {
            Version::V2 => {
                let dir = self.unified_dir().expect("a v2 cgroup has its directory");
                write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
                while v2::frozen(dir)? != frozen {
                    wait_a_little(deadline, dir, "cgroup.events")?;
                }
            }
            Version::V1 => {
                let dir = self.dir("freezer").ok_or_else(|| no_controller("freezer"))?;
                let want = if frozen { "FROZEN" } else { "THAWED" };
                loop {
                    write(dir, "freezer.state", want)?;
                    if read(dir, "freezer.state")?.trim() == want {
                        break;
                    }
                    wait_a_little(deadline, dir, "freezer.state")?;
                }
            }
        }
        Ok(())
    }

    /// True when the cgroup is frozen (paused).
    pub fn is_frozen(&self) -> bool {
        match self.version {
            Version::V2 => self.unified_dir().is_some_and(|d| v2::frozen(d).unwrap_or(false)),
            Version::V1 => {
                self.dir("freezer").and_then(|d| read(d, "freezer.state").ok()).is_some_and(|s| s.trim() != "THAWED")
            }
        }
    }

    /// Every process in the cgroup and the cgroups made inside it.
    pub fn pids(&self) -> Result<Vec<i32>> {
        procs_under(self.procs_dir().ok_or_else(|| no_controller("pids"))?)
    }

    /// The directory whose cgroup.procs lists the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        match self.version {
            Version::V2 => self.unified_dir(),
            // One that is still there: systemd removes its hierarchies'
            // directories of an emptied scope, not those tandem made.
            Version::V1 => ["pids", "freezer", "memory", "cpu", "devices"]
                .iter()
                .find_map(|c| self.dir(c).filter(|d| d.exists()))
                .or_else(|| self.dirs.values().next().map(PathBuf::as_path)),
        }
    }

    /// Send `sig` to every process in the cgroup. With SIGKILL on v2 the
    /// kernel does it (cgroup.kill); otherwise the cgroup is frozen first
    /// so nothing forks away between reading the list and signalling it.
    /// A cgroup removed meanwhile has nobody left to signal: systemd
    /// removes an emptied scope's directories itself, only when empty.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        match self.signal_present(sig) {
            Err(Error::System { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn signal_present(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL
            && let Some(dir) = self.unified_dir().filter(|_| self.version == Version::V2)
            && dir.join("cgroup.kill").exists()
        {
            return write(dir, "cgroup.kill", "1");
        }
        if self.pids()?.is_empty() {
            return Ok(());
        }
        let was_frozen = self.is_frozen();
        let can_freeze = self.version == Version::V2 || self.dir("freezer").is_some();
        if can_freeze && !was_frozen {
            self.freeze()?;
        }
        for pid in self.pids()? {
            let _ = sys::kill(pid, sig);
        }
        if can_freeze && (!was_frozen || sig == libc::SIGKILL) {
            self.thaw()?;
        }
        Ok(())
    }

    /// Remove the container's directories and any cgroups made inside them
    /// (never the parents: `/tandem` may hold other containers). Waits for
    /// exiting processes to leave; a directory already gone is fine.
    pub fn destroy(&self) -> Result<()> {
        if self.foreign.get() {
            return Ok(());
        }
        // Its processes are dead: an emptied scope stops by itself, so a
        // failure here is only worth a warning; the directories still go.
        if let Some(unit) = &self.systemd
            && let Err(e) = systemd::stop(unit)
        {
            crate::log::warn(&e.to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in self.dirs.values().filter(|d| !self.existed.contains(d)) {
            remove_tree(dir, deadline)?;
        }
        Ok(())
    }

    /// Usage counters, in runc's shape.
    pub fn stats(&self) -> Result<Stats> {
        match self.version {
            Version::V1 => v1::stats(self),
            Version::V2 => v2::stats(self),
        }
    }

    /// How many times the kernel's OOM killer killed a process here.
    pub fn oom_kills(&self) -> u64 {
        match self.version {
            Version::V2 => self.unified_dir().map_or(0, v2::oom_kills),
            Version::V1 => self.dir("memory").map_or(0, v1::oom_kills),
        }
    }

    /// An fd that turns readable when the memory controller reports an
    /// OOM (v1: an eventfd on memory.oom_control; v2: inotify on
    /// memory.events). Compare `oom_kills()` to tell a kill from noise.
    pub fn oom_notifier(&self) -> Result<OwnedFd> {
        match self.version {
            Version::V2 => {
                let dir = self.unified_dir().ok_or_else(|| no_controller("memory"))?;
                let file = dir.join("memory.events");
                sys::inotify_watch(&file, libc::IN_MODIFY).map_err(|e| Error::path("watch", &file, e))
            }
            Version::V1 => {
                let dir = self.dir("memory").ok_or_else(|| no_controller("memory"))?;
                v1::oom_eventfd(dir)
            }
        }
    }
}

/// Every process in the cgroup at `dir` and the cgroups made inside it.
fn procs_under(dir: &Path) -> Result<Vec<i32>> {
    let mut pids: Vec<i32> = read(dir, "cgroup.procs")?.lines().filter_map(|l| l.trim().parse().ok()).collect();
    collect_sub_pids(dir, &mut pids);
    Ok(pids)
}

fn collect_sub_pids(dir: &Path, pids: &mut Vec<i32>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let procs = fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
        pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        collect_sub_pids(&e.path(), pids);
    }
}

/// rmdir a cgroup after its child cgroups, depth first. (A cgroup's files
/// are not removable; only its subdirectories are cgroups.)
fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path(), deadline)?;
            }
        }
    }
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(Error::path("remove cgroup", dir, e)),
        }
    }
}

fn no_controller(name: &str) -> Error {
    Error::sys(format!("use the {name} controller"), io::Error::other("it is not mounted on this host"))
}

/// The hierarchy's mount point, given a directory in it and the path.
fn mount_of(dir: &Path, path: &Path) -> PathBuf {
    let mut mount = dir.to_path_buf();
    for _ in path.iter().skip(1) {
        mount.pop();
    }
    mount
}

/// `mount` + an absolute cgroup path.
fn under(mount: &Path, path: &Path) -> PathBuf {
    mount.join(path.strip_prefix("/").unwrap_or(path))
}

/// `checkBeforeUpdate`: a memory limit below what the cgroup uses now is
/// refused before anything is written (instead of an OOM kill).
pub(crate) fn check_before_update(dir: &Path, usage_file: &str, m: &oci_spec::runtime::LinuxMemory) -> Result<()> {
    let Some(limit) = m.limit().filter(|&l| l > 0 && m.check_before_update() == Some(true)) else {
        return Ok(());
    };
    let usage = read(dir, usage_file)?.trim().parse::<u64>().unwrap_or(0);
    if usage >= limit as u64 {
        return Err(Error::config(
            "linux.resources.memory.limit",
            format!("{limit} is below the container's current usage {usage} (checkBeforeUpdate)"),
        ));
    }
    Ok(())
}

/// Write one cgroup file; the error names the value and the file.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|e| Error::sys(format!("write '{value}' to {}", path.display()), e))
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|e| Error::path("read", &path, e))
}

/// A file's value as a number ("max" is u64::MAX); 0 when missing.
pub(crate) fn read_u64(dir: &Path, file: &str) -> u64 {
    fs::read_to_string(dir.join(file)).ok().map_or(0, |s| parse_u64(s.trim()))
}

pub(crate) fn parse_u64(s: &str) -> u64 {
    if s == "max" { u64::MAX } else { s.parse().unwrap_or(0) }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
pub(crate) fn read_keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse_u64(v.trim())))
        })
        .collect()
}

fn wait_a_little(deadline: Instant, dir: &Path, file: &str) -> Result<()> {
    if Instant::now() > deadline {
        let path = dir.join(file);
        return Err(Error::path("wait for the freezer", &path, io::Error::from_raw_os_error(libc::ETIMEDOUT)));
    }
    std::thread::sleep(Duration::from_millis(1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_plans_a_dir_per_controller_and_the_unified_one() {
        let layout = Layout::parse(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        let own = layout::parse_proc_cgroup("4:memory:/box\n1:cpu,cpuacct:/\n0::/\n");
        let cg = Cgroup::plan_in(&layout, &own, Some(Path::new("pod/c1")), "c1").unwrap();
        assert_eq!(cg.version, Version::V1);
        assert_eq!(cg.path, PathBuf::from("/box/pod/c1"));
        assert_eq!(cg.dir("cpuacct"), Some(Path::new("/sys/fs/cgroup/cpu,cpuacct/box/pod/c1")));
        assert_eq!(cg.dir("memory"), Some(Path::new("/sys/fs/cgroup/memory/box/pod/c1")));
        assert_eq!(cg.unified_dir(), Some(Path::new("/sys/fs/cgroup/unified/box/pod/c1")));
        assert_eq!(cg.dirs.get("name=systemd"), Some(&PathBuf::from("/sys/fs/cgroup/systemd/box/pod/c1")));
        assert_eq!(cg.dirs.len(), 4, "{:?}", cg.dirs);
        assert_eq!(mount_of(cg.dir("memory").unwrap(), &cg.path), PathBuf::from("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn unified_plans_one_dir() {
        let layout = Layout::Unified { mount: PathBuf::from("/sys/fs/cgroup") };
        let own = layout::parse_proc_cgroup("0::/user.slice\n");
        let cg = Cgroup::plan_in(&layout, &own, None, "web").unwrap();
        assert_eq!(cg.version, Version::V2);
        assert_eq!(cg.dir("memory"), Some(Path::new("/sys/fs/cgroup/tandem/web")));
    }
}
