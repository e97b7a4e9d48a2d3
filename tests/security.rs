//! Attacks on the runtime itself, each run for real against a guard:
//! what a local user or a planted file in the state root could do.

mod common;
use common::Env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// A private copy of the tandem binary for a test that attacks it: a
/// guard that fails overwrites this one, not the build's. Returns its bytes.
fn own_binary(env: &mut Env) -> Vec<u8> {
    let bin = env.dir.join("bin").join("tandem");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::copy(common::tandem_bin(), &bin).unwrap();
    env.bin = bin;
    fs::read(&env.bin).unwrap()
}

/// Wait (bounded) for a file the container writes in its rootfs.
fn wait_for(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(20));
    fs::read_to_string(path).unwrap()
}

/// The attacker's last step, once no tandem process runs any more: write
/// through the fd 3 it holds on a tandem process's `/proc/PID/exe`.
const WRITE_THROUGH_FD3: &str = "while [ ! -e /go ]; do usleep 20000; done; \
    if { echo -n pwned >> /proc/self/fd/3; } 2>/err; then echo written > /done; else echo refused > /done; fi";

/// CVE-2019-5736 through `tandem exec`: the container's `/bin/evil` is a
/// `#!/proc/self/exe` script, so the kernel runs tandem's own binary as
/// the exec'd process; the container's init finds it in /proc, holds its
/// exe open and writes through it once tandem has exited. `enosys` are
/// syscalls `tandem exec` runs without. Returns what the write said.
fn exec_attack(env: &mut Env, enosys: &[libc::c_long]) -> String {
    let original = own_binary(env);
    let scan = "while :; do for p in /proc/[0-9]*; do \
        case \"$(readlink $p/exe 2>/dev/null)\" in ''|/bin/busybox) continue;; esac; \
        if (exec 3<$p/exe) 2>/dev/null; then exec 3<$p/exe; echo $p > /found; break 2; fi; done; done";
    let mut b = env.bundle("b", &["sh", "-c", &format!("{scan}; {WRITE_THROUGH_FD3}")]);
    b.set("/root/readonly", serde_json::json!(false));
    fs::write(b.rootfs().join("bin/evil"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(b.rootfs().join("bin/evil"), fs::Permissions::from_mode(0o755)).unwrap();
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);

    // tandem's binary, run as /bin/evil's interpreter, fails on its
    // arguments and blocks writing that to a full pipe: it stays alive
    // until the attacker holds its exe.
    let (mut reader, writer) = std::io::pipe().unwrap();
    fill(&writer);
    let mut cmd = Command::new(&env.bin);
    cmd.arg("--root").arg(&env.root).args(["exec", &id, "/bin/evil"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(writer);
    common::syscall_filter::enosys(&mut cmd, enosys);
    let mut exec = cmd.spawn().unwrap();
    drop(cmd);
    wait_for(&b.rootfs().join("found"));
    std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
    exec.wait().unwrap();

    fs::write(b.rootfs().join("go"), "").unwrap();
    let done = wait_for(&b.rootfs().join("done"));
    let err = fs::read_to_string(b.rootfs().join("err")).unwrap_or_default();
    assert!(fs::read(&env.bin).unwrap() == original, "the host's tandem binary was overwritten ({done})");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
    format!("{} {}", done.trim(), err.trim())
}

/// Fill a pipe to the brim, so the next write to it blocks.
fn fill(w: &std::io::PipeWriter) {
    use std::os::fd::AsRawFd;
    let fd = w.as_raw_fd();
    // SAFETY: fcntl and write on an fd this test owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        let buf = [b'.'; 4096];
        while libc::write(fd, buf.as_ptr().cast(), buf.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
}

#[test]
fn a_container_cannot_overwrite_tandem_through_an_exec() {
    let mut env = Env::new("sec-5736-exec");
    let said = exec_attack(&mut env, &[]);
    assert!(said.contains("refused") && said.contains("Read-only file system"), "{said}");
}

/// Where no read-only bind of the binary can be made (no open_tree: an
/// old kernel, or a nested runtime's seccomp profile), the sealed copy in
/// memory is what the container reaches: writes to it fail, the host's
/// file is not it.
#[test]
fn without_open_tree_the_sealed_copy_guards_tandem() {
    let mut env = Env::new("sec-5736-memfd");
    let said = exec_attack(&mut env, &[libc::SYS_open_tree]);
    assert!(said.contains("refused") && said.contains("Operation not permitted"), "{said}");
}

/// CVE-2019-5736 through a waiting init: a container in the host's pid
/// namespace with CAP_SYS_PTRACE holds the exe of another container's
/// init (tandem's code until `start`), and writes once it is gone.
#[test]
fn a_container_cannot_overwrite_tandem_through_another_s_init() {
    let mut env = Env::new("sec-5736-init");
    let original = own_binary(&mut env);
    let victim = env.bundle("v", &["true"]);
    let said = init_attack(&env, &victim);
    assert!(fs::read(&env.bin).unwrap() == original, "the host's tandem binary was overwritten ({said})");
    assert!(said.contains("refused") && said.contains("Read-only file system"), "{said}");
}

/// A wasm container's process is the engine's helper, exec'd from a
/// sealed image of the host's file: a process in the container with every
/// capability cannot write it through /proc/1/exe, and no binary is copied
/// per container for that.
#[test]
fn a_container_cannot_overwrite_the_wasm_helper() {
    let mut env = Env::new("sec-5736-wasm");
    own_binary(&mut env);
    let built = Path::new(common::tandem_bin());
    let helper = env.bin.with_file_name("tandem-wasm-run");
    fs::copy(built.with_file_name("tandem-wasm-run"), &helper).unwrap();
    std::os::unix::fs::symlink(
        built.with_file_name("tandem-wasm-compile"),
        env.bin.with_file_name("tandem-wasm-compile"),
    )
    .unwrap();
    let original = fs::read(&helper).unwrap();
    let mut b = env.bundle("v", &["/app/m.wasm"]);
    fs::create_dir_all(b.rootfs().join("app")).unwrap();
    let spin = wat::parse_str("(module (func (export \"_start\") (loop (br 0))))").unwrap();
    fs::write(b.rootfs().join("app/m.wasm"), spin).unwrap();
    b.config["annotations"] = serde_json::json!({"run.oci.handler": "wasm"});
    // Every capability this host can give (some withhold one even from root).
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim().to_string();
    let mask = u64::from_str_radix(&bounding, 16).unwrap();
    let caps = tandem_runtime_core::capabilities::names(mask);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = serde_json::json!(caps);
    }
    b.save();
    let id = env.id("w");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    // A debug shell exec'd into it: a native process with every capability
    // (the kernel refuses a running binary's writers first).
    let out = env.tandem(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep ^CapEff /proc/self/status; \
        if echo -n pwned >> /proc/1/exe; then echo written; else echo refused; fi",
    ]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains(&format!("CapEff:\t{bounding}")), "not every capability ({bounding}): {said}");
    assert!(said.contains("refused"), "{said}");
    env.ok(&["delete", "--force", &id]);
    env.assert_gone(&id, None);
    // What it holds open once the module has ended is read-only: a container
    // in the host's pid namespace holds the helper's exe, the wasm
    // container goes, the write fails.
    let said = attack_on(&env, &b, "run -d");
    assert!(said.contains("refused") && said.contains("Read-only file system"), "{said}");
    assert!(fs::read(&helper).unwrap() == original, "the host's helper binary was overwritten ({said})");
}

/// Create `victim`; an attacker container (host pid namespace,
/// CAP_SYS_PTRACE) opens its init's exe; the victim is deleted; the
/// attacker writes. Returns what the write said.
fn init_attack(env: &Env, victim: &common::Bundle) -> String {
    attack_on(env, victim, "create")
}

/// [`init_attack`] on a victim made by `how` (`create`, or `run -d`: then
/// its pid 1 is its workload).
fn attack_on(env: &Env, victim: &common::Bundle, how: &str) -> String {
    let vid = env.id("victim");
    let mut args: Vec<&str> = how.split(' ').collect();
    args.extend(["--bundle", victim.str(), &vid]);
    env.ok(&args);
    let pid = env.state(&vid)["pid"].as_i64().unwrap();

    let script = format!("exec 3</proc/{pid}/exe && echo $$ > /found; {WRITE_THROUGH_FD3}");
    let mut b = env.bundle("b", &["sh", "-c", &script]);
    b.set("/root/readonly", serde_json::json!(false));
    let ns: Vec<_> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
    b.linux("namespaces", serde_json::json!(ns));
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_PTRACE".into());
    }
    b.save();
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    wait_for(&b.rootfs().join("found"));
    env.ok(&["delete", "--force", &vid]);
    env.assert_gone(&vid, Some(pid as i32));

    fs::write(b.rootfs().join("go"), "").unwrap();
    let done = wait_for(&b.rootfs().join("done"));
    let err = fs::read_to_string(b.rootfs().join("err")).unwrap_or_default();
    env.ok(&["delete", "--force", &id]);
    format!("{} {}", done.trim(), err.trim())
}

/// `tandem args` with `fd3` (a file or directory) open as its fd 3, the
/// way a shim passes an fd to preserve. Returns (success, stdout, stderr).
fn with_fd3(env: &Env, fd3: &Path, args: &[&str]) -> (bool, String, String) {
    let (out, err) = (env.dir.join("fd3.out"), env.dir.join("fd3.err"));
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 3<'{}'; exec '{}' --root '{}' {} >'{}' 2>'{}'",
            fd3.display(),
            env.bin.display(),
            env.root.display(),
            quoted.join(" "),
            out.display(),
            err.display()
        ))
        .stdin(Stdio::null())
        .status()
        .unwrap();
    (status.success(), fs::read_to_string(out).unwrap(), fs::read_to_string(err).unwrap())
}

