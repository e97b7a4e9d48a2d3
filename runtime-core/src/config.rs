//! The bundle's `config.json`, validated once and turned into tandem's own
//! [`Config`]. Everything after `create`'s first step works on this value and
//! never on raw JSON; every problem found here is named with its JSON path.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{self as oci, LinuxNamespaceType, PosixRlimitType, Spec};

use crate::capabilities::{self, CapConfig};
use crate::error::{Error, Result};
use crate::rootfs::mount_options::{self, MountFlags};

/// The OCI spec versions this runtime implements (features reports them).
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// A validated container configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub oci_version: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub readonly_root: bool,
    pub process: Process,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<Mount>,
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    pub time_offsets: Vec<(String, i64, u32)>,
    pub sysctl: BTreeMap<String, String>,
    pub devices: Vec<Device>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    /// Propagation applied to `/` of the new mount namespace (MS_* flags).
    pub rootfs_propagation: u64,
    pub annotations: BTreeMap<String, String>,
    /// `linux.personality` and `linux.memoryPolicy` as syscall values.
    pub personality: Option<u64>,
    pub memory_policy: Option<crate::process::attrs::MemoryPolicy>,
    /// `linux.resources`, written to the container's cgroup; zeroes that
    /// mean "unset" are already removed ([`crate::cgroups::effective`]).
    pub resources: oci::LinuxResources,
    pub hooks: crate::hooks::Hooks,
    /// `linux.seccomp`, validated.
    pub seccomp: Option<crate::seccomp::Profile>,
    /// The spec as loaded, for executors and hooks that need a field the
    /// engine itself does not interpret.
    pub spec: Spec,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub capabilities: CapConfig,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    /// The AppArmor profile and SELinux label the workload runs under.
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
    /// Scheduler, I/O priority, exec CPU affinity.
    pub attrs: crate::process::attrs::ProcessAttrs,
}

/// PATH when `process.env` has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The PATH that programs named without a slash are looked up in.
pub fn search_path(env: &[String]) -> &str {
    env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH)
}

#[derive(Debug, Clone, Copy)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub destination: PathBuf,
    pub typ: String,
    pub source: Option<PathBuf>,
    pub flags: MountFlags,
}

