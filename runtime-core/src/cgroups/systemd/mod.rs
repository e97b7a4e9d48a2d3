//! The systemd cgroup driver (`--systemd-cgroup`): systemd makes the
//! container's cgroup as a transient unit and puts the init in it, over
//! D-Bus on its private socket; tandem then writes every resource through
//! cgroupfs as the cgroupfs driver does, and joins the v1 hierarchies
//! systemd does not manage. The resources systemd has properties for are
//! given to it too, so a `daemon-reload` does not undo them (runc's rule).
//!
//! `linux.cgroupsPath` is `slice:prefix:name`; empty means
//! `:tandem:<id>`. The unit is `<prefix>-<name>.scope` in `slice` (empty:
//! `system.slice`; `-`: the root slice), or, when `name` ends in `.slice`,
//! that slice itself (the init then joins it through cgroupfs).
//!
//! Rootless, the manager is the user's own (`systemd --user`, on its
//! private socket `$XDG_RUNTIME_DIR/systemd/private`): the default slice
//! is `user.slice`, and slices are laid out under the manager's own
//! cgroup (`/user.slice/user-1000.slice/user@1000.service`), as runc does.

mod dbus;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::{Version, v2};
use crate::error::{Error, Result};
use dbus::{CallError, Connection, Variant, Writer};

/// systemd's own socket: root only, and there whether or not a bus daemon
/// runs.
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
const DESTINATION: &str = "org.freedesktop.systemd1";
const OBJECT: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long systemd may take to start or stop a unit (runc waits as long).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// Annotations whose suffix names a unit property to set.
const PROPERTY_ANNOTATION: &str = "org.systemd.property.";

/// Which unit a container's cgroup is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// `<prefix>-<name>.scope`, or a `.slice`.
    pub name: String,
    /// The slice a scope goes in; a slice's parent.
    pub slice: String,
    /// The private socket of the user's manager that runs the unit
    /// (rootless); none: the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_manager: Option<PathBuf>,
}

impl Unit {
    /// The unit `linux.cgroupsPath` asks for, of the system's manager.
    pub fn parse(requested: Option<&str>, id: &str) -> Result<Unit> {
        Unit::parse_for(requested, id, None)
    }

    /// The unit `linux.cgroupsPath` asks for, of `user_manager` (its
    /// socket) or, with none, of the system's.
    pub fn parse_for(requested: Option<&str>, id: &str, user_manager: Option<PathBuf>) -> Result<Unit> {
        let field = "linux.cgroupsPath";
        let default = format!(":tandem:{id}");
        let requested = requested.filter(|r| !r.is_empty()).unwrap_or(&default);
        let parts: Vec<&str> = requested.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::config(
                field,
                format!("'{requested}' is not 'slice:prefix:name', the form the systemd cgroup driver takes"),
            ));
        };
        let default_slice = if user_manager.is_some() { "user.slice" } else { "system.slice" };
        let slice = if slice.is_empty() { default_slice } else { slice };
        let slice = if slice == "-" { "-.slice" } else { slice };
        expand_slice(slice)?;
        let unit = if name.ends_with(".slice") {
            expand_slice(name)?;
            name.to_string()
        } else if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        check_unit_name(&unit)?;
        Ok(Unit { name: unit, slice: slice.to_string(), user_manager })
    }

    /// The socket of the manager that runs the unit.
    fn socket(&self) -> &Path {
        self.user_manager.as_deref().unwrap_or(Path::new(PRIVATE_SOCKET))
    }

    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The unit's cgroup, from its manager's root: its slice's path and
    /// the unit (a slice is laid out by its own name).
    pub fn cgroup_path(&self) -> Result<PathBuf> {
        if self.is_slice() { expand_slice(&self.name) } else { Ok(expand_slice(&self.slice)?.join(&self.name)) }
    }
}

/// A slice's cgroup path: `a-b.slice` is `/a.slice/a-b.slice`, `-.slice`
/// is the root. The same rules systemd checks, so a bad name fails here.
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let bad = |why: &str| Err(Error::config("linux.cgroupsPath", format!("slice '{slice}': {why}")));
    let Some(stem) = slice.strip_suffix(".slice") else {
        return bad("a slice's name ends in .slice");
    };
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    if stem.is_empty() || stem.contains('/') {
        return bad("it must be a name, not a path");
    }
    if stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return bad("dashes separate parent slices: no leading, trailing or double dash");
    }
    check_unit_name(slice)?;
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

