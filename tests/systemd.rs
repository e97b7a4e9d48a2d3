//! The systemd cgroup driver against a real systemd. None runs on this
//! host, so each test boots a VM (tests/common/vm.rs) whose pid 1 is the
//! host's systemd, from an initramfs holding it and its libraries,
//! systemctl, busybox, this build's (static) tandem and
//! tests/systemd/checks.sh, which systemd runs as its only service. Once
//! on a unified cgroup2 layout, once on a hybrid one (v1 controllers, as on
//! this host).
//!
//! On this host the driver's refusal without systemd is tested in
//! tests/cgroups.rs.

mod common;

use std::fs;

use common::Env;
use common::vm::{self, Cpio};

/// Every check checks.sh runs; each must report ok.
const CHECKS: &[&str] = &[
    "layout",
    "default-unit",
    "in-unit-everywhere",
    "properties",
    "files",
    "delegated",
    "survives-reload",
    "update",
    "exec-sees-limit",
    "pause-resume",
    "unit-in-use",
    "delete",
    "custom-slice",
    "slice-unit",
    "slice-unit-stopped",
    "run-exit",
    "bad-path",
    "rootless-no-manager",
    "nothing-left",
];

/// On cgroup v2 only: a user's own systemd manager makes the unit.
const USER_MANAGER_CHECKS: &[&str] =
    &["rootless-user-unit", "rootless-user-scope", "rootless-user-update", "rootless-user-delete"];

fn systemd_vm(name: &str, kernel_args: &str, checks: &[&str]) {
    let env = Env::new(name);
    let mut cpio = Cpio::new();
    for d in ["dev", "proc", "sys", "tmp", "run", "newroot", "etc/systemd/system", "etc/systemd/user"] {
        cpio.dir(d);
    }
    cpio.host_program("/usr/lib/systemd/systemd");
    cpio.host_program("/usr/bin/systemctl");
    cpio.file("bin/busybox", 0o755, &fs::read("/bin/busybox").expect("/bin/busybox: install busybox-static"));
    cpio.file("bin/tandem", 0o755, &vm::stripped_tandem(&env));
    cpio.file("etc/os-release", 0o644, &fs::read("/etc/os-release").unwrap());
    cpio.file("etc/machine-id", 0o444, b"");
    cpio.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n");
    cpio.file("etc/group", 0o644, b"root:x:0:\n");
    let script_dir = vm::repo().join("tests/systemd");
    let unit = fs::read(script_dir.join("tandem-checks.service")).unwrap();
    cpio.file("etc/systemd/system/tandem-checks.service", 0o644, &unit);
    // uid 1000's manager and its units, for the rootless checks.
    let user_manager = fs::read(script_dir.join("tandem-user.service")).unwrap();
    cpio.file("etc/systemd/system/tandem-user.service", 0o644, &user_manager);
    for unit in ["default.target", "exit.target", "tandem-exit.service", "tandem-rootless.service"] {
        cpio.file(&format!("etc/systemd/user/{unit}"), 0o644, &fs::read(script_dir.join("user").join(unit)).unwrap());
    }
    cpio.file("init", 0o755, &fs::read(script_dir.join("init.sh")).unwrap());
    cpio.checks(&script_dir.join("checks.sh"));
    let log = vm::boot(&env, cpio.finish(), kernel_args);
    vm::assert_checks(&log, checks);
}

#[test]
fn systemd_driver_on_cgroup_v2() {
    let checks: Vec<&str> = CHECKS.iter().chain(USER_MANAGER_CHECKS).copied().collect();
    systemd_vm("sd-v2", "cgroup_no_v1=all tandem.mode=v2", &checks);
}

#[test]
fn systemd_driver_on_a_hybrid_host() {
    systemd_vm(
        "sd-hybrid",
        "systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0 tandem.mode=hybrid",
        CHECKS,
    );
}
