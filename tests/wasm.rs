//! WebAssembly containers: the wasm executor runs modules with wasmtime +
//! WASI inside the same isolation as a native container.

mod common;
use common::{Bundle, Env, wasm_bundle};
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A trapped module's status, as the wasmtime CLI reports one.
const TRAP_EXIT_CODE: i32 = 134;

/// examples/wasm/wasi-demo.c, compiled once per test process, as a bundle.
fn demo(env: &Env, name: &str, args: &[&str]) -> Bundle {
    wasm_bundle(env, name, &fs::read(common::demo_wasm()).unwrap(), args)
}

#[test]
fn hello_world_from_c_and_wat() {
    let env = Env::new("wasm-hello");
    let b = demo(&env, "c", &[]);
    let id = env.id("c");
    assert_eq!(env.run_ok(&id, &b), "hello from wasm, inside a tandem container\n");
    env.assert_gone(&id, None);

    let wat = wat::parse_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat")).unwrap();
    let b = wasm_bundle(&env, "wat", &wat, &[]);
    assert_eq!(env.run_ok(&env.id("wat"), &b), "hello from a WAT module\n");
}

#[test]
fn wasmtime_runs_under_the_example_seccomp_profile() {
    let env = Env::new("wasm-seccomp");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seccomp/default.json");
    let mut profile: serde_json::Value = serde_json::from_slice(&fs::read(example).unwrap()).unwrap();
    let mut b = demo(&env, "c", &["write", "/dev/shm/f", "x"]);
    b.linux("seccomp", profile.clone());
    env.run_ok(&env.id("c"), &b);

    // The filter is in place before wasmtime starts: it holds the engine
    // too: here its openat2 (how WASI opens files) fails.
    let rules = profile["syscalls"].as_array_mut().unwrap();
    rules[0]["names"].as_array_mut().unwrap().retain(|n| n != "openat2");
    rules.push(json!({"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122}));
    let mut b = demo(&env, "w", &["write", "/dev/shm/f", "x"]);
    b.linux("seccomp", profile);
    let (code, _, err) = env.run(&env.id("w"), &b);
    assert_eq!(code, 2, "{err}");
    // cap-std reports EDQUOT as an I/O error.
    assert!(err.contains("/dev/shm/f: I/O error"), "{err}");
}

#[test]
fn argv_and_env() {
    let env = Env::new("wasm-args");
    let b = demo(&env, "b", &["args", "one two", "3"]);
    assert_eq!(env.run_ok(&env.id("args"), &b), "argv[0]=/app/demo.wasm\nargv[1]=args\nargv[2]=one two\nargv[3]=3\n");
    let mut b = demo(&env, "b2", &["env", "GREETING"]);
    b.process("env", json!(["PATH=/bin", "GREETING=hi there"]));
    assert_eq!(env.run_ok(&env.id("env"), &b), "GREETING=hi there\n");
}

#[test]
fn files_in_the_rootfs_and_in_a_volume() {
    let env = Env::new("wasm-files");
    let vol = env.dir.join("volume");
    fs::create_dir_all(&vol).unwrap();
    fs::write(vol.join("in.txt"), "from the host volume\n").unwrap();

    let mut b = demo(&env, "read", &["cat", "/data/in.txt"]);
    b.mount(json!({"destination": "/data", "type": "bind", "source": vol, "options": ["rbind", "rw"]}));
    assert_eq!(env.run_ok(&env.id("read"), &b), "from the host volume\n");

    let mut b = demo(&env, "write", &["write", "/data/out.txt", "written by wasm"]);
    b.mount(json!({"destination": "/data", "type": "bind", "source": vol, "options": ["rbind", "rw"]}));
    env.run_ok(&env.id("write"), &b);
    assert_eq!(fs::read_to_string(vol.join("out.txt")).unwrap(), "written by wasm");

    let mut b = demo(&env, "rootfs", &["write", "/tmp/note", "in the rootfs"]);
    b.set("/root/readonly", json!(false));
    env.run_ok(&env.id("rootfs"), &b);
    assert_eq!(fs::read_to_string(b.rootfs().join("tmp/note")).unwrap(), "in the rootfs");

    // process.cwd is where relative paths land.
    let mut b = demo(&env, "cwd", &["write", "rel.txt", "relative"]);
    b.set("/root/readonly", json!(false));
    b.process("cwd", json!("/work"));
    fs::create_dir_all(b.rootfs().join("work")).unwrap();
    env.run_ok(&env.id("cwd"), &b);
    assert_eq!(fs::read_to_string(b.rootfs().join("work/rel.txt")).unwrap(), "relative");
    // ... and absolute ones in the root, as for a native process (an image
    // whose WORKDIR is not /): not under the cwd.
    let mut b = demo(&env, "abs", &["cat", "/etc/marker"]);
    b.process("cwd", json!("/work"));
    fs::create_dir_all(b.rootfs().join("work/etc")).unwrap();
    fs::write(b.rootfs().join("etc/marker"), "the root's\n").unwrap();
    fs::write(b.rootfs().join("work/etc/marker"), "the cwd's\n").unwrap();
    assert_eq!(env.run_ok(&env.id("abs"), &b), "the root's\n");
    let mut b = demo(&env, "rel", &["cat", "marker"]);
    b.process("cwd", json!("/work/etc"));
    fs::create_dir_all(b.rootfs().join("work/etc")).unwrap();
    fs::write(b.rootfs().join("work/etc/marker"), "the cwd's\n").unwrap();
    assert_eq!(env.run_ok(&env.id("rel"), &b), "the cwd's\n");

    // The container's mounts are what the module sees: /proc is the container's.
    let b = demo(&env, "proc", &["cat", "/proc/self/stat"]);
    assert!(env.run_ok(&env.id("proc"), &b).starts_with("1 "), "the module runs as pid 1 of its pid namespace");
}

/// An image's links, as images lay them out: a file by an absolute link
/// (`/etc/localtime`), a directory by one (`/data`), and a cwd below the
/// root.
fn linked_layout(b: &mut Bundle) {
    let root = b.rootfs();
    fs::create_dir_all(root.join("usr/share/zoneinfo")).unwrap();
    fs::write(root.join("usr/share/zoneinfo/UTC"), "TZif utc\n").unwrap();
    std::os::unix::fs::symlink("/usr/share/zoneinfo/UTC", root.join("etc/localtime")).unwrap();
    fs::create_dir_all(root.join("srv/data")).unwrap();
    std::os::unix::fs::symlink("/srv/data", root.join("data")).unwrap();
    fs::create_dir_all(root.join("work")).unwrap();
}

#[test]
fn absolute_symlinks_in_the_rootfs_resolve_as_for_a_native_process() {
    let env = Env::new("wasm-links");
    // Each lookup from each cwd, made by the module and by busybox in the
    // same rootfs: the same answer.
    let cases: [(&str, &[&str], &[&str]); 7] = [
        ("/", &["cat", "/etc/localtime"], &["cat", "/etc/localtime"]),
        ("/work", &["cat", "../etc/localtime"], &["cat", "../etc/localtime"]),
        ("/work", &["cat", "/data/../etc/localtime"], &["cat", "/data/../etc/localtime"]),
        ("/srv", &["cat", "../data/../../etc/localtime"], &["cat", "../data/../../etc/localtime"]),
        ("/", &["stat", "/etc/localtime"], &["stat", "-L", "-c", "%s", "/etc/localtime"]),
        ("/work", &["stat", "../data/"], &["stat", "-L", "-c", "%s", "../data/"]),
        ("/", &["readlink", "/data/../../etc/localtime"], &["readlink", "/data/../../etc/localtime"]),
    ];
    // The module as a core module and as a component (through the p1
    // adapter, wasi:filesystem's calls).
    let kinds = [fs::read(common::demo_wasm()).unwrap(), demo_component()];
    for (i, (cwd, wasm_args, native_args)) in cases.into_iter().enumerate() {
        let mut native = env.bundle(&format!("n{i}"), native_args);
        linked_layout(&mut native);
        native.process("cwd", json!(cwd));
        let (ncode, nout, nerr) = env.run(&env.id(&format!("n{i}")), &native);
        for (k, code) in kinds.iter().enumerate() {
            let name = format!("w{i}-{k}");
            let mut wasm = wasm_bundle(&env, &name, code, wasm_args);
            linked_layout(&mut wasm);
            wasm.process("cwd", json!(cwd));
            let (wcode, wout, werr) = env.run(&env.id(&name), &wasm);
            assert_eq!(
                (wcode == 0, &wout),
                (ncode == 0, &nout),
                "{wasm_args:?} from {cwd} ({}): wasm {werr}, native {nerr}",
                ["module", "component"][k]
            );
        }
    }
    // A write through a directory's absolute link lands where it points,
    // and a remove takes the file, not a link on the way.
    for (k, code) in kinds.iter().enumerate() {
        let mut b = wasm_bundle(&env, &format!("write-{k}"), code, &["write", "/data/out.txt", "through the link"]);
        linked_layout(&mut b);
        b.set("/root/readonly", json!(false));
        env.run_ok(&env.id(&format!("write-{k}")), &b);
        assert_eq!(fs::read_to_string(b.rootfs().join("srv/data/out.txt")).unwrap(), "through the link");
        let mut b = wasm_bundle(&env, &format!("rm-{k}"), code, &["rm", "/data/old.txt"]);
        linked_layout(&mut b);
        fs::write(b.rootfs().join("srv/data/old.txt"), "").unwrap();
        b.set("/root/readonly", json!(false));
        env.run_ok(&env.id(&format!("rm-{k}")), &b);
        assert!(!b.rootfs().join("srv/data/old.txt").exists());
        assert!(b.rootfs().join("data").is_symlink());
    }
}

#[test]
fn a_module_cannot_reach_the_host() {
    let env = Env::new("wasm-confine");
    let secret = env.dir.join("host-secret");
    fs::write(&secret, "host only\n").unwrap();
    // An absolute symlink to the host file, and `..` climbing: both stay in the rootfs.
    let b = demo(&env, "link", &["cat", "/leak"]);
    std::os::unix::fs::symlink(&secret, b.rootfs().join("leak")).unwrap();
    let (code, out, err) = env.run(&env.id("link"), &b);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains("host only"));
    // The link's target is looked up in the rootfs, as the kernel looks it
    // up for a native process there: the rootfs's file of that name.
    let b = demo(&env, "inside", &["cat", "/leak"]);
    std::os::unix::fs::symlink(&secret, b.rootfs().join("leak")).unwrap();
    let inside = b.rootfs().join(secret.strip_prefix("/").unwrap());
    fs::create_dir_all(inside.parent().unwrap()).unwrap();
    fs::write(&inside, "the rootfs's\n").unwrap();
    assert_eq!(env.run_ok(&env.id("inside"), &b), "the rootfs's\n");
    let climb = format!("/../../../../../..{}", secret.display());
    let b = demo(&env, "climb", &["cat", &climb]);
    let (code, out, _) = env.run(&env.id("climb"), &b);
    assert_eq!(code, 2);
    assert!(!out.contains("host only"));
}

#[test]
fn exit_codes_are_exact_and_traps_are_reported() {
    let env = Env::new("wasm-exit");
    for code in [0, 3, 255] {
        let b = demo(&env, &format!("e{code}"), &["exit", &code.to_string()]);
        let (got, _, err) = env.run(&env.id(&format!("e{code}")), &b);
        assert_eq!(got, code, "{err}");
    }
    // The status survives detached: state and delete see the module's code through the init.
    let b = demo(&env, "detached", &["exit", "7"]);
    let id = env.id("detached");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);

    let wat = wat::parse_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/trap.wat")).unwrap();
    let b = wasm_bundle(&env, "trap", &wat, &[]);
    let (code, _, err) = env.run(&env.id("trap"), &b);
    assert_eq!(code, TRAP_EXIT_CODE);
    assert!(err.contains("wasm trap") && err.contains("unreachable"), "{err}");
}

#[test]
fn the_memory_limit_bounds_linear_memory() {
    let env = Env::new("wasm-mem");
    let mut b = demo(&env, "b", &["alloc", "64"]);
    b.linux("resources", json!({"memory": {"limit": 16 * 1024 * 1024}}));
    let (code, out, err) = env.run(&env.id("big"), &b);
    assert_eq!(code, TRAP_EXIT_CODE, "{out}{err}");
    assert!(err.contains("memory limit"), "{err}");
    let mut b = demo(&env, "b2", &["alloc", "4"]);
    b.linux("resources", json!({"memory": {"limit": 16 * 1024 * 1024}}));
    assert_eq!(env.run_ok(&env.id("small"), &b), "allocated 4 MiB (4)\n");
}

/// The engine starts no thread: a pids limit of one (the container's
/// process alone) runs a module that writes, reads a file and a component.
#[test]
fn a_pids_limit_of_one_runs_modules() {
    let env = Env::new("wasm-pids");
    let one = |b: &mut Bundle| {
        b.linux("resources", json!({"pids": {"limit": 1}}));
    };
    let mut b = demo(&env, "hello", &[]);
    one(&mut b);
    assert_eq!(env.run_ok(&env.id("hello"), &b), "hello from wasm, inside a tandem container\n");
    let mut b = demo(&env, "cat", &["cat", "/etc/hostname-file"]);
    fs::write(b.rootfs().join("etc/hostname-file"), "from the rootfs\n").unwrap();
    one(&mut b);
    assert_eq!(env.run_ok(&env.id("cat"), &b), "from the rootfs\n");
    let mut b = wasm_bundle(&env, "component", &demo_component(), &[]);
    one(&mut b);
    assert_eq!(env.run_ok(&env.id("component"), &b), "hello from wasm, inside a tandem container\n");
}

/// LSM labels are a wasm container's as a native one's: applied at the
/// helper's execve, refused only where the host cannot enforce them (this
/// machine has neither AppArmor nor SELinux: then both say so), never for
/// being wasm.
#[test]
fn lsm_labels_are_handled_as_for_a_native_container() {
    let env = Env::new("wasm-lsm");
    for (field, value) in
        [("apparmorProfile", "tandem-test-profile"), ("selinuxLabel", "system_u:system_r:container_t:s0")]
    {
        let outcome = |b: &mut Bundle, id: &str| {
            b.process(field, json!(value));
            let out = env.tandem(&["run", "--bundle", b.str(), id]);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.code(), err.replace(id, "ID"))
        };
        let mut native = env.bundle(&format!("n-{field}"), &["true"]);
        let mut wasm = demo(&env, &format!("w-{field}"), &[]);
        let (n, w) = (outcome(&mut native, &env.id("n")), outcome(&mut wasm, &env.id("w")));
        assert_eq!(w, n, "{field}: the wasm container's outcome differs from the native one's");
        assert!(!w.1.contains("no execve"), "{field}: refused for being wasm: {}", w.1);
    }
}

