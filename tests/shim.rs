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
                && args.contains(&address.as_bytes())
        })
        .collect()
}

/// The sockets the shims of this containerd listen on (their `-socket`).
fn shim_sockets(c: &Containerd) -> Vec<std::path::PathBuf> {
    shims(c)
        .into_iter()
        .filter_map(|pid| {
            let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<&str> = cmdline.split('\0').collect();
            let i = args.iter().position(|a| *a == "-socket")?;
            Some(std::path::PathBuf::from(args.get(i + 1)?.trim_start_matches("unix://")))
        })
        .collect()
}

/// The shims exit, and their sockets go with them.
fn assert_shims_gone(c: &Containerd, sockets: &[std::path::PathBuf]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shims(c).is_empty() {
        assert!(Instant::now() < deadline, "shims outlived their tasks: {:?}", shims(c));
        std::thread::sleep(Duration::from_millis(50));
    }
    for s in sockets {
        assert!(!s.exists(), "the shim left its socket {}", s.display());
    }
}

/// `ctr events` from now on, read on a thread of its own.
struct EventLog {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl EventLog {
    fn start(c: &Containerd) -> EventLog {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new("ctr")
            .arg("--address")
            .arg(&c.address)
            .args(["--namespace", &c.ns, "events"])
            .stdout(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // ctr subscribes once it runs: give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        EventLog { child, lines }
    }

    /// The topics of `id`'s events, in order, until `last` is among them.
    fn topics_until(&self, id: &str, last: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line.contains(id) => {
                    let topic = line.split_whitespace().find(|w| w.starts_with("/tasks/")).unwrap_or("").to_string();
                    seen.push(topic);
                    if seen.iter().any(|t| t == last) {
                        return seen;
                    }
                }
                Ok(_) => {}
                Err(_) => assert!(Instant::now() < deadline, "no {last} event for {id}: {seen:#?}"),
            }
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL a running task, delete it and its container, and check that
/// nothing of it is left.
fn kill_and_remove(c: &Containerd, id: &str) {
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", id]);
    c.wait_task(id, "STOPPED");
    c.ctr_ok(&["tasks", "delete", id]);
    c.ctr_ok(&["containers", "delete", id]);
    assert_gone(c, id);
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
    assert_shims_gone(&c, &[]);
}

#[test]
fn exec_ps_pause_metrics_and_kill_through_tandems_shim() {
    let env = Env::new("shim-life");
    let c = with_images(&env);
    let events = EventLog::start(&c);
    let id = env.id("bg");
    let (code, _, err) = ctr(&c, &id, &["run", "-d", "{shim}", BUSYBOX, &id, "sleep", "1000"]);
    assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    assert_eq!(c.task_status(&id), "RUNNING");
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
    let sockets = shim_sockets(&c);
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    c.ctr_ok(&["tasks", "pause", &id]);
    assert_eq!(c.task_status(&id), "PAUSED");
    c.ctr_ok(&["tasks", "resume", &id]);
    assert_eq!(c.task_status(&id), "RUNNING");
    let metrics = c.ctr_ok(&["tasks", "metrics", &id]);
    assert!(metrics.contains("pids.current"), "{metrics}");
    assert!(metrics.contains("memory.usage"), "{metrics}");
    c.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
    c.wait_task(&id, "STOPPED");
    let out = c.ctr(&["tasks", "kill", &id]);
    assert!(!out.status.success() && text(&out).1.contains("not found"), "{:?}", text(&out));
    c.ctr_ok(&["tasks", "delete", &id]);
    c.ctr_ok(&["containers", "delete", &id]);
    assert_gone(&c, &id);
    // Every event of the task's life, from the shim, in order (containerd
    // adds its own /containers/ ones).
    let topics = events.topics_until(&id, "/tasks/delete");
    let want = [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exec-started",
        "/tasks/exit",
        "/tasks/paused",
        "/tasks/resumed",
        "/tasks/exit",
        "/tasks/delete",
    ];
    let tasks: Vec<&str> = topics.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
    assert_eq!(tasks, want, "{topics:#?}");
    assert_shims_gone(&c, &sockets);
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
    assert_eq!(c.task_status(&id), "RUNNING");
    let out = c.ctr(&["tasks", "exec", "--exec-id", "m", &id, "/app/demo.wasm", "exit", "9"]);
    assert_eq!(out.status.code(), Some(9), "{:?}", text(&out));
    let out = c.ctr(&["tasks", "exec", "--exec-id", "h", &id, "/app/demo.wasm"]);
    assert_eq!(text(&out).0, "hello from wasm, inside a tandem container\n", "{:?}", text(&out));
    kill_and_remove(&c, &id);
}

/// A wasi:http component in a pod's container, as Kubernetes would run
/// one through a RuntimeClass: the shim's build has the wasi-http plugin,
/// the task serves on the host's network (as `ctr run --net-host` asks),
/// and SIGTERM from `ctr task kill` drains it and it exits.
#[test]
fn a_wasi_http_task_serves_through_tandems_shim() {
    let env = Env::new("shim-http");
    let c = Containerd::start(&env, None);
    let image = "docker.io/library/tandem-wasi-http:shim";
    let rootfs = env.dir.join("http-rootfs");
    fs::create_dir_all(rootfs.join("app")).unwrap();
    fs::write(rootfs.join("app/hello.wasm"), common::wasi_http::component("hello")).unwrap();
    let config = ImageConfig { cmd: &["/app/hello.wasm"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, image, &rootfs, &config));
    // A port nobody else holds, as a test may pick one.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let id = env.id("h");
    let port_annotation = format!("dev.tandem.wasi-http.port={port}");
    let (code, _, err) = ctr(
        &c,
        &id,
        &[
            "run",
            "-d",
            "--net-host",
            "--annotation",
            "run.oci.handler=wasm",
            "--annotation",
            &port_annotation,
            "{shim}",
            image,
            &id,
        ],
    );
    assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    let (status, body) = common::wasi_http::first_request(port, "/");
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "hello from a wasi:http component\n"));
    c.ctr_ok(&["tasks", "kill", &id]);
    c.wait_task(&id, "STOPPED");
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
    kill_and_remove(&c, &id);
}

/// An OOM kill in the container is a `/tasks/oom` event, before its exit.
#[test]
fn an_oom_kill_is_a_tasks_oom_event_from_tandems_shim() {
    let env = Env::new("shim-oom");
    let c = with_images(&env);
    let events = EventLog::start(&c);
    let id = env.id("oom");
    // dd touches its whole 64 MiB buffer: over the 16 MiB limit; the init
    // itself is what the kernel kills.
    let limit = (16u64 << 20).to_string();
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    let mut args = vec!["run", "--rm", "--memory-limit", &limit, "{shim}", BUSYBOX, &id];
    args.extend(dd);
    let (code, _, err) = ctr(&c, &id, &args);
    assert_eq!(code, 137, "killed by the OOM killer: {err}");
    let seen: Vec<String> = events
        .topics_until(&id, "/tasks/exit")
        .into_iter()
        .filter(|t| t == "/tasks/oom" || t == "/tasks/exit")
        .collect();
    assert_eq!(seen, ["/tasks/oom", "/tasks/exit"], "TaskOOM first, then TaskExit");
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
    c.wait_task(&id, "RUNNING");
    let out = c.ctr(&["tasks", "exec", "--exec-id", "after", &id, "sh", "-c", "echo still here"]);
    assert_eq!(text(&out).0, "still here\n", "{:?}\n{}", text(&out), c.log_tail());
    kill_and_remove(&c, &id);
}

/// Kubernetes through tandem's shim: a RuntimeClass handler mapped to
/// `io.containerd.tandem.v1`; a pod of a native sidecar and a wasm
/// container (each run by what its entrypoint is), ExecSync into both,
/// the whole pod one shim process; nothing left after RemovePodSandbox.
#[test]
fn a_pod_through_tandems_shim_is_one_shim_process() {
    use common::cri::*;
    use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
    use k8s_cri::v1::*;

    let env = Env::new("shim-pod");
    let mut c = Containerd::start(&env, Some(&cri_config(&env.dir)));
    c.ns = "k8s.io".into();
    import_images(&env, &c);
    let cgroup_parent = format!("/tandem/pod-{}", env.tag);
    struct RemoveOnDrop(String);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            common::engines::remove_cgroup_parent(&self.0);
        }
    }
    let _parent = RemoveOnDrop(cgroup_parent.trim_start_matches('/').to_string());
    let logs = env.dir.join("pod-logs");
    fs::create_dir_all(&logs).unwrap();
    let address = c.address.clone();
    let mut sockets = Vec::new();

    block_on(async {
        let mut rt = RuntimeServiceClient::new(channel(address).await);
        let sandbox_config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: "mixed".into(),
                uid: env.tag.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            annotations: [("module.wasm.image/variant".to_string(), "compat-smart".to_string())].into(),
            log_directory: logs.to_str().unwrap().into(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(sandbox_config.clone()),
                runtime_handler: "tandem-shim".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", c.log_tail()))
            .into_inner()
            .pod_sandbox_id;
        let create = |config: ContainerConfig| CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(config),
            sandbox_config: Some(sandbox_config.clone()),
        };
        let mut ids = Vec::new();
        for (name, image, command) in
            [("sidecar", BUSYBOX, &["sleep", "1000"][..]), ("wasm", WASM, &["/app/demo.wasm", "spin"][..])]
        {
            let id = rt
                .create_container(create(container_config(name, image, command)))
                .await
                .unwrap_or_else(|e| panic!("CreateContainer {name}: {e}\n{}", c.log_tail()))
                .into_inner()
                .container_id;
            rt.start_container(StartContainerRequest { container_id: id.clone() })
                .await
                .unwrap_or_else(|e| panic!("StartContainer {name}: {e}\n{}", c.log_tail()));
            ids.push(id);
        }
        let exec = |id: &String, cmd: &[&str]| ExecSyncRequest {
            container_id: id.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 10,
        };
        let out = rt.exec_sync(exec(&ids[0], &["sh", "-c", "cat /proc/1/cmdline; exit 3"])).await.unwrap().into_inner();
        assert_eq!((out.exit_code, String::from_utf8_lossy(&out.stdout)), (3, "sleep\u{0}1000\u{0}".into()), "{out:?}");
        let out = rt.exec_sync(exec(&ids[1], &["/app/demo.wasm"])).await.unwrap().into_inner();
        assert_eq!(
            (out.exit_code, String::from_utf8_lossy(&out.stdout)),
            (0, "hello from wasm, inside a tandem container\n".into()),
            "{out:?}"
        );
        // The sandbox and both containers: one shim.
        assert_eq!(shims(&c).len(), 1, "shims of the pod: {:?}", shims(&c));
        sockets = shim_sockets(&c);

        rt.update_container_resources(UpdateContainerResourcesRequest {
            container_id: ids[0].clone(),
            linux: Some(LinuxContainerResources { memory_limit_in_bytes: 64 << 20, ..Default::default() }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("UpdateContainerResources: {e}\n{}", c.log_tail()));
        let status = rt
            .container_status(ContainerStatusRequest { container_id: ids[0].clone(), verbose: true })
            .await
            .unwrap()
            .into_inner();
        let info: serde_json::Value = serde_json::from_str(&status.info["info"]).unwrap();
        let pid = info["pid"].to_string();
        assert_eq!(common::engines::cgroup_file_of(&pid, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
        let stats = rt
            .container_stats(ContainerStatsRequest { container_id: ids[0].clone() })
            .await
            .unwrap()
            .into_inner()
            .stats
            .unwrap();
        assert!(stats.memory.and_then(|m| m.working_set_bytes).map_or(0, |v| v.value) > 0, "memory stats");

        for id in &ids {
            rt.stop_container(StopContainerRequest { container_id: id.clone(), timeout: 1 }).await.unwrap();
        }
        rt.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: pod.clone() }).await.unwrap();
        rt.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: pod.clone() }).await.unwrap();
        let left = rt.list_containers(ListContainersRequest::default()).await.unwrap().into_inner();
        assert!(left.containers.is_empty(), "{left:?}");
    });
    assert_shims_gone(&c, &sockets);
    let root = c.dir.join("tandem/k8s.io");
    let left: Vec<_> = fs::read_dir(&root).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "tandem state left: {left:?}");
    for dir in common::cgroup_dirs(&format!("pod-{}", env.tag)) {
        let inside: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(inside.is_empty(), "cgroups left in {}: {inside:?}", dir.display());
    }
}

