//! seccomp: a profile in `linux.seccomp` filters the workload's syscalls:
//! each action, argument conditions, flags, a notify listener, exec'd
//! processes, and the example default profile.

mod common;
use common::{Bundle, Env};
use serde_json::{Value, json};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

fn profile(default: &str, syscalls: Value) -> Value {
    json!({"defaultAction": default, "syscalls": syscalls})
}

fn with_profile(env: &Env, name: &str, script: &str, profile: Value) -> Bundle {
    let mut b = env.bundle(name, &["sh", "-c", script]);
    b.linux("seccomp", profile);
    b
}

#[test]
fn errno_kill_trap_trace_and_log_actions() {
    let env = Env::new("sc-actions");
    let p = profile(
        "SCMP_ACT_ALLOW",
        json!([
            {"names": ["mkdir", "mkdirat", "definitely_not_a_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
            {"names": ["rmdir"], "action": "SCMP_ACT_TRACE"},
            {"names": ["chdir"], "action": "SCMP_ACT_LOG"},
        ]),
    );
    let script = "mkdir /dev/shm/d; echo mkdir=$?; rmdir /dev/shm; cd /dev/shm && pwd; grep Seccomp: /proc/self/status";
    let b = with_profile(&env, "b", script, p);
    let out = env.tandem(&["--debug", "run", "--bundle", b.str(), &env.id("errno")]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "mkdir=1\n/dev/shm\nSeccomp:\t2\n", "{stderr}");
    // errnoRet 95 is EOPNOTSUPP; TRACE without a tracer is ENOSYS.
    assert!(stderr.contains("can't create directory '/dev/shm/d': Operation not supported"), "{stderr}");
    assert!(stderr.contains("rmdir: '/dev/shm': Function not implemented"), "{stderr}");
    assert!(stderr.contains("syscall definitely_not_a_syscall is unknown on this architecture"), "{stderr}");

    // Killed by SIGSYS: the shell reports 128 + 31.
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"] {
        let p = profile("SCMP_ACT_ALLOW", json!([{"names": ["sethostname"], "action": action}]));
        let mut b = env.bundle(action, &["hostname", "never"]);
        b.linux("seccomp", p);
        let (code, _, _) = env.run(&env.id(&action.to_lowercase().replace('_', "-")), &b);
        assert_eq!(code, 128 + libc::SIGSYS, "{action}");
    }
}

/// What busybox's `sh -c 'echo ok'` calls (strace of Debian's
/// busybox-static), plus the `execve` that starts it: nothing for tandem.
const ECHO_OK_SYSCALLS: [&str; 21] = [
    "execve",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "readlink",
    "getrandom",
    "mprotect",
    "prctl",
    "getuid",
    "getpid",
    "getppid",
    "rt_sigaction",
    "uname",
    "newfstatat",
    "getcwd",
    "write",
    "exit",
    "exit_group",
];

/// A strict profile allows the workload's calls and nothing of tandem's:
/// the init and an exec'd process load the filter as their very last
/// step, so the program runs (with the filter: Seccomp 2 is not needed
/// here, its output is the proof).
#[test]
fn a_strict_profile_that_allows_only_the_workload_still_runs_it() {
    let env = Env::new("sc-strict");
    let p = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ECHO_OK_SYSCALLS, "action": "SCMP_ACT_ALLOW"}],
    });
    let b = with_profile(&env, "b", "echo ok", p.clone());
    let (code, out, err) = env.run(&env.id("run"), &b);
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
    // An exec'd process gets the container's filter, loaded as late
    // (the init here also needs what sleep calls).
    let mut allowed = ECHO_OK_SYSCALLS.to_vec();
    allowed.extend(["nanosleep", "clock_nanosleep", "restart_syscall"]);
    let mut b = env.bundle("long", &["sleep", "1000"]);
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}),
    );
    let id = env.id("exec");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let out = env.tandem(&["exec", &id, "sh", "-c", "echo ok"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!((out.status.code(), stdout.as_ref()), (Some(0), "ok\n"), "{stderr}");
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn a_profile_that_denies_by_default() {
    let env = Env::new("sc-default");
    let p = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 122,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    // Everything but mkdir is refused by default, with EDQUOT; mkdir with
    // the rule's own default errno, EPERM. The full allow list comes from
    // the example profile, minus mkdir.
    let mut full: Value = serde_json::from_str(include_str!("../examples/seccomp/default.json")).unwrap();
    let allowed = full["syscalls"][0]["names"].as_array_mut().unwrap();
    allowed.retain(|n| n != "mkdir" && n != "mkdirat" && n != "sethostname");
    let mut p2 = p.clone();
    p2["syscalls"].as_array_mut().unwrap().push(json!({"names": allowed.clone(), "action": "SCMP_ACT_ALLOW"}));
    p2["syscalls"].as_array_mut().unwrap().push(full["syscalls"][6].clone());
    let b = with_profile(&env, "b", "mkdir /dev/shm/d; hostname x; echo done", p2);
    let (code, out, err) = env.run(&env.id("c"), &b);
    assert_eq!((code, out.as_str()), (0, "done\n"), "{err}");
    assert!(err.contains("'/dev/shm/d': Operation not permitted"), "{err}");
    assert!(err.contains("hostname: sethostname: Disk quota exceeded"), "{err}");
}

#[test]
fn argument_conditions_and_or_and_every_operator() {
    let env = Env::new("sc-args");
    let eperm = |args: Value| json!({"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": args});
    let p = profile(
        "SCMP_ACT_ALLOW",
        json!([
            // Different arguments: all must hold (signal 0 to a pid above 1).
            eperm(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 0, "op": "SCMP_CMP_LE"}])),
            // Signals from 18 up, to pid 1.
            eperm(json!([{"index": 1, "value": 18, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 2, "op": "SCMP_CMP_LT"}])),
            // SIGUSR1 to anyone but pid 1.
            eperm(json!([{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 1, "op": "SCMP_CMP_NE"}])),
            // The same argument twice: either may hold (SIGUSR2 or SIGTERM).
            eperm(json!([{"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}])),
            // Masked: any open that creates.
            {"names": ["open", "openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122,
             "args": [{"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["open"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122,
             "args": [{"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"}]},
        ]),
    );
    let script = "sleep 100 & s=$!; \
        kill -0 $s; echo zero-to-sleep=$?; kill -0 1; echo zero-to-1=$?; \
        kill -CONT 1; echo cont-to-1=$?; kill -CONT $s; echo cont-to-sleep=$?; \
        kill -USR1 $s; echo usr1=$?; \
        kill -USR2 $s; echo usr2=$?; kill -TERM $s; echo term=$?; \
        read x < /proc/self/comm; echo read=$?; echo x > /dev/shm/f; echo create=$?; \
        kill -KILL $s; echo kill=$?";
    let b = with_profile(&env, "b", script, p);
    let (code, out, err) = env.run(&env.id("c"), &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "zero-to-sleep=1\nzero-to-1=0\ncont-to-1=1\ncont-to-sleep=0\nusr1=1\nusr2=1\nterm=1\nread=0\ncreate=1\nkill=0\n",
        "{err}"
    );
    assert!(err.contains("Disk quota exceeded"), "{err}");
}

#[test]
fn every_filter_flag_the_kernel_has() {
    let env = Env::new("sc-flags");
    let mut p = profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    p["flags"] = json!([
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
    ]);
    let b = with_profile(&env, "b", "mkdir /dev/shm/d 2>/dev/null; echo mkdir=$?", p);
    assert_eq!(env.run_ok(&env.id("c"), &b), "mkdir=1\n");
}

#[test]
fn without_no_new_privileges_the_filter_goes_in_before_the_user_switch() {
    // Loading a filter without no_new_privs needs CAP_SYS_ADMIN, which
    // uid 1000 no longer has: it must be loaded first.
    let env = Env::new("sc-nnp");
    let p = profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    let mut b = with_profile(
        &env,
        "b",
        "mkdir /dev/shm/d 2>/dev/null; echo mkdir=$?; id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
        p,
    );
    b.process("noNewPrivileges", json!(false));
    b.process("user", json!({"uid": 1000, "gid": 1000}));
    assert_eq!(env.run_ok(&env.id("c"), &b), "mkdir=1\n1000\nNoNewPrivs:\t0\nSeccomp:\t2\n");
}

#[test]
fn an_execd_process_is_filtered_too() {
    let env = Env::new("sc-exec");
    let p =
        profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]));
    let b = with_profile(&env, "b", "sleep 100", p);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let out = env.tandem(&["exec", &id, "mkdir", "/dev/shm/d"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not supported"));
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

/// A seccomp agent: takes the notification fd from the runtime and answers
/// every notified syscall with "success" without running it.
fn agent(listener: UnixListener) -> std::thread::JoinHandle<(Value, Vec<i32>)> {
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (fd, payload) = tandem_runtime_core::sys::recv_fd(&conn).unwrap();
        let msg: Value = serde_json::from_slice(&payload).unwrap();
        let mut seen = Vec::new();
        while let Some((id, nr)) = receive_notification(&fd) {
            seen.push(nr);
            answer_success(&fd, id);
        }
        (msg, seen)
    })
}

fn receive_notification(fd: &OwnedFd) -> Option<(u64, i32)> {
    // SAFETY: a zeroed seccomp_notif is the buffer the ioctl fills.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a seccomp listener; n is a valid seccomp_notif.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    (r == 0).then_some((n.id, n.data.nr))
}

fn answer_success(fd: &OwnedFd, id: u64) {
    let mut resp = libc::seccomp_notif_resp { id, val: 0, error: 0, flags: 0 };
    // SAFETY: resp is a valid seccomp_notif_resp for the ioctl.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}

#[test]
fn a_notify_listener_gets_the_fd_and_answers_for_the_kernel() {
    let env = Env::new("sc-notify");
    let sock = env.dir.join("agent.sock");
    let handle = agent(UnixListener::bind(&sock).unwrap());
    let mut p = profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]));
    p["listenerPath"] = json!(sock);
    p["listenerMetadata"] = json!("from-the-test");
    p["flags"] = json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);
    let b = with_profile(
        &env,
        "b",
        "mkdir /dev/shm/d && echo mkdir-said-yes; [ -d /dev/shm/d ] || echo nothing-was-made",
        p,
    );
    let id = env.id("c");
    assert_eq!(env.run_ok(&id, &b), "mkdir-said-yes\nnothing-was-made\n");
    let (msg, seen) = handle.join().unwrap();
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["metadata"], "from-the-test");
    assert_eq!(msg["state"]["id"], id.as_str());
    assert_eq!(msg["state"]["status"], "creating");
    assert!(msg["pid"].as_i64().unwrap() > 1, "{msg}");
    assert_eq!(msg["pid"], msg["state"]["pid"]);
    assert!(seen.iter().all(|&nr| nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32), "{seen:?}");
    assert!(!seen.is_empty());
    env.assert_gone(&id, None);
}