fn check_unit_name(name: &str) -> Result<()> {
    let ok = name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "linux.cgroupsPath",
            format!("'{name}' is not a systemd unit name (at most 255 of: letters, digits, : - _ . \\ @)"),
        ))
    }
}

/// Fail early (before anything is made) when no systemd manages this host.
pub fn check_running() -> Result<()> {
    if Path::new("/run/systemd/system").exists() {
        return Ok(());
    }
    Err(Error::sys(
        "use the systemd cgroup driver (--systemd-cgroup)",
        io::Error::other("systemd is not running on this host (no /run/systemd/system); run without --systemd-cgroup"),
    ))
}

/// The private socket of this user's systemd manager, or why there is
/// none (an error of kind NotFound: [`crate::rootless`] may then run the
/// container without a cgroup).
pub fn user_manager() -> Result<PathBuf> {
    let what = "use the systemd cgroup driver rootless";
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
    let socket = dir.map(|d| PathBuf::from(d).join("systemd/private"));
    match socket {
        Some(socket) if socket.exists() => Ok(socket),
        Some(socket) => Err(Error::sys(
            what,
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("this user's systemd manager does not run (no {})", socket.display()),
            ),
        )),
        None => Err(Error::sys(
            what,
            io::Error::new(
                io::ErrorKind::NotFound,
                "XDG_RUNTIME_DIR is not set: no systemd manager of this user to ask",
            ),
        )),
    }
}

/// The cgroup a manager runs its units under: `/` for the system's,
/// `/user.slice/user-1000.slice/user@1000.service` for a user's (its
/// `ControlGroup` property).
pub fn manager_cgroup(socket: &Path) -> Result<PathBuf> {
    let what = format!("ask systemd at {} for its cgroup", socket.display());
    let mut conn =
        Connection::connect(socket, auth_uid()).map_err(|e| Error::path("connect to systemd at", socket, e))?;
    let mut body = Writer::default();
    body.str(MANAGER);
    body.str("ControlGroup");
    let reply = conn
        .call(DESTINATION, OBJECT, "org.freedesktop.DBus.Properties", "Get", "ss", &body.buf)
        .map_err(call_failed(what.clone()))?;
    let mut r = reply.reader();
    let read =
        r.signature().and_then(|sig| if sig == "s" { r.str() } else { Err(io::Error::other(format!("a '{sig}'"))) });
    match read {
        Ok(cgroup) if cgroup.starts_with('/') => Ok(PathBuf::from(cgroup)),
        Ok(cgroup) => Err(Error::sys(what, io::Error::other(format!("it answered '{cgroup}', not a cgroup path")))),
        Err(e) => Err(Error::sys(what, e)),
    }
}

