//! exec: a process started in a live container sees what its init sees
//! (hostname, pid namespace, cgroup, mounts, capabilities), gets the
//! identity the flags ask for, and its exit status comes back.

mod common;

use common::Env;
use serde_json::json;

fn running(env: &Env, name: &str) -> String {
    let mut b = env.bundle(name, &["sleep", "1000"]);
    std::fs::write(b.rootfs().join("marker"), "in the rootfs\n").unwrap();
    b.config["linux"]["resources"] = json!({"pids": {"limit": 40}});
    b.save();
    let id = env.id(name);
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    id
}

#[test]
fn an_execd_process_sees_the_container_and_its_status_comes_back() {
    let env = Env::new("exec-sees");
    let id = running(&env, "c");
    let script = "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -c . /proc/self/cgroup; \
                  cat /marker; grep CapBnd /proc/self/status; exit 7";
    let out = env.tandem(&["exec", &id, "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "tandem", "{text}");
    assert_eq!(lines[1].trim(), "sleep 1000", "the container's init is pid 1: {text}");
    // Its own cgroup namespace: every hierarchy reads "/".
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap().lines().count();
    assert_eq!(lines[2], cgroups.to_string(), "{text}");
    assert_eq!(lines[3], "in the rootfs", "the container's root, not the host's: {text}");
    // The default spec's bounding set: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
    assert_eq!(lines[4], "CapBnd:\t0000000020000420", "{text}");
    // It is in the container's cgroup while it runs.
    let out = env.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
    ]);
    assert_eq!(out, "40\n");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

#[test]
fn flags_set_user_env_cwd_and_capabilities() {
    let env = Env::new("exec-flags");
    let id = running(&env, "c");
    let out = env.ok(&[
        "exec",
        "-u",
        "1000:1001",
        "-g",
        "2000",
        "-e",
        "FOO=bar",
        "-e",
        "PATH=/bin",
        "--cwd",
        "/proc",
        "--cap",
        "CAP_NET_RAW",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $FOO $PATH; pwd; grep -E 'CapInh|CapBnd|CapAmb|NoNewPrivs' /proc/self/status",
    ]);
    // --cap reaches the bounding set (CAP_NET_RAW is bit 13), never the
    // inheritable or ambient ones (CVE-2022-29162).
    assert_eq!(
        out,
        "1000\n1001\n1001 2000\nbar /bin\n/proc\nCapInh:\t0000000000000000\nCapBnd:\t0000000020002420\n\
         CapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
    );
    // A process file instead of a command.
    let file = env.dir.join("process.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"args": ["sh", "-c", "echo from-file $X; id -u"], "cwd": "/", "env": ["X=1"], "user": {"uid": 5, "gid": 5}})).unwrap(),
    )
    .unwrap();
    assert_eq!(env.ok(&["exec", "--process", file.to_str().unwrap(), &id]), "from-file 1\n5\n");
    let (_, err) = env.fails(&["exec", "--cwd", "relative", &id, "true"]);
    assert!(err.contains("--cwd"), "{err}");
    let (_, err) = env.fails(&["exec", &id, "/no/such/program"]);
    assert!(err.contains("/no/such/program"), "{err}");
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn a_detached_exec_writes_its_pid_and_shows_in_ps() {
    let env = Env::new("exec-detach");
    let id = running(&env, "c");
    let pid_file = env.dir.join("exec.pid");
    env.ok(&["exec", "-d", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "999"]);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&pid), "{pid} not in {pids:?}");
    assert!(std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap().starts_with("sleep\0999"));
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, Some(pid));
}

