//! cgroups: limits written at create and read back from the host's cgroup
//! files and from inside the container, pause/resume, ps, stats and OOM
//! events, update, device rules, and nothing left after delete.
//!
//! These run on whatever layout the host has (v1, hybrid or v2); the file
//! names follow it. The v2-only device filter is checked on the cgroup2
//! hierarchy of a hybrid host here, and a whole v2 run happens in a VM
//! (tests/cgroup_v2.rs).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bundle, Env, cgroup_dirs};
use serde_json::{Value, json};

fn unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The container's directory for a controller (default cgroupsPath).
fn dir(id: &str, controller: &str) -> PathBuf {
    if unified() {
        PathBuf::from("/sys/fs/cgroup/tandem").join(id)
    } else {
        PathBuf::from("/sys/fs/cgroup").join(controller).join("tandem").join(id)
    }
}

fn read(id: &str, controller: &str, file: &str) -> String {
    let p = dir(id, controller).join(file);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

/// The first disk of the machine (major, minor), for blkio throttles.
fn block_device() -> (u64, u64) {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))
        .collect();
    names.sort();
    let dev = fs::read_to_string(format!("/sys/block/{}/dev", names.first().expect("a disk in /sys/block"))).unwrap();
    let (major, minor) = dev.trim().split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// A bundle whose container writes into `<env>/out` (seen as /out).
fn bundle_with_out(env: &Env, name: &str, script: &str) -> (Bundle, PathBuf) {
    let out = env.dir.join(format!("{name}-out"));
    fs::create_dir_all(&out).unwrap();
    let mut b = env.bundle(name, &["sh", "-c", script]);
    b.mount(json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]}));
    (b, out)
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = fs::read_to_string(path)
            && s.ends_with("END\n")
        {
            return s;
        }
        assert!(Instant::now() < deadline, "{} never completed", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats(env: &Env, id: &str) -> Value {
    let line = env.ok(&["events", "--stats", id]);
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id);
    v["data"].clone()
}

#[test]
fn resources_are_written_and_seen_from_inside() {
    let env = Env::new("cg-res");
    let id = env.id("c");
    let script = if unified() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /proc/self/cgroup > /out/inside; echo END >> /out/inside; exec sleep 1000"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /proc/self/cgroup > /out/inside; echo END >> /out/inside; exec sleep 1000"
    };
    let (mut b, out) = bundle_with_out(&env, "b", script);
    let (major, minor) = block_device();
    b.config["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864, "reservation": 33554432},
        "pids": {"limit": 25},
        "cpu": {"shares": 512, "quota": 25000, "period": 50000, "cpus": "0", "mems": "0"}
    });
    if !unified() {
        // v1-only fields, and what v1 accepts on this host.
        b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864, "reservation": 33554432,
            "swap": 134217728, "swappiness": 10, "kernelTCP": 16777216, "disableOOMKiller": false});
        b.config["linux"]["resources"]["cpu"]["burst"] = json!(1000);
        b.config["linux"]["resources"]["cpu"]["realtimePeriod"] = json!(1000000);
        b.config["linux"]["resources"]["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
        });
    }
    b.save();
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let inside = wait_for_file(&out.join("inside"));
    let lines: Vec<&str> = inside.lines().collect();
    assert_eq!(lines[0], "67108864", "{inside}");
    assert_eq!(lines[1], "25", "{inside}");
    assert_eq!(lines[2], if unified() { "25000 50000" } else { "25000" }, "{inside}");
    // In its own cgroup namespace the container's cgroup is its root.
    assert!(lines[3..].iter().filter(|l| l.contains(':')).all(|l| l.ends_with(":/")), "{inside}");

    let pid = env.state(&id)["pid"].as_i64().unwrap();
    if unified() {
        assert_eq!(read(&id, "memory", "memory.max"), "67108864");
        assert_eq!(read(&id, "memory", "memory.low"), "33554432");
        assert_eq!(read(&id, "cpu", "cpu.weight"), "20");
        assert_eq!(read(&id, "cpu", "cpu.max"), "25000 50000");
        assert_eq!(read(&id, "cpuset", "cpuset.cpus"), "0");
        assert_eq!(read(&id, "pids", "pids.max"), "25");
    } else {
        assert_eq!(read(&id, "memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&id, "memory", "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&id, "memory", "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(read(&id, "memory", "memory.swappiness"), "10");
        assert_eq!(read(&id, "memory", "memory.kmem.tcp.limit_in_bytes"), "16777216");
        assert!(read(&id, "memory", "memory.oom_control").contains("oom_kill_disable 0"));
        assert_eq!(read(&id, "cpu", "cpu.cfs_burst_us"), "1000");
        assert_eq!(read(&id, "cpu", "cpu.rt_period_us"), "1000000");
        let (major, minor) = block_device();
        let throttle = read(&id, "blkio", "blkio.throttle.read_bps_device");
        assert_eq!(throttle, format!("{major}:{minor} 1048576"));
        let throttle = read(&id, "blkio", "blkio.throttle.write_iops_device");
        assert_eq!(throttle, format!("{major}:{minor} 100"));
        assert_eq!(read(&id, "cpu", "cpu.shares"), "512");
        assert_eq!(read(&id, "cpu", "cpu.cfs_period_us"), "50000");
        assert_eq!(read(&id, "cpu", "cpu.cfs_quota_us"), "25000");
        assert_eq!(read(&id, "cpuset", "cpuset.cpus"), "0");
        assert_eq!(read(&id, "cpuset", "cpuset.mems"), "0");
        assert_eq!(read(&id, "pids", "pids.max"), "25");
        let devices = read(&id, "devices", "devices.list");
        assert!(devices.contains("c 1:3 rwm") && devices.contains("c 136:* rwm"), "{devices}");
        assert!(!devices.contains("a *:* rwm"), "deny-all was not applied: {devices}");
    }
    // The init is in every hierarchy's cgroup.
    for d in cgroup_dirs(&id) {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == pid.to_string()), "{} lacks {pid}: {procs}", d.display());
    }
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, Some(pid as i32));
}