impl Mount {
    pub fn is_bind(&self) -> bool {
        self.flags.set & libc::MS_BIND != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NsKind {
    Mount,
    Uts,
    Ipc,
    User,
    Pid,
    Net,
    Cgroup,
    Time,
}

impl NsKind {
    pub fn clone_flag(self) -> i32 {
        match self {
            NsKind::Mount => libc::CLONE_NEWNS,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => libc::CLONE_NEWTIME,
        }
    }

    /// The name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::Mount => "mnt",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::User => "user",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    pub const ALL: [NsKind; 8] =
        [NsKind::User, NsKind::Mount, NsKind::Uts, NsKind::Ipc, NsKind::Pid, NsKind::Net, NsKind::Cgroup, NsKind::Time];
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub kind: NsKind,
    /// Join this existing namespace instead of creating one.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub path: PathBuf,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: u32,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Config {
    /// Load and validate `<bundle>/config.json`.
    pub fn load(bundle: &Path) -> Result<Config> {
        Config::load_with_source(bundle, None).map(|(c, _)| c)
    }

    /// Load and validate `file` (by default `<bundle>/config.json`) for
    /// the bundle at `bundle`; also returns the text as read.
    pub fn load_with_source(bundle: &Path, file: Option<&Path>) -> Result<(Config, Vec<u8>)> {
        let bundle = fs::canonicalize(bundle).map_err(|e| Error::path("bundle", bundle, e))?;
        let path = file.map_or_else(|| bundle.join("config.json"), Path::to_path_buf);
        let text = fs::read(&path).map_err(|e| Error::path("read", &path, e))?;
        let spec = parse_spec(&text).map_err(|e| match e {
            Error::ConfigInvalid { field, why } => {
                Error::ConfigInvalid { field, why: format!("{why} (in {})", path.display()) }
            }
            other => other,
        })?;
        Ok((Config::from_spec(spec, &bundle)?, text))
    }

    /// Validate a parsed spec for a bundle at `bundle` (absolute).
    pub fn from_spec(spec: Spec, bundle: &Path) -> Result<Config> {
        check_version(spec.version())?;
        let root = spec.root().as_ref().ok_or_else(|| Error::config("root", "is required"))?;
        let rootfs = bundle.join(root.path());
        let rootfs =
            fs::canonicalize(&rootfs).map_err(|e| Error::config("root.path", format!("{}: {e}", rootfs.display())))?;
        if !rootfs.is_dir() {
            return Err(Error::config("root.path", format!("{} is not a directory", rootfs.display())));
        }
        let process = spec.process().as_ref().ok_or_else(|| Error::config("process", "is required"))?;
        let process = convert_process(process)?;
        let linux = spec.linux().clone().unwrap_or_default();

        refuse_unsupported(&linux)?;
        let namespaces = convert_namespaces(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let has_ns = |k: NsKind| namespaces.iter().any(|n| n.kind == k);
        let new_ns = |k: NsKind| namespaces.iter().any(|n| n.kind == k && n.path.is_none());

        let map_ids = |v: &Option<Vec<oci::LinuxIdMapping>>| -> Vec<IdMap> {
            v.iter()
                .flatten()
                .map(|m| IdMap { container_id: m.container_id(), host_id: m.host_id(), size: m.size() })
                .collect()
        };
        let uid_mappings = map_ids(linux.uid_mappings());
        let gid_mappings = map_ids(linux.gid_mappings());
        if new_ns(NsKind::User) && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
            return Err(Error::config(
                "linux.uidMappings",
                "a new user namespace needs both uidMappings and gidMappings",
            ));
        }
        let has_maps = !uid_mappings.is_empty() || !gid_mappings.is_empty();
        if has_maps && !new_ns(NsKind::User) {
            return Err(Error::config("linux.uidMappings", "id mappings need a new user namespace"));
        }

        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has_ns(NsKind::Uts) {
            return Err(Error::config("hostname", "setting a hostname needs a UTS namespace"));
        }
        if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has_ns(NsKind::Uts) {
            return Err(Error::config("domainname", "setting a domainname needs a UTS namespace"));
        }

        let time_offsets: Vec<(String, i64, u32)> = linux
            .time_offsets()
            .iter()
            .flatten()
            .map(|(clock, off)| (clock.clone(), off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0)))
            .collect();
        for (clock, _, _) in &time_offsets {
            if clock != "monotonic" && clock != "boottime" {
                return Err(Error::config(
                    format!("linux.timeOffsets.{clock}"),
                    "only monotonic and boottime clocks can be offset",
                ));
            }
        }
        if !time_offsets.is_empty() && !new_ns(NsKind::Time) {
            return Err(Error::config("linux.timeOffsets", "offsets need a new time namespace"));
        }

        let sysctl: BTreeMap<String, String> = linux.sysctl().clone().unwrap_or_default().into_iter().collect();
        for key in sysctl.keys() {
            check_sysctl(key, &has_ns)?;
        }

        let mounts = spec
            .mounts()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, m)| convert_mount(i, m, bundle))
            .collect::<Result<Vec<_>>>()?;

