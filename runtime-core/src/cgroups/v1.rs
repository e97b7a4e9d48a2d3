//! `linux.resources` on cgroup v1: one hierarchy per controller, the
//! files named as the kernel's v1 interface names them.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::stats::{self, BlkioEntry, Hugetlb, MemoryEntry, Stats};
use super::{Cgroup, DeviceRule, read, read_keyed, read_u64, write};
use crate::error::{Error, Result};
use crate::sys;

/// The directory of a controller a resource field needs.
fn need<'a>(cg: &'a Cgroup, controller: &str, field: &str) -> Result<&'a Path> {
    cg.dir(controller).ok_or_else(|| {
        Error::config(field, format!("the {controller} controller is not mounted on this host (cgroup v1)"))
    })
}

pub fn apply(cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    if let Some(m) = res.memory() {
        memory(need(cg, "memory", "linux.resources.memory")?, m)?;
    }
    if let Some(c) = res.cpu() {
        cpu(cg, c)?;
    }
    if let Some(p) = res.pids() {
        let dir = need(cg, "pids", "linux.resources.pids")?;
        write(dir, "pids.max", &pids_value(p.limit()))?;
    }
    if let Some(b) = res.block_io() {
        blkio(need(cg, "blkio", "linux.resources.blockIO")?, b)?;
    }
    if let Some(limits) = res.hugepage_limits().as_ref().filter(|l| !l.is_empty()) {
        let dir = need(cg, "hugetlb", "linux.resources.hugepageLimits")?;
        for l in limits {
            write(dir, &format!("hugetlb.{}.limit_in_bytes", l.page_size()), &l.limit().to_string())?;
        }
    }
    if let Some(n) = res.network() {
        if let Some(id) = n.class_id() {
            write(need(cg, "net_cls", "linux.resources.network.classID")?, "net_cls.classid", &id.to_string())?;
        }
        for p in n.priorities().iter().flatten() {
            let dir = need(cg, "net_prio", "linux.resources.network.priorities")?;
            write(dir, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()))?;
        }
    }
    if let Some(rdma) = res.rdma() {
        for (dev, limit) in rdma {
            let dir = need(cg, "rdma", "linux.resources.rdma")?;
            write(dir, "rdma.max", &rdma_line(dev, limit.hca_handles(), limit.hca_objects()))?;
        }
    }
    Ok(())
}

pub fn pids_value(limit: i64) -> String {
    if limit > 0 { limit.to_string() } else { "max".to_string() }
}

pub fn rdma_line(dev: &str, handles: Option<u32>, objects: Option<u32>) -> String {
    let mut line = dev.to_string();
    if let Some(h) = handles {
        line += &format!(" hca_handle={h}");
    }
    if let Some(o) = objects {
        line += &format!(" hca_object={o}");
    }
    line
}