/// `--preserve-fds N` hands fds 3 .. 3+N-1 to the workload. Where the
/// caller passed fewer, tandem's own fds (the host cgroup directory, the
/// state lock) took those numbers and reached the container: now nothing
/// starts, and nothing is left.
#[test]
fn preserve_fds_beyond_those_passed_are_refused() {
    let env = Env::new("sec-fds");
    let b = env.bundle("b", &["sleep", "1000"]);
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let (code, err) = env.fails(&["exec", "--preserve-fds", "20", &id, "sh", "-c", "ls -l /proc/self/fd"]);
    assert!(code != 0 && err.contains("--preserve-fds 20: fd 3 was not passed"), "{err}");
    // One passed, three asked for: the second is missing.
    let (ok, out, err) = with_fd3(&env, &env.dir, &["exec", "--preserve-fds", "3", &id, "ls", "/proc/self/fd"]);
    assert!(!ok && out.is_empty() && err.contains("fd 4 was not passed"), "{out} {err}");

    let other = env.id("other");
    let (code, err) = env.fails(&["create", "--preserve-fds", "3", "--bundle", b.str(), &other]);
    assert!(code != 0 && err.contains("fd 3 was not passed"), "{err}");
    env.assert_gone(&other, None);
    env.ok(&["delete", "--force", &id]);
}

