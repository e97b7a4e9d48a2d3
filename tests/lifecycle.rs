//! The OCI lifecycle as containerd's runc shim drives it: create, start,
//! state, kill, delete; run in the foreground and detached; list.

mod common;
use common::Env;
use std::fs;

#[test]
fn create_blocks_until_start_then_runs_and_stops() {
    let env = Env::new("lifecycle");
    let marker = "/tmp/started";
    let b = env.bundle("b", &["sh", "-c", &format!("echo yes > {marker}; sleep 1000")]);
    // The rootfs must be writable for the marker.
    let mut b = b;
    b.set("/root/readonly", serde_json::json!(false));
    let id = env.id("c");
    let pid_file = env.dir.join("pid");
    env.ok(&["create", "--bundle", b.str(), "--pid-file", pid_file.to_str().unwrap(), &id]);

    let state = env.state(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], b.str());
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert!(!b.rootfs().join("tmp/started").exists(), "the workload ran before start");

    env.ok(&["start", &id]);
    assert_eq!(env.status(&id), "running");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !b.rootfs().join("tmp/started").exists() {
        assert!(std::time::Instant::now() < deadline, "workload never wrote its marker");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let (code, err) = env.fails(&["start", &id]);
    assert!(err.contains("not created"), "{err}");
    assert_ne!(code, 0);
    let (_, err) = env.fails(&["delete", &id]);
    assert!(err.contains("not stopped"), "{err}");

    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    env.ok(&["delete", &id]);
    env.assert_gone(&id, Some(pid));
}

