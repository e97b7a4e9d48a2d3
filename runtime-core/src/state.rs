//! A container's persistent state: `<root>/<id>/state.json`, its lock, and
//! the status derived from the live system.
//!
//! The file is written with write-temp + rename, so a reader sees the old
//! or the new state, never half of one. Every mutating command holds an
//! exclusive `flock` on the container's directory while it works.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use oci_spec::runtime as oci;
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::hooks::Hooks;
use crate::{procfs, sys};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// Written before the cgroup is made, so `delete --force` finds a cgroup
/// that a runtime killed half-way through `create` left behind.
pub const CGROUP_FILE: &str = "cgroup.json";
/// The bundle's config.json as create read it: exec and update use this
/// copy, not a bundle that may have changed since (as runc does).
pub const CONFIG_FILE: &str = "config.json";
/// With startContainer hooks: the fifo the init reports their outcome on.
pub const START_REPLY: &str = "start.reply";
/// For a container in the runtime's mount namespace: the host mounts that
/// were under its rootfs before it (`host_mounts::Record`).
pub const HOST_MOUNTS_FILE: &str = "host-mounts.json";
/// While a create's runtime hook runs: its process group, for a
/// `delete --force` after tandem was killed meanwhile.
pub const HOOK_GROUP_FILE: &str = "hook-group";

/// OCI's four statuses plus paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds: the OCI state fields and tandem's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// The status when the file was written (created); readers derive the
    /// live one from the init and the exec fifo.
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub rootfs: PathBuf,
    /// Seconds since the epoch, with nanoseconds.
    pub created: (u64, u32),
    /// Start time of the init in clock ticks since boot (/proc/PID/stat
    /// field 22), so a reused pid is never taken for the init.
    pub init_start_time: u64,
    pub executor: String,
    #[serde(default)]
    pub owner: String,
    /// The container's cgroup (absent in states written before cgroups).
    #[serde(default)]
    pub cgroup: Option<Cgroup>,
    /// The hooks still to come after create (startContainer, poststart,
    /// poststop): the bundle may be gone by then.
    #[serde(default, skip_serializing_if = "is_default")]
    pub hooks: Hooks,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl State {
    /// The state of a container `create` (or `restore`) is making from
    /// `config`: no init yet, the hooks still to come after create.
    pub fn creating(config: &crate::config::Config, id: &str, executor: &str) -> State {
        State {
            oci_version: config.oci_version.clone(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            bundle: config.bundle.clone(),
            annotations: config.annotations.clone(),
            rootfs: config.rootfs.clone(),
            created: now(),
            init_start_time: 0,
            executor: executor.to_string(),
            owner: String::new(),
            cgroup: None,
            hooks: Hooks { prestart: vec![], create_runtime: vec![], create_container: vec![], ..config.hooks.clone() },
        }
    }

    /// The live status: the init must be alive with the recorded start time;
    /// the exec fifo is present until `start` consumes it.
    pub fn live_status(&self, dir: &Path) -> Status {
        if self.pid <= 0 || !procfs::is_alive(self.pid, self.init_start_time) {
            return Status::Stopped;
        }
        if dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else if self.cgroup.as_ref().is_some_and(Cgroup::is_frozen) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The state a hook or a seccomp agent reads: the runtime-spec's, as
    /// runc passes it (no rootfs, created or owner). `pid` as the runtime
    /// sees it, none once stopped.
    pub fn hook_state(&self, status: Status) -> oci::State {
        let status = match status {
            Status::Creating => oci::ContainerState::Creating,
            Status::Created => oci::ContainerState::Created,
            Status::Running | Status::Paused => oci::ContainerState::Running,
            Status::Stopped => oci::ContainerState::Stopped,
        };
        let mut s = oci::State::default();
        s.set_version(self.oci_version.clone())
            .set_id(self.id.clone())
            .set_status(status)
            .set_pid((status != oci::ContainerState::Stopped && self.pid > 0).then_some(self.pid))
            .set_bundle(self.bundle.clone())
            .set_annotations((!self.annotations.is_empty()).then(|| self.annotations.clone().into_iter().collect()));
        s
    }

    /// The state a user (and the OCI state command) sees, with runc's
    /// fields (annotations only when there are some, as runc omits them).
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status.to_string(),
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": rfc3339(self.created.0, self.created.1),
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// A container id: `[A-Za-z0-9][A-Za-z0-9_.+-]*`, at most 1024 bytes. Checked
/// before the id touches any path.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| Err(Error::InvalidIdFormat { id: crate::error::one_line(&id[..id.floor_char_boundary(256)]), why });
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("it must start with a letter or a digit");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b)) {
        return bad("only letters, digits and _ . + - are allowed");
    }
    Ok(())
}

/// A container's directory under the state root, held locked.
pub struct StateDir {
    pub path: PathBuf,
    _lock: OwnedFd,
}

impl StateDir {
    /// Make the directory for a new container; fails with IdInUse if it exists.
    /// Only root may look inside (config.json holds `process.env`).
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::IdInUse(id.to_string()));
            }
            Err(e) => return Err(Error::path("create state directory", &path, e)),
        }
        let lock = lock_dir(&path)?;
        Ok(StateDir { path, _lock: lock })
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        let path = root.join(id);
        // Never through a symlink planted in the state root.
        let lock = match sys::open(&path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()));
            }
            Err(e) => return Err(Error::path("open state directory", &path, e)),
        };
        sys::flock(&lock, libc::LOCK_EX).map_err(|e| Error::path("lock", &path, e))?;
        // It may have been deleted while we waited for the lock.
        if !path.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(StateDir { path, _lock: lock })
    }

    pub fn load(&self) -> Result<Option<State>> {
        read_state(&self.path)
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let json = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.path.join(STATE_FILE), &json)
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).map_err(|e| Error::path("remove state directory", &self.path, e))
    }
}