#[test]
fn kill_stops_a_looping_module() {
    let env = Env::new("wasm-kill");
    let b = demo(&env, "b", &["spin"]);
    for sig in ["TERM", "KILL"] {
        let id = env.id(sig);
        env.ok(&["run", "-d", "--bundle", b.str(), &id]);
        assert_eq!(env.status(&id), "running");
        env.ok(&["kill", &id, sig]);
        env.wait_status(&id, "stopped");
        env.ok(&["delete", &id]);
        env.assert_gone(&id, None);
    }
}

fn cache_entries(env: &Env) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(env.cache.join("wasm"))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "cwasm")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_second_create_of_a_module_uses_the_cache() {
    let env = Env::new("wasm-cache");
    let b = demo(&env, "b", &[]);
    env.run_ok(&env.id("first"), &b);
    let entries = cache_entries(&env);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let ino = fs::metadata(&entries[0]).unwrap().ino();
    // Same module, other container: loaded, not compiled and stored again.
    let b2 = demo(&env, "b2", &["args"]);
    env.run_ok(&env.id("second"), &b2);
    assert_eq!(cache_entries(&env), entries);
    assert_eq!(fs::metadata(&entries[0]).unwrap().ino(), ino, "the artifact was rewritten: no cache hit");
    let listed = env.ok(&["wasm-cache", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    // The cache lives in the state root, but it is no container.
    assert_eq!(env.ok(&["list", "-q"]), "");

    // A corrupted artifact fails its check and is compiled again.
    fs::write(&entries[0], b"garbage").unwrap();
    assert_eq!(env.run_ok(&env.id("third"), &b), "hello from wasm, inside a tandem container\n");
    assert_ne!(fs::read(&entries[0]).unwrap(), b"garbage");

    assert!(env.ok(&["wasm-cache", "prune", "--all"]).contains("removed 2"));
    assert!(cache_entries(&env).is_empty());
}

#[test]
fn compat_smart_runs_a_native_sidecar_and_a_wasm_app() {
    let env = Env::new("wasm-smart");
    let mut app = demo(&env, "app", &[]);
    app.config["annotations"] = json!({"module.wasm.image/variant": "compat-smart"});
    app.save();
    assert_eq!(env.run_ok(&env.id("app"), &app), "hello from wasm, inside a tandem container\n");
    let mut sidecar = env.bundle("sidecar", &["sh", "-c", "echo native sidecar"]);
    sidecar.config["annotations"] = json!({"module.wasm.image/variant": "compat-smart"});
    sidecar.save();
    assert_eq!(env.run_ok(&env.id("sidecar"), &sidecar), "native sidecar\n");
    // And the explicit executor annotation picks wasm by name.
    let mut named = demo(&env, "named", &[]);
    named.config["annotations"] = json!({"dev.tandem.executor": "wasm"});
    named.save();
    env.run_ok(&env.id("named"), &named);
}

#[test]
fn bad_and_missing_modules_fail_at_create() {
    let env = Env::new("wasm-bad");
    let b = wasm_bundle(&env, "notwasm", b"#!/bin/sh\necho hi\n", &[]);
    let id = env.id("notwasm");
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("/app/demo.wasm") && err.contains("not a WebAssembly"), "{err}");
    assert_eq!(err.lines().count(), 1);
    env.assert_gone(&id, None);

    let b = wasm_bundle(&env, "broken", b"\0asm\x01\0\0\0\x01\xff\xff", &[]);
    let id = env.id("broken");
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("/app/demo.wasm") && err.contains("invalid WebAssembly"), "{err}");
    env.assert_gone(&id, None);

    // A fifo where the module should be: refused, not read for ever.
    let b = wasm_bundle(&env, "fifo", b"", &[]);
    let module = b.rootfs().join("app/demo.wasm");
    fs::remove_file(&module).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&module).status().unwrap();
    assert!(made.success());
    let id = env.id("fifo");
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("/app/demo.wasm") && err.contains("not a regular file"), "{err}");
    env.assert_gone(&id, None);

    let mut b = wasm_bundle(&env, "missing", b"", &[]);
    b.process("args", json!(["/app/nope.wasm"]));
    let id = env.id("missing");
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(err.contains("/app/nope.wasm"), "{err}");
    env.assert_gone(&id, None);
    assert_eq!(env.ok(&["list", "-q"]), "");
}

