//! The containerd rows: `ctr run --rm` of /bin/true through tandem's shim
//! (`io.containerd.tandem.v1`), through containerd's runc shim driving
//! tandem, and through the runc shim driving runc, interleaved, on a
//! private containerd; the shims' resident memory with one and with ten
//! idle containers of one pod; tasks started per second by concurrent
//! clients. Containers run from the bench's busybox rootfs (`ctr run
//! --rootfs`), so no image or snapshot is involved.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stats::summarize;

pub const SHIM: &str = "containerd-shim-tandem-v1";
const NAMESPACE: &str = "bench";

/// A containerd of the bench's own: private socket, root, state and
/// cgroup parent.
pub struct Ctrd {
    dir: PathBuf,
    address: PathBuf,
    cgroup_parent: String,
    daemon: Child,
}

/// How a container reaches its runtime.
struct Route {
    name: &'static str,
    flags: Vec<String>,
}

impl Ctrd {
    pub fn start(work: &Path, tandem: &Path) -> Result<Ctrd, String> {
        let dir = work.join("containerd");
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let address = dir.join("c.sock");
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{addr}\"\n[ttrpc]\n  address = \"{addr}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            addr = address.display(),
            opt = dir.join("opt").display(),
        );
        std::fs::write(dir.join("config.toml"), config).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("tandem-shim.json"), format!(r#"{{"root": "{}"}}"#, dir.join("tandem").display()))
            .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("containerd.log")).map_err(|e| e.to_string())?;
        let bin_dir = tandem.parent().unwrap_or(Path::new("."));
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start containerd: {e} (apt-get install containerd)"))?;
        let c = Ctrd { dir, address, cgroup_parent: format!("tandem-bench-{}", std::process::id()), daemon };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&c.address).is_err() {
            if Instant::now() > deadline {
                return Err("containerd did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(c)
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(&self.address).args(["--namespace", NAMESPACE]).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }

    fn ok(&self, args: &[&str]) -> Result<(), String> {
        let out = self.ctr(args).output().map_err(|e| format!("ctr: {e}"))?;
        match out.status.success() {
            true => Ok(()),
            false => Err(format!("ctr {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())),
        }
    }

    fn paths(&self, tandem: &Path) -> Vec<Route> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            Route {
                name: "tandem shim",
                flags: vec![
                    "--runtime".into(),
                    "io.containerd.tandem.v1".into(),
                    "--runtime-config-path".into(),
                    s(&self.dir.join("tandem-shim.json")),
                ],
            },
            Route {
                name: "runc shim + tandem",
                flags: vec!["--runc-binary".into(), s(tandem), "--runc-root".into(), s(&self.dir.join("runc-tandem"))],
            },
            Route { name: "runc shim + runc", flags: vec!["--runc-root".into(), s(&self.dir.join("runc-runc"))] },
        ]
    }

    /// `ctr run` of `args` in `id`, with `extra` flags.
    fn run_args<'a>(&'a self, rootfs: &'a str, path: &'a Route, extra: &[&'a str], id: &'a str) -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(path.flags.iter().cloned());
        v.extend(["--cgroup".into(), format!("/{}/{id}", self.cgroup_parent), "--rootfs".into(), rootfs.into()]);
        v.push(id.into());
        v
    }

    /// The shim processes serving this containerd.
    fn shim_pids(&self, binary: &str) -> Vec<u32> {
        let address = self.address.to_string_lossy().into_owned();
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                args.first().is_some_and(|a| a.ends_with(binary.as_bytes())) && args.contains(&address.as_bytes())
            })
            .collect()
    }
}

impl Drop for Ctrd {
    fn drop(&mut self) {
        for task in listed(self, "tasks") {
            let _ = self.ctr(&["tasks", "kill", "-a", "-s", "KILL", &task]).status();
            let _ = self.ctr(&["tasks", "delete", "-f", &task]).status();
        }
        for c in listed(self, "containers") {
            let _ = self.ctr(&["containers", "delete", &c]).status();
        }
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
        for pid in self.shim_pids(SHIM).into_iter().chain(self.shim_pids("containerd-shim-runc-v2")) {
            // SAFETY: plain kill(2) of a shim this containerd started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
            for d in dirs.flatten() {
                let _ = std::fs::remove_dir(d.path().join(&self.cgroup_parent));
            }
        }
    }
}