        let devices = linux
            .devices()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, d)| convert_device(i, d))
            .collect::<Result<Vec<_>>>()?;

        let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
            None | Some("") => libc::MS_SLAVE | libc::MS_REC,
            Some(p) => mount_options::propagation(p)
                .ok_or_else(|| Error::config("linux.rootfsPropagation", format!("unknown propagation '{p}'")))?,
        };

        let abs_paths = |field: &str, v: &Option<Vec<String>>| -> Result<Vec<PathBuf>> {
            v.iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| {
                    if Path::new(p).is_absolute() {
                        Ok(PathBuf::from(p))
                    } else {
                        Err(Error::config(format!("{field}[{i}]"), format!("'{p}' is not absolute")))
                    }
                })
                .collect()
        };

        Ok(Config {
            oci_version: spec.version().clone(),
            bundle: bundle.to_path_buf(),
            rootfs,
            readonly_root: root.readonly().unwrap_or(false),
            process,
            hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
            domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
            mounts,
            namespaces,
            uid_mappings,
            gid_mappings,
            time_offsets,
            sysctl,
            devices,
            masked_paths: abs_paths("linux.maskedPaths", linux.masked_paths())?,
            readonly_paths: abs_paths("linux.readonlyPaths", linux.readonly_paths())?,
            rootfs_propagation,
            personality: linux.personality().as_ref().map(crate::process::attrs::personality).transpose()?,
            memory_policy: linux.memory_policy().as_ref().map(crate::process::attrs::memory_policy).transpose()?,
            annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
            resources: linux.resources().as_ref().map(crate::cgroups::effective).unwrap_or_default(),
            hooks: spec.hooks().as_ref().map(crate::hooks::from_spec).transpose()?.unwrap_or_default(),
            seccomp: linux.seccomp().as_ref().map(crate::seccomp::from_spec).transpose()?,
            spec,
        })
    }

    pub fn namespace(&self, kind: NsKind) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.kind == kind)
    }

    /// True when the container gets a namespace of its own of this kind.
    pub fn creates(&self, kind: NsKind) -> bool {
        self.namespace(kind).is_some_and(|n| n.path.is_none())
    }

    /// The host uid that `uid` inside the container maps to.
    pub fn host_uid(&self, uid: u32) -> Option<u32> {
        map_id(&self.uid_mappings, uid)
    }

    pub fn host_gid(&self, gid: u32) -> Option<u32> {
        map_id(&self.gid_mappings, gid)
    }
}

fn map_id(maps: &[IdMap], id: u32) -> Option<u32> {
    if maps.is_empty() {
        return Some(id);
    }
    maps.iter()
        .find(|m| id >= m.container_id && id - m.container_id < m.size)
        .map(|m| m.host_id + (id - m.container_id))
}

/// Parse and validate an OCI process object (`exec --process`), reporting
/// the JSON path of the first bad field.
pub fn parse_process(text: &[u8]) -> Result<Process> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    let p: oci::Process = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::config(
            if path == "." { "process".to_string() } else { format!("process.{path}") },
            e.inner().to_string(),
        )
    })?;
    convert_process(&p)
}

/// Parse config.json, reporting the JSON path of the first bad field.
pub fn parse_spec(text: &[u8]) -> Result<Spec> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "config.json".to_string() } else { path };
        Error::config(field, e.inner().to_string())
    })
}

fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    match major.parse::<u32>() {
        Ok(1) => Ok(()),
        Ok(m) => Err(Error::config("ociVersion", format!("'{v}': major version {m} is not supported (1.x is)"))),
        Err(_) => Err(Error::config("ociVersion", format!("'{v}' is not a version"))),
    }
}

fn convert_process(p: &oci::Process) -> Result<Process> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::config("process.args", "must name a program to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::config("process.cwd", format!("'{}' is not an absolute path", p.cwd().display())));
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(Error::config(format!("process.env[{i}]"), format!("'{e}' is not KEY=VALUE")));
        }
    }
    let mut seen = HashSet::new();
    let rlimits = p
        .rlimits()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let resource = rlimit_resource(r.typ());
            if !seen.insert(resource) {
                return Err(Error::config(format!("process.rlimits[{i}]"), "duplicate rlimit type"));
            }
            if r.soft() > r.hard() {
                return Err(Error::config(format!("process.rlimits[{i}]"), "soft limit exceeds hard limit"));
            }
            Ok(Rlimit { resource, soft: r.soft(), hard: r.hard() })
        })
        .collect::<Result<Vec<_>>>()?;
    let user = p.user();
    Ok(Process {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        terminal: p.terminal().unwrap_or(false),
        console_size: p.console_size().map(|b| (b.height() as u16, b.width() as u16)),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        capabilities: capabilities::from_spec(p.capabilities().as_ref()),
        rlimits,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        apparmor_profile: p.apparmor_profile().clone().filter(|s| !s.is_empty()),
        selinux_label: p.selinux_label().clone().filter(|s| !s.is_empty()),
        attrs: crate::process::attrs::ProcessAttrs::from_spec(p)?,
    })
}

fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn convert_namespaces(list: &[oci::LinuxNamespace]) -> Result<Vec<Namespace>> {
    let mut out: Vec<Namespace> = Vec::new();
    for (i, ns) in list.iter().enumerate() {
        let kind = match ns.typ() {
            LinuxNamespaceType::Mount => NsKind::Mount,
            LinuxNamespaceType::Uts => NsKind::Uts,
            LinuxNamespaceType::Ipc => NsKind::Ipc,
            LinuxNamespaceType::User => NsKind::User,
            LinuxNamespaceType::Pid => NsKind::Pid,
            LinuxNamespaceType::Network => NsKind::Net,
            LinuxNamespaceType::Cgroup => NsKind::Cgroup,
            LinuxNamespaceType::Time => NsKind::Time,
        };
        if out.iter().any(|n| n.kind == kind) {
            return Err(Error::config(
                format!("linux.namespaces[{i}]"),
                format!("duplicate {} namespace", kind.proc_name()),
            ));
        }
        let path = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = path.as_ref().filter(|p| !p.exists()) {
            return Err(Error::config(
                format!("linux.namespaces[{i}].path"),
                format!("{} does not exist", p.display()),
            ));
        }
        out.push(Namespace { kind, path });
    }
    Ok(out)
}

/// Which namespace a sysctl belongs to, as runc decides it.
fn check_sysctl(key: &str, has_ns: &dyn Fn(NsKind) -> bool) -> Result<()> {
    let field = || format!("linux.sysctl.{key}");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if !has_ns(NsKind::Ipc) {
            return Err(Error::config(field(), "needs an IPC namespace"));
        }
    } else if key.starts_with("net.") {
        if !has_ns(NsKind::Net) {
            return Err(Error::config(field(), "needs a network namespace"));
        }
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        if !has_ns(NsKind::Uts) {
            return Err(Error::config(field(), "needs a UTS namespace"));
        }
    } else {
        return Err(Error::config(field(), "is not namespaced: setting it would change the host"));
    }
    if key.contains("..") || key.contains('/') {
        return Err(Error::config(field(), "is not a sysctl name"));
    }
    Ok(())
}

/// Fields tandem does not honour are refused, never silently dropped:
/// the user learns at create that the container would not be what the
/// config says.
fn refuse_unsupported(linux: &oci::Linux) -> Result<()> {
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::config(
            "linux.netDevices",
            "moving host network devices into the container is not supported by tandem (see `tandem features`)",
        ));
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        let why = if Path::new("/sys/fs/selinux/enforce").exists() {
            "SELinux mount labels are not supported by tandem"
        } else {
            "SELinux is not enabled on this host"
        };
        return Err(Error::config("linux.mountLabel", why));
    }
    if linux.intel_rdt().is_some() {
        let why = if Path::new("/sys/fs/resctrl/schemata").exists() {
            "Intel RDT (resctrl) is not supported by tandem (see `tandem features`)"
        } else {
            "this host has no resctrl filesystem (/sys/fs/resctrl is not mounted)"
        };
        return Err(Error::config("linux.intelRdt", why));
    }
    Ok(())
}