/// Containers of one pod (the CRI's sandbox-id annotation) share a shim,
/// which serves until the last of them goes, whichever went first, and
/// leaves no socket behind.
#[test]
fn a_pods_shim_serves_until_its_last_container() {
    let env = Env::new("shim-group");
    let c = with_images(&env);
    let pod = format!("io.kubernetes.cri.sandbox-id=pod-{}", env.tag);
    let ids = [env.id("first"), env.id("second")];
    for id in &ids {
        let (code, _, err) = ctr(&c, id, &["run", "-d", "--annotation", &pod, "{shim}", BUSYBOX, id, "sleep", "1000"]);
        assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    }
    assert_eq!(shims(&c).len(), 1, "one shim for the pod: {:?}", shims(&c));
    let sockets = shim_sockets(&c);
    // The container the shim was started for goes first.
    for id in &ids {
        kill_and_remove(&c, id);
        if id == &ids[0] {
            assert_eq!(shims(&c).len(), 1, "the pod's shim went with its first container");
            assert_eq!(c.task_status(&ids[1]), "RUNNING");
        }
    }
    assert_shims_gone(&c, &sockets);
}

/// Checkpoint and restore through tandem's shim: `ctr container
/// checkpoint --task` reaches the shim's Checkpoint (runc's options, into
/// containerd's directory), `ctr container restore --live` its Create
/// with the checkpoint, restored at Start with the new task's fifos.
#[test]
fn ctr_checkpoints_and_restores_a_task_through_tandems_shim() {
    let env = Env::new("shim-cr");
    let c = with_images(&env);
    let counter = "i=0; while true; do echo $i > /count; i=$((i+1)); sleep 0.05; done";
    let run = |id: &str| {
        let (code, _, err) = ctr(&c, id, &["run", "-d", "{shim}", BUSYBOX, id, "sh", "-c", counter]);
        assert_eq!(code, 0, "{err}\n{}", c.log_tail());
    };
    c.checkpoint_and_restore_a_counter(&env, &run, &|id| assert_gone(&c, id));
}
