//! Real container engines for the tests, each on private paths: a daemon
//! is started with its own socket, state and data directories inside the
//! test's scratch directory, and stopped by its pid when the test ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::Env;
use super::image::Image;

/// A daemon the test started; SIGTERM (then SIGKILL) by pid on drop.
pub struct Daemon {
    child: Child,
    name: String,
    pub log: PathBuf,
    reaped: bool,
}

impl Daemon {
    /// Start `cmd` with its output in `log`, and wait until `ready`.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path, ready: impl Fn() -> bool) -> Daemon {
        let out = fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e} (is it installed? make test-deps)"));
        let mut d = Daemon { child, name: name.to_string(), log: log.to_path_buf(), reaped: false };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !ready() {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("{name} exited ({status}) before it was ready:\n{}", d.log_tail());
            }
            assert!(Instant::now() < deadline, "{name} not ready after 90 s:\n{}", d.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would end it.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: kill(2) on the pid of our own unreaped child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} ignored SIGTERM for 30 s: SIGKILL", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Does a unix socket at `path` accept connections?
pub fn listening(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// Kill every process whose command line contains `marker` (shims that
/// outlived their daemon), and wait for them to go.
pub fn kill_matching(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = false;
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(cmd) = fs::read(e.path().join("cmdline")) else { continue };
            let zombie = fs::read_to_string(e.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
            if !zombie && pid != std::process::id() as i32 && String::from_utf8_lossy(&cmd).contains(marker) {
                found = true;
                // SAFETY: kill(2) with a pid read from /proc.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !found || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A program's absolute path (PATH searched for a bare name).
fn which(program: &Path) -> PathBuf {
    if program.is_absolute() {
        return program.to_path_buf();
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{} is not on PATH", program.display()))
}

/// Unmount everything mounted under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_str().unwrap();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut points: Vec<&str> =
        mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(prefix)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(p).status();
    }
}

pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// containerd (Debian's) on a private socket, root and state, with its CRI
/// plugin off unless a config for it is given.
pub struct Containerd {
    pub dir: PathBuf,
    pub address: PathBuf,
    /// The namespace this test's containers live in.
    pub ns: String,
    /// The runc shim's `--root` for tandem (ctr's `--runc-root`).
    pub runc_root: PathBuf,
    daemon: Option<Daemon>,
}

impl Containerd {
    /// `cri` is the TOML of the CRI plugin's section, or None to disable it.
    pub fn start(env: &Env, cri: Option<&str>) -> Containerd {
        let dir = env.dir.join("ctrd");
        fs::create_dir_all(&dir).unwrap();
        let address = dir.join("c.sock");
        let disabled = if cri.is_some() { "[]" } else { r#"["io.containerd.grpc.v1.cri"]"# };
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = {disabled}\n\
             [grpc]\n  address = \"{addr}\"\n[ttrpc]\n  address = \"{addr}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n{cri}\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            addr = address.display(),
            opt = dir.join("opt").display(),
            cri = cri.unwrap_or(""),
        );
        fs::write(dir.join("config.toml"), config).unwrap();
        // tandem's shim keeps its containers where its config says.
        fs::write(dir.join("tandem-shim.json"), format!(r#"{{"root": "{}"}}"#, dir.join("tandem").display())).unwrap();
        let daemon = Self::spawn(&dir, &address);
        Containerd { runc_root: dir.join("runc"), ns: format!("t-{}", env.tag), address, dir, daemon: Some(daemon) }
    }

    fn spawn(dir: &Path, address: &Path) -> Daemon {
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dir.join("config.toml"));
        // containerd finds a runtime's shim binary on its PATH: tandem's
        // is built beside the tandem binary.
        let bin_dir = Path::new(super::tandem_bin()).parent().unwrap();
        // ... and tandem, run by a shim, finds CRIU there: one that works.
        let criu_dir = dir.join("criu-bin");
        if let Some(criu) = super::working_criu()
            && !criu_dir.join("criu").exists()
        {
            fs::create_dir_all(&criu_dir).unwrap();
            std::os::unix::fs::symlink(which(&criu), criu_dir.join("criu")).unwrap();
        }
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{}:{path}", bin_dir.display(), criu_dir.display()));
        let sock = address.to_path_buf();
        Daemon::spawn("containerd", &mut cmd, &dir.join("containerd.log"), || listening(&sock))
    }

    /// containerd killed as a crash would (its shims and their tasks live
    /// on) and started again on the same state.
    pub fn crash_and_restart(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.crash();
        }
        let _ = fs::remove_file(&self.address);
        self.daemon = Some(Self::spawn(&self.dir, &self.address));
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.address)
            .args(["--namespace", &self.ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ctr")
    }

    /// `ctr` given 20 seconds: did it succeed in them.
    fn ctr_within(&self, args: &[&str]) -> bool {
        let mut child = Command::new("ctr")
            .arg("--address")
            .arg(&self.address)
            .args(["--namespace", &self.ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ctr");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "ctr {args:?} failed ({}): {stderr}{stdout}", out.status);
        stdout
    }

    pub fn import(&self, image: &Image) {
        self.ctr_ok(&["images", "import", "--no-unpack", image.archive.to_str().unwrap()]);
    }

    /// `ctr run` flags that make the runc shim drive `tandem`, with the
    /// container's cgroup where tandem's own go.
    pub fn run_flags(&self, id: &str) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            super::tandem_bin().into(),
            "--runc-root".into(),
            self.runc_root.to_str().unwrap().into(),
            "--cgroup".into(),
            format!("/tandem/{id}"),
        ]
    }

    /// `ctr run` flags that make tandem's own shim run the container,
    /// with its state under this containerd's directory.
    pub fn shim_flags(&self, id: &str) -> Vec<String> {
        vec![
            "--runtime".into(),
            "io.containerd.tandem.v1".into(),
            "--runtime-config-path".into(),
            self.dir.join("tandem-shim.json").to_str().unwrap().into(),
            "--cgroup".into(),
            format!("/tandem/{id}"),
        ]
    }

    /// Where tandem's shim keeps the state of container `id`.
    pub fn shim_state(&self, id: &str) -> PathBuf {
        self.dir.join("tandem").join(&self.ns).join(id)
    }

    pub fn log_tail(&self) -> String {
        self.daemon.as_ref().map(Daemon::log_tail).unwrap_or_default()
    }

    /// A column of task `id`'s line in `ctr task ls` (1: pid, 2: status).
    fn task_column(&self, id: &str, n: usize) -> Option<String> {
        let out = self.ctr_ok(&["tasks", "ls"]);
        out.lines().find(|l| l.split_whitespace().next() == Some(id))?.split_whitespace().nth(n).map(str::to_string)
    }

    /// The task's status in `ctr task ls` (empty: no such task).
    pub fn task_status(&self, id: &str) -> String {
        self.task_column(id, 2).unwrap_or_default()
    }

    pub fn wait_task(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.task_status(id) != want {
            assert!(Instant::now() < deadline, "task {id} is {}, not {want}", self.task_status(id));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn task_pid(&self, id: &str) -> i32 {
        let pid = self.task_column(id, 1).and_then(|p| p.parse().ok());
        pid.unwrap_or_else(|| panic!("no task {id} in ctr task ls"))
    }

    /// A counter task (`i=0; while ...; echo $i > /count`) checkpointed
    /// with `ctr container checkpoint --task` (ctr pauses it, the shim
    /// checkpoints it leaving it running, containerd keeps the images as
    /// a checkpoint image) and restored with `ctr container restore
    /// --live` into a new container, where it counts on from where it
    /// was. `run` makes the task from `image` with a runtime's flags;
    /// `gone` checks that nothing of a container id is left.
    pub fn checkpoint_and_restore_a_counter(&self, env: &Env, run: &dyn Fn(&str), gone: &dyn Fn(&str)) {
        let count = |id: &str| -> u64 {
            let pid = self.task_pid(id);
            fs::read_to_string(format!("/proc/{pid}/root/count")).unwrap_or_default().trim().parse().unwrap_or(0)
        };
        let counted_to = |id: &str, n: u64| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while count(id) < n {
                assert!(Instant::now() < deadline, "{id} counted to {} only", count(id));
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let id = env.id("c");
        run(&id);
        counted_to(&id, 3);
        let image = format!("docker.io/library/checkpoint-{}:test", env.tag);
        let out = self.ctr(&["containers", "checkpoint", "--task", &id, &image]);
        assert!(out.status.success(), "ctr containers checkpoint: {:?}\n{}", text(&out), self.log_tail());
        assert_eq!(self.task_status(&id), "RUNNING", "ctr resumes the task it checkpointed");
        let n = count(&id);
        counted_to(&id, n + 3);
        let pid = self.task_pid(&id);
        self.ctr_ok(&["tasks", "kill", "-s", "KILL", &id]);
        self.wait_task(&id, "STOPPED");
        self.ctr_ok(&["tasks", "delete", &id]);
        self.ctr_ok(&["containers", "delete", &id]);
        gone(&id);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the checkpointed task {pid} is left");

        let restored = env.id("r");
        let out = self.ctr(&["containers", "restore", "--live", &restored, &image]);
        assert!(out.status.success(), "ctr containers restore: {:?}\n{}", text(&out), self.log_tail());
        assert_eq!(self.task_status(&restored), "RUNNING");
        // From the count it had at the checkpoint (between n - 3 and n), not
        // 0 (the new rootfs has no /count until the restored shell writes).
        counted_to(&restored, 1);
        let at_restore = count(&restored);
        assert!(at_restore + 3 >= n, "the restored task counts from {at_restore}, the checkpoint was at {n}");
        counted_to(&restored, at_restore + 3);
        self.ctr_ok(&["tasks", "kill", "-s", "KILL", &restored]);
        self.wait_task(&restored, "STOPPED");
        self.ctr_ok(&["tasks", "delete", &restored]);
        self.ctr_ok(&["containers", "delete", &restored]);
        // The restored task kept the checkpointed container's cgroup path.
        gone(&restored);
        gone(&id);
        self.ctr_ok(&["images", "rm", &image]);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let list = |what: &str| -> Vec<String> {
            let out = self.ctr(&[what, "ls", "-q"]);
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
        };
        // Bounded: a task whose start failed never exits, and a forced
        // delete waits for that exit.
        for task in list("tasks") {
            self.ctr_within(&["tasks", "kill", "-a", "-s", "KILL", &task]);
            if !self.ctr_within(&["tasks", "delete", &task]) {
                self.ctr_within(&["tasks", "delete", "-f", &task]);
            }
        }
        for c in list("containers") {
            let _ = self.ctr(&["containers", "delete", &c]);
        }
        self.daemon.take();
        kill_matching(self.address.to_str().unwrap());
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// dockerd (Debian's docker.io) on a private socket, data root and exec
/// root, with tandem added as the runtime `tandem`, no iptables and no
/// bridge (host networking only). It starts a containerd of its own.
pub struct Dockerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    daemon: Option<Daemon>,
}

impl Dockerd {
    pub fn start(env: &Env) -> Dockerd {
        // containerd's sockets go under the exec root: keep paths short.
        let dir = env.dir.join("dk");
        fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("d.sock");
        fs::write(dir.join("daemon.json"), "{}").unwrap();
        let mut cmd = Command::new("dockerd");
        cmd.arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("x"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false"])
            .args(["--storage-driver", "vfs", "--log-level", "debug"])
            .arg("--add-runtime")
            .arg(format!("tandem={}", super::tandem_bin()));
        let sock = socket.clone();
        let daemon = Daemon::spawn("dockerd", &mut cmd, &dir.join("dockerd.log"), || listening(&sock));
        Dockerd { dir, socket, daemon: Some(daemon) }
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/docker")
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "docker {args:?} failed ({}): {stderr}{stdout}", out.status);
        stdout
    }

    pub fn log_tail(&self) -> String {
        self.daemon.as_ref().map(Daemon::log_tail).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let out = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        self.daemon.take();
        kill_matching(self.dir.to_str().unwrap());
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
        remove_cgroup_parent("docker");
    }
}

/// Remove a cgroup parent an engine made (`/docker`, `/libpod_parent`
/// with its `conmon`) from every hierarchy, where nothing is in it any
/// more; one still in use stays.
pub fn remove_cgroup_parent(name: &str) {
    let base = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![base.join(name)];
    if let Ok(entries) = fs::read_dir(base) {
        dirs.extend(entries.flatten().map(|e| e.path().join(name)));
    }
    fn remove_empty_tree(d: &Path) {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_tree(&e.path());
            }
        }
        let _ = fs::remove_dir(d);
    }
    for d in dirs {
        remove_empty_tree(&d);
    }
}

/// Podman (Debian's 4.3) with tandem as its runtime: private root,
/// runroot and tmp dir, a containers.conf of the test's own (cgroupfs,
/// file events, errors as JSON from tandem), vfs storage.
pub struct Podman {
    pub dir: PathBuf,
}

impl Podman {
    pub fn new(env: &Env) -> Podman {
        let dir = env.dir.join("pm");
        fs::create_dir_all(&dir).unwrap();
        // Podman asks for nofile and nproc limits of 1048576 by default,
        // above this host's hard limits without CAP_SYS_RESOURCE (runc
        // and crun fail the same way): the test's config asks for less.
        let conf = format!(
            "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             events_logfile_path = \"{events}\"\nruntime_supports_json = [\"tandem\"]\ntmp_dir = \"{tmp}\"\n\
             [engine.runtimes]\ntandem = [\"{tandem}\"]\n",
            events = dir.join("events.log").display(),
            tmp = dir.join("tmp").display(),
            tandem = super::tandem_bin(),
        );
        fs::write(dir.join("containers.conf"), conf).unwrap();
        Podman { dir }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs", "--runtime", "tandem"]);
        cmd
    }

    /// The same command as a shell line (for `script`, which gives it a
    /// terminal).
    pub fn shell_line(&self, args: &str) -> String {
        format!(
            "CONTAINERS_CONF={} podman --root {} --runroot {} --storage-driver vfs --runtime tandem {args}",
            self.dir.join("containers.conf").display(),
            self.dir.join("root").display(),
            self.dir.join("run").display()
        )
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        self.command().args(args).stdin(Stdio::null()).output().expect("run podman")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "podman {args:?} failed ({}): {stderr}{stdout}", out.status);
        stdout
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
        let _ = self.podman(&["rmi", "-af"]);
        kill_matching(self.dir.to_str().unwrap());
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
        remove_cgroup_parent("libpod_parent");
    }
}

/// A file of the cgroup that process `pid` is in, in `controller`'s v1
/// hierarchy (or the cgroup2 one on a v2 host), read on the host.
pub fn cgroup_file_of(pid: &str, controller: &str, file: &str) -> String {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (names, path) = (parts.nth(1)?, parts.next()?);
        names.split(',').any(|n| n == controller).then(|| format!("/sys/fs/cgroup/{names}{path}"))
    });
    let dir = v1
        .or_else(|| cgroups.lines().find_map(|l| l.strip_prefix("0::")).map(|p| format!("/sys/fs/cgroup{p}")))
        .unwrap_or_else(|| panic!("no {controller} cgroup for {pid}: {cgroups}"));
    fs::read_to_string(format!("{dir}/{file}")).unwrap_or_else(|e| panic!("{dir}/{file}: {e}")).trim().to_string()
}