/// CVE-2024-21626: a working directory reached through an fd that points
/// outside the container (`/proc/self/fd/3`, a host directory) is refused,
/// for the init and for an exec'd process, before the program runs.
#[test]
fn a_working_directory_outside_the_root_is_refused() {
    let env = Env::new("sec-cwd");
    fs::write(env.dir.join("host-secret"), "host\n").unwrap();
    let mut b = env.bundle("b", &["sh", "-c", "ls; cat host-secret"]);
    b.process("cwd", serde_json::json!("/proc/self/fd/3"));
    let id = env.id("c");
    let (ok, out, err) = with_fd3(&env, &env.dir, &["run", "--preserve-fds", "1", "--bundle", b.str(), &id]);
    assert!(!ok && !out.contains("host"), "the init ran in the host's directory: {out}");
    assert!(err.contains("outside the container's root"), "{err}");
    env.assert_gone(&id, None);

    b.process("cwd", serde_json::json!("/"));
    b.process("args", serde_json::json!(["sleep", "1000"]));
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let args = ["exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3", &id, "sh", "-c", "ls; cat host-secret"];
    let (ok, out, err) = with_fd3(&env, &env.dir, &args);
    assert!(!ok && !out.contains("host"), "the exec'd process ran in the host's directory: {out}");
    assert!(err.contains("outside the container's root"), "{err}");
    env.ok(&["delete", "--force", &id]);
}

/// A container whose sysctl `net.ipv4.ip_forward` is asked for, and a
/// mount or image symlink that would put a host file where tandem writes
/// it. Returns (create failed, stderr, the host file's content after).
fn sysctl_redirect(env: &Env, name: &str, setup: impl FnOnce(&mut common::Bundle, &Path)) -> (bool, String, String) {
    let host_file = env.dir.join(format!("{name}-host-file"));
    fs::write(&host_file, "untouched\n").unwrap();
    let mut b = env.bundle(name, &["true"]);
    b.linux("sysctl", serde_json::json!({"net.ipv4.ip_forward": "1"}));
    setup(&mut b, &host_file);
    let id = env.id(name);
    let out = env.tandem(&["run", "--bundle", b.str(), &id]);
    env.assert_gone(&id, None);
    (!out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), fs::read_to_string(host_file).unwrap())
}

