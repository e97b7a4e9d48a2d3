//! What the rootfs, devices and namespace setup would ask of the kernel
//! for a given config, through the recording double: no root needed.
//! Each case is one the root integration tests cover by running it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::recorder::Recorder;
use super::{enter, finish, setup};
use crate::config::{Config, NsKind};
use crate::namespaces;
use crate::procfs::Mount;

const DEFAULT_SPEC: &str = include_str!("../../../cli/src/default_spec.json");

/// A bundle with the CLI's default spec, changed by `edit`, its rootfs
/// prepared by `prepare`.
struct Bundle {
    dir: tempfile::TempDir,
    config: Config,
}

impl Bundle {
    fn new(edit: impl FnOnce(&mut Value), prepare: impl FnOnce(&Path)) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        prepare(&rootfs);
        let mut spec: Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        edit(&mut spec);
        fs::write(dir.path().join("config.json"), spec.to_string()).unwrap();
        let config = Config::load(dir.path()).unwrap();
        Bundle { dir, config }
    }

    fn default() -> Bundle {
        Bundle::new(|_| {}, |_| {})
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn recorder(&self) -> Recorder {
        let mut r = Recorder::new(&self.rootfs());
        r.table = hybrid_cgroups();
        r
    }
}

fn mount(point: &str, fstype: &str) -> Mount {
    Mount { id: 0, root: "/".into(), point: point.into(), fstype: fstype.into(), super_opts: String::new() }
}

/// This machine's layout: v1 controllers and cgroup2 at `unified`.
fn hybrid_cgroups() -> Vec<Mount> {
    vec![
        mount("/sys/fs/cgroup", "tmpfs"),
        mount("/sys/fs/cgroup/unified", "cgroup2"),
        mount("/sys/fs/cgroup/cpu,cpuacct", "cgroup"),
        mount("/sys/fs/cgroup/memory", "cgroup"),
    ]
}

fn set_mounts(spec: &mut Value, mounts: Value) {
    spec["mounts"] = mounts;
}

#[test]
fn the_default_spec_is_mounted_in_order_with_its_devices() {
    let b = Bundle::default();
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    let calls = k.calls();
    let expected = [
        // Nothing propagates back to the host; the rootfs becomes a mount point.
        "mount - host:/ - rec,slave -",
        "mount - / - slave -",
        "mount / / - bind,rec -",
        "mount proc /proc proc - -",
        "mount tmpfs /dev tmpfs nosuid,strictatime mode=755,size=65536k",
        "mount devpts /dev/pts devpts nosuid,noexec newinstance,ptmxmode=0666,mode=0620,gid=5",
        "mount shm /dev/shm tmpfs nosuid,nodev,noexec mode=1777,size=65536k",
        "mount mqueue /dev/mqueue mqueue nosuid,nodev,noexec -",
        "mount sysfs /sys sysfs ro,nosuid,nodev,noexec -",
        // A v1 host: a tmpfs, one read-only bind per hierarchy, a link per co-mounted name.
        "mount tmpfs /sys/fs/cgroup tmpfs nosuid,nodev,noexec mode=755",
        "mount host:/sys/fs/cgroup/unified /sys/fs/cgroup/unified - bind,rec -",
        "mount - /sys/fs/cgroup/unified - ro,nosuid,nodev,noexec,remount,bind,relatime -",
        "mount host:/sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpu,cpuacct - bind,rec -",
        "mount - /sys/fs/cgroup/cpu,cpuacct - ro,nosuid,nodev,noexec,remount,bind,relatime -",
        "symlink /sys/fs/cgroup/cpu -> cpu,cpuacct",
        "symlink /sys/fs/cgroup/cpuacct -> cpu,cpuacct",
        "mount host:/sys/fs/cgroup/memory /sys/fs/cgroup/memory - bind,rec -",
        "mount - /sys/fs/cgroup/memory - ro,nosuid,nodev,noexec,remount,bind,relatime -",
        "mount - /sys/fs/cgroup - ro,remount,bind -",
        // runc's default devices, owned by root (no user namespace).
        "mknod /dev/null c 1:3 666",
        "chown /dev/null 0:0",
        "mknod /dev/zero c 1:5 666",
        "chown /dev/zero 0:0",
        "mknod /dev/full c 1:7 666",
        "chown /dev/full 0:0",
        "mknod /dev/random c 1:8 666",
        "chown /dev/random 0:0",
        "mknod /dev/urandom c 1:9 666",
        "chown /dev/urandom 0:0",
        "mknod /dev/tty c 5:0 666",
        "chown /dev/tty 0:0",
        "symlink /dev/fd -> /proc/self/fd",
        "symlink /dev/stdin -> /proc/self/fd/0",
        "symlink /dev/stdout -> /proc/self/fd/1",
        "symlink /dev/stderr -> /proc/self/fd/2",
    ];
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    if Path::new("/proc/kcore").exists() {
        expected.push("symlink /dev/core -> /proc/kcore".into());
    }
    assert_eq!(calls, expected);
    // The nodes' modes are exact, whatever the umask.
    let mode = fs::metadata(b.rootfs().join("dev/null")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);
}

