//! `linux.resources` on cgroup v2: one directory, values converted where
//! v2 counts differently (cpu weight, io weight, swap), as runc and crun
//! convert them.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::stats::{self, BlkioEntry, Hugetlb, MemoryEntry, Stats};
use super::{Cgroup, read, read_keyed, read_u64, v1, write};
use crate::error::{Error, Result};

/// Enable in `dir`'s children every controller `dir` has, that is not on
/// already.
pub fn enable_controllers(dir: &Path) -> Result<()> {
    let available = read(dir, "cgroup.controllers")?;
    let enabled = read(dir, "cgroup.subtree_control")?;
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(dir, "cgroup.subtree_control", &missing.join(" "))
}

fn unsupported(field: &str, why: &str) -> Error {
    Error::config(field, format!("{why} on cgroup v2"))
}

pub fn apply(cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    let dir = cg.unified_dir().expect("a v2 cgroup has its directory");
    if let Some(m) = res.memory() {
        memory(dir, m)?;
    }
    if let Some(c) = res.cpu() {
        cpu(dir, c)?;
    }
    if let Some(p) = res.pids() {
        write(dir, "pids.max", &v1::pids_value(p.limit()))?;
    }
    if let Some(b) = res.block_io() {
        io(dir, b)?;
    }
    for l in res.hugepage_limits().iter().flatten() {
        let size = l.page_size();
        write(dir, &format!("hugetlb.{size}.max"), &l.limit().to_string())?;
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        if dir.join(&rsvd).exists() {
            write(dir, &rsvd, &l.limit().to_string())?;
        }
    }
    if let Some(n) = res.network()
        && (n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()))
    {
        return Err(unsupported("linux.resources.network", "net_cls and net_prio do not exist"));
    }
    if let Some(rdma) = res.rdma() {
        for (dev, limit) in rdma {
            write(dir, "rdma.max", &v1::rdma_line(dev, limit.hca_handles(), limit.hca_objects()))?;
        }
    }
    Ok(())
}

fn limit_value(v: i64) -> String {
    if v < 0 { "max".to_string() } else { v.to_string() }
}

fn memory(dir: &Path, m: &LinuxMemory) -> Result<()> {
    super::check_before_update(dir, "memory.current", m)?;
    if let Some(l) = m.limit() {
        write(dir, "memory.max", &limit_value(l))?;
    }
    if let Some(r) = m.reservation() {
        write(dir, "memory.low", &limit_value(r))?;
    }
    // A swap change alone is checked against the limit in force ("max": -1).
    let limit = match (m.limit(), m.swap()) {
        (None, Some(_)) => Some(read(dir, "memory.max")?.trim().parse().unwrap_or(-1)),
        (limit, _) => limit,
    };
    if let Some(swap) = swap_max(m.swap(), limit)? {
        write(dir, "memory.swap.max", &limit_value(swap))?;
    }
    if m.swappiness().is_some() {
        return Err(unsupported("linux.resources.memory.swappiness", "per-cgroup swappiness does not exist"));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(unsupported("linux.resources.memory.disableOOMKiller", "the OOM killer cannot be disabled"));
    }
    if m.kernel_tcp().is_some() {
        return Err(unsupported("linux.resources.memory.kernelTCP", "a separate TCP memory limit does not exist"));
    }
    Ok(())
}

/// OCI's swap is memory+swap (v1's memsw); v2 limits swap alone. Given
/// the swap and the memory limit to apply (both already [`super::effective`]),
/// the `memory.swap.max` to write (-1 for "max"), as runc converts it: an
/// unlimited memory with no swap given means unlimited swap too.
pub fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>> {
    let field = "linux.resources.memory.swap";
    match (swap, limit) {
        (None, Some(-1)) => Ok(Some(-1)),
        (None, _) => Ok(None),
        (Some(s), _) if s < 0 => Ok(Some(-1)),
        (Some(_), None) | (Some(_), Some(..0)) => {
            Err(Error::config(field, "a memory+swap limit needs a memory limit on cgroup v2"))
        }
        (Some(s), Some(l)) if s < l => {
            Err(Error::config(field, format!("memory+swap {s} is below the memory limit {l}")))
        }
        (Some(s), Some(l)) => Ok(Some(s - l)),
    }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), as runc converts it.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 { 0 } else { 1 + ((shares.clamp(2, 262144) - 2) * 9999) / 262142 }
}

/// blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 { 0 } else { 1 + ((w.clamp(10, 1000) as u64 - 10) * 9999) / 990 }
}

fn cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    if c.quota().is_some() || c.period().is_some() {
        let quota = match c.quota() {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => read(dir, "cpu.max")?.split_whitespace().next().unwrap_or("max").to_string(),
        };
        let value = match c.period() {
            Some(p) if p > 0 => format!("{quota} {p}"),
            _ => quota,
        };
        write(dir, "cpu.max", &value)?;
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string())?;
    }
    if c.realtime_runtime().is_some_and(|r| r != 0) || c.realtime_period().is_some_and(|p| p != 0) {
        return Err(unsupported("linux.resources.cpu.realtimeRuntime", "realtime bandwidth is not delegated"));
    }
    if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

fn io(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    // BFQ takes blkio's weights as they are; io.weight has its own range.
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |w: u16| if bfq { w.to_string() } else { blkio_to_io_weight(w).to_string() };
    let weight_file = if bfq { "io.bfq.weight" } else { "io.weight" };
    if let Some(w) = b.weight() {
        write(dir, weight_file, &weight(w))?;
    }
    if b.leaf_weight().is_some() {
        return Err(unsupported("linux.resources.blockIO.leafWeight", "leaf weights do not exist"));
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            write(dir, weight_file, &format!("{}:{} {}", d.major(), d.minor(), weight(w)))?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in throttles {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 { "max".to_string() } else { t.rate().to_string() };
            write(dir, "io.max", &format!("{}:{} {key}={rate}", t.major(), t.minor()))?;
        }
    }
    Ok(())
}

/// `linux.resources.unified`: file name -> value, written as given. A
/// name must be a plain file of this cgroup, never a path.
pub fn apply_unified(dir: &Path, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        let field = format!("linux.resources.unified.{key}");
        if key.is_empty() || key.contains('/') || key.starts_with('.') || !key.contains('.') {
            return Err(Error::config(field, "is not a cgroup file name"));
        }
        if matches!(key.as_str(), "cgroup.procs" | "cgroup.threads" | "cgroup.subtree_control" | "cgroup.kill") {
            return Err(Error::config(field, "is managed by the runtime"));
        }
        if !dir.join(key).exists() {
            return Err(Error::config(
                field,
                format!("{} does not exist (is its controller enabled?)", dir.join(key).display()),
            ));
        }
        write(dir, key, &unified[key])?;
    }
    Ok(())
}

pub fn frozen(dir: &Path) -> Result<bool> {
    Ok(read(dir, "cgroup.events")?.lines().any(|l| l.trim() == "frozen 1"))
}

pub fn oom_kills(dir: &Path) -> u64 {
    read_keyed(dir, "memory.events").get("oom_kill").copied().unwrap_or(0)
}

