//! The container's filesystem: mounts of every kind, read-only and masked
//! paths, devices, pivot_root and --no-pivot, and paths that try to leave
//! the rootfs.

mod common;
use common::Env;
use serde_json::json;
use std::fs;

#[test]
fn bind_mounts_share_host_data_and_honour_ro() {
    let env = Env::new("bind");
    let host = env.dir.join("data");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("in"), "from host\n").unwrap();
    let file = env.dir.join("single");
    fs::write(&file, "one file\n").unwrap();
    let script = "cat /data/in; echo from container > /data/out; cat /file; \
                  echo x > /ro/x 2>/dev/null && echo ro-writable || echo ro-refused";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.mount(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rw"]}));
    b.mount(json!({"destination": "/ro", "type": "bind", "source": host, "options": ["bind", "ro", "nosuid"]}));
    b.mount(json!({"destination": "/file", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    let id = env.id("c");
    assert_eq!(env.run_ok(&id, &b), "from host\none file\nro-refused\n");
    assert_eq!(fs::read_to_string(host.join("out")).unwrap(), "from container\n");
    assert!(!host.join("x").exists());
    env.assert_gone(&id, None);
}

#[test]
fn tmpfs_options_reach_the_kernel() {
    let env = Env::new("tmpfs");
    let mut b = env.bundle("b", &["sh", "-c", "grep ' /scratch ' /proc/self/mountinfo; stat -c %a /scratch"]);
    b.mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                   "options": ["noexec", "nosuid", "size=1m", "mode=710"]}));
    let out = env.run_ok(&env.id("c"), &b);
    let mut lines = out.lines();
    let info = lines.next().unwrap();
    assert!(info.contains("noexec") && info.contains("nosuid"), "{info}");
    assert!(info.contains("size=1024k"), "{info}");
    assert_eq!(lines.next(), Some("710"));
}

#[test]
fn readonly_root_refuses_writes() {
    let env = Env::new("roroot");
    let script = "touch /newfile 2>/dev/null && echo writable || echo read-only";
    let b = env.bundle("b", &["sh", "-c", script]);
    assert_eq!(env.run_ok(&env.id("ro"), &b), "read-only\n");
    let mut b = env.bundle("b2", &["sh", "-c", script]);
    b.set("/root/readonly", json!(false));
    assert_eq!(env.run_ok(&env.id("rw"), &b), "writable\n");
    assert!(b.rootfs().join("newfile").exists());
}

#[test]
fn masked_and_readonly_paths() {
    let env = Env::new("masked");
    let script = "ls /secret | wc -l; wc -c < /etc/shadow; \
                  touch /etc/x 2>/dev/null && echo etc-writable || echo etc-ro; \
                  echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-ro";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.set("/root/readonly", json!(false));
    fs::create_dir_all(b.rootfs().join("secret")).unwrap();
    fs::write(b.rootfs().join("secret/key"), "hidden").unwrap();
    fs::write(b.rootfs().join("etc/shadow"), "root:hash").unwrap();
    b.config["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!("/secret"));
    b.config["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!("/etc/shadow"));
    b.config["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/etc"));
    b.config["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/does/not/exist"));
    b.save();
    assert_eq!(env.run_ok(&env.id("c"), &b), "0\n0\netc-ro\nsys-ro\n");
}