fn listed(c: &Ctrd, what: &str) -> Vec<String> {
    let out = c.ctr(&[what, "ls", "-q"]).stdout(Stdio::piped()).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()).unwrap_or_default()
}

fn vm_rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Every row, as notes for the report.
pub fn rows(work: &Path, tandem: &Path, rootfs: &Path, n: usize) -> Result<Vec<String>, String> {
    let c = Ctrd::start(work, tandem)?;
    let rootfs = rootfs.to_str().ok_or("rootfs path is not UTF-8")?;
    let paths = c.paths(tandem);
    let mut notes = Vec::new();

    // ctr run --rm /bin/true, rotating the order every round (round 0 warms up).
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    for i in 0..=n {
        for k in 0..paths.len() {
            let p = (i + k) % paths.len();
            let id = format!("run-{i}-{p}");
            let mut args = c.run_args(rootfs, &paths[p], &["--rm"], &id);
            args.push("/bin/true".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            std::thread::sleep(crate::cgroup_probe::SETTLE);
            let t0 = Instant::now();
            c.ok(&args)?;
            if i > 0 {
                ms[p].push(t0.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let medians: Vec<f64> = ms.iter().map(|m| summarize(m).map_or(0.0, |s| s.median)).collect();
    let line: Vec<String> = paths.iter().zip(&medians).map(|(p, m)| format!("{} {m:.1} ms", p.name)).collect();
    notes.push(format!(
        "ctr run --rm of /bin/true, median of {n}: {}; tandem shim / (runc shim + runc) = {:.2}x",
        line.join(", "),
        medians[0] / medians[2]
    ));

    // Resident memory of one shim serving a pod of 1, then of 10 idle containers.
    for (p, binary) in [(&paths[0], SHIM), (&paths[2], "containerd-shim-runc-v2")] {
        let pod = format!("io.kubernetes.cri.sandbox-id=rss-{}", p.name.replace(' ', "-"));
        let mut rss = Vec::new();
        for k in 0..10 {
            let id = format!("rss-{}-{k}", binary.len());
            let mut args = c.run_args(rootfs, p, &["-d", "--annotation", &pod], &id);
            args.extend(["/bin/sleep".into(), "1000".into()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            c.ok(&args)?;
            if k == 0 || k == 9 {
                std::thread::sleep(Duration::from_millis(300));
                let pids = c.shim_pids(binary);
                rss.push((pids.len(), pids.iter().map(|&pid| vm_rss_kib(pid)).sum::<f64>()));
            }
        }
        notes.push(format!(
            "{binary} serving one pod: VmRSS {:.2} MiB with 1 idle container ({} process), {:.2} MiB with 10 ({} process(es)): {:.2} MiB per further container",
            rss[0].1 / 1024.0,
            rss[0].0,
            rss[1].1 / 1024.0,
            rss[1].0,
            (rss[1].1 - rss[0].1) / 9.0 / 1024.0
        ));
        for k in 0..10 {
            let id = format!("rss-{}-{k}", binary.len());
            c.ok(&["tasks", "kill", "-s", "KILL", &id])?;
        }
        for k in 0..10 {
            let id = format!("rss-{}-{k}", binary.len());
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.ok(&["tasks", "delete", &id]).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            c.ok(&["containers", "delete", &id])?;
        }
    }

    // Tasks per second: 4 clients, each running 5 containers one after another.
    let (clients, each) = (4, 5);
    for p in [&paths[0], &paths[2]] {
        let t0 = Instant::now();
        let failed = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|cl| {
                    let c = &c;
                    s.spawn(move || -> Result<(), String> {
                        for k in 0..each {
                            let id = format!("rate-{}-{cl}-{k}", p.name.len());
                            let mut args = c.run_args(rootfs, p, &["--rm"], &id);
                            args.push("/bin/true".into());
                            let args: Vec<&str> = args.iter().map(String::as_str).collect();
                            c.ok(&args)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("client thread")).find_map(Result::err)
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let secs = t0.elapsed().as_secs_f64();
        notes.push(format!(
            "{}: {} tasks (ctr run --rm /bin/true) by {clients} concurrent clients in {secs:.2} s: {:.1} tasks/s",
            p.name,
            clients * each,
            (clients * each) as f64 / secs
        ));
    }
    Ok(notes)
}
