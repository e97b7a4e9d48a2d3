//! OCI hooks: programs run at fixed points of the lifecycle with the
//! container's state JSON on their stdin.
//!
//! Where each kind runs: `prestart` and `createRuntime` by the runtime,
//! once the init's namespaces and mounts exist and before pivot_root (the
//! init waits for them); `createContainer` by the init at that same point,
//! so in the container's namespaces but with the host's paths; and
//! `startContainer` by the init after `start`, inside the container, just
//! before the workload. `poststart` runs in the runtime after `start`,
//! `poststop` in the runtime after `delete` has destroyed the container.
//!
//! A hook fails if it cannot start, exits non-zero, or outlives its
//! `timeout` (then it is killed). The caller decides what a failure means:
//! the create and start kinds fail their operation, the post kinds warn.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime as oci;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{procfs, sys};

/// What a failing hook's output adds to its error, at most.
const OUTPUT_KEPT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

/// The hooks of a container, by kind (`Vec`s, empty when not given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prestart: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub create_runtime: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub create_container: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_container: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }
}

/// Validate `hooks`: absolute paths, positive timeouts.
#[allow(deprecated)] // prestart is deprecated in the spec, and still honoured
pub fn from_spec(h: &oci::Hooks) -> Result<Hooks> {
    let list = |kind: Kind, v: &Option<Vec<oci::Hook>>| -> Result<Vec<Hook>> {
        v.iter()
            .flatten()
            .enumerate()
            .map(|(i, h)| {
                let field = format!("hooks.{}[{i}]", kind.name());
                if !h.path().is_absolute() {
                    return Err(Error::config(
                        format!("{field}.path"),
                        format!("{} is not absolute", h.path().display()),
                    ));
                }
                let timeout = match h.timeout() {
                    None => None,
                    Some(t) if t > 0 && t <= u32::MAX as i64 => Some(t as u32),
                    Some(t) => {
                        return Err(Error::config(
                            format!("{field}.timeout"),
                            format!("{t} is not a positive number of seconds"),
                        ));
                    }
                };
                for e in h.env().iter().flatten() {
                    if !e.contains('=') {
                        return Err(Error::config(format!("{field}.env"), format!("'{e}' is not NAME=value")));
                    }
                }
                Ok(Hook {
                    path: h.path().clone(),
                    args: h.args().clone().unwrap_or_default(),
                    env: h.env().clone().unwrap_or_default(),
                    timeout,
                })
            })
            .collect()
    };
    Ok(Hooks {
        prestart: list(Kind::Prestart, h.prestart())?,
        create_runtime: list(Kind::CreateRuntime, h.create_runtime())?,
        create_container: list(Kind::CreateContainer, h.create_container())?,
        start_container: list(Kind::StartContainer, h.start_container())?,
        poststart: list(Kind::Poststart, h.poststart())?,
        poststop: list(Kind::Poststop, h.poststop())?,
    })
}

impl Hooks {
    pub fn of(&self, kind: Kind) -> &[Hook] {
        match kind {
            Kind::Prestart => &self.prestart,
            Kind::CreateRuntime => &self.create_runtime,
            Kind::CreateContainer => &self.create_container,
            Kind::StartContainer => &self.start_container,
            Kind::Poststart => &self.poststart,
            Kind::Poststop => &self.poststop,
        }
    }

    /// Whether the init must stop before pivot_root for hooks (and learn
    /// its state for the ones it runs itself).
    pub fn need_hook_point(&self) -> bool {
        [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer, Kind::StartContainer]
            .iter()
            .any(|&k| !self.of(k).is_empty())
    }

    /// Run the hooks of `kind` in order; the first failure stops them.
    pub fn run(&self, kind: Kind, state: &oci::State) -> Result<()> {
        self.run_recorded(kind, state, None)
    }

    /// [`Hooks::run`], each hook in a process group of its own recorded
    /// at `group` while it runs (see [`Group`]).
    pub fn run_recorded(&self, kind: Kind, state: &oci::State, group: Option<&Path>) -> Result<()> {
        if self.of(kind).is_empty() {
            return Ok(());
        }
        let input = serde_json::to_string(state).expect("a state serialises");
        self.of(kind).iter().try_for_each(|h| run_one(h, kind, input.as_bytes(), group))
    }

