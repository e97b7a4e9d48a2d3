//! OCI hooks: each kind runs at its point of the lifecycle, in the right
//! namespace, with the state on stdin, its args and env; a failing create
//! or start hook leaves nothing behind, a failing post hook only warns.

mod common;
use common::{Bundle, Env};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

/// A hook (run by /bin/sh: the host's, or the container's for
/// startContainer) that records, under `dir` as it sees it, its stdin, its
/// mount namespace, its environment and its place in the order of hooks.
fn hook(kind: &str, dir: &str, then: &str) -> Value {
    let script = format!(
        "cat > {dir}/{kind}.json; readlink /proc/self/ns/mnt > {dir}/{kind}.mnt; \
         echo \"$0 $WHO\" > {dir}/{kind}.env; echo {kind} >> {dir}/order; {then}"
    );
    // busybox (in the container) picks its applet by args[0].
    let arg0 = if dir == "/marks" { "sh".to_string() } else { format!("hook-{kind}") };
    json!({"path": "/bin/sh", "args": [arg0, "-c", script], "env": ["PATH=/usr/bin:/bin", format!("WHO={kind}")]})
}

/// A bundle whose hooks write to `marks` on the host (bound at /marks in
/// the container for startContainer).
fn bundle_with_hooks(env: &Env, name: &str, hooks: Value) -> (Bundle, PathBuf) {
    let marks = env.dir.join(format!("{name}-marks"));
    fs::create_dir_all(&marks).unwrap();
    let mut b = env.bundle(name, &["sleep", "100"]);
    b.mount(json!({"destination": "/marks", "type": "bind", "source": marks, "options": ["rbind", "rw"]}));
    b.config["hooks"] = hooks;
    b.save();
    (b, marks)
}

