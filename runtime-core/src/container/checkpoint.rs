//! `checkpoint`: the container's processes written to CRIU images, as
//! runc does it (CRIU's RPC, the container's bind mounts and masked files
//! described as external mounts, its cgroup frozen by CRIU), then the
//! container goes unless it is to keep running. The images are vouched
//! for by a record tandem writes last ([`CHECKPOINT_RECORD`]): a dump that
//! failed half-way leaves none, and `restore` refuses images without it.

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::Container;
use crate::criu::files::{self, ExternalFile};
use crate::criu::{self, CgMode, Criu, Opts, ReqType};
use crate::error::{Error, Result};
use crate::state::Status;
use crate::sys;

/// In the image directory, written after a dump succeeded.
pub const CHECKPOINT_RECORD: &str = "tandem-checkpoint.json";
const DUMP_LOG: &str = "dump.log";

/// runc's `checkpoint` flags.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// The CRIU binary (default `criu` on PATH).
    pub criu: Option<PathBuf>,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    /// A pre-dump's images this dump is relative to.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    /// soft, full, strict or ignore (default: soft).
    pub manage_cgroups_mode: Option<String>,
    /// Namespaces (`network`) CRIU leaves empty, for the caller to set up.
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    pub status_fd: Option<RawFd>,
    /// `ADDRESS:PORT` of a CRIU page server.
    pub page_server: Option<String>,
}

/// What restore needs from the checkpoint beyond CRIU's images.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub id: String,
    /// What the init's fds 0, 1 and 2 were: `pipe:[N]` for pipes and
    /// `file[MNT:INO]` for files outside the container (a shim's fifos, a
    /// log file), which restore gives back as its own stdio; else a path.
    pub descriptors: Vec<String>,
    /// The container's cgroup hierarchies, bound from the host's at these
    /// mount points (restore binds the new container's cgroup there).
    #[serde(default)]
    pub cgroup_mounts: Vec<PathBuf>,
    /// Files held from outside the container's mounts (a wasm helper's).
    #[serde(default)]
    pub external_files: Vec<ExternalFile>,
}

/// CRIU's cgroup mode for runc's `--manage-cgroups-mode` word.
pub(crate) fn cgroup_mode(word: Option<&str>) -> Result<CgMode> {
    Ok(match word.unwrap_or("soft") {
        "soft" => CgMode::Soft,
        "full" => CgMode::Full,
        "strict" => CgMode::Strict,
        "ignore" => CgMode::Ignore,
        other => {
            return Err(Error::config(
                "--manage-cgroups-mode",
                format!("'{other}' is not one of soft, full, strict, ignore"),
            ));
        }
    })
}

/// CLONE_NEW* bits for `--empty-ns` names.
pub(crate) fn empty_ns_flags(names: &[String]) -> Result<u32> {
    names.iter().try_fold(0u32, |acc, n| match n.as_str() {
        "network" | "net" => Ok(acc | libc::CLONE_NEWNET as u32),
        other => Err(Error::config("--empty-ns", format!("'{other}': only network can be left empty"))),
    })
}

/// Make `dir` (mode 0700, kept if there) and open it for CRIU.
pub(crate) fn open_dir(dir: &Path) -> Result<std::os::fd::OwnedFd> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::path("create", dir, e)),
    }
    sys::open(dir, libc::O_RDONLY | libc::O_DIRECTORY).map_err(|e| Error::path("open", dir, e))
}

use std::os::unix::fs::DirBuilderExt;

impl Container {
    /// Checkpoint the running container into `opts.image_path`; unless
    /// `leave_running` (or a pre-dump), the container is gone afterwards,
    /// as with runc. On failure it runs on as it was.
    pub fn checkpoint(&mut self, opts: &CheckpointOptions) -> Result<()> {
        let dir = self.lock()?;
        let status = self.status();
        if !matches!(status, Status::Running | Status::Paused) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        crate::rootless::refuse_checkpoint(format!("checkpoint '{}'", self.id()))?;
        let criu = Criu::new(opts.criu.as_deref());
        if opts.pre_dump && !criu.has_feature("mem_dirty_track") {
            return Err(Error::Criu {
                what: "pre-dump".into(),
                why: "this kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY), which a pre-dump needs"
                    .into(),
            });
        }
        let config = self.config()?;
        let mode = cgroup_mode(opts.manage_cgroups_mode.as_deref())?;
        let images = open_dir(&opts.image_path)?;
        // A record left by an earlier checkpoint in this directory must not
        // vouch for what this one writes.
        let record_path = opts.image_path.join(CHECKPOINT_RECORD);
        match std::fs::remove_file(&record_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::path("remove", &record_path, e)),
            _ => {}
        }
        let work = opts.work_path.as_deref().map(open_dir).transpose()?;
        let pid = self.state.pid;

