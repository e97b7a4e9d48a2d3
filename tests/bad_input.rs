//! Bad input: one clear line naming the problem, a non-zero exit, and
//! nothing left behind (no state, no process, no mount).

mod common;
use common::Env;
use serde_json::json;
use std::fs;

/// `create` must fail with one stderr line containing every `needle`, and
/// leave nothing behind.
fn create_fails(env: &Env, bundle: &str, id: &str, needles: &[&str]) -> i32 {
    let (code, err) = env.fails(&["create", "--bundle", bundle, id]);
    assert_eq!(err.lines().count(), 1, "want one line, got: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
    assert_nothing_left(env, id);
    code
}

fn assert_nothing_left(env: &Env, id: &str) {
    if !id.is_empty() && !id.contains('/') {
        env.assert_gone(id, None);
    }
    let listed = env.tandem(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "", "a container is left in the state root");
    // No init survived: every init's command line names its id.
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = fs::read(entry.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd);
        let zombie = fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
        assert!(zombie || !cmd.contains(&env.tag), "process {} left: {cmd}", entry.file_name().to_string_lossy());
    }
}

#[test]
fn malformed_and_missing_config() {
    let env = Env::new("badcfg");
    let b = env.bundle("b", &["true"]);
    fs::write(b.path.join("config.json"), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    let code = create_fails(&env, b.str(), &env.id("c"), &["invalid config", "config.json"]);
    assert_eq!(code, 8, "config errors have their own exit status");

    fs::remove_file(b.path.join("config.json")).unwrap();
    create_fails(&env, b.str(), &env.id("c"), &["config.json", "No such file"]);

    let mut b = env.bundle("b2", &["true"]);
    b.set("/linux/namespaces/0/type", json!("pidd"));
    create_fails(&env, b.str(), &env.id("c"), &["linux.namespaces[0].type", "pidd"]);
}

#[test]
fn unknown_oci_major_version() {
    let env = Env::new("badver");
    let mut b = env.bundle("b", &["true"]);
    b.set("/ociVersion", json!("2.0.0"));
    create_fails(&env, b.str(), &env.id("c"), &["ociVersion", "2.0.0"]);
}

#[test]
fn missing_rootfs() {
    let env = Env::new("norootfs");
    let mut b = env.bundle("b", &["true"]);
    b.set("/root/path", json!("no-such-rootfs"));
    create_fails(&env, b.str(), &env.id("c"), &["root.path", "no-such-rootfs"]);
}

#[test]
fn relative_or_missing_cwd() {
    let env = Env::new("badcwd");
    let mut b = env.bundle("b", &["true"]);
    b.process("cwd", json!("relative/dir"));
    create_fails(&env, b.str(), &env.id("c"), &["process.cwd", "not an absolute path"]);
    b.process("cwd", json!("/no/such/dir"));
    create_fails(&env, b.str(), &env.id("c"), &["process.cwd", "/no/such/dir", "No such file"]);
}

#[test]
fn missing_executable() {
    let env = Env::new("noexe");
    let b = env.bundle("b", &["no-such-program"]);
    let code = create_fails(&env, b.str(), &env.id("c"), &["no-such-program", "executable file not found"]);
    assert_eq!(code, 127, "a missing program is 127, as in a shell");
    let b = env.bundle("b2", &["/etc/passwd"]);
    let code = create_fails(&env, b.str(), &env.id("c"), &["/etc/passwd", "permission denied"]);
    assert_eq!(code, 126, "a program that cannot be executed is 126");
}

#[test]
fn duplicate_id() {
    let env = Env::new("dupid");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert_eq!(code, 2);
    // The first container is untouched.
    assert_eq!(env.status(&id), "created");
    env.ok(&["delete", &id]);
    assert_nothing_left(&env, &id);
}

#[test]
fn invalid_ids() {
    let env = Env::new("badid");
    let b = env.bundle("b", &["true"]);
    for id in ["../x", "", "a/b", "_lead", "a b"] {
        let (code, err) = env.fails(&["create", "--bundle", b.str(), id]);
        assert!(err.contains("invalid container id"), "{id:?}: {err}");
        assert_eq!(code, 3);
        assert_eq!(err.lines().count(), 1);
    }
    assert!(!env.dir.join("x").exists() && !env.root.join("a").exists());
    assert_nothing_left(&env, "");
}

#[test]
fn verbs_on_a_container_in_the_wrong_state() {
    let env = Env::new("wrongstate");
    let (_, err) = env.fails(&["start", &env.id("nope")]);
    assert!(err.contains("does not exist"), "{err}");
    let (_, err) = env.fails(&["state", &env.id("nope")]);
    assert!(err.contains("does not exist"), "{err}");

    let b = env.bundle("b", &["true"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    env.wait_status(&id, "stopped");
    let (_, err) = env.fails(&["start", &id]);
    assert!(err.contains("cannot be started") && err.contains("stopped"), "{err}");
    let (_, err) = env.fails(&["kill", &id]);
    assert!(err.contains("not running"), "{err}");
    let (_, err) = env.fails(&["kill", &id, "NOSIG"]);
    assert!(err.contains("unknown signal"), "{err}");
    env.ok(&["delete", &id]);
    assert_nothing_left(&env, &id);
}

#[test]
fn a_failing_mount_undoes_everything() {
    let env = Env::new("badmount");
    let mut b = env.bundle("b", &["true"]);
    b.mount(json!({"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["bind"]}));
    create_fails(&env, b.str(), &env.id("c"), &["/data", "/no/such/source"]);
}

#[test]
fn lsm_labels_this_host_cannot_enforce_are_refused() {
    let env = Env::new("lsm");
    let id = env.id("c");
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y");
    let mut b = env.bundle("b", &["true"]);
    b.process("apparmorProfile", serde_json::json!("tandem-test-no-such-profile"));
    let (_, err) = env.fails(&["run", "--bundle", b.str(), &id]);
    if apparmor {
        assert!(err.contains("tandem-test-no-such-profile"), "{err}");
    } else {
        assert!(err.contains("process.apparmorProfile") && err.contains("AppArmor is not enabled"), "{err}");
    }
    env.assert_gone(&id, None);

    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let mut b = env.bundle("b2", &["true"]);
    b.process("selinuxLabel", serde_json::json!("system_u:system_r:container_t:s0"));
    if !selinux {
        let (_, err) = env.fails(&["run", "--bundle", b.str(), &id]);
        assert!(err.contains("process.selinuxLabel") && err.contains("SELinux is not enabled"), "{err}");
        env.assert_gone(&id, None);
    }

    // exec checks its process the same way.
    let b = env.bundle("b3", &["sleep", "100"]);
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let file = env.dir.join("p.json");
    std::fs::write(
        &file,
        r#"{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0},"apparmorProfile":"tandem-test-no-such-profile"}"#,
    )
    .unwrap();
    let (_, err) = env.fails(&["exec", "--process", file.to_str().unwrap(), &id]);
    assert!(err.contains("apparmor") || err.contains("AppArmor"), "{err}");
    env.ok(&["delete", "--force", &id]);
}

/// Input echoed in an error is one line: an id's control characters are
/// escaped (no forged log lines, no terminal escapes), and a huge value
/// (a 1 MB hostname) is cut, its error still the init's own words.
#[test]
fn echoed_input_is_escaped_and_cut() {
    let env = Env::new("badecho");
    let b = env.bundle("b", &["true"]);
    let (code, err) = env.fails(&["create", "--bundle", b.str(), "a\nforged line\u{1b}[31m"]);
    assert_eq!(code, 3);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("a\\nforged line\\u{1b}[31m"), "{err}");

    let mut b = env.bundle("b2", &["true"]);
    b.set("/hostname", json!("h".repeat(1 << 20)));
    let id = env.id("c");
    let (code, err) = env.fails(&["run", "--bundle", b.str(), &id]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("set hostname") && err.contains("more bytes") && err.len() < 8192, "{}", &err[..200]);
    assert_nothing_left(&env, &id);
}

/// An error inside the init keeps its kind across the process boundary:
/// a console that cannot be made in the container (no devpts there) is
/// the console error's status, not a bare 1.
#[test]
fn an_error_inside_the_init_keeps_its_kind() {
    use std::os::unix::net::UnixListener;
    let env = Env::new("badkind");
    let mut b = env.bundle("b", &["true"]);
    b.process("terminal", json!(true));
    let mounts: Vec<_> =
        b.config["mounts"].as_array().unwrap().iter().filter(|m| m["type"] != "devpts").cloned().collect();
    b.config["mounts"] = json!(mounts);
    b.save();
    let sock = env.dir.join("console.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let id = env.id("c");
    let (code, err) = env.fails(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.str(), &id]);
    assert_eq!(code, 9, "{err}");
    assert!(err.lines().count() == 1 && err.contains("console"), "{err}");
    assert_nothing_left(&env, &id);
}