#[test]
fn the_root_switch_is_a_pivot_and_a_detach_of_the_old_root() {
    let b = Bundle::default();
    let k = b.recorder();
    enter(&k, &b.config, false).unwrap();
    assert_eq!(
        k.calls(),
        ["chdir /", "pivot_root . .", "chdir host:/", "mount - . - rec,slave -", "umount . detach", "chdir host:/"]
    );
}

#[test]
fn a_bind_onto_a_symlinked_destination_lands_inside_the_rootfs() {
    let outside = tempfile::tempdir().unwrap();
    let escape = outside.path().join("escaped");
    let src = tempfile::tempdir().unwrap();
    let link_target = format!("/../../../../..{}", escape.display());
    let b = Bundle::new(
        |s| {
            set_mounts(
                s,
                json!([{ "destination": "/data/in", "type": "bind", "source": src.path(), "options": ["rbind", "ro"] }]),
            )
        },
        |root| symlink(&link_target, root.join("data")).unwrap(),
    );
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    let inside = format!("{}/in", escape.display());
    let binds = k.calls_of(&format!("mount host:{}", src.path().display()));
    assert_eq!(binds, [format!("mount host:{} {inside} - bind,rec -", src.path().display())]);
    assert!(k.calls().contains(&format!("mount - {inside} - ro,remount,bind -")), "{:?}", k.calls());
    assert!(!escape.exists(), "the link was followed out of the rootfs");
    assert!(b.rootfs().join(escape.strip_prefix("/").unwrap()).join("in").is_dir());
}

#[test]
fn proc_and_sysfs_go_only_on_a_real_directory() {
    for (dest, typ) in [("/proc", "proc"), ("/sys", "sysfs")] {
        let b = Bundle::new(
            |s| set_mounts(s, json!([{ "destination": dest, "type": typ, "source": typ }])),
            |root| {
                fs::create_dir(root.join("elsewhere")).unwrap();
                symlink("/elsewhere", root.join(&dest[1..])).unwrap();
            },
        );
        let k = b.recorder();
        let e = setup(&k, &b.config, None).unwrap_err().to_string();
        assert!(e.contains(&format!("{typ} must be mounted on a directory")), "{e}");
        assert!(k.calls_of(&format!("mount {typ}")).is_empty());
    }
}