/// CVE-2023-27561 / CVE-2025-52881: a bind into /proc, by path or through
/// the image's symlink, would have tandem's own sysctl write land in a
/// host file (with a host sysctl file as the source: a host setting).
#[test]
fn mounts_into_proc_are_refused() {
    let env = Env::new("sec-procdst");
    let bind = |dest: &str, src: &Path| serde_json::json!({"destination": dest, "type": "bind", "source": src, "options": ["bind"]});
    let (failed, err, host) = sysctl_redirect(&env, "direct", |b, src| {
        b.mount(bind("/proc/sys/net/ipv4/ip_forward", src));
    });
    assert!(failed && err.contains("inside /proc"), "{err}");
    assert_eq!(host, "untouched\n");
    let (failed, err, host) = sysctl_redirect(&env, "symlink", |b, src| {
        std::os::unix::fs::symlink("/proc/sys/net/ipv4/ip_forward", b.rootfs().join("etc/forward")).unwrap();
        b.mount(bind("/etc/forward", src));
    });
    assert!(failed && err.contains("inside /proc"), "{err}");
    assert_eq!(host, "untouched\n");
    // A volume over /proc itself, after the proc mount.
    let (failed, err, _) = sysctl_redirect(&env, "over", |b, _| {
        let fake = env.dir.join("fake-proc");
        fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
        b.mount(bind("/proc", &fake));
    });
    assert!(failed && err.contains("only a procfs may be mounted on /proc"), "{err}");
    // The files lxcfs covers stay allowed.
    let mut b = env.bundle("lxcfs", &["cat", "/proc/uptime"]);
    b.mount(bind("/proc/uptime", &env.dir.join("direct-host-file")));
    assert_eq!(env.run_ok(&env.id("lxcfs"), &b), "untouched\n");
}

/// CVE-2019-19921: `/proc` in the image is a symlink, so proc would be
/// mounted elsewhere and /proc be whatever the image made: refused; and a
/// sysctl is never written into a /proc that is not procfs.
#[test]
fn proc_is_mounted_only_on_a_real_directory_and_written_only_as_procfs() {
    let env = Env::new("sec-procdir");
    let (failed, err, _) = sysctl_redirect(&env, "link", |b, _| {
        let rootfs = b.rootfs();
        fs::remove_dir(rootfs.join("proc")).unwrap();
        fs::create_dir_all(rootfs.join("fake/sys/net/ipv4")).unwrap();
        std::os::unix::fs::symlink("/fake", rootfs.join("proc")).unwrap();
    });
    assert!(failed && err.contains("proc must be mounted on a directory"), "{err}");
    // No proc mount at all: /proc is the image's directory.
    let (failed, err, _) = sysctl_redirect(&env, "noproc", |b, _| {
        let mounts: Vec<_> =
            b.config["mounts"].as_array().unwrap().iter().filter(|m| m["type"] != "proc").cloned().collect();
        b.config["mounts"] = serde_json::json!(mounts);
        b.save();
        fs::create_dir_all(b.rootfs().join("proc/sys/net/ipv4")).unwrap();
        fs::write(b.rootfs().join("proc/sys/net/ipv4/ip_forward"), "0\n").unwrap();
    });
    assert!(failed && err.contains("not the root of a procfs mount"), "{err}");
}

/// The bundle's spec without the tmpfs on /dev: the image's own /dev is
/// what the container gets, planted files and all.
fn image_dev(b: &mut common::Bundle) {
    let mounts: Vec<_> =
        b.config["mounts"].as_array().unwrap().iter().filter(|m| m["destination"] != "/dev").cloned().collect();
    b.config["mounts"] = serde_json::json!(mounts);
    b.save();
    fs::create_dir_all(b.rootfs().join("dev")).unwrap();
}

/// `linux.devices` paths are judged once cleaned (`/dev/../etc/passwd` is
/// not under /dev), and a file the image has at a device's path is left
/// as it is, never removed or written through.
#[test]
fn device_paths_stay_in_dev_and_never_replace_a_file() {
    let env = Env::new("sec-devpath");
    let mut b = env.bundle("b", &["cat", "/dev/mine"]);
    let device = |path: &str| serde_json::json!([{"path": path, "type": "c", "major": 1, "minor": 3}]);
    b.linux("devices", device("/dev/../etc/passwd"));
    let passwd = fs::read(b.rootfs().join("etc/passwd")).unwrap();
    let (code, err) = env.fails(&["run", "--bundle", b.str(), &env.id("c1")]);
    assert!(code != 0 && err.contains("linux.devices[0].path") && err.contains("under /dev"), "{err}");
    assert_eq!(fs::read(b.rootfs().join("etc/passwd")).unwrap(), passwd);

    image_dev(&mut b);
    fs::write(b.rootfs().join("dev/mine"), "the image's file\n").unwrap();
    b.linux("devices", device("/dev/mine"));
    assert_eq!(env.run_ok(&env.id("c2"), &b), "the image's file\n");
}

