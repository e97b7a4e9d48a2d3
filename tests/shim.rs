//! containerd runs tandem containers through tandem's own shim,
//! `containerd-shim-tandem-v1` (runtime type `io.containerd.tandem.v1`):
//! Debian's containerd on a private socket, `ctr` as a user drives it,
//! every container checked from what `ctr` reports and what the host
//! keeps, the shim's processes counted.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;
use common::engines::{Containerd, text};
use common::image::{self, ImageConfig};

const BUSYBOX: &str = "docker.io/library/tandem-busybox:shim";
const WASM: &str = "docker.io/library/tandem-wasm:shim";

fn with_images(env: &Env) -> Containerd {
    let c = Containerd::start(env, None);
    let rootfs = env.rootfs("image-rootfs");
    let config = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, BUSYBOX, &rootfs, &config));
    let wasm = env.dir.join("wasm-rootfs");
    fs::create_dir_all(wasm.join("app")).unwrap();
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat");
    fs::write(wasm.join("app/hello.wasm"), wat::parse_file(wat).unwrap()).unwrap();
    fs::copy(common::demo_wasm(), wasm.join("app/demo.wasm")).unwrap();
    let config = ImageConfig { cmd: &["/app/hello.wasm"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, WASM, &wasm, &config));
    c
}

/// `ctr` with `args`, where `{shim}` stands for the shim's flags for `id`.
fn ctr(c: &Containerd, id: &str, args: &[&str]) -> (i32, String, String) {
    let flags = c.shim_flags(id);
    let mut all: Vec<&str> = Vec::new();
    for a in args {
        match *a {
            "{shim}" => all.extend(flags.iter().map(String::as_str)),
            a => all.push(a),
        }
    }
    let out = c.ctr(&all);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

fn task_status(c: &Containerd, id: &str) -> String {
    let out = c.ctr_ok(&["tasks", "ls"]);
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string()
}

fn wait_task(c: &Containerd, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while task_status(c, id) != want {
        assert!(Instant::now() < deadline, "task {id} is {}, not {want}", task_status(c, id));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shim processes serving this containerd (their command line names
/// its socket).
fn shims(c: &Containerd) -> Vec<u32> {
    let address = c.address.to_str().unwrap();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"containerd-shim-tandem-v1"))
                && args.iter().any(|a| *a == address.as_bytes())
        })
        .collect()
}