#[test]
fn device_rules_allow_and_deny_access() {
    let env = Env::new("cg-dev");
    let id = env.id("c");
    // /dev/loop-control (c 10:237) is not among the defaults; mknod of any
    // char device is ("c *:* m").
    let script = "mknod /tmp/lc c 10 237 && echo mknod-ok; \
                  (exec 3</tmp/lc) 2>/dev/null && echo read-ok || echo read-denied; \
                  (exec 3>/tmp/lc) 2>/dev/null && echo write-ok || echo write-denied; \
                  cat /dev/null && echo null-ok";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.config["process"]["capabilities"]["bounding"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    b.config["process"]["capabilities"]["effective"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    b.config["process"]["capabilities"]["permitted"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    b.config["linux"]["resources"] = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 237, "access": "r"}
    ]});
    b.mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}));
    let out = env.run_ok(&id, &b);
    assert_eq!(out, "mknod-ok\nread-ok\nwrite-denied\nnull-ok\n");

    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    b.save();
    let out = env.run_ok(&id, &b);
    assert_eq!(out, "mknod-ok\nread-denied\nwrite-denied\nnull-ok\n");
    env.assert_gone(&id, None);
}

/// The attack: a config with no device rules at all, a process with
/// CAP_MKNOD (Docker's default set has it) makes a node for the host's
/// loop0 (b 7:0, which root on this host can open: a way to the host's
/// files) and opens it. The device list starts from deny-all, so it cannot.
#[test]
fn without_device_rules_host_block_devices_stay_out_of_reach() {
    let env = Env::new("cg-nodev");
    let script = "mknod /tmp/loop b 7 0 && echo mknod-ok; \
                  (exec 3</tmp/loop) 2>/dev/null && echo read-ok || echo read-denied; cat /dev/null && echo null-ok";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    }
    b.config["linux"].as_object_mut().unwrap().remove("resources");
    b.mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}));
    let id = env.id("c");
    assert_eq!(env.run_ok(&id, &b), "mknod-ok\nread-denied\nnull-ok\n");
    env.assert_gone(&id, None);
}

