//! Docker runs tandem: Debian's dockerd with `--add-runtime tandem=...`
//! on a private socket and dirs, images loaded from local `docker save`
//! tarballs, and every container checked from what `docker` reports and
//! what the host's cgroups hold. Docker's default seccomp profile is on
//! for every container here.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::engines::{Dockerd, text};
use common::image::{self, ImageConfig};

const IMAGE: &str = "tandem-busybox:test";

fn dockerd(env: &Env) -> Dockerd {
    let d = Dockerd::start(env);
    let rootfs = env.rootfs("image-rootfs");
    let config = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    let archive = image::docker_archive(&env.dir, IMAGE, &rootfs, &config).archive;
    d.ok(&["load", "-i", archive.to_str().unwrap()]);
    d
}

/// `docker run --rm --runtime tandem [flags] IMAGE args`: (status, stdout, stderr).
fn run(d: &Dockerd, flags: &[&str], args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", "--rm", "--runtime", "tandem", "--network", "host"];
    all.extend_from_slice(flags);
    all.push(IMAGE);
    all.extend_from_slice(args);
    let out = d.docker(&all);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

fn run_ok(d: &Dockerd, flags: &[&str], args: &[&str]) -> String {
    let (code, out, err) = run(d, flags, args);
    assert_eq!(code, 0, "docker run {flags:?} {args:?}: {out}{err}\n{}", d.log_tail());
    out
}

fn detached(d: &Dockerd, name: &str, flags: &[&str], args: &[&str]) {
    let mut all = vec!["run", "-d", "--runtime", "tandem", "--network", "host", "--name", name];
    all.extend_from_slice(flags);
    all.push(IMAGE);
    all.extend_from_slice(args);
    d.ok(&all);
}

fn inspect(d: &Dockerd, name: &str, format: &str) -> String {
    d.ok(&["inspect", "-f", format, name]).trim().to_string()
}

fn wait_state(d: &Dockerd, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while inspect(d, name, "{{.State.Status}}") != want {
        assert!(Instant::now() < deadline, "{name} is {}, not {want}", inspect(d, name, "{{.State.Status}}"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A v1 controller's file for the container's init, read on the host.
fn cgroup_file(d: &Dockerd, name: &str, controller: &str, file: &str) -> String {
    common::engines::cgroup_file_of(&inspect(d, name, "{{.State.Pid}}"), controller, file)
}

#[test]
fn docker_run_gives_output_status_and_runc_s_defaults() {
    let env = Env::new("docker-run");
    let d = dockerd(&env);
    let (code, out, err) = run(&d, &[], &["sh", "-c", "echo hello; exit 3"]);
    assert_eq!((code, out.as_str()), (3, "hello\n"), "{err}\n{}", d.log_tail());
    // Docker's default seccomp profile is loaded, and the shell runs under it.
    assert_eq!(run_ok(&d, &[], &["sh", "-c", "grep ^Seccomp: /proc/self/status"]), "Seccomp:\t2\n");
    // The restrictions users ask for.
    let (code, _, err) = run(&d, &["--read-only"], &["touch", "/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{code}: {err}");
    assert_eq!(
        run_ok(&d, &["--cap-drop", "ALL"], &["grep", "^CapEff:", "/proc/self/status"]),
        "CapEff:\t0000000000000000\n"
    );
    assert_eq!(run_ok(&d, &["--user", "1000:1000"], &["id"]), "uid=1000 gid=1000 groups=1000\n");
    // A missing program is Docker's 127, one that cannot be executed 126.
    assert_eq!(run(&d, &[], &["no-such-program"]).0, 127);
    assert_eq!(run(&d, &[], &["/etc/passwd"]).0, 126);
}

#[test]
fn docker_exec_stop_pause_update_stats_and_top() {
    let env = Env::new("docker-life");
    let d = dockerd(&env);
    let name = env.id("c");
    detached(&d, &name, &["--pids-limit", "50", "--memory", "128m"], &["sleep", "1000"]);
    // Docker sends cpu.shares 0 and blockIO.weight 0: unset, not the
    // minimum weight (and not ERANGE on the bfq weight).
    assert_eq!(cgroup_file(&d, &name, "cpu", "cpu.shares"), "1024");
    assert_eq!(cgroup_file(&d, &name, "pids", "pids.max"), "50");

    let out = d.docker(&["exec", &name, "sh", "-c", "echo in; exit 4"]);
    assert_eq!((out.status.code(), text(&out).0.as_str()), (Some(4), "in\n"), "{:?}", text(&out));
    // Docker's CLI gives 126 for any exec that cannot start (so does runc
    // under it); the words say why.
    let out = d.docker(&["exec", &name, "no-such-program"]);
    assert_eq!(out.status.code(), Some(126), "{:?}", text(&out));
    assert!(text(&out).0.contains("executable file not found"), "{:?}", text(&out));

    let top = d.ok(&["top", &name]);
    assert!(top.contains("sleep 1000"), "{top}");
    let stats = d.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", &name]);
    let fields: Vec<&str> = stats.split_whitespace().collect();
    assert_eq!(fields[0], name, "{stats}");
    assert!(!fields[1].starts_with("0B"), "memory usage read from the cgroup: {stats}");
    assert_eq!(fields.last(), Some(&"1"), "one process: {stats}");

    d.ok(&["pause", &name]);
    assert_eq!(inspect(&d, &name, "{{.State.Status}}"), "paused");
    assert_eq!(cgroup_file(&d, &name, "freezer", "freezer.state"), "FROZEN");
    d.ok(&["unpause", &name]);
    assert_eq!(inspect(&d, &name, "{{.State.Status}}"), "running");

    // `update` sends every field, 0 for those not given: each flag alone
    // changes its own file and nothing else. (Docker refuses --memory alone
    // on a container started without one, whatever the runtime.)
    assert_eq!(cgroup_file(&d, &name, "memory", "memory.memsw.limit_in_bytes"), (256u64 << 20).to_string());
    d.ok(&["update", "--memory", "64m", &name]);
    assert_eq!(cgroup_file(&d, &name, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(cgroup_file(&d, &name, "memory", "memory.memsw.limit_in_bytes"), (256u64 << 20).to_string());
    d.ok(&["update", "--cpus", "0.5", &name]);
    assert_eq!(cgroup_file(&d, &name, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file(&d, &name, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cgroup_file(&d, &name, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(cgroup_file(&d, &name, "cpu", "cpu.shares"), "1024");
    assert_eq!(cgroup_file(&d, &name, "pids", "pids.max"), "50");

    // stop: the init (pid 1) ignores TERM, so Docker kills it.
    d.ok(&["stop", "-t", "1", &name]);
    assert_eq!(inspect(&d, &name, "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&d, &name, "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", &name]);

    // One that handles TERM stops with its own status.
    let name = env.id("term");
    detached(&d, &name, &[], &["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"]);
    wait_state(&d, &name, "running");
    d.ok(&["stop", "-t", "20", &name]);
    assert_eq!(inspect(&d, &name, "{{.State.ExitCode}}"), "7");
    d.ok(&["rm", &name]);
}

#[test]
fn docker_run_it_gets_a_terminal() {
    let env = Env::new("docker-tty");
    let d = dockerd(&env);
    // `script` gives docker a terminal of its own, as a user's shell has.
    let cmd = format!(
        "/usr/bin/docker -H unix://{} run --rm -it --runtime tandem --network host {IMAGE} sh -c 'tty; exit 5'",
        d.socket.display()
    );
    let out = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}\n{}", d.log_tail());
    assert!(stdout.contains("/dev/pts/0"), "{stdout}");
}