    /// Run every hook of `kind`; failures are warnings (poststart, poststop).
    /// The state is only made when there is a hook to read it: start and
    /// delete pay nothing for hooks a container does not have.
    pub fn run_warning(&self, kind: Kind, state: impl FnOnce() -> oci::State) {
        if self.of(kind).is_empty() {
            return;
        }
        let input = serde_json::to_string(&state()).expect("a state serialises");
        for h in self.of(kind) {
            if let Err(e) = run_one(h, kind, input.as_bytes(), None) {
                crate::log::warn(&e.to_string());
            }
        }
    }
}

/// A create's runtime hook runs in a process group of its own, recorded
/// in the container's state directory until it ends: if tandem is killed
/// meanwhile, `delete --force` kills the group, the hook and whatever it
/// started. (A hook that ended leaves what it started alone.)
pub struct Group;

impl Group {
    fn record(path: &Path, pgid: i32) -> Result<()> {
        let start = procfs::start_time(pgid).unwrap_or(0);
        crate::state::write_atomic(path, format!("{pgid} {start}").as_bytes())
    }

    /// Kill the group recorded at `path`, if any of it is still there.
    pub fn kill_recorded(path: &Path) {
        let Ok(text) = std::fs::read_to_string(path) else { return };
        let mut f = text.split_whitespace().map(|n| n.parse::<u64>().ok());
        let (Some(Some(pgid)), Some(Some(start))) = (f.next(), f.next()) else { return };
        // Only while a process of that group, started with or after its
        // leader, is alive: the number is then still that group's.
        let pgid = pgid as i32;
        if procfs::group_members(pgid).iter().any(|&(_, t)| t >= start) {
            let _ = sys::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Run one hook with `input` on its stdin; its stdout and stderr are kept
/// for the error if it fails. With `group`, it leads a process group
/// recorded there while it runs.
fn run_one(hook: &Hook, kind: Kind, input: &[u8], group: Option<&Path>) -> Result<()> {
    let what = format!("{} hook {}", kind.name(), hook.path.display());
    let mut cmd = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in &hook.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if group.is_some() {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| Error::Hook(format!("{what}: start: {e}")))?;
    if let Some(path) = group
        && let Err(e) = Group::record(path, child.id() as i32)
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let outcome = wait_for_hook(hook, &what, child, input);
    if let Some(path) = group {
        let _ = std::fs::remove_file(path);
    }
    outcome
}

fn wait_for_hook(hook: &Hook, what: &str, mut child: std::process::Child, input: &[u8]) -> Result<()> {
    let pidfd = sys::pidfd_open(child.id() as i32).map_err(|e| Error::Hook(format!("{what}: pidfd_open: {e}")));
    let pidfd = match pidfd {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let stdin = child.stdin.take().map(OwnedFd::from);
    let mut out = Output::new(child.stdout.take().map(OwnedFd::from), child.stderr.take().map(OwnedFd::from));
    let deadline = hook.timeout.map(|t| Instant::now() + Duration::from_secs(t.into()));
    let exited = feed_and_wait(&pidfd, stdin, input, &mut out, deadline)
        .map_err(|e| Error::Hook(format!("{what}: wait: {e}")))?;
    if !exited {
        let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
        let _ = child.wait();
        let t = hook.timeout.unwrap_or_default();
        return Err(Error::Hook(format!("{what}: killed after its timeout of {t}s{}", out.describe())));
    }
    let status = child.wait().map_err(|e| Error::Hook(format!("{what}: wait: {e}")))?;
    out.drain();
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".to_string(),
    };
    Err(Error::Hook(format!("{what} {how}{}", out.describe())))
}

/// Write `input` to the hook's stdin and collect its output until it
/// exits; false if `deadline` passed first. Output pipes are only read
/// when ready: a hook's own children may hold them open after it exits.
fn feed_and_wait(
    pidfd: &OwnedFd,
    mut stdin: Option<OwnedFd>,
    input: &[u8],
    out: &mut Output,
    deadline: Option<Instant>,
) -> std::io::Result<bool> {
    let mut written = 0;
    if input.is_empty() {
        stdin = None;
    }
    loop {
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                left.as_millis().min(i32::MAX as u128) as i32
            }
        };
        let mut fds = vec![(pidfd.as_raw_fd(), libc::POLLIN)];
        fds.extend(out.pipes.iter().flatten().map(|p| (p.as_raw_fd(), libc::POLLIN)));
        if let Some(s) = &stdin {
            fds.push((s.as_raw_fd(), libc::POLLOUT));
        }
        let ready = sys::poll(&fds, timeout)?;
        if ready[0] != 0 {
            return Ok(true);
        }
        out.read_ready(&ready[1..]);
        if let Some(s) = &stdin
            && ready.last().is_some_and(|r| r & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0)
        {
            // POLLOUT promises room for PIPE_BUF bytes: never blocks.
            let end = (written + libc::PIPE_BUF).min(input.len());
            match sys::write(s, &input[written..end]) {
                Ok(n) => written += n,
                // The hook closed its stdin without reading it all: its business.
                Err(_) => written = input.len(),
            }
            if written == input.len() {
                stdin = None;
            }
        }
    }
}

/// A hook's stdout and stderr, kept up to OUTPUT_KEPT bytes.
struct Output {
    pipes: [Option<OwnedFd>; 2],
    text: Vec<u8>,
}

impl Output {
    fn new(stdout: Option<OwnedFd>, stderr: Option<OwnedFd>) -> Output {
        Output { pipes: [stdout, stderr], text: Vec::new() }
    }