fn read(marks: &Path, file: &str) -> String {
    fs::read_to_string(marks.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn state_seen(marks: &Path, kind: &str) -> Value {
    serde_json::from_str(&read(marks, &format!("{kind}.json"))).unwrap()
}

#[test]
fn every_kind_runs_at_its_point_and_in_its_namespace() {
    let env = Env::new("hooks-all");
    let m = env.dir.join("all-marks");
    let host = m.to_str().unwrap();
    let hooks = json!({
        "prestart": [hook("prestart", host, "")],
        "createRuntime": [hook("createRuntime", host, "")],
        "createContainer": [hook("createContainer", host, "")],
        "startContainer": [hook("startContainer", "/marks", "")],
        "poststart": [hook("poststart", host, "")],
        "poststop": [hook("poststop", host, "")],
    });
    let (b, marks) = bundle_with_hooks(&env, "all", hooks);
    assert_eq!(marks, m);
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(read(&marks, "order"), "prestart\ncreateRuntime\ncreateContainer\n");
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    let init_mnt = fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    assert_ne!(host_mnt, init_mnt);
    // The environment is built: created, with the init's pid as each hook
    // sees it (the runtime's pid namespace, or the container's own).
    for (kind, seen_pid) in [("prestart", pid), ("createRuntime", pid), ("createContainer", 1)] {
        let s = state_seen(&marks, kind);
        assert_eq!(
            (s["status"].as_str(), s["pid"].as_i64(), s["id"].as_str()),
            (Some("created"), Some(seen_pid), Some(&*id)),
            "{kind}"
        );
        assert_eq!(s["bundle"].as_str(), Some(b.str()));
        assert_eq!(read(&marks, &format!("{kind}.env")), format!("hook-{kind} {kind}\n"), "args[0] and env");
    }
    // The runtime's hooks in the runtime's namespace; createContainer in the container's.
    assert_eq!(read(&marks, "prestart.mnt").trim(), host_mnt.to_str().unwrap());
    assert_eq!(read(&marks, "createRuntime.mnt").trim(), host_mnt.to_str().unwrap());
    assert_eq!(read(&marks, "createContainer.mnt").trim(), init_mnt.to_str().unwrap());

    env.ok(&["start", &id]);
    assert_eq!(read(&marks, "order"), "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n");
    // startContainer ran inside the container, from its rootfs (busybox).
    assert_eq!(read(&marks, "startContainer.mnt").trim(), init_mnt.to_str().unwrap());
    assert_eq!(state_seen(&marks, "startContainer")["status"], "created");
    assert_eq!(state_seen(&marks, "startContainer")["pid"], 1);
    assert_eq!(state_seen(&marks, "poststart")["status"], "running");
    assert_eq!(read(&marks, "poststart.mnt").trim(), host_mnt.to_str().unwrap());

    env.ok(&["delete", "--force", &id]);
    assert!(read(&marks, "order").ends_with("poststart\npoststop\n"));
    assert_eq!(state_seen(&marks, "poststop")["status"], "stopped");
    // The runtime-spec's state, as runc passes it: none of `tandem state`'s
    // extra fields (rootfs, created, owner), no pid once stopped.
    for kind in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
        let s = state_seen(&marks, kind);
        let mut keys: Vec<_> = s.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        let want: &[&str] = if kind == "poststop" {
            &["bundle", "id", "ociVersion", "status"]
        } else {
            &["bundle", "id", "ociVersion", "pid", "status"]
        };
        assert_eq!(keys, want, "{kind}");
    }
    env.assert_gone(&id, Some(pid as i32));
}

#[test]
fn run_goes_through_every_point_too() {
    let env = Env::new("hooks-run");
    let m = env.dir.join("run-marks");
    let host = m.to_str().unwrap();
    let hooks = json!({
        "createRuntime": [hook("createRuntime", host, "")],
        "startContainer": [hook("startContainer", "/marks", "")],
        "poststop": [hook("poststop", host, "")],
    });
    let (mut b, marks) = bundle_with_hooks(&env, "run", hooks);
    b.process("args", json!(["cat", "/marks/order"]));
    // The workload runs after startContainer: it sees both earlier marks.
    assert_eq!(env.run_ok(&env.id("c"), &b), "createRuntime\nstartContainer\n");
    assert_eq!(read(&marks, "order"), "createRuntime\nstartContainer\npoststop\n");
}

/// A create or start hook that fails: the operation fails with exit 11,
/// nothing of the container is left, and poststop still runs.
#[test]
fn a_failing_create_or_start_hook_destroys_the_container() {
    let env = Env::new("hooks-fail");
    for kind in ["prestart", "createRuntime", "createContainer", "startContainer"] {
        let m = env.dir.join(format!("{kind}-marks"));
        let dir = if kind == "startContainer" { "/marks" } else { m.to_str().unwrap() };
        let hooks = json!({
            kind: [hook(kind, dir, "echo broken by design >&2; exit 3")],
            "poststop": [hook("poststop", m.to_str().unwrap(), "")],
        });
        let (b, marks) = bundle_with_hooks(&env, kind, hooks);
        let id = env.id(&kind.to_lowercase());
        let (code, err) = if kind == "startContainer" {
            env.ok(&["create", "--bundle", b.str(), &id]);
            env.fails(&["start", &id])
        } else {
            env.fails(&["create", "--bundle", b.str(), &id])
        };
        assert_eq!(code, 11, "{kind}: {err}");
        assert!(err.contains(&format!("{kind} hook /bin/sh exited with status 3: broken by design")), "{kind}: {err}");
        env.assert_gone(&id, None);
        assert_eq!(read(&marks, "order"), format!("{kind}\npoststop\n"), "{kind}");
    }
}

#[test]
fn a_hook_past_its_timeout_is_killed() {
    let env = Env::new("hooks-timeout");
    let m = env.dir.join("t-marks");
    let mut slow = hook("createRuntime", m.to_str().unwrap(), "sleep 60; echo woke >> /dev/null");
    slow["timeout"] = json!(1);
    let (b, _) = bundle_with_hooks(&env, "t", json!({"createRuntime": [slow]}));
    let id = env.id("c");
    let started = std::time::Instant::now();
    let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("createRuntime hook /bin/sh: killed after its timeout of 1s"), "{err}");
    // Bounded, not a timing check: the hook's 60 s sleep was not waited for.
    assert!(started.elapsed().as_secs() < 50);
    env.assert_gone(&id, None);
}

/// runtime-spec 1.3: a failing poststart hook is an error that stops the
/// container and goes on at delete (poststop); a failing poststop hook is
/// a warning, and the remaining ones still run.
#[test]
fn a_failing_poststart_stops_the_container_and_poststop_only_warns() {
    let env = Env::new("hooks-post");
    let m = env.dir.join("p-marks");
    let dir = m.to_str().unwrap();
    let hooks = json!({
        "poststart": [hook("poststart", dir, "exit 4"), hook("poststart2", dir, "")],
        "poststop": [hook("poststop", dir, "exit 5"), hook("poststop2", dir, "")],
    });
    let (b, marks) = bundle_with_hooks(&env, "p", hooks);
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    let (code, err) = env.fails(&["start", &id]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("poststart hook /bin/sh exited with status 4"), "{err}");
    assert!(err.contains("warning: poststop hook /bin/sh exited with status 5"), "{err}");
    assert_eq!(read(&marks, "order"), "poststart\npoststop\npoststop2\n");
    env.assert_gone(&id, Some(pid));
}

