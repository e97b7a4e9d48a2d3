//! Small typed messages between the runtime and the container's init (or
//! an exec'd process), over one SOCK_SEQPACKET socketpair (each message is
//! one packet; a seccomp notification fd travels with its packet), and what
//! the init tells `start` on the start reply fifo ([`StartReply`]).

use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::sys;

#[derive(Debug)]
pub enum Msg {
    /// parent -> init: the id maps (if any) are written: go on.
    Proceed,
    /// parent -> exec'd process: it is in every hierarchy of the cgroup.
    CgroupJoined,
    /// init -> parent: namespaces and mounts are made, pivot_root is next:
    /// run the prestart and createRuntime hooks.
    HookPoint,
    /// parent -> init: they ran.
    HooksRan,
    /// init -> parent: the seccomp filter is loaded; its notification fd,
    /// for the listener.
    SeccompFd(OwnedFd),
    /// init -> parent: set up and blocked before the workload.
    Ready,
    /// init -> parent: setup failed with this message; `status` is the
    /// exit status of the error's kind ([`Error::exit_code`]).
    Failed { status: i32, why: String },
    /// init -> parent: a hook it ran failed (the container is destroyed
    /// and poststop hooks run).
    HookFailed(String),
    /// launcher -> parent: the init is cloned (the parent's child) with
    /// this pid; `moved` says it is still to be moved into its cgroup2
    /// directory.
    Launched { pid: i32, moved: bool },
}

impl Msg {
    /// How the init reports `e`.
    pub fn failure(e: Error) -> Msg {
        match e {
            Error::Hook(why) => Msg::HookFailed(why),
            // The runtime says "container init:" itself.
            Error::Init { why, status } => Msg::Failed { status, why },
            e => Msg::Failed { status: e.exit_code(), why: e.to_string() },
        }
    }
}

const PROCEED: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;
const CGROUP_JOINED: u8 = 4;
const HOOK_POINT: u8 = 5;
const HOOKS_RAN: u8 = 6;
const SECCOMP_FD: u8 = 7;
const HOOK_FAILED: u8 = 8;
const LAUNCHED: u8 = 9;

pub fn send(sock: &OwnedFd, msg: &Msg) -> Result<()> {
    let fail = |e| Error::sys("send to container init", e);
    // One packet: the tag, then (for Failed) the status byte, then text.
    let (head, text): (&[u8], &str) = match msg {
        Msg::Proceed => (&[PROCEED], ""),
        Msg::Ready => (&[READY], ""),
        Msg::CgroupJoined => (&[CGROUP_JOINED], ""),
        Msg::HookPoint => (&[HOOK_POINT], ""),
        Msg::HooksRan => (&[HOOKS_RAN], ""),
        Msg::Failed { status, why } => (&[FAILED, *status as u8], why.as_str()),
        Msg::HookFailed(s) => (&[HOOK_FAILED], s.as_str()),
        Msg::Launched { pid, moved } => {
            let mut buf = vec![LAUNCHED, u8::from(*moved)];
            buf.extend_from_slice(&pid.to_le_bytes());
            sys::write(sock, &buf).map_err(fail)?;
            return Ok(());
        }
        Msg::SeccompFd(fd) => return sys::send_fd(sock, fd.as_raw_fd(), &[SECCOMP_FD]).map_err(fail),
    };
    let mut buf = Vec::with_capacity(head.len() + text.len());
    buf.extend_from_slice(head);
    buf.extend_from_slice(text.as_bytes());
    sys::write(sock, &buf).map_err(fail)?;
    Ok(())
}

/// The runtime's side of a container process's setup, one for the init
/// and an exec'd process: tell it to go on, then wait until it is ready.
/// Its seccomp listener fd goes to `seccomp`, its hook point to
/// `hook_point` (only the init has one), a failure comes back with its
/// kind, an exit during setup with its status.
pub fn proceed_until_ready(
    sock: &OwnedFd,
    pid: i32,
    what: &str,
    mut seccomp: impl FnMut(OwnedFd) -> Result<()>,
    mut hook_point: impl FnMut() -> Result<()>,
) -> Result<()> {
    // It may have failed and left already (this then fails with EPIPE):
    // its own message says why.
    if let Err(e) = send(sock, &Msg::Proceed) {
        return Err(pending_failure(sock).unwrap_or(e));
    }
    loop {
        match recv(sock)? {
            Some(Msg::Ready) => return Ok(()),
            Some(Msg::HookPoint) => hook_point()?,
            Some(Msg::SeccompFd(fd)) => seccomp(fd)?,
            Some(Msg::HookFailed(why)) => return Err(Error::Hook(why)),
            Some(Msg::Failed { status, why }) => return Err(Error::Init { why, status }),
            Some(other) => return Err(Error::init(format!("unexpected message {other:?} from the {what}"))),
            None => {
                let (_, status) = sys::waitpid(pid, 0).unwrap_or((0, 0));
                let code = sys::exit_code_of(status);
                return Err(Error::init(format!("{what} exited during setup with status {code}")));
            }
        }
    }
}