        let mut o = Opts {
            images_dir_fd: Some(images.as_raw_fd()),
            work_dir_fd: work.as_ref().map(|w| w.as_raw_fd()),
            log_level: Some(4),
            log_file: Some(DUMP_LOG.into()),
            root: Some(self.state.rootfs.to_string_lossy().into_owned()),
            manage_cgroups: true,
            manage_cgroups_mode: Some(mode),
            pid: Some(pid),
            shell_job: opts.shell_job,
            leave_running: opts.leave_running || opts.pre_dump,
            tcp_established: opts.tcp_established,
            ext_unix_sk: opts.ext_unix_sk,
            file_locks: opts.file_locks,
            orphan_pts_master: true,
            auto_dedup: opts.auto_dedup,
            lazy_pages: opts.lazy_pages,
            status_fd: opts.status_fd,
            ..Default::default()
        };
        let empty = empty_ns_flags(&opts.empty_ns)?;
        if empty != 0 {
            o.empty_ns = Some(empty);
        }
        if let Some(parent) = &opts.parent_path {
            o.parent_img = Some(parent.to_string_lossy().into_owned());
            o.track_mem = true;
        }
        if let Some(ps) = &opts.page_server {
            let (addr, port) = ps
                .rsplit_once(':')
                .and_then(|(a, p)| Some((a, p.parse::<i32>().ok()?)))
                .ok_or_else(|| Error::config("--page-server", format!("'{ps}' is not ADDRESS:PORT")))?;
            o.ps = Some((addr.to_string(), port));
        }
        // CRIU freezes the container through its freezer (else by ptrace).
        if let Some(cg) = &self.state.cgroup
            && let Some(freezer) = cg.dirs.get("freezer").or_else(|| cg.dirs.get(""))
        {
            o.freeze_cgroup = Some(freezer.to_string_lossy().into_owned());
        }
        // A network namespace the container joined by path is the host's
        // business: CRIU expects it to be there again at restore.
        if let Some(path) = config.namespace(crate::config::NsKind::Net).and_then(|n| n.path.as_deref()) {
            let meta = std::fs::metadata(path).map_err(|e| Error::path("stat", path, e))?;
            o.external.push(format!("net[{}]:extRootNetNS", std::os::unix::fs::MetadataExt::ino(&meta)));
        }
        let mut descriptors = Vec::new();
        let mut cgroup_mounts = Vec::new();
        let mut external_files = Vec::new();
        if !opts.pre_dump {
            let mounts = mount_ids(pid);
            descriptors = files::stdio(pid, &mounts);
            let stdio_keys: Vec<String> = descriptors.iter().filter(|d| d.starts_with("file[")).cloned().collect();
            external_files = files::collect(&self.pids()?, &mounts, &opts.image_path, &stdio_keys)?;
            o.external.extend(external_files.iter().map(|f| f.key.clone()));
            o.external.extend(stdio_keys);
            o.external.dedup();
            cgroup_mounts = bound_cgroups(pid);
            let cgroup_keys =
                cgroup_mounts.iter().map(|p| (p.to_string_lossy().into_owned(), p.to_string_lossy().into_owned()));
            o.ext_mnt.extend(external_mounts(&config, pid).into_iter().chain(cgroup_keys));
        }
        let typ = if opts.pre_dump { ReqType::PreDump } else { ReqType::Dump };
        let log = opts.work_path.as_deref().unwrap_or(&opts.image_path).join(DUMP_LOG);
        let what = format!("checkpoint '{}'", self.id());
        if let Err(e) = criu.call(&what, typ, o, None, &[], |_, _| Ok(())) {
            files::discard(&opts.image_path);
            return Err(criu::explained_by_log(e, &log));
        }
        if opts.pre_dump {
            return Ok(());
        }
        let record = CheckpointRecord { id: self.id().to_string(), descriptors, cgroup_mounts, external_files };
        crate::state::write_atomic(&record_path, &serde_json::to_vec(&record).expect("plain data"))?;
        if !opts.leave_running {
            self.destroy(dir)?;
        }
        Ok(())
    }
}

/// The container's mounts CRIU must not dump but name (`key` inside the
/// container -> `val` in the image): bind mounts by their destination,
/// files masked with /dev/null as /dev/null.
fn external_mounts(config: &crate::config::Config, pid: i32) -> Vec<(String, String)> {
    let mut ext: Vec<(String, String)> = config
        .mounts
        .iter()
        .filter(|m| m.is_bind())
        .map(|m| (m.destination.to_string_lossy().into_owned(), m.destination.to_string_lossy().into_owned()))
        .collect();
    for path in &config.masked_paths {
        let inside = PathBuf::from(format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap_or(path));
        if std::fs::metadata(&inside).is_ok_and(|m| !m.is_dir()) {
            ext.push((path.to_string_lossy().into_owned(), "/dev/null".into()));
        }
    }
    ext
}

/// The ids of the mounts `pid` sees.
fn mount_ids(pid: i32) -> std::collections::HashSet<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    crate::procfs::parse_mountinfo(&text).into_iter().map(|m| m.id).collect()
}

/// Where the container sees its cgroups as binds of the host's hierarchy
/// directories (no cgroup namespace): CRIU cannot dump a bind of part of
/// a filesystem it does not see whole, so they are external.
fn bound_cgroups(pid: i32) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    crate::procfs::parse_mountinfo(&text)
        .into_iter()
        .filter(|m| matches!(m.fstype.as_str(), "cgroup" | "cgroup2") && m.root != Path::new("/"))
        .map(|m| m.point)
        .collect()
}
