//! runtime-core from a long-lived, multi-threaded caller (what the
//! containerd shim will be): containers created, exec'd into, killed and
//! deleted from a process with 8 busy threads, with and without a user
//! namespace of their own; the caller's namespaces for children, cwd and
//! thread count are as they were. A workload that fails at its execve
//! says so on its stderr while another thread holds std's stderr lock
//! nearly all the time (a container process takes no lock of the
//! caller's). Alone in its test binary: it re-execs itself from a sealed
//! image first, as every caller of the library does.

mod common;
use common::Env;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tandem_executor_native as _;
use tandem_runtime_core::{CreateOptions, ExecOptions, Runtime, exe_seal};

fn ns_for_children(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}_for_children")).unwrap().to_string_lossy().into_owned()
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
}

/// `f`'s result, or a failure if it takes a minute (a container process
/// stuck on a lock).
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let r = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the container process hung");
    waiter.join().unwrap();
    r
}

/// Without libtest (see cli/Cargo.toml): its output capture would keep a
/// container process off std's stderr lock, the lock under test.
fn main() {
    containers_from_a_multi_threaded_caller();
    println!("test containers_from_a_multi_threaded_caller ... ok");
}

fn containers_from_a_multi_threaded_caller() {
    exe_seal::reexec().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut busy: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            // Allocating all the time: a lock held at a fork would show.
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<u64> = (0..64 + i).collect();
                    n = n.wrapping_add(v.iter().sum::<u64>());
                }
                n
            })
        })
        .collect();
    // std's stderr lock, held but for a moment at a time: a container
    // process that took it after the fork would wait for ever.
    let holder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _held = std::io::stderr().lock();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            0
        })
    };
    busy.push(holder);
    let before = (ns_for_children("pid"), ns_for_children("time"), std::env::current_dir().unwrap(), threads());

    let env = Env::new("threaded");
    let mut plain = env.bundle("plain", &["sleep", "1000"]);
    plain.set("/root/readonly", json!(false));
    let mut userns = env.bundle("userns", &["sleep", "1000"]);
    let mut ns = userns.config["linux"]["namespaces"].as_array().unwrap().clone();
    ns.push(json!({"type": "user"}));
    ns.push(json!({"type": "time"}));
    userns.linux("namespaces", json!(ns));
    userns.linux("uidMappings", json!([{"containerID": 0, "hostID": 500000, "size": 65536}]));
    userns.linux("gidMappings", json!([{"containerID": 0, "hostID": 500000, "size": 65536}]));

    // Executable by its mode, not by the kernel (ENOEXEC at execve): the
    // init and an exec'd process fail after setup, on their stderr.
    let mut garbage = env.bundle("garbage", &["/not-elf"]);
    garbage.set("/root/readonly", json!(false));
    let not_elf = garbage.path.join("rootfs/not-elf");
    std::fs::write(&not_elf, b"\x01\x02 not a program").unwrap();
    std::fs::set_permissions(&not_elf, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let rt = Runtime::open(&env.root).unwrap().with_cache(&env.cache);
    for round in 0..3 {
        let id = env.id(&format!("g{round}"));
        let mut c = rt.create(&id, &garbage.path, &CreateOptions::default()).unwrap();
        let started = c.start();
        assert!(started.is_err(), "{id}: a garbage program started");
        assert_eq!(within_a_minute(move || c.wait().unwrap()), 127, "{id}: the init's status");
        rt.load(&id).unwrap().delete(true).unwrap();
        env.assert_gone(&id, None);
    }
    {
        let id = env.id("gexec");
        let mut c = rt.create(&id, &plain.path, &CreateOptions::default()).unwrap();
        c.start().unwrap();
        std::fs::copy(&not_elf, plain.path.join("rootfs/not-elf")).unwrap();
        let mut process = c.config().unwrap().process;
        process.args = vec!["/not-elf".into()];
        let exec = c.exec(process, &ExecOptions::default()).unwrap();
        assert_eq!(within_a_minute(move || exec.wait().unwrap()), 127, "{id}: the exec'd process");
        let pid = c.pid();
        c.signal(libc::SIGKILL, false).unwrap();
        c.wait().unwrap();
        rt.load(&id).unwrap().delete(true).unwrap();
        env.assert_gone(&id, Some(pid));
        std::fs::remove_file(plain.path.join("rootfs/not-elf")).unwrap();
    }

    for round in 0..6 {
        let bundle = if round % 2 == 0 { &plain } else { &userns };
        let id = env.id(&format!("t{round}"));
        let mut c = rt.create(&id, &bundle.path, &CreateOptions::default()).unwrap();
        c.start().unwrap();
        let mut process = c.config().unwrap().process;
        process.args = vec!["sh".into(), "-c".into(), "exit 7".into()];
        let exec = c.exec(process, &ExecOptions::default()).unwrap();
        assert_eq!(exec.wait().unwrap(), 7, "{id}: the exec'd process");
        let pid = c.pid();
        c.signal(libc::SIGKILL, false).unwrap();
        assert_eq!(c.wait().unwrap(), 137, "{id}: the init is the caller's child, killed");
        rt.load(&id).unwrap().delete(true).unwrap();
        env.assert_gone(&id, Some(pid));
    }
    stop.store(true, Ordering::Relaxed);
    for t in busy {
        t.join().unwrap();
    }
    let after = (ns_for_children("pid"), ns_for_children("time"), std::env::current_dir().unwrap(), threads() + 9);
    assert_eq!(after, before, "the caller's process changed");
}
