//! Timing runtime commands: wall time from spawn to exit, and the peak RSS
//! the kernel reports for the process (wait4's ru_maxrss).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::thread::sleep;

use crate::cgroup_probe::SETTLE;
use crate::peers::Runtime;

/// Operations in table order.
pub const OPS: &[&str] = &["run", "run seccomp", "create", "start", "delete", "exec"];

/// Rows measured for tandem alone, with their peak RSS.
pub const WASM_OPS: &[&str] = &["wasm cold", "wasm warm", "native hello", "wasm create", "wasm start", "wasm delete"];

#[derive(Default)]
pub struct Results {
    /// op -> runtime -> milliseconds
    pub ms: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// op -> runtime -> peak RSS in KiB
    pub rss_kib: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    pub iterations: usize,
    pub density: usize,
}

impl Results {
    fn record(&mut self, op: &str, rt: &str, t: Timed) {
        self.ms.entry(op.into()).or_default().entry(rt.into()).or_default().push(t.ms);
        if t.maxrss_kib > 0.0 {
            self.rss_kib.entry(op.into()).or_default().entry(rt.into()).or_default().push(t.maxrss_kib);
        }
    }
}

pub struct Timed {
    pub ms: f64,
    pub maxrss_kib: f64,
}

fn command(rt: &Runtime, args: &[&str]) -> Command {
    let mut c = Command::new(&rt.bin);
    c.arg("--root").arg(&rt.root).args(args).stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// Spawn, wait with wait4, and time it. Fails with the command's stderr.
pub fn time(mut cmd: Command, what: &str) -> Result<Timed, String> {
    let err_path = std::env::temp_dir().join(format!("tandem-bench-stderr-{}", std::process::id()));
    let err_file = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    cmd.stderr(err_file);
    let timed = time_to(cmd, what, &err_path);
    let _ = std::fs::remove_file(&err_path);
    timed
}

fn time_to(mut cmd: Command, what: &str, err_path: &Path) -> Result<Timed, String> {
    let t0 = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = t0.elapsed();
    if r < 0 {
        return Err(format!("{what}: wait4: {}", std::io::Error::last_os_error()));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let err = std::fs::read_to_string(err_path).unwrap_or_default();
        return Err(format!("{what} failed: {}", err.trim()));
    }
    Ok(Timed { ms: elapsed.as_secs_f64() * 1000.0, maxrss_kib: usage.ru_maxrss as f64 })
}

fn wait_stopped(rt: &Runtime, id: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = command(rt, &["state", id])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v["status"] == "stopped" {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{}: {id} did not stop", rt.name));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `run` of /bin/true, the same under the example seccomp profile, then
/// create/start/delete separately, and `exec` of /bin/true in a running
/// `sleeper` container, `n` times per runtime after one warm-up round;
/// the order of runtimes rotates every iteration, and every timed command
/// starts after `SETTLE` of idling.
pub fn lifecycle(
    rts: &[Runtime],
    bundle: &Path,
    seccomp: &Path,
    sleeper: &Path,
    n: usize,
    res: &mut Results,
) -> Result<(), String> {
    let b = bundle.to_str().expect("utf-8 path");
    let sb = seccomp.to_str().expect("utf-8 path");
    res.iterations = n;
    // Its cgroup outlives a bench that was killed: a name of this run's.
    let exec_id = &format!("exec-target-{}", std::process::id());
    for rt in rts {
        let what = format!("{} run --detach", rt.name);
        time(command(rt, &["run", "--detach", "--bundle", sleeper.to_str().expect("utf-8 path"), exec_id]), &what)?;
    }
    let r = lifecycle_rounds(rts, b, sb, exec_id, n, res);
    for rt in rts {
        let _ = command(rt, &["delete", "--force", exec_id]).stderr(Stdio::null()).status();
    }
    r
}

fn lifecycle_rounds(
    rts: &[Runtime],
    b: &str,
    sb: &str,
    exec_id: &str,
    n: usize,
    res: &mut Results,
) -> Result<(), String> {
    for i in 0..=n {
        for k in 0..rts.len() {
            let rt = &rts[(i + k) % rts.len()];
            let (run_id, id) = (format!("run-{i}"), format!("life-{i}"));
            sleep(SETTLE);
            let run = time(command(rt, &["run", "--bundle", b, &run_id]), &format!("{} run", rt.name))?;
            sleep(SETTLE);
            let what = format!("{} run with seccomp", rt.name);
            let run_seccomp = time(command(rt, &["run", "--bundle", sb, &format!("sc-{run_id}")]), &what)?;
            sleep(SETTLE);
            let create = time(command(rt, &["create", "--bundle", b, &id]), &format!("{} create", rt.name))?;
            sleep(SETTLE);
            let start = time(command(rt, &["start", &id]), &format!("{} start", rt.name))?;
            wait_stopped(rt, &id)?;
            sleep(SETTLE);
            let delete = time(command(rt, &["delete", &id]), &format!("{} delete", rt.name))?;
            sleep(SETTLE);
            let exec = time(command(rt, &["exec", exec_id, "/bin/true"]), &format!("{} exec", rt.name))?;
            if i > 0 {
                res.record("exec", &rt.name, exec);
                res.record("run", &rt.name, run);
                res.record("run seccomp", &rt.name, run_seccomp);
                res.record("create", &rt.name, create);
                res.record("start", &rt.name, start);
                res.record("delete", &rt.name, delete);
            }
        }
        eprint!("\riteration {i}/{n}");
    }
    eprintln!();
    Ok(())
}

/// `m` containers started at once (`run --detach`), timed until every one
/// is running; three rounds per runtime, interleaved.
pub fn density(rts: &[Runtime], bundle: &Path, m: usize, res: &mut Results) -> Result<(), String> {
    let b = bundle.to_str().expect("utf-8 path");
    res.density = m;
    for round in 0..3 {
        for rt in rts {
            let ids: Vec<String> = (0..m).map(|j| format!("dense-{round}-{j}")).collect();
            sleep(SETTLE);
            let t0 = Instant::now();
            let children: Vec<_> = ids
                .iter()
                .map(|id| command(rt, &["run", "--detach", "--bundle", b, id]).stderr(Stdio::null()).spawn())
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let mut failed = 0;
            for mut c in children {
                if !c.wait().map_err(|e| e.to_string())?.success() {
                    failed += 1;
                }
            }
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            for id in &ids {
                let _ = command(rt, &["delete", "--force", id]).stderr(Stdio::null()).status();
            }
            if failed > 0 {
                return Err(format!("{}: {failed} of {m} containers failed to start in the density run", rt.name));
            }
            res.ms.entry(format!("density {m}")).or_default().entry(rt.name.clone()).or_default().push(ms);
        }
    }
    Ok(())
}

/// tandem only (the peers here have no wasm handler): `run` of the wasm
/// hello with a cold cache (pruned before each run, untimed) and a warm
/// one, against a native hello (`echo`) on the same bundle layout.
pub fn wasm(rt: &Runtime, wasm_bundle: &Path, native_bundle: &Path, n: usize, res: &mut Results) -> Result<(), String> {
    let (w, nb) = (wasm_bundle.to_str().expect("utf-8"), native_bundle.to_str().expect("utf-8"));
    for i in 0..=n {
        let prune = command(rt, &["wasm-cache", "prune", "--all"]).stderr(Stdio::null()).status();
        if !prune.is_ok_and(|s| s.success()) {
            return Err("tandem wasm-cache prune failed".into());
        }
        sleep(SETTLE);
        let cold = time(command(rt, &["run", "--bundle", w, &format!("wasm-cold-{i}")]), "wasm cold run")?;
        sleep(SETTLE);
        let warm = time(command(rt, &["run", "--bundle", w, &format!("wasm-warm-{i}")]), "wasm warm run")?;
        sleep(SETTLE);
        let native = time(command(rt, &["run", "--bundle", nb, &format!("native-hello-{i}")]), "native hello run")?;
        // Each lifecycle command of a wasm container on its own (warm).
        let id = format!("wasm-steps-{i}");
        sleep(SETTLE);
        let create = time(command(rt, &["create", "--bundle", w, &id]), "wasm create")?;
        sleep(SETTLE);
        let start = time(command(rt, &["start", &id]), "wasm start")?;
        wait_stopped(rt, &id)?;
        sleep(SETTLE);
        let delete = time(command(rt, &["delete", &id]), "wasm delete")?;
        if i > 0 {
            res.record("wasm cold", &rt.name, cold);
            res.record("wasm warm", &rt.name, warm);
            res.record("native hello", &rt.name, native);
            res.record("wasm create", &rt.name, create);
            res.record("wasm start", &rt.name, start);
            res.record("wasm delete", &rt.name, delete);
        }
    }
    Ok(())
}

/// `wasmtime run` of the same module with its compiled-code cache off,
/// `n` times: what tandem's cold wasm row compares with (compile and run,
/// without a container). The median, in ms.
pub fn wasmtime_run_cold(wasmtime: &Path, module: &Path, n: usize) -> Result<f64, String> {
    let mut ms = Vec::new();
    for _ in 0..=n {
        let mut c = Command::new(wasmtime);
        c.args(["run", "-C", "cache=n"]).arg(module).stdin(Stdio::null()).stdout(Stdio::null());
        sleep(SETTLE);
        ms.push(time(c, "wasmtime run")?.ms);
    }
    ms.remove(0);
    Ok(crate::stats::summarize(&ms).expect("n >= 1").median)
}

/// The resident memory (KiB) and threads of a running wasm container's
/// process: `spin` runs a module that loops until killed.
pub fn running_wasm_process(rt: &Runtime, spin: &Path) -> Result<(f64, usize), String> {
    let id = "wasm-running";
    time(command(rt, &["run", "--detach", "--bundle", spin.to_str().expect("utf-8"), id]), "wasm run --detach")?;
    let out = command(rt, &["state", id]).stdout(Stdio::piped()).output().map_err(|e| e.to_string())?;
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let pid = state["pid"].as_i64().ok_or("wasm-running: no pid in its state")?;
    // Until the module runs: the helper has loaded it by then.
    sleep(Duration::from_millis(200));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    let measured = (field("VmRSS:").unwrap_or(0.0), field("Threads:").unwrap_or(0.0) as usize);
    time(command(rt, &["delete", "--force", id]), "wasm delete --force")?;
    Ok(measured)
}
