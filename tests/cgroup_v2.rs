//! cgroup v2 for real: this machine is a v1 hybrid, so the v2 checks run
//! in a VM. Debian's kernel boots under qemu (TCG) with `cgroup_no_v1=all`
//! from an initramfs holding busybox, this build's (static) tandem and
//! tests/cgroup_v2/checks.sh; the script runs containers on a cgroup2
//! hierarchy with every controller and prints one `CHECK <name> ok|FAIL`
//! line per check on the serial console, which this test reads.

mod common;

use std::fs;

use common::Env;
use common::vm::{self, Cpio};

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
    "rootless-delegated",
    "rootless-update",
    "rootless-nothing-left",
    "nothing-left",
];

#[test]
fn cgroup_v2_in_a_vm() {
    let env = Env::new("cgv2");
    let mut cpio = Cpio::new();
    for d in ["bin", "dev", "proc", "sys", "tmp", "run", "newroot"] {
        cpio.dir(d);
    }
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox: install busybox-static");
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.file("bin/tandem", 0o755, &vm::stripped_tandem(&env));
    let script_dir = vm::repo().join("tests/cgroup_v2");
    cpio.file("init", 0o755, &fs::read(script_dir.join("init.sh")).unwrap());
    cpio.checks(&script_dir.join("checks.sh"));
    let log = vm::boot(&env, cpio.finish(), "cgroup_no_v1=all");
    vm::assert_checks(&log, CHECKS);
}
