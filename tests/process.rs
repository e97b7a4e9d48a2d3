//! The process the container runs: args, env, cwd, identity, capabilities,
//! limits, sysctls, extra fds and the terminal.

mod common;
use common::Env;
use serde_json::json;
use std::os::fd::AsRawFd;

#[test]
fn args_env_and_cwd() {
    let env = Env::new("argsenv");
    let mut b = env.bundle("b", &["env"]);
    b.process("env", json!(["PATH=/bin", "GREETING=hello world"]));
    assert_eq!(env.run_ok(&env.id("env"), &b), "PATH=/bin\nGREETING=hello world\n", "exactly the spec's environment");

    let mut b = env.bundle("b2", &["pwd"]);
    b.process("cwd", json!("/proc/self"));
    let out = env.run_ok(&env.id("cwd"), &b);
    assert!(out.starts_with("/proc/"), "{out}");

    // args[0] is looked up in the container's PATH, not the host's.
    let mut b = env.bundle("b3", &["only-in-container", "arg one"]);
    std::fs::create_dir_all(b.rootfs().join("opt/tools")).unwrap();
    let tool = b.rootfs().join("opt/tools/only-in-container");
    std::fs::write(&tool, "#!/bin/sh\necho \"$0|$1\"\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.process("env", json!(["PATH=/opt/tools:/bin"]));
    assert_eq!(env.run_ok(&env.id("path"), &b), "/opt/tools/only-in-container|arg one\n");
}

#[test]
fn user_groups_and_umask() {
    let env = Env::new("user");
    let mut b = env.bundle("b", &["sh", "-c", "id -u; id -g; id -G; umask"]);
    b.process("user", json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o27}));
    assert_eq!(env.run_ok(&env.id("c"), &b), "1000\n1001\n1001 10 20\n0027\n");
}

fn cap_line(out: &str, name: &str) -> u64 {
    let l = out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {out}"));
    u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn all_five_capability_sets_are_applied() {
    let env = Env::new("caps");
    let mut b = env.bundle("b", &["grep", "^Cap", "/proc/self/status"]);
    b.process(
        "capabilities",
        json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
            "ambient": ["CAP_KILL"]
        }),
    );
    let out = env.run_ok(&env.id("c"), &b);
    let (chown, kill, net_raw, sys_admin) = (1u64 << 0, 1u64 << 5, 1u64 << 13, 1u64 << 21);
    assert_eq!(cap_line(&out, "CapBnd:"), chown | kill | net_raw | sys_admin);
    // Across execve as root, permitted and effective become bounding ∩ (P ∪ I-file) etc.;
    // what must hold is that nothing outside the spec's sets appears.
    assert_eq!(cap_line(&out, "CapInh:"), kill | net_raw);
    assert_eq!(cap_line(&out, "CapAmb:"), kill);
    assert_eq!(cap_line(&out, "CapPrm:") & !(chown | kill | net_raw | sys_admin), 0);

    // As a non-root user only the ambient set survives execve.
    let mut b = env.bundle("b2", &["grep", "^Cap", "/proc/self/status"]);
    b.process("user", json!({"uid": 1000, "gid": 1000}));
    b.process(
        "capabilities",
        json!({"bounding": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}),
    );
    let out = env.run_ok(&env.id("c2"), &b);
    assert_eq!(cap_line(&out, "CapEff:"), kill);
    assert_eq!(cap_line(&out, "CapPrm:"), kill);
    assert_eq!(cap_line(&out, "CapBnd:"), kill | chown);
}

#[test]
fn no_new_privileges_rlimits_and_oom_score() {
    let env = Env::new("limits");
    let mut b = env.bundle(
        "b",
        &["sh", "-c", "grep NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj"],
    );
    b.process("noNewPrivileges", json!(true));
    b.process("rlimits", json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]));
    b.process("oomScoreAdj", json!(500));
    assert_eq!(env.run_ok(&env.id("c"), &b), "NoNewPrivs:\t1\n123\n456\n500\n");

    let mut b = env.bundle("b2", &["grep", "NoNewPrivs", "/proc/self/status"]);
    b.process("noNewPrivileges", json!(false));
    assert_eq!(env.run_ok(&env.id("c2"), &b), "NoNewPrivs:\t0\n");
}

#[test]
fn namespaced_sysctls_are_set() {
    let env = Env::new("sysctl");
    let mut b = env.bundle("b", &["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"]);
    b.linux("sysctl", json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}));
    // /proc/sys is read-only in the default spec; sysctls are written before that.
    assert_eq!(env.run_ok(&env.id("c"), &b), "1\n1234\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(host.trim(), "1234", "the host's value must not change");
}