impl Config {
    /// Add an executor's mounts and devices (see
    /// [`crate::executor::Additions`]), checked as the bundle's are; an
    /// error names the executor and the entry.
    pub(crate) fn add(&mut self, executor: &str, additions: crate::executor::Additions) -> Result<()> {
        let named = |e: Error| match e {
            Error::ConfigInvalid { field, why } => Error::config(format!("executor {executor}: {field}"), why),
            e => e,
        };
        for (i, m) in additions.mounts.iter().enumerate() {
            let mount = convert_mount(i, m, Path::new("/")).map_err(named)?;
            self.mounts.push(mount);
        }
        for (i, d) in additions.devices.iter().enumerate() {
            let device = convert_device(i, d).map_err(named)?;
            self.devices.push(device);
        }
        Ok(())
    }
}

/// A mount of the spec: `type: bind` is a bind (as runc reads it), and a
/// bind's relative source is relative to the bundle, as config.md allows.
fn convert_mount(i: usize, m: &oci::Mount, bundle: &Path) -> Result<Mount> {
    let field = |f: &str| format!("mounts[{i}]{f}");
    for (name, maps) in [("uidMappings", m.uid_mappings()), ("gidMappings", m.gid_mappings())] {
        if maps.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(Error::config(
                field(&format!(".{name}")),
                "id-mapped mounts are not supported by tandem (see `tandem features`)",
            ));
        }
    }
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::config(field(".destination"), format!("'{}' is not absolute", dest.display())));
    }
    let destination = clean(dest);
    let mut flags = mount_options::parse(m.options().as_deref().unwrap_or(&[]))
        .map_err(|why| Error::config(field(".options"), why))?;
    let typ = m.typ().clone().unwrap_or_default();
    if typ == "bind" {
        flags.set |= libc::MS_BIND;
    }
    if typ.is_empty() && flags.set & libc::MS_BIND == 0 {
        return Err(Error::config(field(".type"), "a mount that is not a bind needs a type"));
    }
    let mut source = m.source().clone();
    if flags.set & libc::MS_BIND != 0 {
        source = match source {
            Some(s) if s.as_os_str().is_empty() => None,
            Some(s) if s.is_absolute() => Some(s),
            Some(s) => Some(bundle.join(s)),
            None => None,
        };
        if source.is_none() {
            return Err(Error::config(field(".source"), "a bind mount needs a source"));
        }
    }
    Ok(Mount { destination, typ, source, flags })
}

