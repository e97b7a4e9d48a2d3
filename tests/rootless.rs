//! Rootless containers: tandem run by an unprivileged user the test makes
//! (useradd, with the subordinate id range useradd gives it), every
//! command through `setpriv` as that user with a clean environment. This
//! host's cgroups are root's (a v1 hybrid): the containers run without a
//! cgroup, and a config that sets limits is refused in one line.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use common::Env;
use serde_json::{Value, json};

/// A user made for one test, removed (with its processes) after it.
struct User {
    name: String,
    uid: u32,
    /// The first of its subordinate uids and gids (/etc/subuid, /etc/subgid).
    sub_uid: u32,
    sub_gid: u32,
}

/// useradd and userdel lock /etc/passwd: one at a time in this binary.
static USERS: Mutex<()> = Mutex::new(());

impl User {
    fn new(env: &Env) -> User {
        let name = format!("tdm-{}", env.tag.rsplit('-').take(2).collect::<Vec<_>>().join("-"));
        let _one = USERS.lock().unwrap_or_else(|p| p.into_inner());
        let _ = Command::new("userdel").arg(&name).stderr(Stdio::null()).status();
        let made = Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", &name]).status().unwrap();
        assert!(made.success(), "useradd {name}");
        let uid = Command::new("id").args(["-u", &name]).output().unwrap();
        let uid = String::from_utf8_lossy(&uid.stdout).trim().parse().unwrap();
        let sub = |file: &str| -> u32 {
            let text = fs::read_to_string(file).unwrap();
            let line = text.lines().find(|l| l.split(':').next() == Some(name.as_str()));
            line.and_then(|l| l.split(':').nth(1)?.parse().ok()).unwrap_or_else(|| panic!("no {name} in {file}"))
        };
        let (sub_uid, sub_gid) = (sub("/etc/subuid"), sub("/etc/subgid"));
        // Its files: the test's directory, as a user's home would be.
        chown(&env.dir, &name);
        User { name, uid, sub_uid, sub_gid }
    }

    /// `tandem args` as this user: no --root (the default for a rootless
    /// user, under $XDG_RUNTIME_DIR), its own cache dir, nothing of the
    /// test's environment.
    fn tandem(&self, env: &Env, args: &[&str]) -> Output {
        self.run(env, &env.bin, args, &[])
    }

