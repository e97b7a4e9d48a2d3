//! runtime-core's cgroup counters as containerd's metrics types
//! (`io.containerd.cgroups.v1.Metrics`, `io.containerd.cgroups.v2.Metrics`),
//! what `ctr task metrics` and the CRI's stats decode.

use containerd_shim::protos::cgroups::metrics as v1;
use containerd_shim::protos::cgroups_v2::metrics as v2;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use tandem_runtime_core::cgroups::{Stats, Version};

/// The metrics of a cgroup of `version`, packed as containerd unpacks them.
pub fn to_any(stats: &Stats, version: &Version, oom_kills: u64) -> Any {
    let (type_url, value) = match version {
        Version::V1 => ("io.containerd.cgroups.v1.Metrics", cgroup_v1(stats, oom_kills).write_to_bytes()),
        Version::V2 => ("io.containerd.cgroups.v2.Metrics", cgroup_v2(stats, oom_kills).write_to_bytes()),
    };
    let mut any = Any::new();
    any.type_url = type_url.to_string();
    any.value = value.expect("in-memory protobuf encoding");
    any
}

fn cgroup_v1(s: &Stats, oom_kills: u64) -> v1::Metrics {
    let entry = |e: &tandem_runtime_core::cgroups::stats::MemoryEntry| v1::MemoryEntry {
        limit: e.limit,
        usage: e.usage,
        max: e.max,
        failcnt: e.failcnt,
        ..Default::default()
    };
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let blkio = |entries: &[tandem_runtime_core::cgroups::stats::BlkioEntry]| {
        entries
            .iter()
            .map(|e| v1::BlkIOEntry {
                op: e.op.clone(),
                major: e.major,
                minor: e.minor,
                value: e.value,
                ..Default::default()
            })
            .collect()
    };
    v1::Metrics {
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v1::HugetlbStat {
                usage: h.usage,
                max: h.max,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        pids: MessageField::some(v1::PidsStat { current: s.pids.current, limit: s.pids.limit, ..Default::default() }),
        cpu: MessageField::some(v1::CPUStat {
            usage: MessageField::some(v1::CPUUsage {
                total: s.cpu.usage.total,
                kernel: s.cpu.usage.kernel,
                user: s.cpu.usage.user,
                per_cpu: s.cpu.usage.percpu.clone(),
                ..Default::default()
            }),
            throttling: MessageField::some(v1::Throttle {
                periods: s.cpu.throttling.periods,
                throttled_periods: s.cpu.throttling.throttled_periods,
                throttled_time: s.cpu.throttling.throttled_time,
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory: MessageField::some(v1::MemoryStat {
            cache: s.memory.cache,
            rss: raw("rss"),
            rss_huge: raw("rss_huge"),
            mapped_file: raw("mapped_file"),
            dirty: raw("dirty"),
            writeback: raw("writeback"),
            pg_pg_in: raw("pgpgin"),
            pg_pg_out: raw("pgpgout"),
            pg_fault: raw("pgfault"),
            pg_maj_fault: raw("pgmajfault"),
            inactive_anon: raw("inactive_anon"),
            active_anon: raw("active_anon"),
            inactive_file: raw("inactive_file"),
            active_file: raw("active_file"),
            unevictable: raw("unevictable"),
            hierarchical_memory_limit: raw("hierarchical_memory_limit"),
            hierarchical_swap_limit: raw("hierarchical_memsw_limit"),
            total_cache: raw("total_cache"),
            total_rss: raw("total_rss"),
            total_rss_huge: raw("total_rss_huge"),
            total_mapped_file: raw("total_mapped_file"),
            total_dirty: raw("total_dirty"),
            total_writeback: raw("total_writeback"),
            total_pg_pg_in: raw("total_pgpgin"),
            total_pg_pg_out: raw("total_pgpgout"),
            total_pg_fault: raw("total_pgfault"),
            total_pg_maj_fault: raw("total_pgmajfault"),
            total_inactive_anon: raw("total_inactive_anon"),
            total_active_anon: raw("total_active_anon"),
            total_inactive_file: raw("total_inactive_file"),
            total_active_file: raw("total_active_file"),
            total_unevictable: raw("total_unevictable"),
            usage: MessageField::some(entry(&s.memory.usage)),
            swap: MessageField::some(entry(&s.memory.swap)),
            kernel: MessageField::some(entry(&s.memory.kernel)),
            kernel_tcp: MessageField::some(entry(&s.memory.kernel_tcp)),
            ..Default::default()
        }),
        blkio: MessageField::some(v1::BlkIOStat {
            io_service_bytes_recursive: blkio(&s.blkio.io_service_bytes_recursive),
            io_serviced_recursive: blkio(&s.blkio.io_serviced_recursive),
            ..Default::default()
        }),
        network: s
            .network_interfaces
            .iter()
            .map(|n| v1::NetworkStat {
                name: n.name.clone(),
                rx_bytes: n.rx_bytes,
                rx_packets: n.rx_packets,
                rx_errors: n.rx_errors,
                rx_dropped: n.rx_dropped,
                tx_bytes: n.tx_bytes,
                tx_packets: n.tx_packets,
                tx_errors: n.tx_errors,
                tx_dropped: n.tx_dropped,
                ..Default::default()
            })
            .collect(),
        memory_oom_control: MessageField::some(v1::MemoryOomControl {
            oom_kill: oom_kills,
            under_oom: raw("under_oom"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cgroup_v2(s: &Stats, oom_kills: u64) -> v2::Metrics {
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let usec = |ns: u64| ns / 1000;
    v2::Metrics {
        pids: MessageField::some(v2::PidsStat { current: s.pids.current, limit: s.pids.limit, ..Default::default() }),
        cpu: MessageField::some(v2::CPUStat {
            usage_usec: usec(s.cpu.usage.total),
            user_usec: usec(s.cpu.usage.user),
            system_usec: usec(s.cpu.usage.kernel),
            nr_periods: s.cpu.throttling.periods,
            nr_throttled: s.cpu.throttling.throttled_periods,
            throttled_usec: usec(s.cpu.throttling.throttled_time),
            ..Default::default()
        }),
        memory: MessageField::some(v2::MemoryStat {
            anon: raw("anon"),
            file: raw("file"),
            kernel_stack: raw("kernel_stack"),
            slab: raw("slab"),
            sock: raw("sock"),
            shmem: raw("shmem"),
            file_mapped: raw("file_mapped"),
            file_dirty: raw("file_dirty"),
            file_writeback: raw("file_writeback"),
            anon_thp: raw("anon_thp"),
            inactive_anon: raw("inactive_anon"),
            active_anon: raw("active_anon"),
            inactive_file: raw("inactive_file"),
            active_file: raw("active_file"),
            unevictable: raw("unevictable"),
            slab_reclaimable: raw("slab_reclaimable"),
            slab_unreclaimable: raw("slab_unreclaimable"),
            pgfault: raw("pgfault"),
            pgmajfault: raw("pgmajfault"),
            usage: s.memory.usage.usage,
            usage_limit: s.memory.usage.limit,
            max_usage: s.memory.usage.max,
            swap_usage: s.memory.swap.usage,
            swap_limit: s.memory.swap.limit,
            swap_max_usage: s.memory.swap.max,
            ..Default::default()
        }),
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v2::HugeTlbStat {
                current: h.usage,
                max: h.max,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        io: MessageField::some(v2::IOStat { usage: io_v2(s), ..Default::default() }),
        memory_events: MessageField::some(v2::MemoryEvents { oom_kill: oom_kills, ..Default::default() }),
        network: s
            .network_interfaces
            .iter()
            .map(|n| v2::NetworkStat {
                name: n.name.clone(),
                rx_bytes: n.rx_bytes,
                rx_packets: n.rx_packets,
                rx_errors: n.rx_errors,
                rx_dropped: n.rx_dropped,
                tx_bytes: n.tx_bytes,
                tx_packets: n.tx_packets,
                tx_errors: n.tx_errors,
                tx_dropped: n.tx_dropped,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// runc's per-operation blkio entries, one IOEntry per device.
fn io_v2(s: &Stats) -> Vec<v2::IOEntry> {
    let mut devices: Vec<v2::IOEntry> = Vec::new();
    let mut add = |e: &tandem_runtime_core::cgroups::stats::BlkioEntry, ios: bool| {
        let i = match devices.iter().position(|d| d.major == e.major && d.minor == e.minor) {
            Some(i) => i,
            None => {
                devices.push(v2::IOEntry { major: e.major, minor: e.minor, ..Default::default() });
                devices.len() - 1
            }
        };
        let d = &mut devices[i];
        match (e.op.to_ascii_lowercase().as_str(), ios) {
            ("read", false) => d.rbytes += e.value,
            ("write", false) => d.wbytes += e.value,
            ("read", true) => d.rios += e.value,
            ("write", true) => d.wios += e.value,
            _ => {}
        }
    };
    s.blkio.io_service_bytes_recursive.iter().for_each(|e| add(e, false));
    s.blkio.io_serviced_recursive.iter().for_each(|e| add(e, true));
    devices
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_runtime_core::cgroups::stats::BlkioEntry;

    #[test]
    fn v2_io_has_one_entry_per_device_and_units_are_containerds() {
        let mut s = Stats::default();
        let e = |major, op: &str, value| BlkioEntry { major, minor: 0, op: op.into(), value };
        s.blkio.io_service_bytes_recursive = vec![e(8, "Read", 10), e(8, "Write", 20), e(9, "Read", 1)];
        s.blkio.io_serviced_recursive = vec![e(8, "Read", 2), e(8, "Write", 3)];
        s.cpu.usage.total = 5_000_000;
        s.memory.usage.usage = 4096;
        let any = to_any(&s, &Version::V2, 2);
        assert_eq!(any.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = v2::Metrics::parse_from_bytes(&any.value).unwrap();
        let io = &m.io.usage;
        assert_eq!(io.len(), 2);
        assert_eq!((io[0].major, io[0].rbytes, io[0].wbytes, io[0].rios, io[0].wios), (8, 10, 20, 2, 3));
        assert_eq!(m.cpu.usage_usec, 5000, "v2 counts CPU in microseconds");
        assert_eq!((m.memory.usage, m.memory_events.oom_kill), (4096, 2));
        let any = to_any(&s, &Version::V1, 1);
        assert_eq!(any.type_url, "io.containerd.cgroups.v1.Metrics");
        let m = v1::Metrics::parse_from_bytes(&any.value).unwrap();
        assert_eq!((m.cpu.usage.total, m.memory.usage.usage, m.memory_oom_control.oom_kill), (5_000_000, 4096, 1));
    }
}
