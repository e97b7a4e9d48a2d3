//! Small typed messages between the runtime and the container's init, over
//! one SOCK_SEQPACKET socketpair (each message is one packet).

use std::os::fd::OwnedFd;

use crate::error::{Error, Result};
use crate::sys;

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent -> init: the id maps (if any) are written: go on.
    Proceed,
    /// parent -> init: the init is in every hierarchy of its cgroup.
    CgroupJoined,
    /// init -> parent: set up and blocked before the workload.
    Ready,
    /// init -> parent: setup failed with this message.
    Failed(String),
}

pub fn send(sock: &OwnedFd, msg: &Msg) -> Result<()> {
    let mut buf = Vec::with_capacity(64);
    match msg {
        Msg::Proceed => buf.push(1),
        Msg::Ready => buf.push(2),
        Msg::CgroupJoined => buf.push(4),
        Msg::Failed(s) => {
            buf.push(3);
            buf.extend_from_slice(s.as_bytes());
        }
    }
    sys::write(sock, &buf).map_err(|e| Error::sys("send to container init", e))?;
    Ok(())
}

/// A failure the other side already reported, if one is waiting.
pub fn pending_failure(sock: &OwnedFd) -> Option<Error> {
    use std::os::fd::AsRawFd;
    let ready = sys::poll(&[(sock.as_raw_fd(), libc::POLLIN)], 0).ok()?;
    if ready[0] & libc::POLLIN == 0 {
        return None;
    }
    match recv(sock) {
        Ok(Some(Msg::Failed(why))) => Some(Error::Init(why)),
        _ => None,
    }
}

/// Receive one message; `None` when the other side closed.
pub fn recv(sock: &OwnedFd) -> Result<Option<Msg>> {
    let mut buf = vec![0u8; 65536];
    let n = sys::read(sock, &mut buf).map_err(|e| Error::sys("receive from container init", e))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(match buf[0] {
        1 => Msg::Proceed,
        2 => Msg::Ready,
        4 => Msg::CgroupJoined,
        _ => Msg::Failed(String::from_utf8_lossy(&buf[1..n]).into_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (a, b) = sys::socketpair().unwrap();
        for m in [Msg::Proceed, Msg::CgroupJoined, Msg::Ready, Msg::Failed("no such file".into())] {
            send(&a, &m).unwrap();
            assert_eq!(recv(&b).unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(recv(&b).unwrap(), None);
    }
}
