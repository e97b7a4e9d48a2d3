//! Checkpoint and restore with CRIU, as runc's callers use them: a
//! counter container checkpointed with and without `--leave-running`,
//! restored into a new id where it counts on from where it was; a CRIU
//! that cannot run, and a pre-dump this kernel cannot do, each one clear
//! line that leaves the container as it was; the same for a wasm
//! module, whose helper comes back sealed.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bundle, Env, wasm_bundle};
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
/// a file (a pipe would be held open by a detached container).
fn tandem(env: &Env, args: &[&str]) -> (i32, String) {
    let err_path = env.dir.join("stderr");
    let detached = args.first().is_some_and(|a| *a == "run");
    let stderr = match detached {
        true => Stdio::null(),
        false => Stdio::from(fs::File::create(&err_path).unwrap()),
    };
    let status =
        tandem_command(env).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).status().unwrap();
    let err = if detached {
        format!("(stderr on /dev/null) {status}")
    } else {
        fs::read_to_string(&err_path).unwrap_or_default()
    };
    (status.code().unwrap_or(-1), err)
}

/// tandem with the test's root and a CRIU that works here.
fn tandem_command(env: &Env) -> Command {
    let mut cmd = Command::new(&env.bin);
    cmd.arg("--root").arg(&env.root).arg("--criu").arg(common::criu());
    cmd
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

/// A wasm module counting in its linear memory: checkpointed with
/// --leave-running and without, restored, it counts on from where it
/// was. Its helper ran from a detached read-only mount, outside the
/// container's mounts (CRIU is told it is external); the restored one
/// runs from one again, and no one can write it.
#[test]
fn a_wasm_counter_is_checkpointed_and_restored() {
    let env = Env::new("cr-wasm");
    let mut b = wasm_bundle(&env, "w", &fs::read(common::demo_wasm()).unwrap(), &["count", "/count"]);
    b.set("/root/readonly", json!(false));
    let id = env.id("c");
    ok(&env, &["run", "-d", "--bundle", b.str(), &id]);
    counted_to(&b, 3);
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();
    ok(&env, &["checkpoint", "--leave-running", "--image-path", img, &id]);
    let n = count(&b);
    counted_to(&b, n + 3);
    ok(&env, &["checkpoint", "--image-path", img, &id]);
    env.assert_gone(&id, None);
    let at_checkpoint = count(&b);

    let restored = env.id("r");
    ok(&env, &["restore", "-d", "--image-path", img, "--bundle", b.str(), &restored]);
    counted_to(&b, at_checkpoint + 3);
    assert!(count(&b) < at_checkpoint + 200, "the restored module started again from 0");
    let pid = env.state(&restored)["pid"].as_i64().unwrap() as i32;
    let exe = format!("/proc/{pid}/exe");
    // A detached mount's root: not a path in any mount namespace.
    assert_eq!(fs::read_link(&exe).unwrap(), Path::new("/"), "the restored helper is not sealed");
    let write = fs::OpenOptions::new().append(true).open(&exe);
    assert!(write.is_err(), "the restored helper can be written through {exe}");
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

/// Numbers the container prints on its terminal, read from the pty
/// master a console socket received (drained all along: a terminal
/// nobody reads stops its writer).
fn tty_numbers(listener: &std::os::unix::net::UnixListener) -> (String, std::sync::mpsc::Receiver<u64>) {
    let (conn, _) = listener.accept().unwrap();
    let (master, name) = tandem_runtime_core::sys::recv_fd(&conn).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut buf = [0u8; 1024];
        // EIO once the slave side is gone.
        while let Ok(n @ 1..) = tandem_runtime_core::sys::read(&master, &mut buf) {
            for &c in &buf[..n] {
                if c != b'\n' {
                    line.push(c);
                    continue;
                }
                let text = String::from_utf8_lossy(&line).trim().to_string();
                line.clear();
                if let Ok(n) = text.parse()
                    && tx.send(n).is_err()
                {
                    return;
                }
            }
        }
    });
    (String::from_utf8_lossy(&name).into_owned(), rx)
}

