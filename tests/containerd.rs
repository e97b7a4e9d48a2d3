//! containerd drives tandem through its stock runc shim (`ctr run
//! --runc-binary tandem`, what `BinaryName = tandem` does in its config):
//! Debian's containerd on a private socket, images imported from local
//! tarballs, every container checked from what `ctr` reports.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::engines::{Containerd, text};
use common::image::{self, ImageConfig};

const BUSYBOX: &str = "docker.io/library/tandem-busybox:test";

fn with_busybox(env: &Env) -> Containerd {
    let c = Containerd::start(env, None);
    let rootfs = env.rootfs("image-rootfs");
    let config = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, BUSYBOX, &rootfs, &config));
    c
}

/// `ctr run` of `args` with tandem as the runtime: (status, stdout, stderr).
fn run(c: &Containerd, id: &str, extra: &[&str], args: &[&str]) -> (i32, String, String) {
    let flags = c.run_flags(id);
    let mut all: Vec<&str> = vec!["run", "--rm"];
    all.extend(flags.iter().map(String::as_str));
    all.extend_from_slice(extra);
    all.extend_from_slice(&[BUSYBOX, id]);
    all.extend_from_slice(args);
    let out = c.ctr(&all);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

fn run_detached(c: &Containerd, id: &str, args: &[&str]) {
    let flags = c.run_flags(id);
    let mut all: Vec<&str> = vec!["run", "-d"];
    all.extend(flags.iter().map(String::as_str));
    all.extend_from_slice(&[BUSYBOX, id]);
    all.extend_from_slice(args);
    c.ctr_ok(&all);
}

/// Nothing of the container is left on the host: no tandem state, no
/// cgroup, no process of its.
fn assert_gone(c: &Containerd, id: &str) {
    assert!(!c.runc_root.join(id).exists(), "tandem state of {id} left behind");
    for dir in common::cgroup_dirs(id) {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

#[test]
fn ctr_runs_execs_pauses_and_kills_through_the_runc_shim() {
    let env = Env::new("ctrd-life");
    let c = with_busybox(&env);

    // Foreground: stdio through the shim's fifos, and the exit status.
    let id = env.id("fg");
    let (code, out, err) = run(&c, &id, &[], &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}\n{}", c.log_tail());
    assert_eq!(out, "out\n");
    assert!(err.contains("err"), "{err}");
    assert_gone(&c, &id);

    let id = env.id("bg");
    run_detached(&c, &id, &["sleep", "1000"]);
    assert_eq!(c.task_status(&id), "RUNNING");
    // exec: output and status come back.
    let out = c.ctr(&["tasks", "exec", "--exec-id", "e1", &id, "sh", "-c", "hostname; echo in; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{:?}", text(&out));
    assert!(text(&out).0.ends_with("in\n"), "{:?}", text(&out));
    // ps lists the init (its host pid).
    let ps = c.ctr_ok(&["tasks", "ps", &id]);
    let pid: i32 = ps.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap().starts_with("sleep"), "{ps}");
    // pause / resume through the freezer.
    c.ctr_ok(&["tasks", "pause", &id]);
    assert_eq!(c.task_status(&id), "PAUSED");
    c.ctr_ok(&["tasks", "resume", &id]);
    assert_eq!(c.task_status(&id), "RUNNING");
    // metrics: the shim reads the container's cgroup.
    let metrics = c.ctr_ok(&["tasks", "metrics", &id]);
    assert!(metrics.contains("memory.usage_in_bytes") || metrics.contains("memory.usage"), "{metrics}");
    assert!(metrics.contains("pids.current"), "{metrics}");
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    c.wait_task(&id, "STOPPED");
    // A kill of a task that has exited reaches tandem, which must answer
    // in runc's words: the shim turns them into NotFound.
    let out = c.ctr(&["tasks", "kill", &id]);
    let (_, err) = text(&out);
    assert!(!out.status.success() && err.contains("not found"), "ctr task kill of an exited task: {err}");
    assert!(!err.contains("unknown error"), "{err}");
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
}

/// An OOM kill in the container is a `/tasks/oom` event.
#[test]
fn an_oom_kill_is_a_tasks_oom_event() {
    let env = Env::new("ctrd-oom");
    let c = with_busybox(&env);
    let mut events = Command::new("ctr")
        .arg("--address")
        .arg(&c.address)
        .args(["--namespace", &c.ns, "events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let id = env.id("oom");
    // dd touches its whole 64 MiB buffer: over the 16 MiB limit. It starts
    // a moment after the task: the runc shim registers its v1 OOM eventfd
    // once `start` has returned, and an OOM before that is never notified
    // (seen once in CI). The shell outlives dd a moment with its status:
    // the shim reads the notification before the task's cgroup goes.
    let (code, _, err) = run(
        &c,
        &id,
        &["--memory-limit", &(16u64 << 20).to_string()],
        &["sh", "-c", "sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1; s=$?; sleep 1; exit $s"],
    );
    assert_eq!(code, 137, "killed by the OOM killer: {err}");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("/tasks/oom") && line.contains(&id) => break true,
            Ok(line) => seen.push(line),
            Err(_) if Instant::now() > deadline => break false,
            Err(_) => {}
        }
    };
    let _ = events.kill();
    let _ = events.wait();
    assert!(found, "no /tasks/oom event for {id}; events: {seen:#?}");
    assert_gone(&c, &id);
}

/// A wasm module in an image, selected by the annotation crun reads.
#[test]
fn a_wasm_image_runs_when_annotated() {
    let env = Env::new("ctrd-wasm");
    let c = Containerd::start(&env, None);
    let rootfs = env.rootfs("wasm-rootfs");
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat");
    fs::create_dir_all(rootfs.join("app")).unwrap();
    fs::write(rootfs.join("app/hello.wasm"), wat::parse_file(wat).unwrap()).unwrap();
    let config = ImageConfig { cmd: &["/app/hello.wasm"], ..Default::default() };
    let reference = "docker.io/library/tandem-wasm:test";
    c.import(&image::docker_archive(&env.dir, reference, &rootfs, &config));
    let id = env.id("w");
    let flags = c.run_flags(&id);
    let mut args: Vec<&str> = vec!["run", "--rm", "--annotation", "run.oci.handler=wasm"];
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(&[reference, &id]);
    let out = c.ctr(&args);
    assert!(out.status.success(), "{:?}\n{}", text(&out), c.log_tail());
    assert_eq!(text(&out).0, "hello from a WAT module\n");
    assert_gone(&c, &id);
}

#[test]
fn ten_containers_at_once() {
    let env = Env::new("ctrd-ten");
    let c = with_busybox(&env);
    let ids: Vec<String> = (0..10).map(|i| env.id(&format!("n{i}"))).collect();
    let outputs: Vec<(i32, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let c = &c;
                s.spawn(move || run(c, id, &[], &["sh", "-c", &format!("echo {i}; exit {i}")]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (code, out, err)) in outputs.iter().enumerate() {
        assert_eq!((*code, out.as_str()), (i as i32, format!("{i}\n").as_str()), "container {i}: {err}");
    }
    for id in &ids {
        assert_gone(&c, id);
    }
    assert_eq!(c.ctr_ok(&["containers", "ls", "-q"]), "", "containers left");
}

/// `ctr container checkpoint --task`, then `ctr container restore --live`
/// into a new container: the runc shim runs `tandem checkpoint
/// --leave-running` and `tandem restore` (its own pipes as stdio,
/// `-no-subreaper`), and the counter goes on from where it was.
#[test]
fn ctr_checkpoints_and_restores_a_task_through_the_runc_shim() {
    let env = Env::new("ctrd-cr");
    let c = with_busybox(&env);
    let counter = "i=0; while true; do echo $i > /count; i=$((i+1)); sleep 0.05; done";
    c.checkpoint_and_restore_a_counter(&env, &|id| run_detached(&c, id, &["sh", "-c", counter]), &|id| {
        assert_gone(&c, id)
    });
}
