//! A throwaway VM for what this host cannot show (a cgroup2 hierarchy with
//! every controller, a running systemd): Debian's kernel under qemu (TCG)
//! from an initramfs written here, whose script prints one
//! `CHECK <name> ok|FAIL: why` line per check on the serial console.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Env;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn newest_kernel() -> PathBuf {
    let mut kernels: Vec<PathBuf> = fs::read_dir("/boot")
        .expect("/boot: install linux-image-amd64 (make test-deps)")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .collect();
    kernels.sort();
    kernels.pop().expect("no /boot/vmlinuz-*: install linux-image-amd64 (make test-deps)")
}

/// A newc cpio archive, written by hand (directories and files).
pub struct Cpio {
    out: Vec<u8>,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    pub fn new() -> Cpio {
        Cpio { out: Vec::new(), ino: 1, dirs: BTreeSet::new() }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        let name_z = format!("{name}\0");
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name_z.len(),
            0
        );
        self.ino += 1;
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name_z.as_bytes());
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// A directory, and its parents first (the kernel makes none itself).
    pub fn dir(&mut self, name: &str) {
        let name = name.trim_matches('/');
        if name.is_empty() || self.dirs.contains(name) {
            return;
        }
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent);
        }
        self.dirs.insert(name.to_string());
        self.entry(name, 0o040755, &[]);
    }

    /// A file (its directories are made as needed).
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        let name = name.trim_start_matches('/');
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent);
        }
        self.entry(name, 0o100000 | mode, data);
    }

    /// A host file at the same path.
    pub fn host_file(&mut self, path: &str) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        self.file(path, 0o755, &data);
    }

    /// A dynamically linked host program and every library `ldd` names.
    pub fn host_program(&mut self, path: &str) {
        self.host_file(path);
        let out = Command::new("ldd").arg(path).output().expect("run ldd (libc-bin)");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let lib = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next().filter(|p| p.starts_with('/')),
            };
            if let Some(lib) = lib.filter(|l| l.starts_with('/')) {
                let real = fs::canonicalize(lib).unwrap();
                let data = fs::read(&real).unwrap();
                self.file(lib, 0o755, &data);
            }
        }
    }

    /// The check script, as /checks.sh, and the helpers it sources.
    pub fn checks(&mut self, script: &Path) {
        self.file("checks.sh", 0o755, &fs::read(script).unwrap());
        self.file("checks-lib.sh", 0o644, &fs::read(repo().join("tests/common/checks.sh")).unwrap());
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

/// The tandem binary without its debug sections (the VM has little RAM).
pub fn stripped_tandem(env: &Env) -> Vec<u8> {
    let out = env.dir.join("tandem");
    let status = Command::new("objcopy")
        .args(["--strip-debug", super::tandem_bin()])
        .arg(&out)
        .status()
        .expect("run objcopy (binutils)");
    assert!(status.success());
    fs::read(out).unwrap()
}

/// Boot the initramfs with these kernel arguments (on top of a serial
/// console and `rdinit=/init`); return the console once the VM is off.
pub fn boot(env: &Env, initrd: Vec<u8>, append: &str) -> String {
    let initrd_path = env.dir.join("initrd.cpio");
    fs::write(&initrd_path, initrd).unwrap();
    let log_path = env.dir.join("console.log");
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1536", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults"])
        .args(["-serial", "stdio", "-kernel"])
        .arg(newest_kernel())
        .arg("-initrd")
        .arg(&initrd_path)
        .args(["-append", &format!("console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init {append}")])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run qemu-system-x86_64 (install qemu-system-x86)");
    // A bound on a hung VM, not a timing check.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if qemu.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = qemu.kill();
            let _ = qemu.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    fs::read_to_string(&log_path).unwrap_or_default()
}

/// Every check named must have printed ok, and the script must have
/// finished; otherwise the console goes to stderr and the test fails.
pub fn assert_checks(log: &str, checks: &[&str]) {
    let mut missing = Vec::new();
    for name in checks {
        let ok = format!("CHECK {name} ok");
        // The console may put escape sequences before the first line.
        if !log.lines().any(|l| l.trim_end().ends_with(&ok)) {
            missing.push(*name);
        }
    }
    if !missing.is_empty() {
        let _ = std::io::stderr().write_all(log.as_bytes());
        panic!("checks not ok in the VM: {missing:?} (console log above)");
    }
    assert!(log.contains("CHECKS DONE"), "the script did not finish:\n{log}");
}