#[test]
fn kill_sends_the_named_signal() {
    let env = Env::new("kill");
    let b = env.bundle("b", &["sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.05; done"]);
    let id = env.id("c");
    env.ok(&["run", "--detach", "--bundle", b.str(), &id]);
    assert_eq!(env.status(&id), "running");
    // Signal 0 checks that it is alive, and changes nothing.
    env.ok(&["kill", &id, "0"]);
    assert_eq!(env.status(&id), "running");
    env.ok(&["kill", &id, "SIGUSR1"]);
    env.wait_status(&id, "stopped");
    let (_, err) = env.fails(&["kill", &id, "KILL"]);
    assert!(err.contains("not running"), "{err}");
    let (_, err) = env.fails(&["kill", &id, "0"]);
    assert!(err.contains("container not running"), "{err}");
    // --all on a stopped container is not an error (runc's behaviour).
    env.ok(&["kill", "--all", &id, "KILL"]);
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn kill_all_reaches_every_process() {
    let env = Env::new("killall");
    // pid 1 ignores TERM (no handler); its child traps it and leaves a mark.
    let child = "trap 'echo got-term > /tmp/child; exit 0' TERM; while :; do sleep 0.05; done";
    let mut b = env.bundle("b", &["sh", "-c", &format!("sh -c \"{child}\" & while :; do sleep 1; done")]);
    b.set("/root/readonly", serde_json::json!(false));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    let mark = b.rootfs().join("tmp/child");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !mark.exists() {
        // Repeat until the child has set its trap; only --all can reach it.
        env.ok(&["kill", "--all", &id, "TERM"]);
        assert!(std::time::Instant::now() < deadline, "the child never got TERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(env.status(&id), "running", "pid 1 without a handler ignores TERM");
    env.ok(&["kill", "--all", &id, "9"]);
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    env.assert_gone(&id, Some(pid));
}

#[test]
fn foreground_run_returns_the_exit_status_and_cleans_up() {
    let env = Env::new("run");
    let b = env.bundle("b", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let id = env.id("c");
    let (code, out, err) = env.run(&id, &b);
    assert_eq!(code, 3);
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    env.assert_gone(&id, None);

    // Not pid 1 of its own pid namespace, so it can die of its own SIGKILL.
    let mut b = env.bundle("b2", &["sh", "-c", "kill -9 $$"]);
    let ns =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
    b.linux("namespaces", serde_json::Value::Array(ns));
    let (code, _, _) = env.run(&env.id("sig"), &b);
    assert_eq!(code, 128 + 9, "a workload killed by a signal reports 128+signal");
}

/// `run --keep` leaves the stopped container, so its state can be read.
#[test]
fn run_keep_leaves_the_stopped_container() {
    let env = Env::new("runkeep");
    let b = env.bundle("b", &["sh", "-c", "exit 5"]);
    let id = env.id("c");
    let out = env.tandem(&["run", "--keep", "--bundle", b.str(), &id]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(env.status(&id), "stopped");
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn delete_force_removes_a_running_container() {
    let env = Env::new("force");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, Some(pid));
    // Deleting what is already gone is fine with --force, an error without.
    env.ok(&["delete", "--force", &id]);
    let (_, err) = env.fails(&["delete", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_created_container_can_be_deleted_without_force() {
    let env = Env::new("delcreated");
    let b = env.bundle("b", &["true"]);
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.ok(&["delete", &id]);
    env.assert_gone(&id, Some(pid));
}

#[test]
fn list_shows_every_container() {
    let env = Env::new("list");
    let b = env.bundle("b", &["sleep", "1000"]);
    let (a, c) = (env.id("a"), env.id("c"));
    env.ok(&["create", "--bundle", b.str(), &a]);
    env.ok(&["run", "-d", "--bundle", b.str(), &c]);
    assert_eq!(env.ok(&["list", "-q"]), format!("{a}\n{c}\n"));
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--format", "json"])).unwrap();
    let statuses: Vec<_> = json.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_string()).collect();
    assert_eq!(statuses, ["created", "running"]);
    let table = env.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.lines().any(|l| l.starts_with(&c) && l.contains("running")), "{table}");
}

/// `list` and `ps` as runc prints them, on the same bundle: the table's
/// columns, the JSON's fields (owner the state directory's user, no empty
/// annotations), and `ps ID ARGS` handing ARGS to ps(1) (also after `--`,
/// which runc 1.1 hands on to ps, which refuses it).
#[test]
fn list_and_ps_read_as_runc_s() {
    let env = Env::new("list-runc");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("t");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let runc_root = env.dir.join("runc-root");
    let rid = env.id("r");
    let runc = |args: &[&str]| {
        // A detached container keeps what it inherits: never the test's pipes.
        let out = std::process::Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "runc {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let detached = std::process::Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["run", "-d", "--bundle", b.str(), &rid])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(detached.success(), "runc run -d failed");
    // runc's container goes with the test, failed or not.
    struct RuncContainer<'a>(&'a std::path::Path, &'a str);
    impl Drop for RuncContainer<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("runc")
                .arg("--root")
                .arg(self.0)
                .args(["delete", "--force", self.1])
                .output();
        }
    }
    let _runc_container = RuncContainer(&runc_root, &rid);
    let words = |table: &str, line: usize| -> Vec<String> {
        table.lines().nth(line).unwrap().split_whitespace().map(String::from).collect()
    };
    let (ours, theirs) = (env.ok(&["list"]), runc(&["list"]));
    assert_eq!(words(&ours, 0), words(&theirs, 0), "{ours}{theirs}");
    let (row, runc_row) = (words(&ours, 1), words(&theirs, 1));
    assert_eq!((row[2].as_str(), row[3].as_str(), row[5].as_str()), ("running", b.str(), "root"), "{ours}");
    assert_eq!((runc_row[2].as_str(), runc_row[5].as_str()), ("running", "root"), "{theirs}");

    let fields = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let entry = v[0].as_object().unwrap().clone();
        let mut keys: Vec<String> = entry.keys().cloned().collect();
        keys.sort();
        (keys, entry["owner"].clone())
    };
    assert_eq!(fields(&env.ok(&["list", "--format", "json"])), fields(&runc(&["list", "--format", "json"])));

    let (ours, theirs) = (env.ok(&["ps", &id, "-o", "pid,comm"]), runc(&["ps", &rid, "-o", "pid,comm"]));
    assert_eq!(words(&ours, 0), ["PID", "COMMAND"], "{ours}");
    assert_eq!(words(&ours, 0), words(&theirs, 0));
    assert_eq!(words(&ours, 1)[1], "sleep", "{ours}");
    assert_eq!(env.ok(&["ps", &id, "--", "-o", "pid,comm"]), ours);
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn a_dead_init_whose_pid_was_reused_reads_as_stopped() {
    let env = Env::new("stale");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    // Point the state at a live process that is not the init: pid 1 of the host
    // has a different start time, so the status must not be "running".
    let path = env.root.join(&id).join("state.json");
    let mut s: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let real_pid = s["pid"].clone();
    s["pid"] = serde_json::json!(1);
    fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
    assert_eq!(env.status(&id), "stopped");
    s["pid"] = real_pid;
    fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
    assert_eq!(env.status(&id), "running");
}

#[test]
fn a_create_killed_half_way_is_cleaned_by_delete_force() {
    let env = Env::new("halfway");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    // What a create killed before it wrote its state leaves: the locked
    // directory and the exec fifo, no state.json.
    std::fs::create_dir_all(env.root.join(&id)).unwrap();
    std::fs::write(env.root.join(&id).join("exec.fifo"), "").unwrap();
    assert_eq!(env.status(&id), "creating");
    let (_, err) = env.fails(&["delete", &id]);
    assert!(err.contains("not stopped") && err.contains("creating"), "{err}");
    let (_, err) = env.fails(&["start", &id]);
    assert!(err.contains("cannot be started"), "{err}");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
    // The id is free again.
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    assert_eq!(env.status(&id), "running");
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn an_empty_state_file_left_by_a_power_cut_reads_as_creating() {
    let env = Env::new("powercut");
    let id = env.id("c");
    // State is written with temp + rename but not fsynced: after a power
    // cut the file may be empty.
    std::fs::create_dir_all(env.root.join(&id)).unwrap();
    std::fs::write(env.root.join(&id).join("state.json"), "").unwrap();
    assert_eq!(env.status(&id), "creating");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

/// "If the process fails to start, the runtime MUST generate an error":
/// a program whose interpreter is missing passes create (it is there and
/// executable) and fails at its execve; start says so, with the shell's
/// status, and the container is stopped. A good one: start returns once
/// it runs.
#[test]
fn start_reports_a_workload_that_could_not_start() {
    let env = Env::new("startfail");
    let b = env.bundle("b", &["/script"]);
    let script = b.rootfs().join("script");
    fs::write(&script, "#!/no/shell\n").unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let (code, err) = env.fails(&["start", &id]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("/script") && err.contains("no such file or directory"), "{err}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);

    let (code, _, err) = env.run(&env.id("run"), &b);
    assert_eq!(code, 127, "run too: {err}");
    env.assert_gone(&env.id("run"), None);
}

/// When the init is not pid 1 of its own pid namespace its children
/// outlive it: the container reads stopped, and `kill --all` (what
/// containerd's shim sends then) still reaches what is left in its cgroup;
/// a plain kill of a stopped container is an error in runc's words.
#[test]
fn kill_all_reaches_what_a_stopped_init_left_behind() {
    let env = Env::new("killleft");
    let mut b = env.bundle("b", &["sh", "-c", "sleep 1000 & echo $! > /tmp/left; exec sleep 0.3"]);
    b.set("/root/readonly", serde_json::json!(false));
    let ns: Vec<_> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
    b.linux("namespaces", serde_json::json!(ns));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    env.wait_status(&id, "stopped");
    let left: i32 = fs::read_to_string(b.rootfs().join("tmp/left")).unwrap().trim().parse().unwrap();
    let alive = |pid: i32| fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(alive(left), "the init's child outlives it");
    let (_, err) = env.fails(&["kill", &id, "KILL"]);
    assert!(err.contains("container not running"), "{err}");
    env.ok(&["kill", "--all", &id, "KILL"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alive(left) {
        assert!(std::time::Instant::now() < deadline, "kill --all left {left} alive");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.ok(&["delete", &id]);
    env.assert_gone(&id, None);
}