fn memory(dir: &Path, m: &LinuxMemory) -> Result<()> {
    super::check_before_update(dir, "memory.usage_in_bytes", m)?;
    // The memory+swap limit can never be below the memory limit, so the
    // order of the two writes depends on the direction of the change.
    // An unlimited memory with no swap given means unlimited swap too
    // (where the kernel accounts swap), as runc reads it.
    let memsw = "memory.memsw.limit_in_bytes";
    let swap = m.swap().or_else(|| (m.limit() == Some(-1) && dir.join(memsw).exists()).then_some(-1));
    match (m.limit(), swap) {
        (Some(limit), Some(swap)) => {
            if write(dir, "memory.limit_in_bytes", &limit.to_string()).is_err() {
                write(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
                write(dir, "memory.limit_in_bytes", &limit.to_string())?;
            } else {
                write(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
            }
        }
        (Some(limit), None) => write(dir, "memory.limit_in_bytes", &limit.to_string())?,
        (None, Some(swap)) => write(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation() {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    // `kernel` is deprecated and ignored, as runc does: kernels since 5.16
    // refuse kmem limits.
    if let Some(t) = m.kernel_tcp() {
        write(dir, "memory.kmem.tcp.limit_in_bytes", &t.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::config("linux.resources.memory.swappiness", format!("{s} is above 100")));
        }
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        write(dir, "memory.oom_control", if d { "1" } else { "0" })?;
    }
    if let Some(h) = m.use_hierarchy() {
        write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

fn cpu(cg: &Cgroup, c: &LinuxCpu) -> Result<()> {
    let dir = || need(cg, "cpu", "linux.resources.cpu");
    if let Some(s) = c.shares() {
        write(dir()?, "cpu.shares", &s.to_string())?;
    }
    if let Some(p) = c.period() {
        write(dir()?, "cpu.cfs_period_us", &p.to_string())?;
    }
    if let Some(q) = c.quota() {
        write(dir()?, "cpu.cfs_quota_us", &(if q > 0 { q } else { -1 }).to_string())?;
    }
    if let Some(b) = c.burst() {
        write(dir()?, "cpu.cfs_burst_us", &b.to_string())?;
    }
    // The period first: a runtime must fit in it.
    if let Some(p) = c.realtime_period() {
        write(dir()?, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime() {
        write(dir()?, "cpu.rt_runtime_us", &r.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(dir()?, "cpu.idle", &i.to_string())?;
    }
    if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
        write(need(cg, "cpuset", "linux.resources.cpu.cpus")?, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
        write(need(cg, "cpuset", "linux.resources.cpu.mems")?, "cpuset.mems", mems)?;
    }
    Ok(())
}

fn blkio(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    // CFQ's blkio.weight is gone from newer kernels; BFQ's file takes over.
    let weight_file = |plain: &'static str, bfq: &'static str| if dir.join(plain).exists() { plain } else { bfq };
    if let Some(w) = b.weight() {
        write(dir, weight_file("blkio.weight", "blkio.bfq.weight"), &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight() {
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let file = weight_file("blkio.weight_device", "blkio.bfq.weight_device");
            write(dir, file, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            write(dir, "blkio.leaf_weight_device", &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    let throttles = [
        ("blkio.throttle.read_bps_device", b.throttle_read_bps_device()),
        ("blkio.throttle.write_bps_device", b.throttle_write_bps_device()),
        ("blkio.throttle.read_iops_device", b.throttle_read_iops_device()),
        ("blkio.throttle.write_iops_device", b.throttle_write_iops_device()),
    ];
    for (file, list) in throttles {
        for t in list.iter().flatten() {
            write(dir, file, &format!("{}:{} {}", t.major(), t.minor(), t.rate()))?;
        }
    }
    Ok(())
}

/// Device rules in order: a deny of everything resets the list, each later
/// rule adds to it or cuts from it. Each write is one rule, so each file is
/// opened once.
pub fn apply_devices(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let open = |name: &str| {
        let path = dir.join(name);
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map(|f| (f, path.clone()))
            .map_err(|e| Error::path("open", &path, e))
    };
    let (mut allow, mut deny) = (None, None);
    for r in rules {
        let (slot, name) = if r.allow { (&mut allow, "devices.allow") } else { (&mut deny, "devices.deny") };
        let (file, path) = match slot {
            Some(f) => f,
            None => slot.insert(open(name)?),
        };
        let line = r.v1_line();
        file.write_all(line.as_bytes()).map_err(|e| Error::sys(format!("write '{line}' to {}", path.display()), e))?;
    }
    Ok(())
}

/// A new cpuset cgroup starts with no cpus and no mems, which no process
/// may join: give it its parent's. The parent may be as new and still
/// empty (another create made it a moment ago and has not filled it yet:
/// two containers under a new `/docker` at once), so an empty ancestor is
/// filled from its own parent first.
pub fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = filled(parent, file, 16)?;
        write(dir, file, &value)?;
    }
    Ok(())
}

/// `file` of the cpuset cgroup `dir`, filled from the nearest ancestor that
/// has it when empty (at most `depth` levels up: the root always has it).
fn filled(dir: &Path, file: &str, depth: u32) -> Result<String> {
    let value = read(dir, file)?.trim().to_string();
    match (value.is_empty(), dir.parent()) {
        (true, Some(parent)) if depth > 0 => {
            let value = filled(parent, file, depth - 1)?;
            write(dir, file, &value)?;
            Ok(value)
        }
        _ => Ok(value),
    }
}

pub fn oom_kills(memory_dir: &Path) -> u64 {
    read_keyed(memory_dir, "memory.oom_control").get("oom_kill").copied().unwrap_or(0)
}

/// An eventfd the kernel signals on every OOM in this memory cgroup.
pub fn oom_eventfd(dir: &Path) -> Result<OwnedFd> {
    let efd = sys::eventfd().map_err(|e| Error::sys("eventfd", e))?;
    let control = dir.join("memory.oom_control");
    let ofd = sys::open(&control, libc::O_RDONLY).map_err(|e| Error::path("open", &control, e))?;
    write(dir, "cgroup.event_control", &format!("{} {}", efd.as_raw_fd(), ofd.as_raw_fd()))?;
    // The kernel holds its own reference to memory.oom_control now.
    Ok(efd)
}

pub fn stats(cg: &Cgroup) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some(dir) = cg.dir("cpuacct") {
        s.cpu.usage.total = read_u64(dir, "cpuacct.usage");
        s.cpu.usage.percpu = read(dir, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // USER_HZ ticks, which Linux fixes at 100 per second.
        let ticks = read_keyed(dir, "cpuacct.stat");
        s.cpu.usage.user = ticks.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = ticks.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some(dir) = cg.dir("cpu") {
        let st = read_keyed(dir, "cpu.stat");
        s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
        s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttling.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
    }
    if let Some(dir) = cg.dir("memory") {
        let entry = |prefix: &str| MemoryEntry {
            limit: read_u64(dir, &format!("{prefix}limit_in_bytes")),
            usage: read_u64(dir, &format!("{prefix}usage_in_bytes")),
            max: read_u64(dir, &format!("{prefix}max_usage_in_bytes")),
            failcnt: read_u64(dir, &format!("{prefix}failcnt")),
        };
        s.memory.usage = entry("memory.");
        s.memory.swap = entry("memory.memsw.");
        s.memory.kernel = entry("memory.kmem.");
        s.memory.kernel_tcp = entry("memory.kmem.tcp.");
        s.memory.raw = read_keyed(dir, "memory.stat");
        s.memory.cache = s.memory.raw.get("total_cache").or(s.memory.raw.get("cache")).copied().unwrap_or(0);
    }
    if let Some(dir) = cg.dir("pids") {
        s.pids.current = read_u64(dir, "pids.current");
        s.pids.limit = read_u64(dir, "pids.max");
        if s.pids.limit == u64::MAX {
            s.pids.limit = 0;
        }
    }
    if let Some(dir) = cg.dir("blkio") {
        s.blkio.io_service_bytes_recursive = blkio_entries(dir, "blkio.throttle.io_service_bytes_recursive");
        s.blkio.io_serviced_recursive = blkio_entries(dir, "blkio.throttle.io_serviced_recursive");
    }
    if let Some(dir) = cg.dir("hugetlb") {
        for size in stats::hugepage_sizes() {
            let h = Hugetlb {
                usage: read_u64(dir, &format!("hugetlb.{size}.usage_in_bytes")),
                max: read_u64(dir, &format!("hugetlb.{size}.max_usage_in_bytes")),
                failcnt: read_u64(dir, &format!("hugetlb.{size}.failcnt")),
            };
            s.hugetlb.insert(size, h);
        }
    }
    Ok(s)
}

/// "8:0 Read 4096" lines; the trailing "Total" line is left out.
fn blkio_entries(dir: &Path, file: &str) -> Vec<BlkioEntry> {
    parse_blkio(&read(dir, file).unwrap_or_default())
}

pub fn parse_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines() {
        let v = parse_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
    }

    /// What Docker sends at create on v1: `cpu.shares` and `blockIO.weight`
    /// 0 (unset: nothing written, not the minimum weight nor ERANGE), an
    /// unlimited memory with no swap (memsw unlimited too).
    #[test]
    fn docker_create_zeroes_write_nothing() {
        let dir = std::env::temp_dir().join(format!("tandem-cg1-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let files = [
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "blkio.bfq.weight",
            "pids.max",
        ];
        for f in files {
            fs::write(dir.join(f), "").unwrap();
        }
        let dirs = ["memory", "cpu,cpuacct", "blkio", "pids"].map(|c| (c.to_string(), dir.clone()));
        let cg = Cgroup::at(super::super::Version::V1, "/t".into(), dirs.into());
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":-1,"reservation":0},"cpu":{"shares":0,"quota":0,"period":0},
                "blockIO":{"weight":0},"pids":{"limit":0}}"#,
        )
        .unwrap();
        apply(&cg, &crate::cgroups::effective(&res)).unwrap();
        let f = |n: &str| fs::read_to_string(dir.join(n)).unwrap();
        assert_eq!((f("memory.limit_in_bytes"), f("memory.memsw.limit_in_bytes")), ("-1".into(), "-1".into()));
        for untouched in &files[2..] {
            assert_eq!(f(untouched), "", "{untouched} was written");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn values() {
        assert_eq!(pids_value(0), "max");
        assert_eq!(pids_value(-1), "max");
        assert_eq!(pids_value(12), "12");
        assert_eq!(rdma_line("mlx4_0", Some(2), Some(2000)), "mlx4_0 hca_handle=2 hca_object=2000");
    }
}
