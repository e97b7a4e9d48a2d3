//! cgroup v2 for real: this machine is a v1 hybrid, so the v2 checks run
//! in a VM. Debian's kernel boots under qemu (TCG) with `cgroup_no_v1=all`
//! from an initramfs holding busybox, this build's (static) tandem and
//! tests/cgroup_v2/checks.sh; the script runs containers on a cgroup2
//! hierarchy with every controller and prints one `CHECK <name> ok|FAIL`
//! line per check on the serial console, which this test reads.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;

/// Every check checks.sh runs; each must report ok.
const CHECKS: &[&str] = &[
    "layout-is-v2",
    "resources-in-files",
    "resources-inside",
    "unified-key",
    "cpu-burst-io-weight",
    "cpu-idle",
    "devices-ebpf",
    "pause-frozen",
    "pause-state",
    "resume-state",
    "kill-paused",
    "ps-json",
    "kill-all",
    "stats",
    "update",
    "refused-value",
    "oom-event",
    "nothing-left",
];

fn newest_kernel() -> PathBuf {
    let mut kernels: Vec<PathBuf> = fs::read_dir("/boot")
        .expect("/boot: install linux-image-amd64 (make deps)")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .collect();
    kernels.sort();
    kernels.pop().expect("no /boot/vmlinuz-*: install linux-image-amd64 (make deps)")
}

/// A newc cpio archive, written by hand (directories, files, symlinks).
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn new() -> Cpio {
        Cpio { out: Vec::new(), ino: 1 }
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

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, &[]);
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

/// The tandem binary without its debug sections (the VM has little RAM).
fn stripped_tandem(env: &Env) -> Vec<u8> {
    let out = env.dir.join("tandem");
    let status = Command::new("objcopy")
        .args(["--strip-debug", common::tandem_bin()])
        .arg(&out)
        .status()
        .expect("run objcopy (binutils)");
    assert!(status.success());
    fs::read(out).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn cgroup_v2_in_a_vm() {
    let env = Env::new("cgv2");
    let mut cpio = Cpio::new();
    for d in ["bin", "dev", "proc", "sys", "tmp", "run", "newroot"] {
        cpio.dir(d);
    }
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox: install busybox-static");
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.file("bin/tandem", 0o755, &stripped_tandem(&env));
    let script_dir = repo().join("tests/cgroup_v2");
    cpio.file("init", 0o755, &fs::read(script_dir.join("init.sh")).unwrap());
    cpio.file("checks.sh", 0o755, &fs::read(script_dir.join("checks.sh")).unwrap());
    let initrd = env.dir.join("initrd.cpio");
    fs::write(&initrd, cpio.finish()).unwrap();

    let log_path = env.dir.join("console.log");
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1536", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults"])
        .args(["-serial", "stdio", "-kernel"])
        .arg(newest_kernel())
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=3 rdinit=/init"])
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
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    let mut missing = Vec::new();
    for name in CHECKS {
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