/// Total CPU time of the container, in ns.
fn cpu_total(env: &Env, id: &str) -> u64 {
    stats(env, id)["cpu"]["usage"]["total"].as_u64().unwrap()
}

#[test]
fn pause_freezes_and_resume_thaws_a_busy_loop() {
    let env = Env::new("cg-pause");
    let id = env.id("c");
    let b = env.bundle("b", &["sh", "-c", "while :; do :; done"]);
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let (code, err) = env.fails(&["resume", &id]);
    assert!(err.contains("not paused") && code != 0, "{err}");
    env.ok(&["pause", &id]);
    assert_eq!(env.status(&id), "paused");
    if unified() {
        assert!(read(&id, "freezer", "cgroup.events").contains("frozen 1"));
    } else {
        assert_eq!(read(&id, "freezer", "freezer.state"), "FROZEN");
    }
    let frozen = cpu_total(&env, &id);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_total(&env, &id), frozen, "a frozen loop used CPU");
    let (_, err) = env.fails(&["delete", &id]);
    assert!(err.contains("paused"), "{err}");

    env.ok(&["resume", &id]);
    assert_eq!(env.status(&id), "running");
    let deadline = Instant::now() + Duration::from_secs(20);
    while cpu_total(&env, &id) == frozen {
        assert!(Instant::now() < deadline, "the loop never ran again after resume");
        std::thread::sleep(Duration::from_millis(20));
    }

    // kill and delete work on a paused container.
    env.ok(&["pause", &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    env.assert_gone(&id, Some(pid));

    let id2 = env.id("d");
    env.ok(&["run", "-d", "--bundle", b.str(), &id2]);
    env.ok(&["pause", &id2]);
    env.ok(&["delete", "--force", &id2]);
    env.assert_gone(&id2, None);
}

#[test]
fn ps_and_kill_all_reach_every_process_in_the_cgroup() {
    let env = Env::new("cg-ps");
    let id = env.id("c");
    // No pid namespace of its own: only the cgroup says which processes
    // are the container's.
    let mut b = env.bundle("b", &["sh", "-c", "sleep 1001 & sleep 1002 & wait"]);
    let ns: Vec<Value> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
    b.linux("namespaces", json!(ns));
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids: Vec<i32> = loop {
        let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
        if pids.len() == 3 {
            break pids;
        }
        assert!(Instant::now() < deadline, "ps never showed 3 processes: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let table = env.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"), "{table}");
    assert!(table.contains("sleep 1001") && table.contains("sleep 1002"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    assert_eq!(stats(&env, &id)["pids"]["current"], 3);

    env.ok(&["kill", "--all", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    for p in &pids {
        let deadline = Instant::now() + Duration::from_secs(20);
        while fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
            assert!(Instant::now() < deadline, "process {p} survived kill --all");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn an_oom_kill_is_reported_as_an_event() {
    let env = Env::new("cg-oom");
    let id = env.id("c");
    // A 200 MB string in a 16 MiB cgroup.
    let mut b = env.bundle("b", &["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216}});
    b.save();
    env.ok(&["create", "--bundle", b.str(), &id]);
    let events_out = env.dir.join("events.out");
    let mut events = Command::new(common::tandem_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["events", "--interval", "10s", &id])
        .stdout(fs::File::create(&events_out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The first stats line says the stream is up before the OOM happens.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&events_out).unwrap().contains("\"stats\"") {
        assert!(Instant::now() < deadline, "events printed nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.ok(&["start", &id]);
    env.wait_status(&id, "stopped");
    // The stream ends with the container.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = events.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "events did not end when the container stopped");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let text = fs::read_to_string(&events_out).unwrap();
    let oom = format!(r#"{{"type":"oom","id":"{id}"}}"#);
    assert!(text.lines().any(|l| l == oom), "no OOM event in:\n{text}");
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    let env = Env::new("cg-update");
    let id = env.id("c");
    let b = env.bundle("b", &["sleep", "1000"]);
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    env.ok(&[
        "update",
        "--memory",
        "48m",
        "--pids-limit",
        "7",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        "--cpu-shares",
        "256",
        &id,
    ]);
    let res = env.dir.join("res.json");
    fs::write(&res, r#"{"pids": {"limit": 9}, "cpu": {"cpus": "0"}}"#).unwrap();
    env.ok(&["update", "--resources", res.to_str().unwrap(), &id]);
    if unified() {
        assert_eq!(read(&id, "memory", "memory.max"), (48 << 20).to_string());
        assert_eq!(read(&id, "cpu", "cpu.max"), "30000 100000");
        assert_eq!(read(&id, "cpu", "cpu.weight"), "10");
    } else {
        assert_eq!(read(&id, "memory", "memory.limit_in_bytes"), (48 << 20).to_string());
        assert_eq!(read(&id, "cpu", "cpu.cfs_quota_us"), "30000");
        assert_eq!(read(&id, "cpu", "cpu.shares"), "256");
    }
    assert_eq!(read(&id, "pids", "pids.max"), "9");
    assert_eq!(read(&id, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(stats(&env, &id)["pids"]["limit"], 9);

    // A value the kernel refuses is named with its file.
    let (_, err) = env.fails(&["update", "--cpuset-cpus", "4095", &id]);
    assert!(err.contains("'4095'") && err.contains("cpuset.cpus"), "{err}");
    let (_, err) = env.fails(&["update", "--memory", "lots", &id]);
    assert!(err.contains("--memory"), "{err}");
    env.ok(&["delete", "--force", &id]);
    let (_, err) = env.fails(&["update", "--pids-limit", "3", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_refused_value_fails_create_and_leaves_nothing() {
    let env = Env::new("cg-bad");
    let id = env.id("c");
    let mut b = env.bundle("b", &["true"]);
    b.config["linux"]["resources"] = json!({"cpu": {"cpus": "4095"}});
    b.save();
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("'4095'") && err.contains("cpuset.cpus"), "{err}");
    env.assert_gone(&id, None);

    b.config["linux"]["resources"] = json!({"unified": {"no.such.file": "1"}});
    b.save();
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("linux.resources.unified.no.such.file"), "{err}");
    env.assert_gone(&id, None);

    b.config["linux"]["resources"] = json!({"devices": [{"allow": true, "access": "rwx"}]});
    b.save();
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("linux.resources.devices[0]"), "{err}");
    env.assert_gone(&id, None);
}

/// A host with v1 hierarchies only (this hybrid host's cgroup2 mount
/// hidden in a private mount namespace): `linux.resources.unified` has
/// nowhere to go. A clear error names it and nothing is made; runc
/// refuses it as well.
#[test]
fn unified_on_a_v1_only_host_is_refused() {
    let env = Env::new("cg-v1only");
    let hybrid = Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists();
    if unified() || !hybrid {
        eprintln!("skipped: this host has no v1 hierarchies next to a cgroup2 mount to hide");
        return;
    }
    let mut b = env.bundle("b", &["true"]);
    b.config["linux"]["resources"] = json!({"unified": {"memory.high": "max"}});
    b.save();
    let v1_only = |cmd: String| {
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!("umount /sys/fs/cgroup/unified && exec {cmd}"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let id = env.id("c");
    let out = v1_only(format!(
        "{} --root {} --cache-dir {} run --bundle {} {id}",
        env.bin.display(),
        env.root.display(),
        env.cache.display(),
        b.str()
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("linux.resources.unified") && err.contains("no cgroup2"), "{err}");
    env.assert_gone(&id, None);
    if Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let root = env.dir.join("runc-root");
        let rid = env.id("runc");
        let out = v1_only(format!("runc --root {} run --bundle {} {rid}", root.display(), b.str()));
        assert!(!out.status.success(), "runc ran it: {}", String::from_utf8_lossy(&out.stdout));
        let _ = Command::new("runc").arg("--root").arg(&root).args(["delete", "--force", &rid]).output();
    }
}

#[test]
fn cgroups_path_absolute_and_relative() {
    let env = Env::new("cg-path");
    let id = env.id("c");
    let parent = format!("tandem-test-{}", env.tag);
    let mut b = env.bundle("b", &["sleep", "1000"]);
    b.linux("cgroupsPath", json!(format!("/{parent}/custom")));
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap().to_string();
    let memory_root = if unified() { PathBuf::from("/sys/fs/cgroup") } else { PathBuf::from("/sys/fs/cgroup/memory") };
    let custom = memory_root.join(&parent).join("custom");
    assert!(fs::read_to_string(custom.join("cgroup.procs")).unwrap().lines().any(|l| l == pid));
    env.ok(&["delete", "--force", &id]);
    assert!(!custom.exists(), "the container's cgroup is left");
    assert!(memory_root.join(&parent).exists(), "delete removed a parent it did not own");

    // Relative: under the caller's own cgroup.
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let key = if unified() { "0::" } else { ":memory:" };
    let own = own.lines().find_map(|l| l.split_once(key).map(|(_, p)| p.to_string())).unwrap();
    b.linux("cgroupsPath", json!(format!("{parent}/rel")));
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let rel = memory_root.join(own.trim_start_matches('/')).join(&parent).join("rel");
    assert!(rel.join("cgroup.procs").exists(), "{} missing", rel.display());
    env.ok(&["delete", "--force", &id]);
    assert!(!rel.exists());
    for root in all_roots() {
        let _ = fs::remove_dir(root.join(own.trim_start_matches('/')).join(&parent));
        let _ = fs::remove_dir(root.join(&parent));
    }
}

fn all_roots() -> Vec<PathBuf> {
    if unified() {
        return vec![PathBuf::from("/sys/fs/cgroup")];
    }
    fs::read_dir("/sys/fs/cgroup").unwrap().flatten().map(|e| e.path()).collect()
}

#[test]
fn stats_report_usage_in_runcs_shape() {
    let env = Env::new("cg-stats");
    let id = env.id("c");
    let mut b = env.bundle("b", &["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 100663296}, "pids": {"limit": 50}});
    b.save();
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        let s = stats(&env, &id);
        if s["pids"]["current"] == 2 {
            break s;
        }
        assert!(Instant::now() < deadline, "pids.current never reached 2: {s}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(s["pids"]["limit"], 50);
    assert_eq!(s["memory"]["usage"]["limit"], 100663296);
    assert!(s["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{s}");
    assert!(s["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{s}");
    assert!(s["memory"]["raw"].as_object().is_some_and(|r| !r.is_empty()), "{s}");
    assert!(s["network_interfaces"].as_array().is_some(), "{s}");
    env.ok(&["delete", "--force", &id]);
    let (_, err) = env.fails(&["events", "--stats", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_cgroup_left_by_a_create_killed_half_way_goes_with_delete_force() {
    let env = Env::new("cg-half");
    let id = env.id("c");
    let b = env.bundle("b", &["sleep", "1000"]);
    env.ok(&["create", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    // What a runtime killed after the clone and before saving its state
    // leaves: the cgroup with the init in it, the plan of the cgroup, no
    // state.json.
    fs::remove_file(env.root.join(&id).join("state.json")).unwrap();
    assert_eq!(env.status(&id), "creating");
    assert!(cgroup_dirs(&id).iter().all(|d| d.exists()));
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, Some(pid));
}

/// The cgroup2 mount: /sys/fs/cgroup on v2, /sys/fs/cgroup/unified on a
/// hybrid host.
fn cgroup2_mount() -> PathBuf {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .map(|l| PathBuf::from(l.split(' ').nth(4).unwrap()))
        .expect("this test needs a cgroup2 hierarchy (v2 or hybrid)")
}

/// The v2 device filter (eBPF), loaded into a real cgroup2 directory and
/// tried by a shell that moves itself in. Replacing the rules detaches the
/// old program: a leftover deny would still refuse.
#[test]
fn the_v2_device_filter_enforces_rules_and_is_replaced_on_update() {
    use tandem_runtime_core::cgroups::{Cgroup, Version};
    let env = Env::new("cg-bpf");
    let path = PathBuf::from(format!("/tandem-test-bpf-{}", env.tag));
    let dir = cgroup2_mount().join(path.strip_prefix("/").unwrap());
    struct Removed(Cgroup);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = self.0.destroy();
        }
    }
    let cg = Removed(Cgroup::at(Version::V2, path, [(String::new(), dir.clone())].into()));
    let cg = &cg.0;
    cg.create().unwrap();
    let try_open = || {
        let script = format!(
            "echo $$ > {}/cgroup.procs || exit 9; (exec 3</dev/loop-control) 2>/dev/null && echo open || echo denied",
            dir.display()
        );
        let out = Command::new("/bin/sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let res = |json: &str| -> oci_spec::runtime::LinuxResources { serde_json::from_str(json).unwrap() };
    assert_eq!(try_open(), "open", "no filter yet");
    cg.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#), &[], true).unwrap();
    assert_eq!(try_open(), "denied");
    cg.apply(
        &res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":237,"access":"r"}]}"#),
        &[],
        false,
    )
    .unwrap();
    assert_eq!(try_open(), "open", "the old deny-all program is still attached");
    cg.apply(&res("{}"), &[], false).unwrap();
    assert_eq!(try_open(), "open", "an update without devices keeps the rules");
    cg.destroy().unwrap();
    assert!(!dir.exists());
}

#[test]
fn without_systemd_the_systemd_driver_fails_clearly_and_makes_nothing() {
    if std::path::Path::new("/run/systemd/system").exists() {
        eprintln!("systemd runs here: tests/systemd.rs covers the driver");
        return;
    }
    let env = Env::new("cg-systemd");
    let id = env.id("c");
    let mut b = env.bundle("b", &["true"]);
    b.linux("cgroupsPath", json!("system.slice:tandem:c"));
    let (_, err) = env.fails(&["--systemd-cgroup", "run", "--bundle", b.str(), &id]);
    assert!(err.contains("systemd is not running on this host") && err.contains("--systemd-cgroup"), "{err}");
    assert!(!Path::new("/sys/fs/cgroup/memory/system.slice/tandem-c.scope").exists());
    env.assert_gone(&id, None);
}

#[test]
fn without_a_cgroup_namespace_the_container_sees_only_its_own_cgroup() {
    let env = Env::new("cg-nons");
    let id = env.id("c");
    let file = if unified() { "/sys/fs/cgroup/pids.max" } else { "/sys/fs/cgroup/pids/pids.max" };
    let mut b = env.bundle("b", &["sh", "-c", &format!("cat {file}; ls /sys/fs/cgroup/memory/tandem 2>&1 | head -1")]);
    let ns: Vec<Value> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "cgroup").cloned().collect();
    b.linux("namespaces", json!(ns));
    b.config["linux"]["resources"] = json!({"pids": {"limit": 17}});
    b.save();
    let out = env.run_ok(&id, &b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("17"), "{out}");
    if !unified() {
        // The host's /tandem parent is not in view.
        assert!(lines.next().is_some_and(|l| l.contains("No such file")), "{out}");
    }
}

/// Two creates under a new parent at once (Docker's `/docker/<id>`): the
/// second can find the parent made but not yet given its cpus and mems,
/// which a v1 cpuset cgroup starts without, and no process may join an
/// empty one. Here the parent is made empty by hand, as the first create
/// would leave it for a moment: the container still starts.
#[test]
fn a_container_under_a_cpuset_parent_not_yet_filled_starts() {
    let cpuset = Path::new("/sys/fs/cgroup/cpuset");
    if !cpuset.join("cpuset.cpus").exists() {
        eprintln!("no cgroup v1 cpuset hierarchy on this host: nothing to race on");
        return;
    }
    let env = Env::new("cg-cpuset");
    let parent = format!("tandem-cpuset-{}", env.tag);
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            common::engines::remove_cgroup_parent(&self.0);
        }
    }
    let _remove = Remove(parent.clone());
    fs::create_dir(cpuset.join(&parent)).unwrap();
    assert_eq!(fs::read_to_string(cpuset.join(&parent).join("cpuset.cpus")).unwrap().trim(), "");
    let mut b = env.bundle("b", &["true"]);
    b.linux("cgroupsPath", json!(format!("/{parent}/c")));
    b.save();
    let id = env.id("c");
    env.run_ok(&id, &b);
    env.assert_gone(&id, None);
}
