//! Every namespace the spec names, created or joined, seen from inside.

mod common;
use common::{Bundle, Env};
use serde_json::json;
use std::os::unix::fs::MetadataExt;

fn host_ns(kind: &str) -> u64 {
    std::fs::metadata(format!("/proc/self/ns/{kind}")).unwrap().ino()
}

fn without_ns(b: &mut Bundle, kind: &str) {
    let ns: Vec<_> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != kind).cloned().collect();
    b.linux("namespaces", json!(ns));
}

fn add_ns(b: &mut Bundle, ns: serde_json::Value) {
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(ns);
    b.save();
}

#[test]
fn uts_namespace_has_its_own_hostname_and_domainname() {
    let env = Env::new("uts");
    let mut b = env.bundle("b", &["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    b.set("/hostname", json!("box-1"));
    b.config["domainname"] = json!("example.org");
    b.save();
    assert_eq!(env.run_ok(&env.id("c"), &b), "box-1\nexample.org\n");
}

#[test]
fn pid_namespace_makes_the_workload_pid_1() {
    let env = Env::new("pid");
    let b = env.bundle("b", &["sh", "-c", "echo $$; ls -d /proc/[0-9]* | wc -l"]);
    let out = env.run_ok(&env.id("c"), &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    // sh, ls and wc at most: none of the host's processes.
    assert!(lines[1].trim().parse::<u32>().unwrap() <= 3, "{out}");
}

#[test]
fn network_ipc_and_cgroup_namespaces_are_private() {
    let env = Env::new("netipc");
    let b = env.bundle(
        "b",
        &["sh", "-c", "ls /sys/class/net; stat -L -c %i /proc/self/ns/ipc; stat -L -c %i /proc/self/ns/net; cat /proc/self/cgroup"],
    );
    let out = env.run_ok(&env.id("c"), &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lo", "only loopback in a new network namespace: {out}");
    assert_ne!(lines[1].parse::<u64>().unwrap(), host_ns("ipc"));
    assert_ne!(lines[2].parse::<u64>().unwrap(), host_ns("net"));
    // In its own cgroup namespace the container's cgroups are its roots.
    for l in &lines[3..] {
        assert!(l.ends_with(":/"), "cgroup not at the namespace root: {l}");
    }
}

#[test]
fn without_a_network_namespace_the_host_network_is_shared() {
    let env = Env::new("hostnet");
    let mut b = env.bundle("b", &["stat", "-L", "-c", "%i", "/proc/self/ns/net"]);
    without_ns(&mut b, "network");
    // sysfs cannot be mounted without a network namespace of our own: bind it.
    let mounts: Vec<_> =
        b.config["mounts"].as_array().unwrap().iter().filter(|m| m["destination"] != "/sys").cloned().collect();
    b.config["mounts"] = json!(mounts);
    b.save();
    assert_eq!(env.run_ok(&env.id("c"), &b).trim().parse::<u64>().unwrap(), host_ns("net"));
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_user() {
    let env = Env::new("userns");
    let mut b = env.bundle("b", &["sleep", "1000"]);
    add_ns(&mut b, json!({"type": "user"}));
    b.linux("uidMappings", json!([{"containerID": 0, "hostID": 200000, "size": 65536}]));
    b.linux("gidMappings", json!([{"containerID": 0, "hostID": 200000, "size": 65536}]));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // On the host, the init runs as the mapped user.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid_line.split_whitespace().nth(1), Some("200000"), "{uid_line}");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", "200000", "65536"]);
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn user_namespace_workload_sees_itself_as_root() {
    let env = Env::new("userns2");
    let mut b = env.bundle("b", &["sh", "-c", "id -u; id -g; touch /tmp/x && stat -c %u /tmp/x"]);
    add_ns(&mut b, json!({"type": "user"}));
    b.linux("uidMappings", json!([{"containerID": 0, "hostID": 300000, "size": 65536}]));
    b.linux("gidMappings", json!([{"containerID": 0, "hostID": 300000, "size": 65536}]));
    // The default spec's mounts, cgroup included, work from a user namespace.
    b.mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}));
    assert_eq!(env.run_ok(&env.id("c"), &b), "0\n0\n0\n");
}

#[test]
fn time_namespace_offsets_the_boot_clock() {
    let env = Env::new("timens");
    let mut b = env.bundle("b", &["cat", "/proc/uptime"]);
    add_ns(&mut b, json!({"type": "time"}));
    b.linux("timeOffsets", json!({"boottime": {"secs": 86400000, "nanosecs": 0}}));
    let out = env.run_ok(&env.id("c"), &b);
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    let host_up: f64 =
        std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(up >= host_up + 86_400_000.0 - 60.0, "uptime {up} not offset (host {host_up})");
}

#[test]
fn namespaces_can_be_joined_by_path() {
    let env = Env::new("join");
    let mut a = env.bundle("a", &["sleep", "1000"]);
    a.set("/hostname", json!("alpha"));
    let a_id = env.id("a");
    env.ok(&["run", "-d", "--bundle", a.str(), &a_id]);
    let a_pid = env.state(&a_id)["pid"].as_i64().unwrap();

    let mut b = env
        .bundle("b", &["sh", "-c", "hostname; stat -L -c %i /proc/self/ns/net; echo $$; ps -o comm | grep -c sleep"]);
    b.config["hostname"] = serde_json::Value::Null;
    let ns: Vec<_> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str().unwrap() {
            kind @ ("uts" | "network" | "pid" | "ipc") => {
                let proc_name = if kind == "network" { "net" } else { kind };
                json!({"type": kind, "path": format!("/proc/{a_pid}/ns/{proc_name}")})
            }
            _ => n.clone(),
        })
        .collect();
    b.linux("namespaces", json!(ns));
    let out = env.run_ok(&env.id("b"), &b);
    let lines: Vec<&str> = out.lines().collect();
    let a_net = std::fs::metadata(format!("/proc/{a_pid}/ns/net")).unwrap().ino();
    assert_eq!(lines[0], "alpha");
    assert_eq!(lines[1].parse::<u64>().unwrap(), a_net);
    assert_ne!(lines[2], "1", "joined pid namespace already has its pid 1");
    assert_eq!(lines[3], "1", "the joined pid namespace's sleep is visible: {out}");
    env.ok(&["delete", "--force", &a_id]);
}

/// A namespace the config does not list is inherited: without a mount
/// namespace the container runs in the runtime's (chrooted into its
/// rootfs, its /proc and /dev mounted there), an exec'd process sees the
/// same root, and delete leaves none of its mounts on the host, while a
/// mount that was on the rootfs before (an engine's) stays.
#[test]
fn without_a_mount_namespace_the_runtime_s_is_used_and_cleaned_up() {
    let env = Env::new("nomntns");
    let mut b = env.bundle("b", &["sh", "-c", "cat /marker; readlink /proc/self/ns/mnt"]);
    without_ns(&mut b, "mount");
    std::fs::write(b.rootfs().join("marker"), "in the rootfs\n").unwrap();
    let rootfs = b.rootfs();
    let mounts_under = || {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        text.lines().filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(rootfs.to_str().unwrap()))).count()
    };
    // An engine's own mount on the rootfs, as containerd's overlay is.
    let sh =
        |cmd: &str| assert!(std::process::Command::new("sh").args(["-c", cmd]).status().unwrap().success(), "{cmd}");
    sh(&format!("mount --bind {0} {0}", rootfs.display()));
    assert_eq!(mounts_under(), 1);

    let out = env.run_ok(&env.id("fg"), &b);
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(out, format!("in the rootfs\n{}\n", host_mnt.display()), "the runtime's mount namespace");
    assert_eq!(mounts_under(), 1, "run left mounts under the rootfs");

    b.process("args", json!(["sleep", "1000"]));
    let id = env.id("bg");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    assert!(mounts_under() > 1, "its /proc and /dev are mounted in the host's table");
    assert_eq!(env.ok(&["exec", &id, "cat", "/marker"]), "in the rootfs\n");
    env.ok(&["delete", "--force", &id]);
    assert_eq!(mounts_under(), 1, "delete left mounts under the rootfs");
    sh(&format!("umount {}", rootfs.display()));
    env.assert_gone(&id, None);
}

