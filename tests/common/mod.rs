//! Shared helpers for the integration tests: a busybox bundle per test, a
//! private state root per test, and a `tandem` runner.
//!
//! Tests run in parallel as root on a machine that outlives them: every
//! test uses its own directory, ids and state root, and `Drop` removes
//! whatever containers and files it left.

#![allow(dead_code)]

pub mod cri;
pub mod engines;
pub mod image;
pub mod syscall_filter;
pub mod vm;
pub mod wasi_http;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn tandem_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tandem")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A scratch directory holding a state root and any number of bundles.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    /// The test's own `--cache-dir`.
    pub cache: PathBuf,
    pub tag: String,
    /// The `tandem` binary this test runs (a test that attacks the binary
    /// runs a copy of its own).
    pub bin: PathBuf,
}

impl Env {
    pub fn new(name: &str) -> Env {
        assert!(running_as_root(), "integration tests run real containers and need root");
        let tag = format!("{name}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let dir = std::env::temp_dir().join(format!("tandem-test-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        let cache = dir.join("cache");
        Env { dir, root, cache, tag, bin: PathBuf::from(tandem_bin()) }
    }

    /// A container id unique to this test.
    pub fn id(&self, name: &str) -> String {
        format!("{name}-{}", self.tag)
    }

    /// A plain busybox rootfs directory (for an image).
    pub fn rootfs(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let status = Command::new(repo().join("examples/busybox/make-rootfs.sh")).arg(&path).status().unwrap();
        assert!(status.success(), "make-rootfs.sh failed");
        path
    }

    /// A busybox bundle with tandem's default spec (terminal off) running `args`.
    pub fn bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let path = self.dir.join(name);
        fs::create_dir_all(&path).unwrap();
        let status = Command::new(repo().join("examples/busybox/make-rootfs.sh"))
            .arg(path.join("rootfs"))
            .status()
            .expect("run make-rootfs.sh");
        assert!(status.success(), "make-rootfs.sh failed");
        let out = Command::new(tandem_bin()).args(["spec", "--bundle"]).arg(&path).output().unwrap();
        assert!(out.status.success(), "tandem spec: {}", String::from_utf8_lossy(&out.stderr));
        let mut b = Bundle { path, config: Value::Null };
        b.config = serde_json::from_slice(&fs::read(b.path.join("config.json")).unwrap()).unwrap();
        b.config["process"]["terminal"] = json!(false);
        b.config["process"]["args"] = json!(args);
        b.save();
        b
    }

    /// Run `tandem --root <root> args...`. Output goes through files, not
    /// pipes: a container's init inherits them and may outlive the command.
    pub fn tandem(&self, args: &[&str]) -> Output {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let (out_path, err_path) = (self.dir.join(format!(".out{n}")), self.dir.join(format!(".err{n}")));
        let status = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .status()
            .expect("run tandem");
        let output = Output { status, stdout: fs::read(&out_path).unwrap(), stderr: fs::read(&err_path).unwrap() };
        let _ = fs::remove_file(out_path);
        let _ = fs::remove_file(err_path);
        output
    }

    /// Run and expect success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.tandem(args);
        assert!(
            out.status.success(),
            "tandem {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and expect failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.tandem(args);
        assert!(!out.status.success(), "tandem {args:?} unexpectedly succeeded");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// `run` a bundle in the foreground; returns (exit code, stdout, stderr).
    pub fn run(&self, id: &str, bundle: &Bundle) -> (i32, String, String) {
        let out = self.tandem(&["run", "--bundle", bundle.path.to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `run` and expect exit 0; returns stdout.
    pub fn run_ok(&self, id: &str, bundle: &Bundle) -> String {
        let (code, out, err) = self.run(id, bundle);
        assert_eq!(code, 0, "container {id} exited {code}; stdout: {out}\nstderr: {err}");
        out
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Poll until the container reaches `want` (bounded; not a timing check).
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(Instant::now() < deadline, "{id} stayed {s}, wanted {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nothing of the container is left: no state dir, no process.
    pub fn assert_gone(&self, id: &str, pid: Option<i32>) {
        assert!(!self.root.join(id).exists(), "state dir of {id} left behind");
        if let Some(pid) = pid {
            let alive = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
            assert!(!alive, "process {pid} of {id} left behind");
        }
        for dir in cgroup_dirs(id) {
            assert!(!dir.exists(), "cgroup {} of {id} left behind", dir.display());
        }
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(self.dir.to_str().unwrap()),
            "a mount under {} is left on the host",
            self.dir.display()
        );
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.root.exists() {
            let out = self.tandem(&["list", "-q"]);
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.tandem(&["delete", "--force", id]);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Where a container with the default cgroupsPath has its cgroup: the
/// `tandem/<id>` directory of every hierarchy mounted under /sys/fs/cgroup.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.join("tandem").join(id)];
    }
    fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .map(|p| p.join("tandem").join(id))
        .collect()
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|u| u.split_whitespace().next() == Some("0"))
}

pub struct Bundle {
    pub path: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn save(&self) {
        fs::write(self.path.join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }

    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        *self.config.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer} in config")) = value;
        self.save();
        self
    }

    pub fn str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    /// Add a mount to the spec.
    pub fn mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self.save();
        self
    }

    pub fn linux(&mut self, key: &str, value: Value) -> &mut Self {
        self.config["linux"][key] = value;
        self.save();
        self
    }

    pub fn process(&mut self, key: &str, value: Value) -> &mut Self {
        self.config["process"][key] = value;
        self.save();
        self
    }
}

/// A busybox bundle with `module` at /app/demo.wasm, run as wasm.
pub fn wasm_bundle(env: &Env, name: &str, module: &[u8], args: &[&str]) -> Bundle {
    let mut b = env.bundle(name, &["/app/demo.wasm"]);
    fs::create_dir_all(b.rootfs().join("app")).unwrap();
    fs::write(b.rootfs().join("app/demo.wasm"), module).unwrap();
    let mut argv = vec!["/app/demo.wasm"];
    argv.extend_from_slice(args);
    b.process("args", serde_json::json!(argv));
    b.config["annotations"] = serde_json::json!({"run.oci.handler": "wasm"});
    b.save();
    b
}

/// The C demo module (examples/wasm/wasi-demo.c) built with clang for
/// wasm32-wasi, once per test binary.
pub fn demo_wasm() -> &'static Path {
    static WASM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WASM.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/wasi-demo.c");
        // In cargo's scratch directory for tests, not /tmp: built under a
        // name of this process's, then renamed over the one every run uses.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let (tmp, out) = (dir.join(format!("demo-{}.wasm", std::process::id())), dir.join("demo.wasm"));
        let status = std::process::Command::new("clang")
            .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("clang (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)");
        assert!(status.success(), "clang failed to build {}", src.display());
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

/// A CRIU whose `criu check` passes here: PATH's, else the one built for
/// these machines in ../shared/tools (Debian 12's 3.17 fails on 6.x
/// kernels). None is a failure, not a skip: the checkpoint tests need it.
pub fn criu() -> PathBuf {
    working_criu().unwrap_or_else(|| {
        let shared = repo().join("../shared/tools/criu");
        panic!("no criu passes `criu check` (PATH, {}); apt-get install criu for its libraries", shared.display())
    })
}

/// The CRIU [`criu`] finds, if there is one.
pub fn working_criu() -> Option<PathBuf> {
    let passes = |bin: &Path| Command::new(bin).arg("check").output().is_ok_and(|o| o.status.success());
    [PathBuf::from("criu"), repo().join("../shared/tools/criu")].into_iter().find(|b| passes(b))
}
