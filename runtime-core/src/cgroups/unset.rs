//! Which `linux.resources` values mean "not set".
//!
//! The engines do not leave a field out when they mean "no change": Docker
//! always sends `cpu.shares: 0` and `blockIO.weight: 0`, and `docker update`
//! sends every field, 0 for the ones not given. runc treats those zeroes as
//! unset, field by field (libcontainer/cgroups fs and fs2), and so must we,
//! at create and at update and for every driver: [`effective`] turns such
//! values into `None` once, before anything reads the resources.
//!
//! What stays: `-1` (or any negative) limits mean "max"; `cpu.idle`,
//! `cpu.burst`, hugepage limits and throttles are written as given; a
//! swappiness of `u64::MAX` is `-1` sent through an unsigned field (runc's
//! `int64(*swappiness) == -1`), so it is unset too.

use oci_spec::runtime::{LinuxResources, LinuxWeightDevice, LinuxWeightDeviceBuilder};

/// `res` with every value that means "unset" removed.
pub fn effective(res: &LinuxResources) -> LinuxResources {
    let mut res = res.clone();
    if let Some(m) = res.memory_mut() {
        m.set_limit(nonzero(m.limit()));
        m.set_reservation(nonzero(m.reservation()));
        m.set_swap(nonzero(m.swap()));
        m.set_kernel(nonzero(m.kernel()));
        m.set_kernel_tcp(nonzero(m.kernel_tcp()));
        m.set_swappiness(m.swappiness().filter(|&s| s != u64::MAX));
    }
    if let Some(c) = res.cpu_mut() {
        c.set_shares(nonzero(c.shares()));
        c.set_quota(nonzero(c.quota()));
        c.set_period(nonzero(c.period()));
        c.set_realtime_runtime(nonzero(c.realtime_runtime()));
        c.set_realtime_period(nonzero(c.realtime_period()));
        c.set_cpus(c.cpus().clone().filter(|s| !s.is_empty()));
        c.set_mems(c.mems().clone().filter(|s| !s.is_empty()));
    }
    if res.pids().is_some_and(|p| p.limit() == 0) {
        res.set_pids(None);
    }
    if let Some(b) = res.block_io_mut() {
        b.set_weight(nonzero(b.weight()));
        b.set_leaf_weight(nonzero(b.leaf_weight()));
        if let Some(devices) = b.weight_device().clone() {
            let kept: Vec<_> = devices.iter().filter_map(weight_device).collect();
            b.set_weight_device(Some(kept));
        }
    }
    if let Some(n) = res.network_mut() {
        n.set_class_id(nonzero(n.class_id()));
    }
    res
}

/// A weight device with its unset weights removed; `None` if none is left.
fn weight_device(d: &LinuxWeightDevice) -> Option<LinuxWeightDevice> {
    let (weight, leaf) = (nonzero(d.weight()), nonzero(d.leaf_weight()));
    let mut b = LinuxWeightDeviceBuilder::default().major(d.major()).minor(d.minor());
    if let Some(w) = weight {
        b = b.weight(w);
    }
    if let Some(w) = leaf {
        b = b.leaf_weight(w);
    }
    (weight.is_some() || leaf.is_some()).then(|| b.build().expect("every field has a default"))
}

fn nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effective_of(json: &str) -> serde_json::Value {
        let res: LinuxResources = serde_json::from_str(json).unwrap();
        serde_json::to_value(effective(&res)).unwrap()
    }

    /// Each field sent as 0 by itself: unset (absent) or kept, as runc
    /// decides it.
    #[test]
    fn zero_is_unset_field_by_field() {
        let unset = [
            ("memory", "limit"),
            ("memory", "reservation"),
            ("memory", "swap"),
            ("memory", "kernel"),
            ("memory", "kernelTCP"),
            ("cpu", "shares"),
            ("cpu", "quota"),
            ("cpu", "period"),
            ("cpu", "realtimeRuntime"),
            ("cpu", "realtimePeriod"),
            ("blockIO", "weight"),
            ("blockIO", "leafWeight"),
            ("network", "classID"),
        ];
        for (section, field) in unset {
            let out = effective_of(&format!(r#"{{"{section}": {{"{field}": 0}}}}"#));
            assert_eq!(out[section].get(field), None, "{section}.{field} 0 should be unset: {out}");
            let out = effective_of(&format!(r#"{{"{section}": {{"{field}": 7}}}}"#));
            assert_eq!(out[section][field], 7, "{section}.{field} 7 should stay: {out}");
        }
        let kept = [("cpu", "idle"), ("cpu", "burst"), ("memory", "swappiness")];
        for (section, field) in kept {
            let out = effective_of(&format!(r#"{{"{section}": {{"{field}": 0}}}}"#));
            assert_eq!(out[section][field], 0, "{section}.{field} 0 is a value: {out}");
        }
    }

    #[test]
    fn negative_limits_mean_max_and_stay() {
        let out = effective_of(r#"{"memory": {"limit": -1, "swap": -1}, "cpu": {"quota": -1}, "pids": {"limit": -1}}"#);
        assert_eq!((out["memory"]["limit"].as_i64(), out["memory"]["swap"].as_i64()), (Some(-1), Some(-1)));
        assert_eq!(out["cpu"]["quota"], -1);
        assert_eq!(out["pids"]["limit"], -1);
    }

    #[test]
    fn pids_zero_strings_devices_and_swappiness() {
        assert_eq!(effective_of(r#"{"pids": {"limit": 0}}"#).get("pids"), None);
        assert_eq!(effective_of(r#"{"pids": {"limit": 5}}"#)["pids"]["limit"], 5);
        let out = effective_of(r#"{"cpu": {"cpus": "", "mems": ""}}"#);
        assert_eq!((out["cpu"].get("cpus"), out["cpu"].get("mems")), (None, None));
        assert_eq!(effective_of(r#"{"cpu": {"cpus": "0-1"}}"#)["cpu"]["cpus"], "0-1");
        let out = effective_of(
            r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 0},
                                             {"major": 8, "minor": 16, "weight": 300, "leafWeight": 0}]}}"#,
        );
        let devices = out["blockIO"]["weightDevice"].as_array().unwrap();
        assert_eq!(devices.len(), 1, "{out}");
        assert_eq!((devices[0]["minor"].as_i64(), devices[0]["weight"].as_i64()), (Some(16), Some(300)));
        assert_eq!(devices[0].get("leafWeight"), None);
        let out = effective_of(r#"{"memory": {"swappiness": 18446744073709551615}}"#);
        assert_eq!(out["memory"].get("swappiness"), None, "swappiness -1 (as u64) is unset: {out}");
    }

    /// What `docker update --cpus 0.5` sends: only the CPU quota and period
    /// are left to write.
    #[test]
    fn docker_update_sends_zeroes_for_what_it_leaves_alone() {
        let out = effective_of(
            r#"{"blockIO": {"weight": 0}, "cpu": {"shares": 0, "period": 100000, "quota": 50000,
                "realtimePeriod": 0, "realtimeRuntime": 0, "cpus": "", "mems": ""},
                "memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0},
                "pids": {"limit": 0}}"#,
        );
        assert_eq!(out["memory"], serde_json::json!({}), "{out}");
        assert_eq!(out["cpu"], serde_json::json!({"period": 100000, "quota": 50000}), "{out}");
        assert_eq!(out["blockIO"], serde_json::json!({}), "{out}");
        assert_eq!(out.get("pids"), None, "{out}");
    }
}