/// A failure the other side already reported, if one is waiting.
pub fn pending_failure(sock: &OwnedFd) -> Option<Error> {
    let ready = sys::poll(&[(sock.as_raw_fd(), libc::POLLIN)], 0).ok()?;
    if ready[0] & libc::POLLIN == 0 {
        return None;
    }
    match recv(sock) {
        Ok(Some(Msg::Failed { status, why })) => Some(Error::Init { why, status }),
        Ok(Some(Msg::HookFailed(why))) => Some(Error::Hook(why)),
        _ => None,
    }
}

/// Receive one message; `None` when the other side closed.
pub fn recv(sock: &OwnedFd) -> Result<Option<Msg>> {
    // Room for a state JSON with generous annotations.
    let mut buf = vec![0u8; 1 << 18];
    let (n, fd) = sys::recv_with_fd(sock, &mut buf).map_err(|e| Error::sys("receive from container init", e))?;
    if n == 0 {
        return Ok(None);
    }
    let text = || String::from_utf8_lossy(&buf[1..n]).into_owned();
    Ok(Some(match (buf[0], fd) {
        (PROCEED, _) => Msg::Proceed,
        (READY, _) => Msg::Ready,
        (CGROUP_JOINED, _) => Msg::CgroupJoined,
        (HOOK_POINT, _) => Msg::HookPoint,
        (HOOKS_RAN, _) => Msg::HooksRan,
        (SECCOMP_FD, Some(fd)) => Msg::SeccompFd(fd),
        (FAILED, _) if n >= 2 => {
            Msg::Failed { status: i32::from(buf[1]), why: String::from_utf8_lossy(&buf[2..n]).into_owned() }
        }
        (HOOK_FAILED, _) => Msg::HookFailed(text()),
        (LAUNCHED, _) if n == 6 => {
            Msg::Launched { pid: i32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]]), moved: buf[1] == 1 }
        }
        (tag, _) => Msg::Failed { status: 1, why: format!("unknown message {tag} from the other side") },
    }))
}

/// What the init tells `start` on the start reply fifo: nothing (end of
/// file when the workload's execve closed it) when the workload started.
#[derive(Debug, PartialEq)]
pub enum StartReply {
    HookFailed(String),
    /// The workload could not start: the error and its exit status.
    NotStarted {
        status: i32,
        why: String,
    },
}

impl StartReply {
    pub fn encode(&self) -> Vec<u8> {
        let (head, text): (&[u8], &str) = match self {
            StartReply::HookFailed(why) => (b"H", why),
            StartReply::NotStarted { status, why } => (&[b'X', *status as u8], why),
        };
        [head, text.as_bytes()].concat()
    }

    pub fn decode(bytes: &[u8]) -> Option<StartReply> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match bytes {
            [b'H', rest @ ..] => Some(StartReply::HookFailed(text(rest))),
            [b'X', status, rest @ ..] => Some(StartReply::NotStarted { status: i32::from(*status), why: text(rest) }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (a, b) = sys::socketpair().unwrap();
        for m in [
            Msg::Proceed,
            Msg::CgroupJoined,
            Msg::HookPoint,
            Msg::HooksRan,
            Msg::Ready,
            Msg::Failed { status: 127, why: "no such file".into() },
            Msg::HookFailed("createContainer hook /bin/false exited with status 1".into()),
        ] {
            send(&a, &m).unwrap();
            assert_eq!(format!("{:?}", recv(&b).unwrap().unwrap()), format!("{m:?}"));
        }
        let (r, _w) = sys::socketpair().unwrap();
        send(&a, &Msg::SeccompFd(r)).unwrap();
        assert!(matches!(recv(&b).unwrap(), Some(Msg::SeccompFd(_))));
        drop(a);
        assert!(recv(&b).unwrap().is_none());
    }

    #[test]
    fn start_replies_round_trip() {
        for r in [
            StartReply::HookFailed("startContainer hook /bin/false exited with status 1".into()),
            StartReply::NotStarted { status: 127, why: "exec: \"/x\": no such file or directory".into() },
        ] {
            assert_eq!(StartReply::decode(&r.encode()), Some(r));
        }
        assert_eq!(StartReply::decode(b""), None, "end of file: started");
    }
}
