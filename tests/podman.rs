//! Podman runs tandem: Debian's podman 4.3 with `--runtime tandem`, its
//! own root, runroot and containers.conf (cgroupfs, errors as JSON), and
//! images loaded from local archives. A wasm image is marked as such by
//! its manifest annotation, which Podman copies into the container's spec.

mod common;

use std::fs;
use std::path::Path;

use common::Env;
use common::engines::{Podman, cgroup_file_of, text};
use common::image::{self, ImageConfig};

const IMAGE: &str = "localhost/tandem-busybox:test";

fn podman(env: &Env) -> Podman {
    let p = Podman::new(env);
    let rootfs = env.rootfs("image-rootfs");
    let config = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    let archive = image::docker_archive(&env.dir, IMAGE, &rootfs, &config).archive;
    p.ok(&["load", "-i", archive.to_str().unwrap()]);
    p
}

fn inspect(p: &Podman, name: &str, format: &str) -> String {
    p.ok(&["inspect", "-f", format, name]).trim().to_string()
}

#[test]
fn podman_run_exec_stop_pause_and_update() {
    let env = Env::new("podman-life");
    let p = podman(&env);
    let out = p.podman(&["run", "--rm", "--network", "host", IMAGE, "sh", "-c", "echo hello; exit 3"]);
    assert_eq!((out.status.code(), text(&out).0.as_str()), (Some(3), "hello\n"), "{:?}", text(&out));
    // tandem's error reaches the user through Podman's JSON log, as one line
    // (next to Podman's own warnings, if any: its cgroupfs parent for conmon
    // is shared by every Podman on the host, and a parallel test may have
    // just removed it).
    let out = p.podman(&["run", "--rm", "--network", "host", IMAGE, "no-such-program"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(127), "{err}");
    let ours: Vec<&str> = err.lines().filter(|l| !l.contains("level=warning")).collect();
    assert!(err.contains("executable file not found") && ours.len() == 1, "{err}");

    let name = env.id("c");
    p.ok(&["run", "-d", "--name", &name, "--network", "host", IMAGE, "sleep", "1000"]);
    let out = p.podman(&["exec", &name, "sh", "-c", "echo in; exit 4"]);
    assert_eq!((out.status.code(), text(&out).0.as_str()), (Some(4), "in\n"), "{:?}", text(&out));
    p.ok(&["pause", &name]);
    assert_eq!(inspect(&p, &name, "{{.State.Status}}"), "paused");
    p.ok(&["unpause", &name]);
    assert_eq!(inspect(&p, &name, "{{.State.Status}}"), "running");
    let pid = inspect(&p, &name, "{{.State.Pid}}");
    p.ok(&["update", "--memory", "64m", &name]);
    assert_eq!(cgroup_file_of(&pid, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    p.ok(&["update", "--cpus", "0.5", &name]);
    assert_eq!(cgroup_file_of(&pid, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file_of(&pid, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    // stop: pid 1 ignores TERM; Podman falls back to KILL.
    p.ok(&["stop", "-t", "1", &name]);
    assert_eq!(inspect(&p, &name, "{{.State.ExitCode}}"), "137");
    p.ok(&["rm", &name]);
}

#[test]
fn podman_run_it_gets_a_terminal() {
    let env = Env::new("podman-tty");
    let p = podman(&env);
    // Podman 4.3 attaches to the terminal after the start: output of a
    // process that exits at once is lost (with runc too), so it waits.
    let line = p.shell_line(&format!("run --rm -it --network host {IMAGE} sh -c 'tty; sleep 1; exit 5'"));
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    let out = script.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains("/dev/pts/0"), "{stdout}");
}

/// An image whose manifest says `module.wasm.image/variant=compat` runs
/// its entrypoint as wasm, with no flag from the user.
#[test]
fn a_wasm_image_runs_by_its_manifest_annotation() {
    let env = Env::new("podman-wasm");
    let p = Podman::new(&env);
    let rootfs = env.rootfs("wasm-rootfs");
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat");
    fs::create_dir_all(rootfs.join("app")).unwrap();
    fs::write(rootfs.join("app/hello.wasm"), wat::parse_file(wat).unwrap()).unwrap();
    let config = ImageConfig { entrypoint: &["/app/hello.wasm"], ..Default::default() };
    let reference = "localhost/tandem-wasm:test";
    let annotations = [("module.wasm.image/variant", "compat")];
    let archive = image::oci_archive(&env.dir, reference, &rootfs, &config, &annotations).archive;
    p.ok(&["load", "-i", archive.to_str().unwrap()]);
    let out = p.podman(&["run", "--rm", "--network", "host", reference]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0, "hello from a WAT module\n");
}