/// The unit properties for `res`, in the names systemd uses on this
/// cgroup version (runc's table), then those the annotations set.
pub fn properties(
    res: &LinuxResources,
    version: Version,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<(String, Variant)>> {
    let mut props: Vec<(String, Variant)> = Vec::new();
    let mut set = |name: &str, v: Variant| props.push((name.to_string(), v));
    let limit = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if let Some(m) = res.memory() {
        if let Some(l) = m.limit() {
            set(if version == Version::V2 { "MemoryMax" } else { "MemoryLimit" }, Variant::U64(limit(l)));
        }
        if version == Version::V2 {
            if let Some(r) = m.reservation() {
                set("MemoryLow", Variant::U64(limit(r)));
            }
            // OCI's swap is memory+swap; systemd's MemorySwapMax swap alone.
            // Without a memory limit here the cgroupfs write computes it.
            if m.limit().is_some()
                && let Some(swap) = v2::swap_max(m.swap(), m.limit())?
            {
                set("MemorySwapMax", Variant::U64(limit(swap)));
            }
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(s) = c.shares().filter(|s| *s > 0) {
            match version {
                Version::V2 => set("CPUWeight", Variant::U64(v2::shares_to_weight(s))),
                Version::V1 => set("CPUShares", Variant::U64(s)),
            }
        }
        if let Some(p) = c.period().filter(|p| *p > 0) {
            set("CPUQuotaPeriodUSec", Variant::U64(p));
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            set("CPUQuotaPerSecUSec", Variant::U64(quota_per_sec(q, c.period())));
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            set("AllowedCPUs", Variant::Bytes(crate::cpulist::bytes("linux.resources.cpu.cpus", cpus)?));
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            set("AllowedMemoryNodes", Variant::Bytes(crate::cpulist::bytes("linux.resources.cpu.mems", mems)?));
        }
    }
    if let Some(p) = res.pids() {
        set("TasksMax", Variant::U64(if p.limit() > 0 { p.limit() as u64 } else { u64::MAX }));
    }
    if let Some(w) = res.block_io().as_ref().and_then(|b| b.weight()) {
        match version {
            Version::V2 => set("IOWeight", Variant::U64(v2::blkio_to_io_weight(w))),
            Version::V1 => set("BlockIOWeight", Variant::U64(u64::from(w))),
        }
    }
    if version == Version::V2 {
        for (key, value) in res.unified().iter().flatten() {
            unified_property(key, value, &mut set)?;
        }
    }
    for (key, value) in annotations.iter().filter(|(k, _)| k.starts_with(PROPERTY_ANNOTATION)) {
        let name = &key[PROPERTY_ANNOTATION.len()..];
        set(name, annotation_property(key, name, value)?);
    }
    Ok(props)
}

/// What systemd takes for a CFS quota: µs per second, rounded up to whole
/// percents of a CPU as systemd keeps it, so the limit it writes back is
/// never tighter than the one asked for. -1 is no limit.
fn quota_per_sec(quota: i64, period: Option<u64>) -> u64 {
    if quota < 0 {
        return u64::MAX;
    }
    let period = period.filter(|p| *p > 0).unwrap_or(100_000);
    (quota as u64 * 1_000_000 / period).div_ceil(10_000) * 10_000
}

/// The `linux.resources.unified` keys systemd has a property for.
fn unified_property(key: &str, value: &str, set: &mut impl FnMut(&str, Variant)) -> Result<()> {
    let field = format!("linux.resources.unified.{key}");
    let number = |v: &str| -> Result<u64> {
        if v == "max" {
            return Ok(u64::MAX);
        }
        v.parse().map_err(|_| Error::config(&field, format!("'{value}' is not a number or max")))
    };
    let (name, v) = match key {
        "memory.high" => ("MemoryHigh", Variant::U64(number(value.trim())?)),
        "memory.low" => ("MemoryLow", Variant::U64(number(value.trim())?)),
        "memory.min" => ("MemoryMin", Variant::U64(number(value.trim())?)),
        "memory.max" => ("MemoryMax", Variant::U64(number(value.trim())?)),
        "memory.swap.max" => ("MemorySwapMax", Variant::U64(number(value.trim())?)),
        "pids.max" => ("TasksMax", Variant::U64(number(value.trim())?)),
        "cpu.weight" => ("CPUWeight", Variant::U64(number(value.trim())?)),
        "cpuset.cpus" => ("AllowedCPUs", Variant::Bytes(crate::cpulist::bytes(&field, value)?)),
        "cpuset.mems" => ("AllowedMemoryNodes", Variant::Bytes(crate::cpulist::bytes(&field, value)?)),
        "cpu.max" => {
            let mut it = value.split_whitespace();
            let quota = it.next().unwrap_or("max");
            let period = it.next().map(number).transpose()?;
            if let Some(p) = period {
                set("CPUQuotaPeriodUSec", Variant::U64(p));
            }
            let per_sec = if quota == "max" { u64::MAX } else { quota_per_sec(number(quota)? as i64, period) };
            ("CPUQuotaPerSecUSec", Variant::U64(per_sec))
        }
        _ => return Ok(()),
    };
    set(name, v);
    Ok(())
}

/// An `org.systemd.property.<Name>` annotation's value, in the GVariant
/// text forms runc documents: `true`/`false`, a quoted string, a number
/// (int32) or a typed one (`uint64 5`, `@t 5`, `uint32`, `int64`...).
fn annotation_property(key: &str, name: &str, value: &str) -> Result<Variant> {
    let field = format!("annotations.{key}");
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::config(field, "the property name must be letters and digits"));
    }
    if name.ends_with("Sec") && !name.ends_with("USec") {
        return Err(Error::config(field, "time properties are set in microseconds: name it ...USec"));
    }
    let v = value.trim();
    let bad = || Error::config(&field, format!("'{value}' is not a bool, quoted string or (typed) integer"));
    if v == "true" || v == "false" {
        return Ok(Variant::Bool(v == "true"));
    }
    for q in ['\'', '"'] {
        if let Some(s) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return Ok(Variant::Str(s.to_string()));
        }
    }
    let (ty, num) = v.split_once(' ').map_or(("int32", v), |(t, n)| (t, n.trim()));
    Ok(match ty {
        "uint64" | "@t" => Variant::U64(num.parse().map_err(|_| bad())?),
        "int64" | "@x" => Variant::I64(num.parse().map_err(|_| bad())?),
        "uint32" | "@u" => Variant::U32(num.parse().map_err(|_| bad())?),
        "int32" | "@i" => Variant::I32(num.parse().map_err(|_| bad())?),
        _ => return Err(bad()),
    })
}