/// A container that joins another's user namespace by path (as every
/// container of a Kubernetes pod with user namespaces joins the
/// sandbox's) and asks for new pid, mount and other namespaces gets them
/// owned by the joined user namespace: it can mount its /proc, is pid 1
/// there, and has the joined namespace's id maps.
#[test]
fn new_namespaces_belong_to_a_joined_user_namespace() {
    let env = Env::new("userjoin");
    let mut a = env.bundle("a", &["sleep", "1000"]);
    add_ns(&mut a, json!({"type": "user"}));
    a.linux("uidMappings", json!([{"containerID": 0, "hostID": 400000, "size": 65536}]));
    a.linux("gidMappings", json!([{"containerID": 0, "hostID": 400000, "size": 65536}]));
    let a_id = env.id("a");
    env.ok(&["run", "-d", "--bundle", a.str(), &a_id]);
    let a_pid = env.state(&a_id)["pid"].as_i64().unwrap();

    let script = "echo $$; cat /proc/self/uid_map; grep -c ' /proc proc ' /proc/self/mounts";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    add_ns(&mut b, json!({"type": "user", "path": format!("/proc/{a_pid}/ns/user")}));
    let out = env.run_ok(&env.id("b"), &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["0", "400000", "65536"], "{out}");
    assert_eq!(lines[2], "1", "{out}");
    env.ok(&["delete", "--force", &a_id]);
}