/// CVE-2025-31133: an image whose /dev/null is a symlink would have
/// masking bind the link's target over the masked paths; a masked entry
/// that is a symlink to a directory gets an empty read-only tmpfs.
#[test]
fn masked_paths_use_the_real_null_device() {
    let env = Env::new("sec-mask");
    let mut b = env.bundle("b", &["true"]);
    image_dev(&mut b);
    fs::write(b.rootfs().join("etc/secret"), "exposed\n").unwrap();
    std::os::unix::fs::symlink("/etc/secret", b.rootfs().join("dev/null")).unwrap();
    let (code, err) = env.fails(&["run", "--bundle", b.str(), &env.id("c1")]);
    assert!(code != 0 && err.contains("/dev/null") && err.contains("not the null device"), "{err}");

    let mut b = env.bundle("b2", &["sh", "-c", "ls -A /etc/dir | wc -l; touch /etc/dir/x 2>&1 | grep -c Read-only"]);
    fs::create_dir_all(b.rootfs().join("etc/dir")).unwrap();
    fs::write(b.rootfs().join("etc/dir/file"), "hidden\n").unwrap();
    std::os::unix::fs::symlink("/etc/dir", b.rootfs().join("etc/link")).unwrap();
    b.linux("maskedPaths", serde_json::json!(["/etc/link"]));
    assert_eq!(env.run_ok(&env.id("c2"), &b), "0\n1\n");
}

