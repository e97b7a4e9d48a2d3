//! Attacks on the runtime itself, each run for real against a guard:
//! what a local user or a planted file in the state root could do.

mod common;
use common::Env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

/// config.json keeps `process.env`, secrets included: no other user may
/// read a container's state (directory 0700, files 0600).
#[test]
fn another_user_cannot_read_a_container_s_state() {
    let env = Env::new("sec-perm");
    let mut b = env.bundle("b", &["sleep", "1000"]);
    b.process("env", serde_json::json!(["PATH=/bin", "TOKEN=secret"]));
    let id = env.id("c");
    env.ok(&["create", "--bundle", b.str(), &id]);
    let dir = env.root.join(&id);
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for f in ["config.json", "state.json", "cgroup.json"] {
        assert_eq!(fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    // The test dir above the state root must be passable for the check.
    fs::set_permissions(&env.dir, fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("cat").arg(dir.join("config.json")).uid(65534).gid(65534).output().unwrap();
    assert!(!out.status.success(), "nobody read the config: {}", String::from_utf8_lossy(&out.stdout));
    env.ok(&["delete", "--force", &id]);
}

/// A planted symlink or a forged state in the state root must not make
/// tandem act on another container (or any pid): `delete --force` of
/// either is refused and the real container keeps running.
#[test]
fn a_planted_symlink_or_forged_state_is_not_a_container() {
    let env = Env::new("sec-forge");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("real");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let link = env.id("link");
    std::os::unix::fs::symlink(env.root.join(&id), env.root.join(&link)).unwrap();
    let forged = env.id("forged");
    fs::create_dir(env.root.join(&forged)).unwrap();
    fs::copy(env.root.join(&id).join("state.json"), env.root.join(&forged).join("state.json")).unwrap();
    for fake in [&link, &forged] {
        let (code, err) = env.fails(&["delete", "--force", fake]);
        assert!(code != 0 && err.contains(fake.as_str()), "{fake}: {err}");
        assert_eq!(env.status(&id), "running", "deleting {fake} reached the real container");
    }
    fs::remove_file(env.root.join(&link)).unwrap();
    fs::remove_dir_all(env.root.join(&forged)).unwrap();
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
}