fn connect(unit: &Unit) -> Result<Connection> {
    Connection::connect(unit.socket(), auth_uid()).map_err(|e| Error::path("connect to systemd at", unit.socket(), e))
}

/// The uid systemd sees on our socket: our euid as the host knows it (in
/// a user namespace, Podman's rootless one, euid 0 is the user's uid).
fn auth_uid() -> u32 {
    let euid = crate::sys::geteuid();
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    host_id(&map, euid).unwrap_or(euid)
}

/// `id` of a namespace through its uid_map text: the host's id.
fn host_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let f: Vec<u64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let [inside, outside, count] = f[..] else { return None };
        let id = u64::from(id);
        (inside <= id && id < inside + count).then(|| (outside + id - inside) as u32)
    })
}

fn call_failed(what: String) -> impl FnOnce(CallError) -> Error {
    move |e| match e {
        CallError::Io(e) => Error::sys(what, e),
        remote => Error::sys(what, io::Error::other(remote.to_string())),
    }
}

/// Why a unit did not start.
pub enum StartError {
    /// systemd has a unit of that name already (another container's).
    Exists(Error),
    Other(Error),
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Error {
        match e {
            StartError::Exists(e) | StartError::Other(e) => e,
        }
    }
}

/// Start the container's unit: a scope holding `pid`, or a slice (the
/// caller moves `pid` into it). Returns once systemd's job is done.
pub fn start(unit: &Unit, pid: i32, props: Vec<(String, Variant)>) -> Result<(), StartError> {
    start_unit(unit, pid, props).map_err(|e| match e {
        CallError::Remote { ref name, .. } if name == "org.freedesktop.systemd1.UnitExists" => {
            StartError::Exists(call_failed(format!("start systemd unit {}", unit.name))(e))
        }
        e => StartError::Other(call_failed(format!("start systemd unit {} in {}", unit.name, unit.slice))(e)),
    })
}

fn start_unit(unit: &Unit, pid: i32, mut props: Vec<(String, Variant)>) -> Result<(), CallError> {
    let mut base = vec![("Description".to_string(), Variant::Str("tandem container".into()))];
    if unit.is_slice() {
        base.push(("Wants".into(), Variant::Strs(vec![unit.slice.clone()])));
    } else {
        base.push(("Slice".into(), Variant::Str(unit.slice.clone())));
        base.push(("Delegate".into(), Variant::Bool(true)));
        base.push(("PIDs".into(), Variant::U32s(vec![pid as u32])));
    }
    for name in ["MemoryAccounting", "CPUAccounting", "TasksAccounting"] {
        base.push((name.into(), Variant::Bool(true)));
    }
    let io = if props.iter().any(|(n, _)| n == "BlockIOWeight") { "BlockIOAccounting" } else { "IOAccounting" };
    base.push((io.into(), Variant::Bool(true)));
    base.append(&mut props);
    let mut conn = Connection::connect(unit.socket(), auth_uid())?;
    let mut body = Writer::default();
    body.str(&unit.name);
    body.str("replace");
    body.properties(&base);
    body.array(8, |_| {});
    let reply = conn.call(DESTINATION, OBJECT, MANAGER, "StartTransientUnit", "ssa(sv)a(sa(sv))", &body.buf)?;
    let job = reply.reader().str()?;
    match wait_job(&mut conn, &job) {
        Ok(result) if result == "done" => Ok(()),
        Ok(result) => Err(CallError::Io(io::Error::other(format!("systemd's job ended '{result}'")))),
        Err(e) => Err(CallError::Io(e)),
    }
}