/// CVE-2025-52565: the console is the pty, bound at /dev/console from its
/// fd; an image's /dev/console symlink is refused, its target untouched.
#[test]
fn the_console_is_the_pty_and_never_a_symlink_s_target() {
    use std::os::unix::net::UnixListener;
    let env = Env::new("sec-console");
    let console_of = |b: &common::Bundle, id: &str| -> (bool, String) {
        let sock = env.dir.join(format!("{id}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        let out = env.tandem(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.str(), id]);
        if !out.status.success() {
            return (false, String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let (conn, _) = listener.accept().unwrap();
        let (master, _) = tandem_runtime_core::sys::recv_fd(&conn).unwrap();
        env.ok(&["start", id]);
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = tandem_runtime_core::sys::read(&master, &mut buf) {
            text.extend_from_slice(&buf[..n]);
        }
        env.ok(&["delete", "--force", id]);
        (true, String::from_utf8_lossy(&text).into_owned())
    };
    let mut b = env.bundle("b", &["sh", "-c", "stat -c '%t %T' /dev/console; tty; echo via > /dev/console"]);
    b.process("terminal", serde_json::json!(true));
    let (ok, text) = console_of(&b, &env.id("c1"));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    // Major 136 (0x88): a Unix98 pty slave, the one stdin is.
    assert!(ok && lines[0].starts_with("88 ") && lines[1].starts_with("/dev/pts/") && lines[2] == "via", "{text}");

    image_dev(&mut b);
    fs::write(b.rootfs().join("etc/target"), "image file\n").unwrap();
    std::os::unix::fs::symlink("/etc/target", b.rootfs().join("dev/console")).unwrap();
    let (ok, err) = console_of(&b, &env.id("c2"));
    assert!(!ok && err.contains("/dev/console"), "{err}");
    assert_eq!(fs::read_to_string(b.rootfs().join("etc/target")).unwrap(), "image file\n");
}

/// runc's issue 3674: the container's user must never be given the host's
/// files tandem's stdio point at (here /dev/null and a log file).
#[test]
fn the_host_s_stdio_files_keep_their_owner() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new("sec-stdio");
    let mut b = env.bundle("b", &["sleep", "1000"]);
    b.process("user", serde_json::json!({"uid": 1000, "gid": 1000}));
    let id = env.id("c");
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let log = env.dir.join("stdio.log");
    let status = Command::new(&env.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["exec", "--user", "1000:1000", &id, "sh", "-c", "echo hi; echo err >&2"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for f in [Path::new("/dev/null"), &log] {
        let md = fs::metadata(f).unwrap();
        assert_eq!((md.uid(), md.gid()), (0, 0), "{} changed owner", f.display());
    }
    assert_eq!(fs::read_to_string(&log).unwrap(), "hi\n");
    env.ok(&["delete", "--force", &id]);
}

/// A cgroup made outside tandem in every hierarchy, optionally holding a
/// host process; removed (and the process killed) when dropped.
struct HostCgroup {
    path: String,
    dirs: Vec<std::path::PathBuf>,
    process: Option<std::process::Child>,
}

impl HostCgroup {
    fn new(name: &str, with_process: bool) -> HostCgroup {
        let dirs: Vec<_> = fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("cgroup.procs").exists())
            .map(|p| p.join(name))
            .collect();
        let mut cg = HostCgroup { path: format!("/{name}"), dirs, process: None };
        for d in &cg.dirs {
            fs::create_dir_all(d).unwrap();
            // A new v1 cpuset cgroup has no cpus or mems until given some.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = fs::read_to_string(d.parent().unwrap().join(f)) {
                    fs::write(d.join(f), v.trim()).unwrap();
                }
            }
        }
        if with_process {
            let child = Command::new("sleep").arg("1000").stdin(Stdio::null()).stdout(Stdio::null()).spawn().unwrap();
            let pid = child.id().to_string();
            cg.process = Some(child);
            for d in &cg.dirs {
                fs::write(d.join("cgroup.procs"), &pid).unwrap();
            }
        }
        cg
    }

    fn process_alive(&mut self) -> bool {
        self.process.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }
}

impl Drop for HostCgroup {
    fn drop(&mut self) {
        if let Some(mut c) = self.process.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &self.dirs {
            for _ in 0..100 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A cgroupsPath naming a populated cgroup tandem did not make (think
/// `/system.slice`) is refused, so `delete --force` can never SIGKILL its
/// processes nor remove it; an existing empty one is used and left there.
#[test]
fn a_cgroup_tandem_did_not_make_is_never_killed_or_removed() {
    let env = Env::new("sec-cgroup");
    let mut busy = HostCgroup::new(&format!("tandem-test-busy-{}", env.tag), true);
    let mut b = env.bundle("b", &["sleep", "1000"]);
    b.linux("cgroupsPath", serde_json::json!(busy.path));
    let id = env.id("c");
    let (code, err) = env.fails(&["create", "--bundle", b.str(), &id]);
    assert!(code != 0 && err.contains("container's cgroup is not empty: 1 process(es) found"), "{err}");
    let _ = env.tandem(&["delete", "--force", &id]);
    assert!(busy.process_alive(), "the host's process in the cgroup was killed");
    assert!(busy.dirs.iter().all(|d| d.exists()), "the host's cgroup was removed");

    let empty = HostCgroup::new(&format!("tandem-test-empty-{}", env.tag), false);
    b.linux("cgroupsPath", serde_json::json!(empty.path));
    env.ok(&["run", "-d", "--bundle", b.str(), &id]);
    let procs = fs::read_to_string(empty.dirs[0].join("cgroup.procs")).unwrap();
    assert_eq!(procs.lines().count(), 1, "the container is in the cgroup it was given");
    env.ok(&["delete", "--force", &id]);
    assert!(empty.dirs.iter().all(|d| d.exists()), "delete removed a cgroup tandem did not make");
}

/// With `--no-pivot` the host's own /proc stays in the container's mount
/// namespace, above its chroot, and lets a process that makes a user
/// namespace mount a fresh, unmasked procfs: it must fail as after
/// pivot_root.
#[test]
fn no_pivot_leaves_no_bare_procfs_to_mount_from() {
    let env = Env::new("sec-nopivot");
    let script = "unshare -mrpf sh -c 'mount -t proc none /proc && echo mounted'; echo done";
    let mut b = env.bundle("b", &["sh", "-c", script]);
    // Docker's default capabilities: enough for `unshare -r` to write its maps.
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = serde_json::json!(caps);
    }
    b.save();
    for (n, pivot) in [(1, &[][..]), (2, &["--no-pivot"][..])] {
        let id = env.id(&format!("c{n}"));
        let args: Vec<&str> =
            ["run"].into_iter().chain(pivot.iter().copied()).chain(["--bundle", b.str(), &id]).collect();
        let out = env.ok(&args);
        assert_eq!(out, "done\n", "{pivot:?}: a fresh procfs was mounted");
    }
}