#[test]
fn the_example_default_profile_confines_a_native_container() {
    let env = Env::new("sc-example");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seccomp/default.json");
    let p: Value = serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
    let script = "echo hi; ls /bin >/dev/null && echo ls-ok; \
        unshare -m true; echo unshare=$?; mount -t tmpfs t /mnt; echo mount=$?; \
        sleep 1 & wait; echo background=$?";
    let b = with_profile(&env, "b", script, p);
    let (code, out, err) = env.run(&env.id("c"), &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hi\nls-ok\nunshare=1\nmount=1\nbackground=0\n", "{err}");
    assert!(err.contains("unshare(0x20000): Operation not permitted"), "{err}");
}

#[test]
fn a_bad_profile_is_refused_at_create() {
    let env = Env::new("sc-bad");
    for (p, field) in [
        (json!({"defaultAction": "SCMP_ACT_SOMETIMES"}), "linux.seccomp"),
        (profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])), "listenerPath"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}), "linux.seccomp"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_SOMETHING"]}), "linux.seccomp"),
    ] {
        let n = field.len() + p.to_string().len();
        let b = with_profile(&env, &format!("b{n}"), "true", p.clone());
        let id = env.id("c");
        let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
        assert_eq!(code, 8, "{p}: {err}");
        assert!(err.contains(field), "{p}: {err}");
        env.assert_gone(&id, None);
    }
}