/// Stop the container's unit; one already gone is fine (an emptied scope
/// is stopped and collected by systemd itself).
pub fn stop(unit: &Unit) -> Result<()> {
    let what = format!("stop systemd unit {}", unit.name);
    let mut conn = connect(unit)?;
    let mut body = Writer::default();
    body.str(&unit.name);
    body.str("replace");
    match conn.call(DESTINATION, OBJECT, MANAGER, "StopUnit", "ss", &body.buf) {
        Ok(reply) => {
            let job = reply.reader().str().map_err(|e| Error::sys(what.clone(), e))?;
            match wait_job(&mut conn, &job).map_err(|e| Error::sys(what.clone(), e))? {
                result if result == "done" => Ok(()),
                result => Err(Error::sys(what, io::Error::other(format!("systemd's job ended '{result}'")))),
            }
        }
        Err(CallError::Remote { name, .. }) if name == "org.freedesktop.systemd1.NoSuchUnit" => Ok(()),
        Err(e) => Err(call_failed(what)(e)),
    }
}

/// Change a running unit's properties (`update`).
pub fn set_properties(unit: &Unit, props: &[(String, Variant)]) -> Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    let what = format!("set properties of systemd unit {}", unit.name);
    let mut conn = connect(unit)?;
    let mut body = Writer::default();
    body.str(&unit.name);
    body.bool(true);
    body.properties(props);
    conn.call(DESTINATION, OBJECT, MANAGER, "SetUnitProperties", "sba(sv)", &body.buf)
        .map(drop)
        .map_err(call_failed(what))
}

