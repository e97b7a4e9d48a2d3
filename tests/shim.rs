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