fn convert_device(i: usize, d: &oci::LinuxDevice) -> Result<Device> {
    use oci::LinuxDeviceType as T;
    let kind = match d.typ() {
        T::C | T::U => libc::S_IFCHR,
        T::B => libc::S_IFBLK,
        T::P => libc::S_IFIFO,
        T::A => {
            return Err(Error::config(format!("linux.devices[{i}].type"), "'a' is not a device type"));
        }
    };
    // Checked once cleaned: `/dev/../etc/passwd` is not under /dev.
    let path = clean(d.path());
    if !d.path().is_absolute() || !path.starts_with("/dev") || path == Path::new("/dev") {
        return Err(Error::config(
            format!("linux.devices[{i}].path"),
            format!("'{}' is not an absolute path under /dev", d.path().display()),
        ));
    }
    Ok(Device {
        path,
        kind,
        major: d.major(),
        minor: d.minor(),
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Lexically clean an absolute path (`..` cannot climb above `/`).
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> (tempfile::TempDir, Result<Config>) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("rootfs")).unwrap();
        fs::write(dir.path().join("config.json"), config).unwrap();
        let r = Config::load(dir.path());
        (dir, r)
    }

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
        "linux":{"namespaces":[{"type":"mount"},{"type":"pid"}]}}"#;

    #[test]
    fn minimal_config_is_valid() {
        let (_d, c) = bundle_with(MINIMAL);
        let c = c.unwrap();
        assert_eq!(c.process.args, ["sh"]);
        assert!(c.creates(NsKind::Pid));
        assert!(!c.creates(NsKind::Net));
        assert_eq!(c.rootfs_propagation, libc::MS_SLAVE | libc::MS_REC);
    }

    #[test]
    fn an_executors_additions_are_checked_and_follow_the_bundles() {
        let (_d, c) = bundle_with(MINIMAL);
        let mut c = c.unwrap();
        let mount = |json: &str| -> oci_spec::runtime::Mount { serde_json::from_str(json).unwrap() };
        let device = |json: &str| -> oci_spec::runtime::LinuxDevice { serde_json::from_str(json).unwrap() };
        let additions = crate::executor::Additions {
            mounts: vec![mount(
                r#"{"destination":"/run/engine","type":"tmpfs","source":"tmpfs","options":["nosuid"]}"#,
            )],
            devices: vec![device(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#)],
        };
        c.add("probe", additions).unwrap();
        assert_eq!(c.mounts.last().map(|m| m.destination.as_path()), Some(Path::new("/run/engine")));
        assert_eq!(
            c.devices.last().map(|d| (d.path.as_path(), d.major, d.minor)),
            Some((Path::new("/dev/fuse"), 10, 229))
        );
        let bad = crate::executor::Additions {
            mounts: vec![mount(r#"{"destination":"run/x","type":"tmpfs"}"#)],
            devices: vec![],
        };
        assert_eq!(field_of(c.add("probe", bad).unwrap_err()), "executor probe: mounts[0].destination");
        let bad = crate::executor::Additions {
            mounts: vec![],
            devices: vec![device(r#"{"path":"/etc/passwd","type":"c","major":1,"minor":3}"#)],
        };
        assert_eq!(field_of(c.add("probe", bad).unwrap_err()), "executor probe: linux.devices[0].path");
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::ConfigInvalid { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn bad_fields_are_named_by_json_path() {
        let cases = [
            (MINIMAL.replace("1.0.2", "2.0.0"), "ociVersion"),
            (MINIMAL.replace(r#""cwd":"/""#, r#""cwd":"tmp""#), "process.cwd"),
            (MINIMAL.replace(r#""type":"pid""#, r#""type":"bogus""#), "linux.namespaces[1].type"),
            (MINIMAL.replace(r#""args":["sh"]"#, r#""args":[]"#), "process.args"),
            (MINIMAL.replace(r#""path":"rootfs""#, r#""path":"nope""#), "root.path"),
        ];
        for (json, field) in cases {
            let (_d, c) = bundle_with(&json);
            assert_eq!(field_of(c.unwrap_err()), field, "for {json}");
        }
    }

    #[test]
    fn malformed_json_is_a_config_error() {
        let (_d, c) = bundle_with("{\"ociVersion\": ");
        assert!(matches!(c.unwrap_err(), Error::ConfigInvalid { .. }));
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let json = MINIMAL.replace(r#"{"type":"pid"}"#, r#"{"type":"pid"},{"type":"user"}"#);
        let (_d, c) = bundle_with(&json);
        assert_eq!(field_of(c.unwrap_err()), "linux.uidMappings");
    }

    #[test]
    fn host_sysctls_are_refused() {
        let json = MINIMAL.replace(r#""linux":{"#, r#""linux":{"sysctl":{"vm.swappiness":"1"},"#);
        let (_d, c) = bundle_with(&json);
        assert_eq!(field_of(c.unwrap_err()), "linux.sysctl.vm.swappiness");
    }

    #[test]
    fn clean_never_climbs_above_root() {
        assert_eq!(clean(Path::new("/a/../../b/./c")), PathBuf::from("/b/c"));
    }

    #[test]
    fn id_maps_translate() {
        let maps = [IdMap { container_id: 0, host_id: 1000, size: 10 }];
        assert_eq!(map_id(&maps, 3), Some(1003));
        assert_eq!(map_id(&maps, 10), None);
        assert_eq!(map_id(&[], 7), Some(7));
    }
}