/// What a module would only hit at start fails `create`: imports WASI
/// does not have or with another type, no `_start`, a component that is
/// not a `wasi:cli/command`. One line each, nothing made, nothing cached.
#[test]
fn modules_that_cannot_start_fail_at_create() {
    let env = Env::new("wasm-link");
    let cases = [
        (
            "noimport",
            r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))"#,
            "no_such_call",
        ),
        (
            "mistyped",
            r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32))) (func (export "_start")))"#,
            "fd_write",
        ),
        ("nostart", r#"(module (func (export "main")))"#, "_start"),
        ("badstart", r#"(module (func (export "_start") (param i32)))"#, "_start"),
        ("reactor", "(component)", "wasi:cli/command"),
    ];
    for (name, wat, said) in cases {
        let b = wasm_bundle(&env, name, &wat::parse_str(wat).unwrap(), &[]);
        let id = env.id(name);
        let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
        assert!(err.contains("/app/demo.wasm") && err.contains(said), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        env.assert_gone(&id, None);
    }
    assert!(cache_entries(&env).is_empty(), "code that cannot start was cached");
}

/// The demo as a WASI 0.2 `wasi:cli/command` component, made with the
/// preview-1 adapter that matches the pinned wasmtime.
fn demo_component() -> Vec<u8> {
    let core = fs::read(common::demo_wasm()).unwrap();
    wit_component::ComponentEncoder::default()
        .module(&core)
        .unwrap()
        .validate(true)
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .unwrap()
        .encode()
        .unwrap()
}

#[test]
fn a_component_runs() {
    let env = Env::new("wasm-component");
    let component = demo_component();
    assert_ne!(&component[4..8], &[1, 0, 0, 0], "the fixture must be a component, not a core module");
    let b = wasm_bundle(&env, "hello", &component, &[]);
    assert_eq!(env.run_ok(&env.id("hello"), &b), "hello from wasm, inside a tandem container\n");
    let b = wasm_bundle(&env, "args", &component, &["args", "x y"]);
    assert_eq!(env.run_ok(&env.id("args"), &b), "argv[0]=/app/demo.wasm\nargv[1]=args\nargv[2]=x y\n");
    let vol = env.dir.join("vol");
    fs::create_dir_all(&vol).unwrap();
    let mut b = wasm_bundle(&env, "write", &component, &["write", "/data/c.txt", "from a component"]);
    b.mount(json!({"destination": "/data", "type": "bind", "source": vol, "options": ["rbind", "rw"]}));
    env.run_ok(&env.id("write"), &b);
    assert_eq!(fs::read_to_string(vol.join("c.txt")).unwrap(), "from a component");
    // Through the preview-1 adapter, proc_exit(n) becomes wasi:cli/exit's
    // exit(ok | err): 0 stays 0, any other code is an error, status 1.
    for (code, want) in [(0, 0), (3, 1), (255, 1)] {
        let b = wasm_bundle(&env, &format!("exit{code}"), &component, &["exit", &code.to_string()]);
        let (got, _, err) = env.run(&env.id(&format!("exit{code}")), &b);
        assert_eq!(got, want, "{err}");
    }
}

#[test]
fn a_module_in_a_bind_mounted_volume_runs() {
    let env = Env::new("wasm-volume");
    let vol = env.dir.join("modules");
    fs::create_dir_all(vol.join("bin")).unwrap();
    fs::copy(common::demo_wasm(), vol.join("bin/demo.wasm")).unwrap();
    let mut b = env.bundle("b", &["/opt/mods/bin/demo.wasm", "args", "vol"]);
    b.config["annotations"] = json!({"run.oci.handler": "wasm"});
    b.mount(json!({"destination": "/opt/mods", "type": "bind", "source": vol, "options": ["rbind", "ro"]}));
    assert_eq!(env.run_ok(&env.id("abs"), &b), "argv[0]=/opt/mods/bin/demo.wasm\nargv[1]=args\nargv[2]=vol\n");
    // Found through PATH in the volume too, and the volume's files stay in it.
    b.process("args", json!(["demo.wasm"]));
    b.process("env", json!(["PATH=/bin:/opt/mods/bin"]));
    assert_eq!(env.run_ok(&env.id("path"), &b), "hello from wasm, inside a tandem container\n");
    std::os::unix::fs::symlink("/../../../../etc/hostname", vol.join("bin/escape.wasm")).unwrap();
    b.process("args", json!(["/opt/mods/bin/escape.wasm"]));
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &env.id("escape")]);
    // Resolved inside the volume, the link's target does not exist; followed
    // out of it, it would be the host's hostname file ("not a WebAssembly").
    assert!(
        err.contains("escape.wasm") && err.contains("No such file"),
        "a link out of the volume was followed: {err}"
    );
}