/// A container on a terminal: checkpointed, restored with a console
/// socket that receives the new pty's master, where the numbers go on.
/// Without a console socket restore refuses in one line and makes nothing.
#[test]
fn a_terminal_container_is_restored_onto_a_new_pty() {
    use std::os::unix::net::UnixListener;
    let env = Env::new("cr-tty");
    let mut b = env.bundle("b", &["sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"]);
    b.process("terminal", json!(true));
    let id = env.id("c");
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    ok(&env, &["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.str(), &id]);
    let (_, first) = tty_numbers(&listener);
    ok(&env, &["start", &id]);
    let mut last = 0;
    while last < 3 {
        last = first.recv_timeout(Duration::from_secs(20)).expect("nothing on the terminal");
    }
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();
    ok(&env, &["checkpoint", "--image-path", img, &id]);
    while let Ok(n) = first.recv_timeout(Duration::from_secs(5)) {
        last = n;
    }

    let restored = env.id("r");
    let (code, err) = tandem(&env, &["restore", "-d", "--image-path", img, "--bundle", b.str(), &restored]);
    assert_ne!(code, 0, "a terminal restored without a console socket");
    assert!(err.contains("--console-socket") && err.trim().lines().count() == 1, "{err}");
    env.assert_gone(&restored, None);

    let sock2 = env.dir.join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    let args = ["restore", "-d", "--console-socket", sock2.to_str().unwrap(), "--image-path", img, "--bundle", b.str()];
    let child = std::thread::spawn({
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(restored.clone());
        let mut cmd = tandem_command(&env);
        cmd.args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        move || cmd.output().unwrap()
    });
    let (name, second) = tty_numbers(&listener2);
    let out = child.join().unwrap();
    assert!(out.status.success(), "restore: {}", String::from_utf8_lossy(&out.stderr));
    assert!(name.starts_with("/dev/pts/"), "{name}");
    let next = second.recv_timeout(Duration::from_secs(20)).expect("the restored container wrote nothing");
    assert!(next > last && next < last + 20, "after {last}, the restored container wrote {next}");
    let pid = env.state(&restored)["pid"].as_i64().unwrap() as i32;
    let stdin = fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert!(stdin.starts_with("/dev/pts"), "the restored init's stdin is {}", stdin.display());
    ok(&env, &["delete", "--force", &restored]);
    env.assert_gone(&restored, Some(pid));
}

/// Stdio on pipes, as containerd's shims give it: the pipe a container
/// wrote to becomes, at restore, the pipe restore was given, and the
/// numbers go on from where they were, not from 0.
#[test]
fn stdio_pipes_pass_to_the_restored_container() {
    use std::io::{BufRead, BufReader};
    let env = Env::new("cr-pipe");
    let b = env.bundle("b", &["sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"]);
    let id = env.id("c");
    // Numbers read from a detached command's stdout, until it is closed.
    let numbers = |args: &[&str]| {
        let mut child = tandem_command(&env)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        assert!(child.wait().unwrap().success(), "tandem {args:?}");
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line.trim().parse().unwrap_or(u64::MAX)).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let first = numbers(&["run", "-d", "--bundle", b.str(), &id]);
    let mut last = 0;
    while last < 3 {
        last = first.recv_timeout(Duration::from_secs(20)).expect("the counter wrote nothing");
    }
    let images = env.dir.join("images");
    ok(&env, &["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    // Its pipe closes with it: everything it wrote has been read.
    while let Ok(n) = first.recv_timeout(Duration::from_secs(20)) {
        last = n;
    }
    let restored = env.id("r");
    let second = numbers(&["restore", "-d", "--image-path", images.to_str().unwrap(), "--bundle", b.str(), &restored]);
    let next = second.recv_timeout(Duration::from_secs(20)).expect("the restored counter wrote nothing");
    assert!(next > last && next < last + 20, "after {last}, the restored counter wrote {next}");
    ok(&env, &["delete", "--force", &restored]);
    env.assert_gone(&restored, None);
}

/// A host file as stdout (a log, appended to), outside the container's
/// mounts: named to CRIU as external, it becomes at restore the file
/// restore was given.
#[test]
fn a_log_file_as_stdout_becomes_the_restored_stdout() {
    let env = Env::new("cr-log");
    let b = env.bundle("b", &["sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"]);
    let logged = |log: &Path| -> Vec<u64> {
        fs::read_to_string(log).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    };
    let wait_for = |log: &Path, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while logged(log).len() < n {
            assert!(Instant::now() < deadline, "{} has {:?}", log.display(), logged(log));
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let detached = |args: &[&str], log: &Path| {
        let out = fs::OpenOptions::new().append(true).create(true).open(log).unwrap();
        let status = tandem_command(&env).args(args).stdin(Stdio::null()).stdout(out).stderr(Stdio::null()).status();
        assert!(status.unwrap().success(), "tandem {args:?}");
    };
    let id = env.id("c");
    let (first, second) = (env.dir.join("first.log"), env.dir.join("second.log"));
    detached(&["run", "-d", "--bundle", b.str(), &id], &first);
    wait_for(&first, 3);
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();
    ok(&env, &["checkpoint", "--image-path", img, &id]);
    let last = *logged(&first).last().unwrap();
    let restored = env.id("r");
    detached(&["restore", "-d", "--image-path", img, "--bundle", b.str(), &restored], &second);
    wait_for(&second, 1);
    let next = logged(&second)[0];
    assert!(next > last && next < last + 20, "after {last}, the restored container wrote {next}");
    assert_eq!(*logged(&first).last().unwrap(), last, "the restored container wrote to the old log");
    ok(&env, &["delete", "--force", &restored]);
    env.assert_gone(&restored, None);
}

/// An established TCP connection inside a network namespace the test
/// made (the container joins it by path, so CRIU treats it as the
/// host's): checkpointed with --tcp-established, restored, and the bytes
/// keep flowing on the same connection.
#[test]
fn an_established_tcp_connection_survives_with_tcp_established() {
    let env = Env::new("cr-tcp");
    let netns = format!("tandem-cr-{}", env.tag);
    assert!(Command::new("ip").args(["netns", "add", &netns]).status().unwrap().success());
    struct DelNetns(String);
    impl Drop for DelNetns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _netns = DelNetns(netns.clone());
    assert!(Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]).status().unwrap().success());
    // busybox's `nc -l` stops writing after a first read; through -e it keeps on.
    let script = "nc -l -p 5000 -e /bin/sh -c 'cat > /received' & sleep 0.3; \
                  i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done | nc 127.0.0.1 5000";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.set("/root/readonly", json!(false));
    let namespaces: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str() {
            Some("network") => json!({"type": "network", "path": format!("/run/netns/{netns}")}),
            _ => n.clone(),
        })
        .collect();
    b.set("/linux/namespaces", json!(namespaces));
    b.save();
    let received = |b: &Bundle| -> u64 {
        let text = fs::read_to_string(b.rootfs().join("received")).unwrap_or_default();
        text.lines().rev().find_map(|l| l.trim().parse().ok()).unwrap_or(0)
    };
    let wait_for = |b: &Bundle, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while received(b) < n {
            assert!(Instant::now() < deadline, "the server received up to {} only", received(b));
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let id = env.id("c");
    ok(&env, &["run", "-d", "--bundle", b.str(), &id]);
    wait_for(&b, 3);
    let images = env.dir.join("images");
    let img = images.to_str().unwrap();
    // Without --tcp-established CRIU refuses, and the container runs on.
    let (code, err) = tandem(&env, &["checkpoint", "--image-path", img, &id]);
    assert_ne!(code, 0, "a checkpoint with an established connection and no --tcp-established");
    assert!(err.contains("checkpoint"), "{err}");
    assert_eq!(env.status(&id), "running");
    ok(&env, &["checkpoint", "--tcp-established", "--image-path", img, &id]);
    let at_checkpoint = received(&b);
    let restored = env.id("r");
    ok(&env, &["restore", "-d", "--tcp-established", "--image-path", img, "--bundle", b.str(), &restored]);
    wait_for(&b, at_checkpoint + 3);
    ok(&env, &["delete", "--force", &restored]);
    env.assert_gone(&restored, None);
}