#[test]
fn nothing_but_the_allowed_files_is_mounted_into_proc() {
    let src = tempfile::NamedTempFile::new().unwrap();
    let proc_then = |dest: &str| {
        let dest = dest.to_string();
        let src = src.path().to_path_buf();
        Bundle::new(
            move |s| {
                set_mounts(
                    s,
                    json!([{ "destination": "/proc", "type": "proc", "source": "proc" },
                           { "destination": dest, "type": "bind", "source": src, "options": ["bind"] }]),
                )
            },
            |root| {
                fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
                fs::write(root.join("proc/cpuinfo"), "").unwrap();
                fs::write(root.join("proc/sys/kernel/core_pattern"), "").unwrap();
            },
        )
    };
    let b = proc_then("/proc/sys/kernel/core_pattern");
    let e = setup(&b.recorder(), &b.config, None).unwrap_err().to_string();
    assert!(e.contains("inside /proc"), "{e}");
    let b = proc_then("/proc/cpuinfo");
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert_eq!(k.calls_of("mount host:/tmp").len(), 1, "{:?}", k.calls());
    // Only a procfs goes on /proc.
    let b =
        Bundle::new(|s| set_mounts(s, json!([{ "destination": "/proc", "type": "tmpfs", "source": "tmpfs" }])), |_| {});
    let e = setup(&b.recorder(), &b.config, None).unwrap_err().to_string();
    assert!(e.contains("only a procfs may be mounted on /proc"), "{e}");
}