#[test]
fn preserved_fds_reach_the_workload_and_nothing_else_does() {
    let env = Env::new("fds");
    let b = env.bundle("b", &["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3"]);
    let extra = env.dir.join("extra");
    std::fs::write(&extra, "via fd 3\n").unwrap();
    let file = std::fs::File::open(&extra).unwrap();
    let out_path = env.dir.join("out");
    // Hand fd 3 to tandem the way a shim does: inherited, not close-on-exec.
    let fd = file.as_raw_fd();
    let id = env.id("c");
    let status = spawn_with_fd3(fd, &env, &["run", "--preserve-fds", "1", "--bundle", b.str(), &id], &out_path);
    assert!(status.success());
    // 0-2, 3 (preserved) and the fd `ls` itself opens to read the directory.
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "0 1 2 3 4 via fd 3\n");
}

/// Run tandem with `fd` as its fd 3, through a shell redirection.
fn spawn_with_fd3(fd: i32, env: &Env, args: &[&str], out: &std::path::Path) -> std::process::ExitStatus {
    let mut cmd = std::process::Command::new("sh");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    cmd.arg("-c").arg(format!(
        "exec 3</proc/{}/fd/{fd}; exec '{}' --root '{}' {} > '{}'",
        std::process::id(),
        common::tandem_bin(),
        env.root.display(),
        quoted.join(" "),
        out.display()
    ));
    cmd.status().unwrap()
}

