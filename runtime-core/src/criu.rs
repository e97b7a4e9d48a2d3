//! CRIU through its RPC, as runc talks to it: `criu swrk FD` serving one
//! end of a SOCK_SEQPACKET socket pair; one request, its notifications
//! answered, then its response. The message types are rust-criu's
//! (CRIU's `rpc.proto`); the conversation is here, so that a notification
//! can reach the caller's state and the response (a restored pid) comes
//! back whole.

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use protobuf::Message;
pub use rust_criu::rust_criu_protobuf::rpc;

use crate::error::{Error, Result};
use crate::sys;

/// The CRIU binary to run (runc's `--criu`; default `criu` on PATH).
#[derive(Debug, Clone)]
pub struct Criu {
    path: PathBuf,
}

impl Criu {
    pub fn new(path: Option<&Path>) -> Criu {
        Criu { path: path.map_or_else(|| PathBuf::from("criu"), Path::to_path_buf) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `criu check` says, for an error: a missing or unusable CRIU
    /// is named with its own words.
    pub fn check(&self) -> String {
        match Command::new(&self.path).arg("check").stdin(Stdio::null()).output() {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
                let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
                format!("criu check: {last}")
            }
            Err(e) => format!("{} cannot be run: {e}", self.path.display()),
        }
    }

    /// Does this CRIU have the feature `criu check --feature NAME` names?
    pub fn has_feature(&self, name: &str) -> bool {
        Command::new(&self.path)
            .args(["check", "--feature", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Send `req` to a fresh `criu swrk` and answer its notifications with
    /// `notify` (an error fails the request). The fds `req` names
    /// (images_dir_fd, work_dir_fd, status_fd) are this process's: CRIU
    /// opens them through /proc, so the caller keeps them open until this
    /// returns; `inherit_fd` entries name CRIU's own 0-2, which are
    /// `stdio` when given. Fails with CRIU's error, its errno, and the
    /// `criu check` verdict when CRIU could not be run.
    pub fn call(
        &self,
        what: &str,
        req: rpc::Criu_req,
        stdio: Option<[RawFd; 3]>,
        mut notify: impl FnMut(&rpc::Criu_notify) -> Result<()>,
    ) -> Result<rpc::Criu_resp> {
        let (ours, theirs) = sys::socketpair().map_err(|e| Error::sys("socketpair for criu", e))?;
        // The child's end, inheritable; closed here once it runs.
        let sock = sys::dup_cloexec(theirs.as_raw_fd()).map_err(|e| Error::sys("duplicate an fd for criu", e))?;
        sys::clear_cloexec(sock.as_raw_fd()).map_err(|e| Error::sys("pass an fd to criu", e))?;
        drop(theirs);
        let io = |fd: Option<RawFd>| -> Result<Stdio> {
            match fd {
                Some(fd) => {
                    Ok(Stdio::from(sys::dup_cloexec(fd).map_err(|e| Error::sys("duplicate stdio for criu", e))?))
                }
                None => Ok(Stdio::null()),
            }
        };
        let mut child = Command::new(&self.path)
            .arg("swrk")
            .arg(sock.as_raw_fd().to_string())
            .stdin(io(stdio.map(|s| s[0]))?)
            .stdout(io(stdio.map(|s| s[1]))?)
            .stderr(io(stdio.map(|s| s[2]))?)
            .spawn()
            .map_err(|e| Error::Criu { what: what.into(), why: format!("{} ({})", e, self.check()) })?;
        drop(sock);
        let resp = (|| {
            let bytes =
                req.write_to_bytes().map_err(|e| Error::sys("encode the criu request", std::io::Error::other(e)))?;
            sys::write(&ours, &bytes).map_err(|e| Error::sys("send the criu request", e))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let (n, _fd) = sys::recv_with_fd(&ours, &mut buf).map_err(|e| Error::sys("read criu's answer", e))?;
                if n == 0 {
                    return Err(Error::Criu {
                        what: what.into(),
                        why: format!("criu exited without answering ({})", self.check()),
                    });
                }
                let resp = rpc::Criu_resp::parse_from_bytes(&buf[..n])
                    .map_err(|e| Error::sys("decode criu's answer", std::io::Error::other(e)))?;
                if resp.type_() != rpc::Criu_req_type::NOTIFY {
                    return Ok(resp);
                }
                let answered = notify(&resp.notify);
                let mut ack = rpc::Criu_req::new();
                ack.set_type(rpc::Criu_req_type::NOTIFY);
                ack.set_notify_success(answered.is_ok());
                let bytes = ack.write_to_bytes().map_err(|e| Error::sys("encode", std::io::Error::other(e)))?;
                sys::write(&ours, &bytes).map_err(|e| Error::sys("answer criu", e))?;
                answered?;
            }
        })();
        drop(ours);
        let _ = child.wait();
        let resp = resp?;
        if !resp.success() {
            let why = match (resp.cr_errmsg.as_deref(), resp.cr_errno) {
                (Some(msg), _) if !msg.is_empty() => msg.to_string(),
                (_, Some(errno)) if errno != 0 => std::io::Error::from_raw_os_error(errno).to_string(),
                _ => "criu failed".to_string(),
            };
            return Err(Error::Criu { what: what.into(), why });
        }
        Ok(resp)
    }
}

/// The lines of a CRIU log that say what failed (the last `Error` lines),
/// for an error message.
pub fn log_errors(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("Error")).collect();
    errors[errors.len().saturating_sub(3)..].join("; ")
}