#[test]
fn default_and_configured_devices_exist() {
    let env = Env::new("devices");
    let script = "for d in null zero full random urandom tty; do stat -c '%n %F %t,%T %a' /dev/$d; done; \
                  stat -c '%n %t,%T %a %u:%g' /dev/custom; for l in fd stdin ptmx; do readlink /dev/$l; done; \
                  head -c 4 /dev/zero | wc -c";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    b.linux(
        "devices",
        json!([{"path": "/dev/custom", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 7, "gid": 8}]),
    );
    let out = env.run_ok(&env.id("c"), &b);
    for want in [
        "/dev/null character special file 1,3 666",
        "/dev/zero character special file 1,5 666",
        "/dev/tty character special file 5,0 666",
        "/dev/custom 1,3 600 7:8",
        "/proc/self/fd\n/proc/self/fd/0\npts/ptmx",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(out.ends_with("4\n"), "{out}");
}

#[test]
fn no_pivot_moves_the_root() {
    let env = Env::new("nopivot");
    let b = env.bundle("b", &["sh", "-c", "ls /bin/busybox && cat /proc/self/mountinfo | wc -l"]);
    let id = env.id("c");
    let out = env.ok(&["run", "--no-pivot", "--bundle", b.str(), &id]);
    assert!(out.starts_with("/bin/busybox\n"), "{out}");
    env.assert_gone(&id, None);
}

#[test]
fn symlinks_in_the_rootfs_cannot_lead_mounts_out_of_it() {
    let env = Env::new("escape");
    let outside = env.dir.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let mut b = env.bundle("b", &["sh", "-c", "grep -c ' /target/sub ' /proc/self/mountinfo || true"]);
    // An absolute link with many ".." that points at a host directory.
    std::os::unix::fs::symlink(format!("/../../../../../..{}", outside.display()), b.rootfs().join("target")).unwrap();
    b.mount(json!({"destination": "/target/sub", "type": "tmpfs", "source": "tmpfs"}));
    let out = env.run_ok(&env.id("c"), &b);
    assert_eq!(out, "0\n", "the mount must not appear at the link's host target");
    assert!(fs::read_dir(&outside).unwrap().next().is_none(), "nothing may be created outside the rootfs");
    // It was created inside the rootfs, under the link's target resolved there.
    assert!(b.rootfs().join(outside.strip_prefix("/").unwrap()).join("sub").is_dir());
}

/// Every `linux.rootfsPropagation` works and shows on the container's `/`,
/// with the rootfs on a shared host mount (where a slave has a master to
/// follow), and none lets a container's mount reach the host.
#[test]
fn rootfs_propagation_is_applied() {
    let env = Env::new("propagation");
    let sh =
        |cmd: &str| assert!(std::process::Command::new("sh").args(["-c", cmd]).status().unwrap().success(), "{cmd}");
    let mut b = env.bundle("b", &["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
    let rootfs = b.rootfs();
    sh(&format!("mount --bind {0} {0} && mount --make-shared {0}", rootfs.display()));
    let host_mounts = || {
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
        text.lines().filter(|l| l.contains(rootfs.to_str().unwrap())).count()
    };
    let before = host_mounts();
    let mut failures = Vec::new();
    for (p, want, not) in [
        ("shared", "shared:", "master:"),
        ("rshared", "shared:", "master:"),
        ("slave", "master:", "shared:"),
        ("rslave", "master:", "shared:"),
        ("private", "", "shared:"),
        ("rprivate", "", "master:"),
        ("unbindable", "unbindable", "shared:"),
        ("runbindable", "unbindable", "master:"),
    ] {
        b.linux("rootfsPropagation", json!(p));
        let (code, out, err) = env.run(&env.id(p), &b);
        let ok = code == 0 && out.contains(want) && !out.contains(not);
        let private_ok = !want.is_empty() || !(out.contains("shared:") || out.contains("master:"));
        if !ok || !private_ok {
            failures.push(format!("{p}: exit {code}: {out}{err}"));
        }
        assert_eq!(host_mounts(), before, "{p}: a container's mount reached the host");
    }
    sh(&format!("umount {}", rootfs.display()));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn mount_propagation_options_are_applied() {
    let env = Env::new("mountprop");
    // A shared mount on the host, so that a slave of it shows a master.
    let shared = env.dir.join("shared");
    fs::create_dir_all(&shared).unwrap();
    let sh =
        |cmd: &str| assert!(std::process::Command::new("sh").args(["-c", cmd]).status().unwrap().success(), "{cmd}");
    sh(&format!("mount -t tmpfs tmpfs {0} && mount --make-shared {0}", shared.display()));
    let mut b = env.bundle("b", &["sh", "-c", "awk '$5 == \"/vol\"' /proc/self/mountinfo"]);
    b.mount(json!({"destination": "/vol", "type": "bind", "source": shared, "options": ["rbind", "rslave"]}));
    let (code, out, err) = env.run(&env.id("c"), &b);
    sh(&format!("umount {}", shared.display()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("master:") && !out.contains("shared:"), "{out}");
}

/// A bind's relative source is relative to the bundle, and `type: bind`
/// alone makes a bind mount (runc reads both so).
#[test]
fn relative_bind_sources_and_type_bind() {
    let env = Env::new("relbind");
    let mut b = env.bundle("b", &["cat", "/data/file", "/typed/file"]);
    fs::create_dir_all(b.path.join("data")).unwrap();
    fs::write(b.path.join("data/file"), "relative\n").unwrap();
    let typed = env.dir.join("typed");
    fs::create_dir_all(&typed).unwrap();
    fs::write(typed.join("file"), "typed\n").unwrap();
    b.mount(json!({"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"]}));
    b.mount(json!({"destination": "/typed", "type": "bind", "source": typed}));
    assert_eq!(env.run_ok(&env.id("c"), &b), "relative\ntyped\n");
}

/// `rro` (and the other recursive attributes) apply to the whole subtree
/// of an rbind: a mount under the bound directory is read-only too, where
/// plain `ro` leaves it writable as runc does.
#[test]
fn recursive_mount_attributes_reach_submounts() {
    let env = Env::new("rro");
    let vol = env.dir.join("vol");
    std::fs::create_dir_all(vol.join("sub")).unwrap();
    let tmpfs =
        |args: &[&str]| assert!(std::process::Command::new(args[0]).args(&args[1..]).status().unwrap().success());
    tmpfs(&["mount", "-t", "tmpfs", "tmpfs", vol.join("sub").to_str().unwrap()]);
    let script = "touch /v/top 2>/dev/null && echo top-rw || echo top-ro; \
                  touch /v/sub/x 2>/dev/null && echo sub-rw || echo sub-ro; \
                  grep ' /v/sub ' /proc/self/mountinfo | grep -c nosuid";
    let results: Vec<String> = [["rbind", "ro"], ["rbind", "rro"]]
        .iter()
        .enumerate()
        .map(|(i, opts)| {
            let mut b = env.bundle(&format!("b{i}"), &["sh", "-c", script]);
            let mut options: Vec<&str> = opts.to_vec();
            options.push("rnosuid");
            b.mount(json!({"destination": "/v", "type": "bind", "source": vol, "options": options}));
            env.run_ok(&env.id(&format!("c{i}")), &b)
        })
        .collect();
    tmpfs(&["umount", vol.join("sub").to_str().unwrap()]);
    assert_eq!(results[0], "top-ro\nsub-rw\n1\n", "plain ro");
    assert_eq!(results[1], "top-ro\nsub-ro\n1\n", "rro");
}

/// A read-only /dev: what goes under it (devpts, the device nodes and
/// their links) is made first and /dev made read-only last, as runc does.
#[test]
fn a_read_only_dev_still_gets_its_devices() {
    let env = Env::new("rodev");
    let script = "touch /dev/x 2>/dev/null && echo dev-rw || echo dev-ro; ls /dev/pts/ptmx; echo ok > /dev/null && echo null; readlink /dev/fd";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    let dev = b.config["mounts"].as_array_mut().unwrap().iter_mut().find(|m| m["destination"] == "/dev").unwrap();
    dev["options"].as_array_mut().unwrap().push(json!("ro"));
    b.save();
    assert_eq!(env.run_ok(&env.id("c"), &b), "dev-ro\n/dev/pts/ptmx\nnull\n/proc/self/fd\n");
}