#[test]
fn bad_hooks_are_refused_at_create() {
    let env = Env::new("hooks-bad");
    for (n, (h, field)) in [
        (json!({"createRuntime": [{"path": "relative/hook"}]}), "hooks.createRuntime[0].path"),
        (json!({"poststop": [{"path": "/bin/true", "timeout": 0}]}), "hooks.poststop[0].timeout"),
        (json!({"poststart": [{"path": "/bin/true", "env": ["NOEQUALS"]}]}), "hooks.poststart[0].env"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = env.bundle(&format!("b{n}"), &["true"]);
        b.config["hooks"] = h;
        b.save();
        let id = env.id(&format!("c{n}"));
        let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
        assert_eq!(code, 8, "{err}");
        assert!(err.contains(field), "{err}");
        env.assert_gone(&id, None);
    }
}

/// The hooks the runtime runs (prestart, createRuntime, poststart,
/// poststop) stay in the runtime's pid and time namespaces, also for a
/// container that joins another's pid namespace and has a time namespace
/// of its own; createContainer runs in the container's.
#[test]
fn runtime_hooks_stay_in_the_runtime_s_pid_and_time_namespaces() {
    let env = Env::new("hooks-ns");
    let a = env.bundle("a", &["sleep", "100"]);
    let aid = env.id("a");
    env.ok(&["run", "-d", "--bundle", a.str(), &aid]);
    let apid = env.state(&aid)["pid"].as_i64().unwrap();

    let marks = env.dir.join("ns-marks");
    fs::create_dir_all(&marks).unwrap();
    let m = marks.display();
    let record = |kind: &str| {
        let script =
            format!("readlink /proc/self/ns/pid > {m}/{kind}.pid; readlink /proc/self/ns/time > {m}/{kind}.time");
        json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
    };
    let kinds = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"];
    let mut b = env.bundle("b", &["true"]);
    let mut ns: Vec<Value> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
    ns.push(json!({"type": "pid", "path": format!("/proc/{apid}/ns/pid")}));
    ns.push(json!({"type": "time"}));
    b.linux("namespaces", json!(ns));
    b.config["hooks"] = Value::Object(kinds.iter().map(|k| (k.to_string(), json!([record(k)]))).collect());
    b.save();
    env.run_ok(&env.id("b"), &b);

    let own = |ns: &str| fs::read_link(format!("/proc/self/ns/{ns}")).unwrap().to_string_lossy().into_owned();
    let seen = |kind: &str, ns: &str| read(&marks, &format!("{kind}.{ns}")).trim().to_string();
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(seen(kind, "pid"), own("pid"), "{kind} ran in another pid namespace");
        assert_eq!(seen(kind, "time"), own("time"), "{kind} ran in another time namespace");
    }
    let a_pid_ns = fs::read_link(format!("/proc/{apid}/ns/pid")).unwrap().to_string_lossy().into_owned();
    assert_eq!(seen("createContainer", "pid"), a_pid_ns);
    assert_ne!(seen("createContainer", "time"), own("time"));
    env.ok(&["delete", "--force", &aid]);
}

/// createContainer hooks run with the container's root as their working
/// directory, as runc's do (`touch ./lib/x` reaches the rootfs); the
/// runtime's hooks keep the runtime's.
#[test]
fn create_container_hooks_run_in_the_container_s_root() {
    let env = Env::new("hooks-cwd");
    let marks = env.dir.join("cwd-marks");
    fs::create_dir_all(&marks).unwrap();
    let record =
        |kind: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("pwd > {}/{kind}", marks.display())]});
    let mut b = env.bundle("b", &["true"]);
    b.config["hooks"] = json!({"createContainer": [record("createContainer")], "prestart": [record("prestart")]});
    b.save();
    env.run_ok(&env.id("c"), &b);
    let rootfs = fs::canonicalize(b.rootfs()).unwrap();
    assert_eq!(read(&marks, "createContainer").trim(), rootfs.to_str().unwrap());
    assert_eq!(read(&marks, "prestart").trim(), std::env::current_dir().unwrap().to_str().unwrap());
}