/// Nothing of the container is left: no tandem state, no cgroup.
fn assert_gone(c: &Containerd, id: &str) {
    assert!(!c.shim_state(id).exists(), "tandem state of {id} left behind");
    for dir in common::cgroup_dirs(id) {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

#[test]
fn ctr_runs_native_and_wasm_containers_through_tandems_shim() {
    let env = Env::new("shim-run");
    let c = with_images(&env);

    // Foreground: stdio on containerd's fifos, the exit status.
    let id = env.id("fg");
    let (code, out, err) =
        ctr(&c, &id, &["run", "--rm", "{shim}", BUSYBOX, &id, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}\n{}", c.log_tail());
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    assert_gone(&c, &id);

    // stdin reaches the container and its end is the container's EOF.
    let id = env.id("in");
    let out = std::process::Command::new("ctr")
        .arg("--address")
        .arg(&c.address)
        .args(["--namespace", &c.ns, "run", "--rm"])
        .args(c.shim_flags(&id))
        .args([BUSYBOX, &id, "sh", "-c", "wc -c; echo done"])
        .stdin(fs::File::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap())
        .output()
        .unwrap();
    let expected = fs::metadata(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap().len();
    assert_eq!(text(&out).0, format!("{expected}\ndone\n"), "{:?}", text(&out));
    assert_gone(&c, &id);

    // A wasm module of an image annotated as crun reads it.
    let id = env.id("w");
    let (code, out, err) = ctr(&c, &id, &["run", "--rm", "--annotation", "run.oci.handler=wasm", "{shim}", WASM, &id]);
    assert_eq!((code, out.as_str()), (0, "hello from a WAT module\n"), "{err}\n{}", c.log_tail());
    assert_gone(&c, &id);
    assert!(shims(&c).is_empty(), "shims left running: {:?}", shims(&c));
}

#[test]
fn exec_ps_pause_metrics_and_kill_through_tandems_shim() {
    let env = Env::new("shim-life");
    let c = with_images(&env);
    let id = env.id("bg");
    let (code, _, err) = ctr(&c, &id, &["run", "-d", "{shim}", BUSYBOX, &id, "sleep", "1000"]);
    assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    assert_eq!(task_status(&c, &id), "RUNNING");
    let out = c.ctr(&["tasks", "exec", "--exec-id", "e1", &id, "sh", "-c", "echo in; echo err >&2; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{:?}", text(&out));
    assert_eq!(text(&out), ("in\n".to_string(), "err\n".to_string()));
    // ps lists the init (its host pid).
    let ps = c.ctr_ok(&["tasks", "ps", &id]);
    let pid: i32 = ps.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap().starts_with("sleep"), "{ps}");
    // The shim is the init's parent: it reaps it.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(shims(&c), vec![ppid], "the init's parent is the one shim");
    c.ctr_ok(&["tasks", "pause", &id]);
    assert_eq!(task_status(&c, &id), "PAUSED");
    c.ctr_ok(&["tasks", "resume", &id]);
    assert_eq!(task_status(&c, &id), "RUNNING");
    let metrics = c.ctr_ok(&["tasks", "metrics", &id]);
    assert!(metrics.contains("pids.current"), "{metrics}");
    assert!(metrics.contains("memory.usage"), "{metrics}");
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    wait_task(&c, &id, "STOPPED");
    let out = c.ctr(&["tasks", "kill", &id]);
    assert!(!out.status.success() && text(&out).1.contains("not found"), "{:?}", text(&out));
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shims(&c).is_empty() {
        assert!(Instant::now() < deadline, "the shim did not exit after its last task");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A wasm task runs for as long as its module does, and `ctr task exec`
/// runs a module in it (or a native program of its image) as for a
/// native container: runwasi's shims refuse exec.
#[test]
fn exec_into_a_wasm_task_through_tandems_shim() {
    let env = Env::new("shim-wexec");
    let c = with_images(&env);
    let id = env.id("w");
    let (code, _, err) = ctr(
        &c,
        &id,
        &["run", "-d", "--annotation", "run.oci.handler=wasm", "{shim}", WASM, &id, "/app/demo.wasm", "spin"],
    );
    assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    assert_eq!(task_status(&c, &id), "RUNNING");
    let out = c.ctr(&["tasks", "exec", "--exec-id", "m", &id, "/app/demo.wasm", "exit", "9"]);
    assert_eq!(out.status.code(), Some(9), "{:?}", text(&out));
    let out = c.ctr(&["tasks", "exec", "--exec-id", "h", &id, "/app/demo.wasm"]);
    assert_eq!(text(&out).0, "hello from wasm, inside a tandem container\n", "{:?}", text(&out));
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    wait_task(&c, &id, "STOPPED");
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
}

/// `ctr run -t` and `ctr task exec -t`: a terminal of the container's
/// own, driven from a terminal of ours (`script`).
#[test]
fn terminals_through_tandems_shim() {
    let env = Env::new("shim-tty");
    let c = with_images(&env);
    let id = env.id("t");
    let ctr_line = |args: &str| format!("ctr --address {} --namespace {} {args}", c.address.display(), c.ns);
    let script = |line: String| {
        let out = std::process::Command::new("timeout")
            .args(["60", "script", "-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).replace('\r', ""))
    };
    let flags = c.shim_flags(&id).join(" ");
    let (code, out) = script(ctr_line(&format!("run --rm -t {flags} {BUSYBOX} {id} sh -c 'tty; exit 5'")));
    assert_eq!(code, Some(5), "{out}\n{}", c.log_tail());
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert_gone(&c, &id);

    let id = env.id("x");
    let (code, _, err) = ctr(&c, &id, &["run", "-d", "{shim}", BUSYBOX, &id, "sleep", "1000"]);
    assert_eq!(code, 0, "{err}");
    let (code, out) = script(ctr_line(&format!("tasks exec -t --exec-id tty {id} sh -c 'tty; stty size; exit 6'")));
    assert_eq!(code, Some(6), "{out}\n{}", c.log_tail());
    assert!(out.contains("/dev/pts/"), "{out}");
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    wait_task(&c, &id, "STOPPED");
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
}

/// An OOM kill in the container is a `/tasks/oom` event, before its exit.
#[test]
fn an_oom_kill_is_a_tasks_oom_event_from_tandems_shim() {
    use std::io::{BufRead, BufReader};
    let env = Env::new("shim-oom");
    let c = with_images(&env);
    let mut events = std::process::Command::new("ctr")
        .arg("--address")
        .arg(&c.address)
        .args(["--namespace", &c.ns, "events"])
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let id = env.id("oom");
    // dd touches its whole 64 MiB buffer: over the 16 MiB limit; the init
    // itself is what the kernel kills.
    let (code, _, err) = ctr(
        &c,
        &id,
        &[
            "run",
            "--rm",
            "--memory-limit",
            &(16u64 << 20).to_string(),
            "{shim}",
            BUSYBOX,
            &id,
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ],
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
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(&id) && (line.contains("/tasks/oom") || line.contains("/tasks/exit")) => {
                seen.push(line);
                if seen.iter().any(|l| l.contains("/tasks/exit")) {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => assert!(Instant::now() < deadline, "no exit event for {id}: {seen:#?}"),
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    assert!(seen[0].contains("/tasks/oom"), "TaskOOM first, then TaskExit: {seen:#?}");
    assert_gone(&c, &id);
}

/// containerd crashes and comes back: the shim and its task live on, and
/// the new containerd finds the task running, signals and deletes it.
#[test]
fn containerd_restarted_finds_its_tasks_in_tandems_shim() {
    let env = Env::new("shim-restart");
    let mut c = with_images(&env);
    let id = env.id("r");
    let (code, _, err) = ctr(&c, &id, &["run", "-d", "{shim}", BUSYBOX, &id, "sleep", "1000"]);
    assert_eq!(code, 0, "{err}");
    let shim = shims(&c);
    c.crash_and_restart();
    assert_eq!(shims(&c), shim, "the shim outlives containerd");
    wait_task(&c, &id, "RUNNING");
    let out = c.ctr(&["tasks", "exec", "--exec-id", "after", &id, "sh", "-c", "echo still here"]);
    assert_eq!(text(&out).0, "still here\n", "{:?}\n{}", text(&out), c.log_tail());
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    wait_task(&c, &id, "STOPPED");
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
}