#[test]
fn a_compiled_filter_is_cached_in_the_cache_dir() {
    let env = Env::new("sc-cache");
    let p = profile("SCMP_ACT_ALLOW", json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    let b = with_profile(&env, "b", "mkdir /dev/shm/d 2>/dev/null; echo mkdir=$?", p);
    let cached = || -> Vec<std::path::PathBuf> {
        let dir = env.cache.join("seccomp");
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
    };
    assert_eq!(env.run_ok(&env.id("first"), &b), "mkdir=1\n");
    let entries = cached();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let written = ino(&entries[0]);
    // The same profile again: loaded from the cache, not compiled and stored again.
    assert_eq!(env.run_ok(&env.id("second"), &b), "mkdir=1\n");
    assert_eq!(cached(), entries);
    assert_eq!(ino(&entries[0]), written, "rewritten: no cache hit");
    // A damaged entry is compiled again, and the container still filtered.
    std::fs::write(&entries[0], b"damaged").unwrap();
    assert_eq!(env.run_ok(&env.id("third"), &b), "mkdir=1\n");
    assert_ne!(std::fs::read(&entries[0]).unwrap(), b"damaged");
    assert_eq!(env.ok(&["list", "-q"]), "", "the cache is no container");
    // The state root is shared with other runtimes (Docker passes one
    // --root to all): nothing but containers goes there.
    let left: Vec<_> = std::fs::read_dir(&env.root).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left in the state root: {left:?}");
}