fn lock_dir(path: &Path) -> Result<OwnedFd> {
    let fd = sys::open(path, libc::O_RDONLY | libc::O_DIRECTORY).map_err(|e| Error::path("open", path, e))?;
    sys::flock(&fd, libc::LOCK_EX).map_err(|e| Error::path("lock", path, e))?;
    Ok(fd)
}

/// Whether a directory under the state root is a tandem container's: it
/// holds nothing but the files tandem puts there (a create killed half-way
/// leaves a subset). A state root may be shared with other runtimes
/// (Docker hands the same `--root` to each), whose containers `list`
/// leaves out.
pub fn is_container_dir(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else { return false };
    let ours = [STATE_FILE, EXEC_FIFO, CGROUP_FILE, CONFIG_FILE, START_REPLY, HOST_MOUNTS_FILE];
    // write_atomic's temporary names: `state.tmp<pid>`.
    let temp_of = |name: &str| {
        name.split_once(".tmp").is_some_and(|(stem, _)| ours.iter().any(|f| f.strip_suffix(".json") == Some(stem)))
    };
    let mut has_state = false;
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !ours.contains(&&*name) && !temp_of(&name) {
            return false;
        }
        has_state |= name == STATE_FILE;
    }
    !has_state || read_state(dir).is_ok()
}

/// The host mounts record of a container in the runtime's mount namespace.
pub(crate) fn read_host_mounts(dir: &Path) -> Option<crate::rootfs::host_mounts::Record> {
    fs::read(dir.join(HOST_MOUNTS_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// Read a state file without locking (for `state` and `list`).
pub fn read_state(dir: &Path) -> Result<Option<State>> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::path("parse", &path, std::io::Error::other(e)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::path("read", &path, e)),
    }
}

/// Write a file so that readers see the old or the new content, never a
/// mix (write a temp file, rename it over). Not fsynced: what it records
/// (live processes, cgroups) does not survive a reboot either, and a state
/// root is normally a tmpfs; an empty file left by a power cut reads as a
/// create that never finished, which `delete --force` removes.
///
/// The file is the owner's alone (0600); the temporary one is made new
/// (never a file or symlink that is already there).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o600)
}

/// A pid file: written the same way, readable by all as runc's is.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    write_atomic_mode(path, pid.to_string().as_bytes(), 0o644)
}

/// The directory is opened once (through the path the caller gave) and
/// everything after happens in that fd: a directory swapped for a symlink
/// halfway cannot send the temporary file or the rename elsewhere.
fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::path("write", path, std::io::Error::from_raw_os_error(libc::EISDIR)));
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let mut tmp = name.to_os_string();
    tmp.push(format!(".tmp{}.{}", std::process::id(), now().1));
    let dir = sys::open(parent, libc::O_RDONLY | libc::O_DIRECTORY).map_err(|e| Error::path("open", parent, e))?;
    let write = || -> std::io::Result<()> {
        let mut f = File::from(sys::create_new_at(&dir, &tmp, mode)?);
        f.write_all(data)?;
        sys::renameat(&dir, &tmp, name)
    };
    write().map_err(|e| {
        let _ = sys::unlinkat(&dir, &tmp);
        Error::path("write", path, e)
    })
}

pub fn now() -> (u64, u32) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

/// RFC 3339 UTC time with nanoseconds, as runc prints `created`.
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + std::time::Duration::new(secs, nanos)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runc container in a shared root, a stray directory and a cache are
    /// not tandem's; a half-made create and a whole container are.
    #[test]
    fn only_tandem_container_dirs_count() {
        let root = std::env::temp_dir().join(format!("tandem-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let dir = |name: &str, files: &[(&str, &str)]| {
            let d = root.join(name);
            fs::create_dir_all(&d).unwrap();
            for (f, text) in files {
                fs::write(d.join(f), text).unwrap();
            }
            d
        };
        let runc = dir("runc-box", &[("state.json", r#"{"id":"runc-box","init_process_pid":1}"#)]);
        let stray = dir("stray", &[("notes.txt", "x")]);
        let half = dir("half", &[("config.json", "{}"), ("cgroup.tmp123", "")]);
        let empty = dir("empty", &[]);
        assert!(!is_container_dir(&runc) && !is_container_dir(&stray));
        assert!(is_container_dir(&half) && is_container_dir(&empty));
        assert!(!is_container_dir(&root.join("missing")));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ids_are_checked() {
        for good in ["a", "abc-1.2_3+x", "0"] {
            validate_id(good).unwrap();
        }
        for bad in ["", "../x", "a/b", ".hidden", "-x", "a b"] {
            assert!(matches!(validate_id(bad), Err(Error::InvalidIdFormat { .. })), "{bad}");
        }
        assert!(validate_id(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn a_dead_pid_is_stopped() {
        let s = State {
            oci_version: "1.0.2".into(),
            id: "x".into(),
            status: Status::Running,
            pid: i32::MAX,
            bundle: "/b".into(),
            annotations: Default::default(),
            rootfs: "/b/rootfs".into(),
            created: (0, 0),
            init_start_time: 1,
            executor: "native".into(),
            owner: String::new(),
            cgroup: None,
            hooks: Default::default(),
        };
        assert_eq!(s.live_status(Path::new("/nonexistent")), Status::Stopped);
        assert_eq!(s.to_oci_json(Status::Stopped)["pid"], 0);
    }
}