fn user_ns(s: &mut Value) {
    s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": "user" }));
    s["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    s["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
}

#[test]
fn devices_in_a_user_namespace_are_bound_from_the_host() {
    let b = Bundle::new(user_ns, |_| {});
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert!(k.calls_of("mknod").is_empty());
    assert!(k.calls_of("chown").is_empty());
    let binds = k.calls_of("mount host:/dev/");
    assert_eq!(binds.len(), 6);
    assert_eq!(binds[0], "mount host:/dev/null /dev/null - bind -");
    assert!(b.rootfs().join("dev/null").is_file(), "the bind needs a file to go on");
}

#[test]
fn a_refused_mknod_falls_back_to_a_bind() {
    let b = Bundle::default();
    let k = b.recorder();
    k.fail_once("mknod /dev/zero", libc::EPERM);
    setup(&k, &b.config, None).unwrap();
    let calls = k.calls();
    let at = calls.iter().position(|c| c == "mknod /dev/zero c 1:5 666").unwrap();
    assert_eq!(calls[at + 1], "mount host:/dev/zero /dev/zero - bind -");
    assert_eq!(calls[at + 2], "mknod /dev/full c 1:7 666");
}

#[test]
fn a_spec_device_gets_its_type_mode_and_mapped_owner() {
    let device = json!([{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 384, "uid": 7, "gid": 8 },
                        { "path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 0, "gid": 0 }]);
    let b = Bundle::new(|s| s["linux"]["devices"] = device, |_| {});
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert_eq!(k.calls_of("mknod /dev/fuse"), ["mknod /dev/fuse c 10:229 600"]);
    assert_eq!(k.calls_of("chown /dev/fuse"), ["chown /dev/fuse 7:8"]);
    // The spec's /dev/null replaces the default one.
    assert_eq!(k.calls_of("mknod /dev/null"), ["mknod /dev/null c 1:3 660"]);
    let mode = fs::metadata(b.rootfs().join("dev/fuse")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn what_the_image_has_at_a_device_path_stays() {
    let b = Bundle::new(
        |_| {},
        |root| {
            fs::create_dir(root.join("dev")).unwrap();
            symlink("/etc/shadow", root.join("dev/null")).unwrap();
        },
    );
    let k = b.recorder();
    k.fail_once("mknod /dev/null", libc::EEXIST);
    setup(&k, &b.config, None).unwrap();
    assert!(k.calls_of("chown /dev/null").is_empty(), "chown went through the image's link");
}

#[test]
fn devpts_without_gid_5_and_sysfs_without_a_network_namespace() {
    let b = Bundle::default();
    let k = b.recorder();
    k.fail_once("mount devpts", libc::EINVAL);
    k.fail_once("mount sysfs", libc::EPERM);
    setup(&k, &b.config, None).unwrap();
    assert_eq!(
        k.calls_of("mount devpts"),
        [
            "mount devpts /dev/pts devpts nosuid,noexec newinstance,ptmxmode=0666,mode=0620,gid=5",
            "mount devpts /dev/pts devpts nosuid,noexec newinstance,ptmxmode=0666,mode=0620"
        ]
    );
    let calls = k.calls();
    let at = calls.iter().position(|c| c.starts_with("mount sysfs")).unwrap();
    assert_eq!(calls[at + 1], "mount host:/sys /sys - bind,rec -");
    assert_eq!(calls[at + 2], "mount - /sys - ro,remount,bind -");
}

#[test]
fn a_read_only_dev_is_made_read_only_last() {
    let b = Bundle::new(
        |s| s["mounts"][1]["options"] = json!(["nosuid", "strictatime", "mode=755", "ro"]),
        |root| {
            fs::create_dir_all(root.join("dev/pts")).unwrap();
            fs::write(root.join("dev/pts/ptmx"), "").unwrap();
        },
    );
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    let calls = k.calls();
    assert_eq!(k.calls_of("mount tmpfs /dev "), ["mount tmpfs /dev tmpfs nosuid,strictatime mode=755"]);
    assert_eq!(calls[calls.len() - 2], "symlink /dev/ptmx -> pts/ptmx");
    assert_eq!(calls.last().unwrap(), "mount - /dev - ro,remount,bind -");
}

#[test]
fn remounts_keep_the_flags_a_user_namespace_locks() {
    let b = Bundle::new(|_| {}, |_| {});
    let mut k = b.recorder();
    k.mount_flags = libc::ST_NOSUID | libc::ST_NODEV;
    fs::create_dir_all(b.rootfs().join("dev")).unwrap();
    finish(&k, &b.config, &b.rootfs()).unwrap_err();
    // No /dev/null yet: masking refuses. With one, the read-only root keeps both.
    k.mknodat(
        &crate::sys::open(&b.rootfs().join("dev"), libc::O_RDONLY | libc::O_DIRECTORY).unwrap(),
        "null".as_ref(),
        libc::S_IFCHR | 0o666,
        crate::sys::makedev(1, 3),
    )
    .unwrap();
    finish(&k, &b.config, &b.rootfs()).unwrap();
    assert_eq!(k.calls().last().unwrap(), "mount - / - ro,nosuid,nodev,remount,bind -");
}

use super::kernel::Kernel;

/// A rootfs with the files the default spec masks and makes read-only, as
/// procfs and sysfs would show them, and a /dev/null node.
fn with_proc_files(root: &Path) {
    for d in ["proc/acpi", "proc/sys", "proc/fs", "sys/firmware", "dev"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in ["proc/kcore", "proc/keys", "proc/sysrq-trigger"] {
        fs::write(root.join(f), "").unwrap();
    }
}

fn make_null(k: &Recorder, root: &Path) {
    let dev = crate::sys::open(&root.join("dev"), libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
    k.mknodat(&dev, "null".as_ref(), libc::S_IFCHR | 0o666, crate::sys::makedev(1, 3)).unwrap();
}

#[test]
fn masked_and_read_only_paths_after_the_switch() {
    let b = Bundle::new(|_| {}, with_proc_files);
    let k = b.recorder();
    make_null(&k, &b.rootfs());
    finish(&k, &b.config, &b.rootfs()).unwrap();
    let expected = [
        "mknod /dev/null c 1:3 666",
        // readonlyPaths that exist: a bind and a read-only remount each.
        "mount /proc/fs /proc/fs - bind,rec -",
        "mount - /proc/fs - ro,remount,bind,rec -",
        "mount /proc/sys /proc/sys - bind,rec -",
        "mount - /proc/sys - ro,remount,bind,rec -",
        "mount /proc/sysrq-trigger /proc/sysrq-trigger - bind,rec -",
        "mount - /proc/sysrq-trigger - ro,remount,bind,rec -",
        // maskedPaths: directories get an empty read-only tmpfs, files the null device.
        "mount tmpfs /proc/acpi tmpfs ro -",
        "mount /dev/null /proc/kcore - bind -",
        "mount /dev/null /proc/keys - bind -",
        "mount tmpfs /sys/firmware tmpfs ro -",
        // root.readonly
        "mount - / - ro,remount,bind -",
    ];
    assert_eq!(k.calls(), expected);
}

#[test]
fn a_masked_path_is_never_covered_by_the_image_s_fake_null() {
    let b = Bundle::new(
        |_| {},
        |root| {
            with_proc_files(root);
            fs::write(root.join("dev/null"), "").unwrap();
        },
    );
    let k = b.recorder();
    let e = finish(&k, &b.config, &b.rootfs()).unwrap_err().to_string();
    assert!(e.contains("not the null device"), "{e}");
    assert!(k.calls_of("mount /dev/null").is_empty());
    // Nor through a symlink to the host's.
    let b = Bundle::new(
        |_| {},
        |root| {
            with_proc_files(root);
            symlink("/dev/null", root.join("dev/null")).unwrap();
        },
    );
    let e = finish(&b.recorder(), &b.config, &b.rootfs()).unwrap_err().to_string();
    assert!(e.contains("/dev/null"), "{e}");
}

#[test]
fn propagation_of_the_root_and_of_a_mount() {
    // rshared: private until the switch, so nothing reaches the host's
    // mounts, then shared on the container's own root.
    let b = Bundle::new(
        |s| {
            s["linux"]["rootfsPropagation"] = json!("rshared");
            s["root"]["readonly"] = json!(false);
            s["linux"]["maskedPaths"] = json!([]);
            s["linux"]["readonlyPaths"] = json!([]);
            set_mounts(
                s,
                json!([{ "destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rslave"] }]),
            );
        },
        |_| {},
    );
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    let calls = k.calls();
    assert_eq!(calls[0], "mount - host:/ - rec,shared -");
    assert_eq!(calls[1], "mount - / - private -");
    assert!(calls.contains(&"mount - /shared - rec,slave -".to_string()), "{calls:?}");
    let k = b.recorder();
    finish(&k, &b.config, &b.rootfs()).unwrap();
    assert_eq!(k.calls(), ["mount - / - rec,shared -"]);
    // runbindable: private before the switch (binds still work), unbindable after.
    let b = Bundle::new(|s| s["linux"]["rootfsPropagation"] = json!("runbindable"), |_| {});
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert_eq!(k.calls()[0], "mount - host:/ - rec,private -");
}

#[test]
fn recursive_attributes_go_through_mount_setattr() {
    let src = tempfile::tempdir().unwrap();
    let b = Bundle::new(
        |s| {
            set_mounts(
                s,
                json!([{ "destination": "/data", "type": "bind", "source": src.path(), "options": ["rbind", "rro"] }]),
            )
        },
        |_| {},
    );
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert_eq!(
        k.calls_of("mount_setattr"),
        [format!("mount_setattr /data set={:#x} clear=0x0 recursive", libc::MOUNT_ATTR_RDONLY)]
    );
}

#[test]
fn without_a_mount_namespace_the_rootfs_is_a_private_bind_and_a_chroot() {
    let b = Bundle::new(
        |s| {
            s["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "mount");
            set_mounts(s, json!([]));
        },
        |_| {},
    );
    assert!(b.config.namespace(NsKind::Mount).is_none());
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    assert_eq!(&k.calls()[..2], ["mount / / - bind,rec -", "mount - / - rec,private -"]);
    let k = b.recorder();
    enter(&k, &b.config, false).unwrap();
    assert_eq!(k.calls(), ["chdir /", "chroot .", "chdir host:/"]);
}

#[test]
fn no_pivot_hides_the_host_s_proc_and_sys_then_moves_the_root() {
    let b = Bundle::default();
    let mut k = b.recorder();
    let rootfs = b.rootfs().canonicalize().unwrap();
    k.table = vec![
        mount("/", "ext4"),
        mount("/proc", "proc"),
        mount("/sys", "sysfs"),
        mount("/sys/kernel/security", "securityfs"),
        mount(rootfs.join("proc").to_str().unwrap(), "proc"),
    ];
    k.fail_once("umount host:/sys", libc::EPERM);
    enter(&k, &b.config, true).unwrap();
    assert_eq!(
        k.calls(),
        [
            "mount - host:/proc - rec,slave -",
            "umount host:/proc detach",
            "mount - host:/sys - rec,slave -",
            "umount host:/sys detach",
            "mount tmpfs host:/sys tmpfs ro -",
            "chdir /",
            "mount / host:/ - move -",
            "chroot .",
            "chdir host:/",
        ]
    );
}

#[test]
fn a_unified_host_binds_the_container_s_cgroup2_alone() {
    let b = Bundle::default();
    let mut k = b.recorder();
    k.table = vec![mount("/sys/fs/cgroup", "cgroup2")];
    setup(&k, &b.config, None).unwrap();
    assert_eq!(k.calls_of("mount host:/sys/fs/cgroup"), ["mount host:/sys/fs/cgroup /sys/fs/cgroup - bind,rec -"]);
    assert!(k.calls_of("mount tmpfs /sys/fs/cgroup").is_empty());
}

#[test]
fn namespaces_by_path_are_joined_user_first_and_the_rest_unshared() {
    let nsdir = tempfile::tempdir().unwrap();
    for n in ["user", "net"] {
        fs::write(nsdir.path().join(n), "").unwrap();
    }
    let (user, net) = (nsdir.path().join("user"), nsdir.path().join("net"));
    let b = Bundle::new(
        |s| {
            let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({ "type": "network", "path": net }));
            ns.push(json!({ "type": "user", "path": user }));
        },
        |_| {},
    );
    let k = Recorder::new(nsdir.path());
    namespaces::enter_in_init(&k, &b.config).unwrap();
    namespaces::enter_cgroup_ns(&k, &b.config).unwrap();
    assert_eq!(k.calls(), ["setns /user user", "setns /net net", "unshare mnt,ipc,uts", "unshare cgroup"]);
    // Joined by path, a user namespace leaves every other new one to unshare, not to clone.
    assert_eq!(namespaces::clone_flags(&b.config), libc::CLONE_NEWPID as u64);
}

#[test]
fn a_pid_namespace_joined_for_the_clone_is_left_after_it() {
    let nsdir = tempfile::tempdir().unwrap();
    let pid = nsdir.path().join("pid");
    fs::write(&pid, "").unwrap();
    let k = Recorder::new(nsdir.path());
    let mut g = namespaces::ForChildren::on(&k);
    g.join(NsKind::Pid, &pid).unwrap();
    g.restore().unwrap();
    let calls = k.calls();
    assert_eq!(calls[0], "setns /pid pid");
    assert_eq!(calls.len(), 2);
    assert!(calls[1].starts_with("setns host:pid:[") && calls[1].ends_with(" pid"), "{calls:?}");
}

#[test]
fn a_relative_bind_source_is_the_bundle_s_and_type_bind_is_a_bind() {
    let typed = tempfile::tempdir().unwrap();
    let b = Bundle::new(
        |s| {
            set_mounts(
                s,
                json!([{ "destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"] },
                       { "destination": "/typed", "type": "bind", "source": typed.path() }]),
            )
        },
        |_| {},
    );
    fs::create_dir(b.dir.path().join("data")).unwrap();
    let k = b.recorder();
    setup(&k, &b.config, None).unwrap();
    let data = b.dir.path().canonicalize().unwrap().join("data");
    assert_eq!(
        k.calls_of("mount host:"),
        [
            format!("mount host:{} /data - bind,rec -", data.display()),
            format!("mount host:{} /typed - bind -", typed.path().display()),
        ]
    );
    assert!(k.calls().contains(&"mount - /data - ro,remount,bind -".to_string()), "{:?}", k.calls());
}