#[test]
fn terminal_is_handed_over_the_console_socket() {
    use std::os::unix::net::UnixListener;
    let env = Env::new("tty");
    let mut b = env.bundle("b", &["sh", "-c", "tty; stty size; echo done"]);
    b.process("terminal", json!(true));
    b.process("consoleSize", json!({"height": 33, "width": 101}));
    let sock_path = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let id = env.id("c");
    env.ok(&["create", "--console-socket", sock_path.to_str().unwrap(), "--bundle", b.str(), &id]);
    let (conn, _) = listener.accept().unwrap();
    let (master, name) = tandem_runtime_core::sys::recv_fd(&conn).unwrap();
    assert!(String::from_utf8_lossy(&name).starts_with("/dev/pts/"), "{name:?}");
    env.ok(&["start", &id]);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tandem_runtime_core::sys::read(&master, &mut buf) {
            Ok(0) | Err(_) => break, // EIO once the slave side is closed
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains("done") {
            break;
        }
    }
    let out = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(out.starts_with("/dev/pts/0\n33 101\ndone"), "{out:?}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
}

#[test]
fn foreground_run_proxies_the_terminal_without_a_console_socket() {
    let env = Env::new("ttyproxy");
    let mut b = env.bundle("b", &["sh", "-c", "tty; echo hi from the pty; exit 4"]);
    b.process("terminal", json!(true));
    let (code, out, err) = env.run(&env.id("c"), &b);
    assert_eq!(code, 4, "{err}");
    assert_eq!(out.replace('\r', ""), "/dev/pts/0\nhi from the pty\n");
}

#[test]
fn each_container_gets_its_own_session_keyring() {
    let env = Env::new("keyring");
    let b = env.bundle("b", &["cat", "/proc/self/stat"]);
    let id = env.id("c");
    // The keyring is named after the container; /proc/keys is masked, so
    // look from the host at the init's keyring while it waits for start.
    env.ok(&["create", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    assert!(keys.lines().any(|l| l.contains("keyring") && l.contains(&id)), "no keyring named {id} for {pid}:\n{keys}");
    env.ok(&["delete", &id]);

    let id2 = env.id("nokeys");
    env.ok(&["create", "--no-new-keyring", "--bundle", b.str(), &id2]);
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    assert!(!keys.contains(&id2), "--no-new-keyring made a keyring");
    env.ok(&["delete", &id2]);
}

#[test]
fn a_waiting_init_is_out_of_reach_of_its_pid_namespace() {
    let env = Env::new("dumpable");
    // A: created, so its init (still the tandem binary) waits for start.
    let a = env.bundle("a", &["sleep", "1000"]);
    let a_id = env.id("a");
    env.ok(&["create", "--bundle", a.str(), &a_id]);
    let a_pid = env.state(&a_id)["pid"].as_i64().unwrap();
    // B shares A's pid namespace as root without CAP_SYS_PTRACE.
    let mut b = env.bundle("b", &["sh", "-c", "readlink /proc/1/exe || echo denied"]);
    let ns: Vec<_> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            if n["type"] == "pid" { json!({"type": "pid", "path": format!("/proc/{a_pid}/ns/pid")}) } else { n.clone() }
        })
        .collect();
    b.linux("namespaces", json!(ns));
    let (_, out, err) = env.run(&env.id("b1"), &b);
    assert_eq!(out, "denied\n", "the waiting init's exe was reachable: {out} {err}");
    // Once started, the workload is an ordinary process B may inspect.
    env.ok(&["start", &a_id]);
    let (_, out, _) = env.run(&env.id("b2"), &b);
    assert_eq!(out, "/bin/busybox\n");
    env.ok(&["delete", "--force", &a_id]);
}

/// The scheduler, I/O priority and personality the spec asks for are what
/// the workload runs with; the memory policy reaches the kernel (a node
/// this host lacks is refused by it, naming the field).
#[test]
fn scheduler_io_priority_personality_and_memory_policy_are_applied() {
    let env = Env::new("sched");
    // /proc/self/stat of the shell's child: field 19 is nice, 41 the policy.
    let script = "cut -d' ' -f19,41 /proc/self/stat; ionice; uname -m";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.process("scheduler", json!({"policy": "SCHED_BATCH", "nice": 7}));
    b.process("ioPriority", json!({"class": "IOPRIO_CLASS_BE", "priority": 6}));
    b.linux("personality", json!({"domain": "LINUX32"}));
    b.linux("memoryPolicy", json!({"mode": "MPOL_BIND", "nodes": "0"}));
    assert_eq!(env.run_ok(&env.id("c"), &b), "7 3\nbest-effort: prio 6\ni686\n");

    b.linux("memoryPolicy", json!({"mode": "MPOL_BIND", "nodes": "63"}));
    let (code, err) = env.fails(&["run", "--bundle", b.str(), &env.id("nonode")]);
    assert!(code != 0 && err.contains("linux.memoryPolicy") && err.contains("set_mempolicy"), "{err}");
    env.assert_gone(&env.id("nonode"), None);
}

/// Fields tandem does not honour are refused at create with the field
/// named, never silently ignored.
#[test]
fn fields_tandem_does_not_honour_are_refused() {
    let env = Env::new("refused");
    let cases = [
        ("/linux/netDevices", json!({"eth9": {"name": "eth0"}}), "linux.netDevices"),
        ("/linux/intelRdt", json!({"closID": "x"}), "linux.intelRdt"),
        ("/linux/mountLabel", json!("system_u:object_r:container_file_t:s0:c1"), "linux.mountLabel"),
    ];
    for (i, (pointer, value, field)) in cases.into_iter().enumerate() {
        let mut b = env.bundle(&format!("b{i}"), &["true"]);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        b.config.pointer_mut(parent).unwrap()[key] = value;
        b.save();
        let id = env.id(&format!("c{i}"));
        let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
        assert_eq!(code, 8, "{err}");
        assert!(err.contains(field), "{field}: {err}");
        env.assert_gone(&id, None);
    }
    let mut b = env.bundle("idmap", &["true"]);
    let src = env.dir.join("vol");
    std::fs::create_dir_all(&src).unwrap();
    b.mount(json!({"destination": "/vol", "type": "bind", "source": src, "options": ["rbind"],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}));
    let (code, err) = env.fails(&["create", "--bundle", b.str(), &env.id("idmap")]);
    assert!(code == 8 && err.contains("uidMappings"), "{err}");
}

/// tandem on a kernel (or under a nested runtime's seccomp profile, as
/// Docker's default one answers) without clone3 and close_range: the
/// legacy clone, then a move into the cgroup2 directory; fds closed one
/// by one. Without openat2 it says so, in one line.
#[test]
fn without_clone3_or_close_range_tandem_falls_back() {
    let env = Env::new("oldkernel");
    let b = env.bundle("b", &["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; sleep 1000"]);
    let id = env.id("c");
    let run = |args: &[&str], enosys: &[libc::c_long]| {
        let out_path = env.dir.join("fallback.out");
        let mut cmd = std::process::Command::new(&env.bin);
        cmd.arg("--root").arg(&env.root).args(args);
        cmd.stdin(std::process::Stdio::null()).stdout(std::fs::File::create(&out_path).unwrap());
        cmd.stderr(std::fs::File::create(env.dir.join("fallback.err")).unwrap());
        common::syscall_filter::enosys(&mut cmd, enosys);
        let status = cmd.status().unwrap();
        let err = std::fs::read_to_string(env.dir.join("fallback.err")).unwrap();
        (status.success(), std::fs::read_to_string(out_path).unwrap(), err)
    };
    let missing = [libc::SYS_clone3, libc::SYS_close_range];
    let (ok, _, err) = run(&["run", "-d", "--bundle", b.str(), &id], &missing);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["exec", &id, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"], &missing);
    assert!(ok && out == "0 1 2 3 ", "{out} {err}");
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    for dir in common::cgroup_dirs(&id) {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|p| p.parse() == Ok(pids[0])), "the init is not in {}", dir.display());
    }
    env.ok(&["delete", "--force", &id]);

    let (ok, _, err) = run(&["run", "--bundle", b.str(), &env.id("c2")], &[libc::SYS_openat2]);
    assert!(!ok && err.lines().count() == 1 && err.contains("openat2") && err.contains("5.6"), "{err}");
    env.assert_gone(&env.id("c2"), None);
}