    /// `program args` as this user with a clean environment (plus `vars`).
    /// Output through files: a created container holds its stdio until it
    /// exits.
    fn run(&self, env: &Env, program: &Path, args: &[&str], vars: &[String]) -> Output {
        let xdg = env.dir.join("xdg");
        let (out_path, err_path) = (env.dir.join("user-stdout"), env.dir.join("user-stderr"));
        let status = Command::new("setpriv")
            .args(["--reuid", &self.name, "--regid", &self.name, "--init-groups", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
            .arg(format!("XDG_CACHE_HOME={}", env.dir.join("user-cache").display()))
            .arg("HOME=/nonexistent")
            .args(vars)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        Output { status, stdout: fs::read(&out_path).unwrap(), stderr: fs::read(&err_path).unwrap() }
    }

    fn ok(&self, env: &Env, args: &[&str]) -> String {
        let out = self.tandem(env, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "tandem {args:?} as {}: {err}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Fails with one line of stderr, returned.
    fn fails(&self, env: &Env, args: &[&str]) -> String {
        let out = self.tandem(env, args);
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert!(!out.status.success(), "tandem {args:?} as {} succeeded", self.name);
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    }

    /// Its state root.
    fn root(&self, env: &Env) -> PathBuf {
        env.dir.join("xdg/tandem")
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-KILL", "-u", &self.name]).status();
        let _one = USERS.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..50 {
            match Command::new("userdel").arg(&self.name).stderr(Stdio::null()).status() {
                Ok(s) if s.success() => return,
                // Its killed processes may not be reaped yet.
                _ => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }
}

fn chown(path: &Path, user: &str) {
    let status = Command::new("chown").args(["-R", &format!("{user}:")]).arg(path).status().unwrap();
    assert!(status.success(), "chown {}", path.display());
}

/// A busybox bundle with `tandem spec --rootless` (written by the user)
/// running `args`.
fn rootless_bundle(env: &Env, user: &User, args: &[&str]) -> PathBuf {
    let bundle = env.dir.join("b");
    let rootfs = env.rootfs("b/rootfs");
    chown(&rootfs, &user.name);
    chown(&bundle, &user.name);
    user.ok(env, &["spec", "--rootless", "--bundle", bundle.to_str().unwrap()]);
    edit(&bundle, |c| {
        c["process"]["args"] = json!(args);
        c["process"]["terminal"] = json!(false);
    });
    bundle
}

fn edit(bundle: &Path, f: impl FnOnce(&mut Value)) {
    let path = bundle.join("config.json");
    let mut c: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    f(&mut c);
    fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
}

/// Nothing of container `id` is left: no state, no live process of the
/// user (an init reparented to this test process may wait as a zombie).
fn assert_gone(env: &Env, user: &User, id: &str) {
    assert!(!user.root(env).join(id).exists(), "state of {id} left behind");
    let live: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
        .filter(|st| {
            let field = |k: &str| st.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap_or("");
            field("Uid:").split_whitespace().next() == Some(user.uid.to_string().as_str())
                && !field("State:").starts_with('Z')
        })
        .map(|st| st.lines().next().unwrap_or("").to_string())
        .collect();
    assert!(live.is_empty(), "processes of {} left: {live:?}", user.name);
}

#[test]
fn a_user_runs_a_rootless_container() {
    let env = Env::new("rl-run");
    let user = User::new(&env);
    let script = "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; ls /dev/null /dev/zero; \
                  echo x > /dev/null && echo null-writable; grep -c ' /sys ' /proc/mounts; hostname";
    let b = rootless_bundle(&env, &user, &["sh", "-c", script]);
    let id = env.id("c");
    let out = user.ok(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "{out}");
    // Its own uid and gid as 0 (what `spec --rootless` writes).
    let own = user.uid.to_string();
    assert_eq!(lines[1], ["0", own.as_str(), "1"], "{out}");
    assert!(out.contains("/dev/null\n/dev/zero\nnull-writable\n1\n"), "{out}");
    // State under $XDG_RUNTIME_DIR/tandem, and nothing left of the container.
    assert!(user.root(&env).is_dir());
    assert_gone(&env, &user, &id);
}

#[test]
fn every_verb_works_rootless_and_cgroup_ones_say_why_not() {
    let env = Env::new("rl-verbs");
    let user = User::new(&env);
    let b = rootless_bundle(&env, &user, &["sleep", "1000"]);
    let id = env.id("c");
    user.ok(&env, &["create", "--bundle", b.to_str().unwrap(), &id]);
    let state: Value = serde_json::from_str(&user.ok(&env, &["state", &id])).unwrap();
    assert_eq!(state["status"], "created");
    user.ok(&env, &["start", &id]);
    let list = user.ok(&env, &["list"]);
    assert!(list.contains(&id) && list.contains(&user.name), "{list}");
    // exec joins its user namespace first, as an unprivileged caller must.
    let out = user.ok(&env, &["exec", &id, "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"]);
    assert_eq!(out, "0\nsleep 1000 ");
    let ps = user.ok(&env, &["ps", &id]);
    assert!(ps.contains("sleep 1000"), "{ps}");
    for verb in [&["pause", &id][..], &["update", "--memory", "100000000", &id], &["events", "--stats", &id]] {
        let err = user.fails(&env, verb);
        assert!(err.contains("no cgroup"), "{verb:?}: {err}");
    }
    // Checkpoint needs root (CRIU does); the container runs on.
    let err = user.fails(&env, &["checkpoint", "--image-path", env.dir.join("img").to_str().unwrap(), &id]);
    assert!(err.contains("needs root") && err.contains("CAP_CHECKPOINT_RESTORE"), "{err}");
    assert!(user.ok(&env, &["state", &id]).contains("\"running\""));
    user.ok(&env, &["kill", &id, "KILL"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !user.ok(&env, &["state", &id]).contains("\"stopped\"") {
        assert!(std::time::Instant::now() < deadline, "{id} did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    user.ok(&env, &["delete", &id]);
    assert_gone(&env, &user, &id);
}

#[test]
fn subordinate_ids_map_through_newuidmap_and_others_are_refused() {
    let env = Env::new("rl-subid");
    let user = User::new(&env);
    let b = rootless_bundle(&env, &user, &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
    let maps = |first_sub: u32| {
        json!([
            {"containerID": 0, "hostID": user.uid, "size": 1},
            {"containerID": 1, "hostID": first_sub, "size": 65536}
        ])
    };
    edit(&b, |c| {
        c["linux"]["uidMappings"] = maps(user.sub_uid);
        c["linux"]["gidMappings"] = maps(user.sub_gid);
    });
    let id = env.id("c");
    let out = user.ok(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert_eq!(rows[1], ["1", user.sub_uid.to_string().as_str(), "65536"], "{out}");
    assert_gone(&env, &user, &id);

    // Ids outside its range: newuidmap refuses, and so does tandem.
    edit(&b, |c| c["linux"]["uidMappings"] = maps(user.sub_uid + 65536 * 100));
    let err = user.fails(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("newuidmap") && err.contains("/etc/subuid"), "{err}");
    assert_gone(&env, &user, &id);
}

#[test]
fn limits_without_a_cgroup_are_refused_in_one_line() {
    let env = Env::new("rl-limits");
    let user = User::new(&env);
    let b = rootless_bundle(&env, &user, &["true"]);
    edit(&b, |c| c["linux"]["resources"]["memory"] = json!({"limit": 100_000_000}));
    let id = env.id("c");
    let err = user.fails(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("resources.memory") && err.contains("cgroup"), "{err}");
    assert_gone(&env, &user, &id);
    // The systemd driver the same: a user's manager gets no v1 controller
    // (the cgroup v2 systemd VM runs one, tests/systemd/checks.sh).
    let err = user.fails(&env, &["--systemd-cgroup", "run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("resources.memory") && err.contains("no cgroup v1 controller to a user"), "{err}");
    assert_gone(&env, &user, &id);
    edit(&b, |c| c["linux"]["resources"] = json!({}));
    user.ok(&env, &["--systemd-cgroup", "run", "--bundle", b.to_str().unwrap(), &id]);
    assert_gone(&env, &user, &id);
}

/// What the user could not do, its container cannot either: join a
/// namespace of root's, bind a root process's files, write a root-owned
/// host file bound into it.
#[test]
fn a_rootless_container_cannot_reach_what_its_user_cannot() {
    let env = Env::new("rl-reach");
    let user = User::new(&env);
    let b = rootless_bundle(&env, &user, &["true"]);
    let id = env.id("c");
    let base: Value = serde_json::from_slice(&fs::read(b.join("config.json")).unwrap()).unwrap();
    let reset = || fs::write(b.join("config.json"), serde_json::to_vec(&base).unwrap()).unwrap();

    // root's network namespace, by path.
    edit(&b, |c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network", "path": "/proc/1/ns/net"}))
    });
    let err = user.fails(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("/proc/1/ns/net"), "{err}");
    assert_gone(&env, &user, &id);

    // A root process's root as a volume.
    reset();
    let mount = json!({"destination": "/host", "type": "bind", "source": "/proc/1/root/etc", "options": ["rbind"]});
    edit(&b, |c| c["mounts"].as_array_mut().unwrap().push(mount));
    let err = user.fails(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(err.contains("/proc/1/root/etc"), "{err}");
    assert_gone(&env, &user, &id);

    // A root-owned file bound in: root in the container is the user outside.
    reset();
    let host_file = env.dir.join("root-owned");
    fs::write(&host_file, "root's\n").unwrap();
    let mount = json!({"destination": "/etc/victim", "type": "bind", "source": host_file, "options": ["bind"]});
    edit(&b, |c| {
        c["mounts"].as_array_mut().unwrap().push(mount);
        c["process"]["args"] = json!(["sh", "-c", "echo owned > /etc/victim; echo status=$?"]);
    });
    let out = user.tandem(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("status=1") || !out.status.success(), "{said}");
    assert_eq!(fs::read_to_string(&host_file).unwrap(), "root's\n", "the container wrote a root-owned host file");
    assert_gone(&env, &user, &id);
}

#[test]
fn a_wasm_container_runs_rootless() {
    let env = Env::new("rl-wasm");
    let user = User::new(&env);
    let b = rootless_bundle(&env, &user, &["/app/demo.wasm", "args", "x"]);
    fs::create_dir_all(b.join("rootfs/app")).unwrap();
    fs::copy(common::demo_wasm(), b.join("rootfs/app/demo.wasm")).unwrap();
    chown(&b.join("rootfs/app"), &user.name);
    edit(&b, |c| c["annotations"] = json!({"run.oci.handler": "wasm"}));
    let id = env.id("c");
    let out = user.ok(&env, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out, "argv[0]=/app/demo.wasm\nargv[1]=args\nargv[2]=x\n");
    // Compiled into the user's own cache.
    let cache = env.dir.join("user-cache/tandem/wasm");
    assert!(fs::read_dir(&cache).is_ok_and(|d| d.count() > 0), "nothing in {}", cache.display());
    assert_gone(&env, &user, &id);
}

/// Rootless Podman with tandem as its runtime: Podman makes the user
/// namespace (its own uid as 0, the subordinate range after it) and runs
/// tandem inside it, as root there: tandem is rootless by detection, binds
/// device nodes, and execs through its launcher (it could not return to
/// its own pid namespace).
#[test]
fn rootless_podman_runs_and_execs_with_tandem() {
    let env = Env::new("rl-podman");
    let user = User::new(&env);
    let rootfs = env.rootfs("image");
    let tar = env.dir.join("image.tar");
    assert!(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    let pm = env.dir.join("pm");
    fs::create_dir_all(pm.join("home")).unwrap();
    let conf = format!(
        "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         events_logfile_path = \"{events}\"\n[engine.runtimes]\ntandem = [\"{tandem}\"]\n",
        events = pm.join("events.log").display(),
        tandem = env.bin.display(),
    );
    fs::write(pm.join("containers.conf"), conf).unwrap();
    chown(&env.dir, &user.name);
    let vars = [
        format!("CONTAINERS_CONF={}", pm.join("containers.conf").display()),
        format!("HOME={}", pm.join("home").display()),
    ];
    let storage = [
        "--root",
        &pm.join("root").display().to_string(),
        "--runroot",
        &pm.join("run").display().to_string(),
        "--storage-driver",
        "vfs",
        "--runtime",
        "tandem",
    ]
    .map(String::from);
    let podman = |args: &[&str]| -> String {
        let mut all: Vec<&str> = storage.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        let out = user.run(&env, Path::new("/usr/bin/podman"), &all, &vars);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "podman {args:?} as {}: {err}", user.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    podman(&["import", tar.to_str().unwrap(), "localhost/tandem-rootless"]);
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        "localhost/tandem-rootless",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; ls /dev/null",
    ]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["0"], "{out}");
    assert_eq!(rows[1], ["0", user.uid.to_string().as_str(), "1"], "{out}");
    assert_eq!(rows[2], ["1", user.sub_uid.to_string().as_str(), "65536"], "{out}");
    assert_eq!(rows[3], ["/dev/null"], "{out}");
    let name = env.id("p");
    podman(&["run", "-d", "--name", &name, "--network", "none", "localhost/tandem-rootless", "sleep", "1000"]);
    assert_eq!(podman(&["exec", &name, "sh", "-c", "id -u; cat /proc/1/cmdline"]), "0\nsleep\u{0}1000\u{0}");
    podman(&["rm", "-f", "-t", "0", &name]);
    assert_eq!(podman(&["ps", "-aq"]), "");
    podman(&["rmi", "-af"]);
}