pub fn stats(cg: &Cgroup) -> Result<Stats> {
    let dir = cg.unified_dir().expect("a v2 cgroup has its directory");
    let mut s = Stats::default();
    let cpu = read_keyed(dir, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    s.cpu.throttling.periods = cpu.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttling.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttling.throttled_time = us("throttled_usec");

    let events = read_keyed(dir, "memory.events");
    s.memory.usage = MemoryEntry {
        limit: read_u64(dir, "memory.max"),
        usage: read_u64(dir, "memory.current"),
        max: read_u64(dir, "memory.peak"),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // As runc reports it on v2: swap is memory+swap, like v1's memsw.
    let swap_max = read_u64(dir, "memory.swap.max");
    s.memory.swap = MemoryEntry {
        limit: if swap_max == u64::MAX || s.memory.usage.limit == u64::MAX {
            u64::MAX
        } else {
            swap_max + s.memory.usage.limit
        },
        usage: read_u64(dir, "memory.swap.current") + s.memory.usage.usage,
        max: 0,
        failcnt: read_keyed(dir, "memory.swap.events").get("max").copied().unwrap_or(0),
    };
    s.memory.raw = read_keyed(dir, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);

    s.pids.current = read_u64(dir, "pids.current");
    s.pids.limit = match read_u64(dir, "pids.max") {
        u64::MAX => 0,
        n => n,
    };

    for (major, minor, keys) in parse_io_stat(&read(dir, "io.stat").unwrap_or_default()) {
        let get = |k: &str| keys.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
        let entry = |op: &str, value| BlkioEntry { major, minor, op: op.to_string(), value };
        s.blkio.io_service_bytes_recursive.push(entry("Read", get("rbytes")));
        s.blkio.io_service_bytes_recursive.push(entry("Write", get("wbytes")));
        s.blkio.io_serviced_recursive.push(entry("Read", get("rios")));
        s.blkio.io_serviced_recursive.push(entry("Write", get("wios")));
    }

    for size in stats::hugepage_sizes() {
        if !dir.join(format!("hugetlb.{size}.current")).exists() {
            continue;
        }
        let h = Hugetlb {
            usage: read_u64(dir, &format!("hugetlb.{size}.current")),
            max: 0,
            failcnt: read_keyed(dir, &format!("hugetlb.{size}.events")).get("max").copied().unwrap_or(0),
        };
        s.hugetlb.insert(size, h);
    }
    Ok(s)
}

/// One io.stat line: major, minor and its key=value counters.
type IoStatLine = (u64, u64, Vec<(String, u64)>);

/// "8:0 rbytes=1 wbytes=2 rios=3 ..." lines.
pub fn parse_io_stat(text: &str) -> Vec<IoStatLine> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (major, minor) = f.next()?.split_once(':')?;
            let keys = f
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect();
            Some((major.parse().ok()?, minor.parse().ok()?, keys))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }

    #[test]
    fn io_stat_lines() {
        let v = parse_io_stat("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        assert_eq!(v[0].0, 8);
        assert_eq!(v[0].2[0], ("rbytes".to_string(), 4096));
    }

    /// A fake v2 cgroup directory: every write lands in a plain file.
    fn fake(files: &[&str]) -> (tempdir::Dir, Cgroup) {
        let d = tempdir::Dir::new();
        for f in files {
            std::fs::write(d.0.join(f), "").unwrap();
        }
        let cg = Cgroup::at(super::super::Version::V2, "/t".into(), [(String::new(), d.0.clone())].into());
        (d, cg)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "tandem-cg-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn every_v2_field_lands_in_its_file() {
        let (d, cg) = fake(&[
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "rdma.max",
            "memory.high",
        ]);
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":104857600,"reservation":52428800,"swap":209715200},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"burst":1000,"idle":1,"cpus":"0","mems":"0"},
                "pids":{"limit":32},
                "blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "rdma":{"mlx5_1":{"hcaHandles":3}},
                "unified":{"memory.high":"90000000"}}"#,
        )
        .unwrap();
        cg.apply(&res, &[], false).unwrap();
        let f = |n: &str| std::fs::read_to_string(d.0.join(n)).unwrap();
        assert_eq!(f("memory.max"), "104857600");
        assert_eq!(f("memory.low"), "52428800");
        assert_eq!(f("memory.swap.max"), "104857600");
        assert_eq!(f("cpu.weight"), "39");
        assert_eq!(f("cpu.max"), "50000 100000");
        assert_eq!(f("cpu.max.burst"), "1000");
        assert_eq!(f("cpu.idle"), "1");
        assert_eq!(f("cpuset.cpus"), "0");
        assert_eq!(f("pids.max"), "32");
        assert_eq!(f("io.weight"), "4950");
        assert_eq!(f("io.max"), "8:0 rbps=1048576");
        assert_eq!(f("hugetlb.2MB.max"), "4194304");
        assert_eq!(f("rdma.max"), "mlx5_1 hca_handle=3");
        assert_eq!(f("memory.high"), "90000000");
    }

    #[test]
    fn a_limit_below_usage_is_refused_when_asked_to_check() {
        let (d, cg) = fake(&["memory.max", "memory.current"]);
        std::fs::write(d.0.join("memory.current"), "5000000\n").unwrap();
        let res = |check: bool| -> LinuxResources {
            serde_json::from_value(serde_json::json!({"memory": {"limit": 4000000, "checkBeforeUpdate": check}}))
                .unwrap()
        };
        let e = cg.apply(&res(true), &[], false).unwrap_err().to_string();
        assert!(e.contains("below the container's current usage 5000000"), "{e}");
        assert_eq!(std::fs::read_to_string(d.0.join("memory.max")).unwrap(), "", "nothing written");
        cg.apply(&res(false), &[], false).unwrap();
        assert_eq!(std::fs::read_to_string(d.0.join("memory.max")).unwrap(), "4000000");
    }

    #[test]
    fn swap_is_converted_as_runc_does() {
        assert_eq!(swap_max(None, None).unwrap(), None);
        assert_eq!(swap_max(None, Some(1 << 20)).unwrap(), None);
        assert_eq!(swap_max(None, Some(-1)).unwrap(), Some(-1), "unlimited memory, swap not given: unlimited swap");
        assert_eq!(swap_max(Some(-1), Some(1 << 20)).unwrap(), Some(-1));
        assert_eq!(swap_max(Some(3 << 20), Some(1 << 20)).unwrap(), Some(2 << 20));
        assert_eq!(swap_max(Some(1 << 20), Some(1 << 20)).unwrap(), Some(0), "equal: no swap at all");
        assert!(swap_max(Some(1 << 20), Some(2 << 20)).unwrap_err().to_string().contains("below"));
        assert!(swap_max(Some(1 << 20), Some(-1)).unwrap_err().to_string().contains("needs a memory limit"));
    }

    /// Docker's update with `--cpus` only: the zeroes it sends for the rest
    /// touch no file.
    #[test]
    fn zeroes_write_nothing() {
        let files = ["memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "pids.max", "io.weight"];
        let (d, cg) = fake(&files);
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0},
                "cpu":{"shares":0,"quota":50000,"period":100000,"cpus":"","mems":""},
                "pids":{"limit":0},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        cg.apply(&crate::cgroups::effective(&res), &[], false).unwrap();
        let f = |n: &str| std::fs::read_to_string(d.0.join(n)).unwrap();
        assert_eq!(f("cpu.max"), "50000 100000");
        for untouched in files.iter().filter(|f| **f != "cpu.max") {
            assert_eq!(f(untouched), "", "{untouched} was written");
        }
    }

    #[test]
    fn v1_only_fields_and_bad_unified_keys_are_refused() {
        let (_d, cg) = fake(&["memory.max"]);
        for (json, field) in [
            (r#"{"memory":{"swappiness":10}}"#, "swappiness"),
            (r#"{"network":{"classID":1}}"#, "network"),
            (r#"{"cpu":{"realtimeRuntime":100}}"#, "realtimeRuntime"),
            (r#"{"unified":{"../../x":"1"}}"#, "unified"),
            (r#"{"unified":{"cgroup.procs":"1"}}"#, "managed"),
            (r#"{"unified":{"memory.high":"1"}}"#, "does not exist"),
        ] {
            let res: LinuxResources = serde_json::from_str(json).unwrap();
            let e = cg.apply(&res, &[], false).unwrap_err().to_string();
            assert!(e.contains(field), "{json}: {e}");
        }
    }
}