#[test]
fn exec_of_a_wasm_entrypoint_runs_in_wasmtime_inside_the_container() {
    let env = Env::new("wasm-exec");
    let b = demo(&env, "b", &["spin"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    // Chosen by the same rules as the init: the bundle says wasm.
    assert_eq!(env.ok(&["exec", &id, "/app/demo.wasm"]), "hello from wasm, inside a tandem container\n");
    let out = env.tandem(&["exec", &id, "/app/demo.wasm", "exit", "9"]);
    assert_eq!(out.status.code(), Some(9));
    // A native program in the image (a debug shell) runs as it would in a
    // native container, next to the module.
    assert_eq!(
        env.ok(&["exec", &id, "sh", "-c", "echo native; cat /proc/1/cmdline"]),
        "native\n/app/demo.wasm\0spin\0"
    );
    // Its name, as ps shows it, is the module's, as a native program's is its file's.
    assert_eq!(env.ok(&["exec", &id, "cat", "/proc/1/comm"]), "demo.wasm\n");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

/// `tandem` links no wasm engine, and the helper a wasm container execs
/// has wasmtime's runtime but no compiler: only `tandem-wasm-compile` has.
#[test]
fn only_the_compiler_links_the_compiler() {
    let bin = |name: &str| fs::read(std::path::Path::new(common::tandem_bin()).with_file_name(name)).unwrap();
    let has = |bin: &[u8], s: &str| bin.windows(s.len()).any(|w| w == s.as_bytes());
    let (native, helper, compiler) = (bin("tandem"), bin("tandem-wasm-run"), bin("tandem-wasm-compile"));
    assert!(has(&compiler, "cranelift_codegen"), "the compiler has no cranelift");
    assert!(has(&helper, "wasmtime_wasi") && !has(&helper, "cranelift_codegen"), "the helper links the compiler");
    assert!(!has(&native, "cranelift") && !has(&native, "wasmtime_internal"), "tandem links wasmtime");
}

/// Without the helper or the compiler beside it, `tandem` refuses a wasm
/// container with a clear error (exit 10) and makes nothing; native ones
/// still run.
#[test]
fn without_its_siblings_tandem_refuses_wasm_and_makes_nothing() {
    let env = Env::new("wasm-lone");
    let lone = env.dir.join("lone");
    fs::create_dir_all(&lone).unwrap();
    fs::copy(common::tandem_bin(), lone.join("tandem")).unwrap();
    let run = |b: &Bundle, id: &str| {
        std::process::Command::new(lone.join("tandem"))
            .arg("--root")
            .arg(&env.root)
            .arg("--cache-dir")
            .arg(&env.cache)
            .args(["run", "--bundle", b.str(), id])
            .output()
            .unwrap()
    };
    let b = demo(&env, "w", &[]);
    for missing in ["tandem-wasm-run", "tandem-wasm-compile"] {
        let id = env.id(missing);
        let out = run(&b, &id);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(10), "{err}");
        assert!(err.contains(missing) && err.contains("No such file"), "{err}");
        env.assert_gone(&id, None);
        std::os::unix::fs::symlink(
            std::path::Path::new(common::tandem_bin()).with_file_name(missing),
            lone.join(missing),
        )
        .unwrap();
    }
    assert!(run(&b, &env.id("both")).status.success());
    let native = env.bundle("n", &["true"]);
    let out = run(&native, &env.id("n"));
    assert!(out.status.success(), "{out:?}");
}

/// /proc/self/environ and cmdline are the container's: not the caller's
/// environment (a marker variable given to `tandem run`), not its command
/// line with the host's bundle and root paths.
#[test]
fn the_caller_s_environment_and_command_line_stay_out() {
    let env = Env::new("wasm-environ");
    let run = |name: &str, file: &str| -> String {
        let b = demo(&env, name, &["cat", file]);
        let out = std::process::Command::new(&env.bin)
            .arg("--root")
            .arg(&env.root)
            .args(["run", "--bundle", b.str(), &env.id(name)])
            .env("TANDEM_TEST_MARKER", "host-secret-value")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        String::from_utf8_lossy(&out.stdout).replace('\0', " ")
    };
    let environ = run("environ", "/proc/self/environ");
    assert!(!environ.contains("host-secret") && !environ.contains("TANDEM_TEST_MARKER"), "{environ}");
    assert!(environ.contains("PATH=/usr/local/sbin"), "process.env is what shows: {environ}");
    let cmdline = run("cmdline", "/proc/self/cmdline");
    assert!(!cmdline.contains(env.dir.to_str().unwrap()), "a host path shows: {cmdline}");
    assert!(cmdline.starts_with("/app/demo.wasm cat /proc/self/cmdline"), "{cmdline}");
}