    /// Read from the pipes `revents` says are ready (in `pipes` order,
    /// skipping closed ones); a pipe at its end is closed.
    fn read_ready(&mut self, revents: &[i16]) {
        let mut r = revents.iter();
        for slot in self.pipes.iter_mut() {
            let Some(p) = slot else { continue };
            let Some(&ev) = r.next() else { return };
            if ev == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match sys::read(p, &mut buf) {
                Ok(n) if n > 0 => {
                    let room = OUTPUT_KEPT.saturating_sub(self.text.len());
                    self.text.extend_from_slice(&buf[..n.min(room)]);
                }
                _ => *slot = None,
            }
        }
    }

    /// After exit: whatever is already written, without waiting for more.
    fn drain(&mut self) {
        for _ in 0..64 {
            let fds: Vec<_> = self.pipes.iter().flatten().map(|p| (p.as_raw_fd(), libc::POLLIN)).collect();
            if fds.is_empty() {
                return;
            }
            match sys::poll(&fds, 0) {
                Ok(ready) if ready.iter().any(|&r| r != 0) => self.read_ready(&ready),
                _ => return,
            }
        }
    }

    fn describe(&self) -> String {
        let s = String::from_utf8_lossy(&self.text);
        let s = s.trim();
        if s.is_empty() { String::new() } else { format!(": {s}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout: Option<u32>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["GREETING=hi".into()],
            timeout,
        }
    }

    #[test]
    fn state_on_stdin_env_and_args() {
        let dir = std::env::temp_dir().join(format!("tandem-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(&format!("echo \"$GREETING $0\" > {0}; cat >> {0}", out.display()), Some(5));
        run_one(&h, Kind::CreateRuntime, br#"{"id":"x"}"#, None).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hi sh\n{\"id\":\"x\"}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failures_say_why() {
        let e = run_one(&hook("echo broken >&2; exit 3", None), Kind::Poststop, b"{}", None).unwrap_err().to_string();
        assert!(e.contains("poststop hook /bin/sh exited with status 3: broken"), "{e}");
        let e = run_one(&hook("sleep 30", Some(1)), Kind::StartContainer, b"{}", None).unwrap_err().to_string();
        assert!(e.contains("killed after its timeout of 1s"), "{e}");
        let missing = Hook { path: "/no/such/hook".into(), args: vec![], env: vec![], timeout: None };
        let e = run_one(&missing, Kind::Prestart, b"{}", None).unwrap_err().to_string();
        assert!(e.contains("prestart hook /no/such/hook: start"), "{e}");
    }

    #[test]
    fn a_hook_that_ignores_its_stdin_still_succeeds() {
        let big = vec![b'x'; 1 << 20];
        run_one(&hook("exit 0", Some(5)), Kind::Poststart, &big, None).unwrap();
    }
}