#[test]
fn a_tty_goes_over_the_console_socket() {
    use std::os::unix::net::UnixListener;
    let env = Env::new("exec-tty");
    let id = running(&env, "c");
    let sock_path = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    env.ok(&["exec", "-t", "-d", "--console-socket", sock_path.to_str().unwrap(), &id, "sh", "-c", "tty; echo done"]);
    let (conn, _) = listener.accept().unwrap();
    let (master, _) = tandem_runtime_core::sys::recv_fd(&conn).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("done") {
        match tandem_runtime_core::sys::read(&master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let out = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(out.starts_with("/dev/pts/") && out.contains("done"), "{out:?}");
    env.ok(&["delete", "--force", &id]);
}

/// A program that is missing is 127, one that cannot be executed 126, as a
/// shell (and runc, through Docker) reports them, with the words Docker
/// reads ("executable file not found", "permission denied").
#[test]
fn an_exec_that_cannot_start_its_program_is_126_or_127() {
    let env = Env::new("exec-127");
    let id = running(&env, "c");
    let (code, err) = env.fails(&["exec", &id, "no-such-program"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, err) = env.fails(&["exec", &id, "/no/such/program"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
    let (code, err) = env.fails(&["exec", &id, "/marker"]);
    assert_eq!(code, 126, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    // A script whose interpreter is missing fails at its execve: 127 too.
    let script = env.dir.join("c/rootfs/script");
    std::fs::write(&script, "#!/no/shell\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = env.tandem(&["exec", &id, "/script"]);
    assert_eq!(out.status.code(), Some(127), "{}", String::from_utf8_lossy(&out.stderr));
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_into_a_stopped_or_paused_container_fails_cleanly() {
    let env = Env::new("exec-state");
    let id = running(&env, "c");
    env.ok(&["pause", &id]);
    let (code, err) = env.fails(&["exec", &id, "true"]);
    assert!(err.contains("paused") && code != 0, "{err}");
    // --ignore-paused starts it (frozen until resume).
    env.ok(&["exec", "-d", "--ignore-paused", &id, "sleep", "100"]);
    env.ok(&["resume", &id]);
    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    let (_, err) = env.fails(&["exec", &id, "true"]);
    // runc's words, which containerd's runc shim matches.
    assert!(err.contains("container not running") && err.contains("stopped"), "{err}");
    env.ok(&["delete", &id]);
    let (_, err) = env.fails(&["exec", &id, "true"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn exec_joins_the_user_namespace() {
    let env = Env::new("exec-userns");
    let mut b = env.bundle("b", &["sleep", "1000"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.linux("uidMappings", json!([{"containerID": 0, "hostID": 310000, "size": 65536}]));
    b.linux("gidMappings", json!([{"containerID": 0, "hostID": 310000, "size": 65536}]));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let out = env.ok(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '"]);
    assert_eq!(out, "0\n 0 310000 65536\n");
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_can_run_in_a_sub_cgroup_and_forwards_signals() {
    use std::process::{Command, Stdio};
    let env = Env::new("exec-sub");
    let id = running(&env, "c");
    // A sub-cgroup of the container's, made inside it in every hierarchy.
    let dirs = common::cgroup_dirs(&id);
    for d in &dirs {
        std::fs::create_dir(d.join("sub")).unwrap();
        if d.join("cpuset.cpus").exists() {
            std::fs::write(d.join("sub/cpuset.cpus"), std::fs::read(d.join("cpuset.cpus")).unwrap()).unwrap();
            std::fs::write(d.join("sub/cpuset.mems"), std::fs::read(d.join("cpuset.mems")).unwrap()).unwrap();
        }
    }
    let out = env.ok(&["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.lines().all(|l| l.ends_with(":/sub")), "{out}");
    let (_, err) = env.fails(&["exec", "--cgroup", "../escape", &id, "true"]);
    assert!(err.contains("--cgroup"), "{err}");
    let (_, err) = env.fails(&["exec", "--cgroup", "nosuch", &id, "true"]);
    assert!(err.contains("nosuch"), "{err}");

    // A foreground exec passes SIGTERM on and returns the process's status.
    let mut child = Command::new(common::tandem_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["exec", &id, "sh", "-c", "trap 'exit 42' TERM; echo up; while :; do sleep 0.05; done"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "up\n");
    tandem_runtime_core::sys::kill(child.id() as i32, libc::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(42));
    env.ok(&["delete", "--force", &id]);
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn exec_uses_the_config_the_container_was_created_with() {
    let env = Env::new("exec-config");
    let mut b = env.bundle("b", &["sleep", "100"]);
    b.process("env", json!(["PATH=/bin", "MARK=original"]));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    // The bundle changes after create: exec must not pick that up (runc
    // keeps the config it created the container with, too).
    b.process("env", json!(["PATH=/bin", "MARK=changed"]));
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    let out = env.ok(&["exec", &id, "sh", "-c", "echo $MARK; mkdir /dev/shm/d && echo made"]);
    assert_eq!(out, "original\nmade\n");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}

/// execCPUAffinity: an exec'd process runs on the CPUs its `final` names.
#[test]
fn an_execd_process_gets_its_cpu_affinity() {
    let env = Env::new("exec-affinity");
    let id = running(&env, "c");
    let process = env.dir.join("process.json");
    let p = json!({"args": ["sh", "-c", "taskset -p $$"], "cwd": "/", "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0}, "execCPUAffinity": {"initial": "0", "final": "1"}});
    std::fs::write(&process, p.to_string()).unwrap();
    let out = env.ok(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert!(out.trim_end().ends_with("current affinity mask: 2"), "{out}");
    env.ok(&["delete", "--force", &id]);
}

/// As with `create`: an exec'd process whose `--pid-file` cannot be
/// written is killed, not left running unaccounted for.
#[test]
fn an_exec_whose_pid_file_cannot_be_written_leaves_no_process() {
    let env = Env::new("exec-pidfile");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let before: serde_json::Value = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    let bad = env.dir.join("no-such-dir/exec.pid");
    let (code, err) = env.fails(&["exec", "-d", "--pid-file", bad.to_str().unwrap(), &id, "sleep", "1000"]);
    // runc's status for exec's own failures.
    assert!(code == 255 && err.contains("no-such-dir"), "{code}: {err}");
    let (code, _) = env.fails(&["exec", &env.id("no-such-container"), "true"]);
    assert_eq!(code, 255);
    let after: serde_json::Value = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(after, before, "the exec'd process is still there");
    env.ok(&["delete", "--force", &id]);
}
