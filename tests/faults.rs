//! Faults and load: tandem killed at any point of `create`, commands
//! racing on one id, many containers at once. Whatever happens, every
//! command ends cleanly and nothing is left behind (processes, mounts,
//! cgroups in every hierarchy, state).

mod common;
use common::Env;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// No live process names `id` on its command line (an init's argv is
/// its `tandem create` command line until it execs).
fn assert_no_process_of(id: &str) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        assert!(zombie || !cmd.contains(id), "process {} of {id} left: {cmd}", entry.file_name().to_string_lossy());
    }
}

fn create_cmd(env: &Env, bundle: &str, id: &str) -> Command {
    let mut c = Command::new(&env.bin);
    c.arg("--root").arg(&env.root).arg("--cache-dir").arg(&env.cache).args(["create", "--bundle", bundle, id]);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// SIGKILL lands on `tandem create` at points spread over a whole create;
/// `delete --force` then exits 0 and removes everything, wherever the
/// create stopped.
#[test]
fn a_create_killed_at_any_point_is_removed_by_delete_force() {
    let env = Env::new("fault-kill");
    let b = env.bundle("b", &["sleep", "1000"]);
    // How long a whole create takes here, to spread the kills over it
    // (what is asserted is the clean-up, never a time).
    let probe = env.id("probe");
    let t0 = Instant::now();
    assert!(create_cmd(&env, b.str(), &probe).status().unwrap().success());
    let whole = t0.elapsed();
    env.ok(&["delete", "--force", &probe]);
    let steps = 30u32;
    for step in 0..=steps {
        let id = env.id(&format!("k{step}"));
        let mut child = create_cmd(&env, b.str(), &id).spawn().unwrap();
        std::thread::sleep(whole * step / steps);
        let _ = child.kill();
        child.wait().unwrap();
        env.ok(&["delete", "--force", &id]);
        env.assert_gone(&id, None);
        assert_no_process_of(&id);
    }
}

/// Commands on one id are serialized: racing `delete --force`s all exit
/// 0, whoever removed the container, and it is gone.
#[test]
fn racing_deletes_all_succeed() {
    let env = Env::new("fault-race");
    let b = env.bundle("b", &["sleep", "1000"]);
    for round in 0..5 {
        let id = env.id(&format!("r{round}"));
        env.ok(&["run", "-d", "--bundle", b.str(), &id]);
        let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
        let racers: Vec<_> = (0..4)
            .map(|_| {
                Command::new(&env.bin)
                    .arg("--root")
                    .arg(&env.root)
                    .args(["delete", "--force", &id])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for r in racers {
            let out = r.wait_with_output().unwrap();
            assert!(out.status.success(), "a racing delete failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        env.assert_gone(&id, Some(pid));
    }
}

/// 50 containers created, started and deleted at once: each command
/// succeeds, and nothing of any of them is left.
#[test]
fn fifty_containers_at_once() {
    let env = Env::new("fault-load");
    let b = env.bundle("b", &["sleep", "1000"]);
    let ids: Vec<String> = (0..50).map(|i| env.id(&format!("l{i}"))).collect();
    let all = |verb: &[&str]| {
        std::thread::scope(|s| {
            let handles: Vec<_> = ids
                .iter()
                .map(|id| {
                    let args: Vec<&str> = verb.iter().copied().chain([id.as_str()]).collect();
                    let env = &env;
                    s.spawn(move || (id.clone(), env.tandem(&args)))
                })
                .collect();
            for h in handles {
                let (id, out) = h.join().unwrap();
                assert!(out.status.success(), "{verb:?} {id}: {}", String::from_utf8_lossy(&out.stderr));
            }
        })
    };
    all(&["create", "--bundle", b.str()]);
    all(&["start"]);
    for id in &ids {
        env.wait_status(id, "running");
    }
    all(&["delete", "--force"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in &ids {
        env.assert_gone(id, None);
        while Instant::now() < deadline && std::panic::catch_unwind(|| assert_no_process_of(id)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_no_process_of(id);
    }
}

/// tandem killed while a createRuntime hook runs: `delete --force` also
/// kills the hook and what it started in the background.
#[test]
fn a_create_killed_in_a_hook_leaves_no_hook_process() {
    let env = Env::new("fault-hook");
    let mut b = env.bundle("b", &["sleep", "1000"]);
    let marks = env.dir.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let m = marks.display();
    let script = format!("sleep 1000 & echo $! > {m}/bg; echo $$ > {m}/hook; touch {m}/ready; sleep 1000");
    b.config["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    b.save();
    let id = env.id("c");
    let mut child = create_cmd(&env, b.str(), &id).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marks.join("ready").exists() {
        assert!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
    for name in ["bg", "hook"] {
        let pid: i32 = std::fs::read_to_string(marks.join(name)).unwrap().trim().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let alive = || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(), "the {name} process {pid} of the killed create's hook is left");
    }
}
