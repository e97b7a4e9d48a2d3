//! Checkpoint and restore with CRIU, as runc's callers use them: a
//! counter container checkpointed with and without `--leave-running`,
//! restored into a new id where it counts on from where it was; a CRIU
//! that cannot run, and a pre-dump this kernel cannot do, each one clear
//! line that leaves the container as it was.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bundle, Env};
use serde_json::json;

/// A busybox bundle whose init writes a rising count to /count.
fn counter(env: &Env) -> Bundle {
    let mut b = env.bundle("b", &["sh", "-c", "i=0; while true; do echo $i > /count; i=$((i+1)); sleep 0.05; done"]);
    b.set("/root/readonly", json!(false));
    b.save();
    b
}

fn count(b: &Bundle) -> u64 {
    fs::read_to_string(b.rootfs().join("count")).unwrap_or_default().trim().parse().unwrap_or(0)
}

/// Wait until the counter has reached `n`.
fn counted_to(b: &Bundle, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(b) < n {
        assert!(Instant::now() < deadline, "the counter stopped at {}", count(b));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// tandem with the test's root, a CRIU that works here, stdin and
/// stdout on /dev/null (as a detached container's would be), stderr in
/// a file (a pipe would be held open by a detached container). A
/// container's own stdio is /dev/null: CRIU cannot dump a host file
/// outside the container's mounts (containerd's shims give pipes).
fn tandem(env: &Env, args: &[&str]) -> (i32, String) {
    let err_path = env.dir.join("stderr");
    if args.first().is_some_and(|a| *a == "run") {
        let status = Command::new(&env.bin)
            .arg("--root")
            .arg(&env.root)
            .arg("--criu")
            .arg(common::criu())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        return (status.code().unwrap_or(-1), format!("(stderr on /dev/null) {status}"));
    }
    let status = Command::new(&env.bin)
        .arg("--root")
        .arg(&env.root)
        .arg("--criu")
        .arg(common::criu())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    (status.code().unwrap_or(-1), fs::read_to_string(&err_path).unwrap_or_default())
}

fn ok(env: &Env, args: &[&str]) {
    let (code, err) = tandem(env, args);
    assert_eq!(code, 0, "tandem {args:?}: {err}");
}

#[test]
fn a_counter_is_checkpointed_and_restored_into_a_new_id() {
    let env = Env::new("cr-native");
    let b = counter(&env);
    let id = env.id("c");
    ok(&env, &["run", "-d", "--bundle", b.str(), &id]);
    counted_to(&b, 3);
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();

    // --leave-running: the container goes on counting.
    ok(&env, &["checkpoint", "--leave-running", "--image-path", img, &id]);
    assert_eq!(env.status(&id), "running");
    let n = count(&b);
    counted_to(&b, n + 3);

    // Without it, the container goes (as with runc), and counts no more.
    ok(&env, &["checkpoint", "--image-path", img, &id]);
    env.assert_gone(&id, None);
    let at_checkpoint = count(&b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&b), at_checkpoint, "a checkpointed container went on running");

    // Restored into a new id, it counts on from where it was.
    let restored = env.id("r");
    ok(&env, &["restore", "-d", "--image-path", img, "--bundle", b.str(), &restored]);
    assert_eq!(env.status(&restored), "running");
    counted_to(&b, at_checkpoint + 3);
    let pid = env.state(&restored)["pid"].as_i64().unwrap() as i32;
    // Its cgroup is the new container's.
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains(&restored), "restored outside its cgroup: {cgroup}");
    ok(&env, &["delete", "--force", &restored]);
    env.assert_gone(&restored, Some(pid));
}

#[test]
fn a_checkpoint_that_cannot_be_made_leaves_the_container_running() {
    let env = Env::new("cr-fail");
    let b = counter(&env);
    let id = env.id("c");
    ok(&env, &["run", "-d", "--bundle", b.str(), &id]);
    counted_to(&b, 2);
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();

    // No CRIU at that path: one line that says so, and what `criu check` said.
    let out = Command::new(&env.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["--criu", "/nonexistent/criu", "checkpoint", "--image-path", img, &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "checkpoint with no criu succeeded");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/criu"), "{err}");
    assert_eq!(env.status(&id), "running");

    // A pre-dump needs soft-dirty tracking, which this kernel has not.
    let (code, err) = tandem(&env, &["checkpoint", "--pre-dump", "--image-path", img, &id]);
    assert_ne!(code, 0);
    assert!(err.contains("soft-dirty"), "{err}");
    assert_eq!(env.status(&id), "running");
    let n = count(&b);
    counted_to(&b, n + 2);

    // Nothing there is a checkpoint a restore would take.
    let (code, err) = tandem(&env, &["restore", "-d", "--image-path", img, "--bundle", b.str(), &env.id("r")]);
    assert_ne!(code, 0);
    assert!(err.contains("no finished tandem checkpoint"), "{err}");
    env.assert_gone(&env.id("r"), None);
    assert!(!Path::new(img).join("tandem-checkpoint.json").exists());
    ok(&env, &["delete", "--force", &id]);
}