/// Wait for `JobRemoved` of `job` (systemd sends its signals to every
/// connection on the private socket): how the job ended ("done" is
/// success).
fn wait_job(conn: &mut Connection, job: &str) -> io::Result<String> {
    let deadline = Instant::now() + JOB_TIMEOUT;
    let msg = conn
        .wait_signal(deadline, |m| {
            m.member == "JobRemoved" && m.signature == "uoss" && {
                let mut r = m.reader();
                r.u32().is_ok() && r.str().is_ok_and(|p| p == job)
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("wait for systemd's job {job}: {e}")))?;
    let mut r = msg.reader();
    r.u32()?;
    r.str()?;
    r.str()?;
    r.str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_uid_is_authenticated_as_the_host_knows_it() {
        assert_eq!(host_id("         0          0 4294967295\n", 1000), Some(1000));
        assert_eq!(host_id("         0       1000          1\n", 0), Some(1000));
        let subids = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(host_id(subids, 5), Some(100004));
        assert_eq!(host_id(subids, 70000), None);
    }

    #[test]
    fn a_user_managers_units_go_in_user_slice() {
        let u = Unit::parse_for(None, "web", Some(PathBuf::from("/run/user/1000/systemd/private"))).unwrap();
        assert_eq!((u.name.as_str(), u.slice.as_str()), ("tandem-web.scope", "user.slice"));
        assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/user.slice/tandem-web.scope"));
        assert_eq!(u.socket(), Path::new("/run/user/1000/systemd/private"));
        assert_eq!(Unit::parse(None, "web").unwrap().socket(), Path::new(PRIVATE_SOCKET));
    }

    #[test]
    fn cgroups_path_names_the_unit_as_runc_does() {
        let u = Unit::parse(Some("kubepods-besteffort-pod1.slice:cri-containerd:abc"), "x").unwrap();
        assert_eq!(u.name, "cri-containerd-abc.scope");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"
            )
        );
        let u = Unit::parse(None, "web").unwrap();
        assert_eq!((u.name.as_str(), u.slice.as_str()), ("tandem-web.scope", "system.slice"));
        assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/system.slice/tandem-web.scope"));
        let u = Unit::parse(Some("-::c1"), "c1").unwrap();
        assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/c1.scope"));
        let u = Unit::parse(Some("system.slice:ignored:pod-x.slice"), "c1").unwrap();
        assert!(u.is_slice());
        assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/pod.slice/pod-x.slice"));
    }

    #[test]
    fn bad_cgroups_paths_are_config_errors() {
        for bad in ["/a/b", "a:b", "a/b.slice:p:n", "x:p:n", "-a.slice:p:n", "a--b.slice:p:n", "system.slice:p:n+1"] {
            let e = Unit::parse(Some(bad), "c1").unwrap_err();
            assert!(matches!(e, Error::ConfigInvalid { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("cgroupsPath"), "{bad}: {e}");
        }
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn prop<'a>(props: &'a [(String, Variant)], name: &str) -> Option<&'a Variant> {
        props.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn resources_become_the_properties_of_each_version() {
        let res = resources(
            r#"{"memory": {"limit": 268435456, "reservation": 1048576, "swap": 536870912},
                "cpu": {"shares": 1024, "quota": 50001, "period": 100000, "cpus": "0-2,9"},
                "pids": {"limit": 42}, "blockIO": {"weight": 500}}"#,
        );
        let none = BTreeMap::new();
        let v2 = properties(&res, Version::V2, &none).unwrap();
        assert_eq!(prop(&v2, "MemoryMax"), Some(&Variant::U64(268435456)));
        assert_eq!(prop(&v2, "MemoryLow"), Some(&Variant::U64(1048576)));
        assert_eq!(prop(&v2, "MemorySwapMax"), Some(&Variant::U64(268435456)));
        assert_eq!(prop(&v2, "CPUWeight"), Some(&Variant::U64(39)));
        assert_eq!(prop(&v2, "CPUQuotaPerSecUSec"), Some(&Variant::U64(510_000)), "rounded up to 1%");
        assert_eq!(prop(&v2, "CPUQuotaPeriodUSec"), Some(&Variant::U64(100_000)));
        assert_eq!(prop(&v2, "AllowedCPUs"), Some(&Variant::Bytes(vec![0b0000_0111, 0b0000_0010])));
        assert_eq!(prop(&v2, "TasksMax"), Some(&Variant::U64(42)));
        assert_eq!(prop(&v2, "IOWeight"), Some(&Variant::U64(v2::blkio_to_io_weight(500))));
        let v1 = properties(&res, Version::V1, &none).unwrap();
        assert_eq!(prop(&v1, "MemoryLimit"), Some(&Variant::U64(268435456)));
        assert_eq!(prop(&v1, "CPUShares"), Some(&Variant::U64(1024)));
        assert_eq!(prop(&v1, "BlockIOWeight"), Some(&Variant::U64(500)));
        assert_eq!(prop(&v1, "MemoryMax"), None);
        assert_eq!(prop(&v1, "MemorySwapMax"), None);
    }

    /// What Docker sends at create (zeroes for unset fields, an unlimited
    /// memory): no property for them but unlimited swap on v2.
    #[test]
    fn zeroes_docker_sends_set_no_property() {
        let res = crate::cgroups::effective(&resources(
            r#"{"memory": {"limit": -1, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0},
                "pids": {"limit": 0}, "blockIO": {"weight": 0}}"#,
        ));
        let none = BTreeMap::new();
        let v2 = properties(&res, Version::V2, &none).unwrap();
        let names: Vec<&str> = v2.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["MemoryMax", "MemorySwapMax"], "{v2:?}");
        assert_eq!(prop(&v2, "MemorySwapMax"), Some(&Variant::U64(u64::MAX)));
        let v1 = properties(&res, Version::V1, &none).unwrap();
        let names: Vec<&str> = v1.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["MemoryLimit"], "{v1:?}");
    }

    #[test]
    fn unified_keys_and_annotations_become_properties() {
        let res = resources(r#"{"unified": {"memory.high": "1000000", "cpu.max": "max 50000", "io.max": "x"}}"#);
        let ann = BTreeMap::from([
            ("org.systemd.property.TimeoutStopUSec".to_string(), "uint64 123456789".to_string()),
            ("org.systemd.property.CollectMode".to_string(), "'inactive-or-failed'".to_string()),
            ("other".to_string(), "x".to_string()),
        ]);
        let props = properties(&res, Version::V2, &ann).unwrap();
        assert_eq!(prop(&props, "MemoryHigh"), Some(&Variant::U64(1_000_000)));
        assert_eq!(prop(&props, "CPUQuotaPerSecUSec"), Some(&Variant::U64(u64::MAX)));
        assert_eq!(prop(&props, "CPUQuotaPeriodUSec"), Some(&Variant::U64(50_000)));
        assert_eq!(prop(&props, "TimeoutStopUSec"), Some(&Variant::U64(123456789)));
        assert_eq!(prop(&props, "CollectMode"), Some(&Variant::Str("inactive-or-failed".into())));
        assert_eq!(props.len(), 5, "{props:?}");
        for (k, v) in [("org.systemd.property.TimeoutStopSec", "uint64 1"), ("org.systemd.property.X", "[1, 2]")] {
            let ann = BTreeMap::from([(k.to_string(), v.to_string())]);
            let e = properties(&res, Version::V2, &ann).unwrap_err();
            assert!(e.to_string().contains(k), "{e}");
        }
    }
}
