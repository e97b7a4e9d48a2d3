//! CRIU through its RPC, as runc talks to it: `criu swrk FD` serving one
//! end of a SOCK_SEQPACKET socket pair; one request, its notifications
//! answered, then its response.
//!
//! The messages are CRIU's `rpc.proto`, written and read here by hand for
//! the fields tandem uses ([`Opts`], [`Resp`]): a protobuf library and its
//! generated tables would be relocated at every start of the binary
//! (measured: a native `create` peaked 0.24 MiB higher with rust-criu's
//! types linked in), for a command that checkpoints now and then.

pub mod files;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::sys;

/// `criu_req_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqType {
    Dump = 1,
    Restore = 2,
    PreDump = 4,
    Notify = 6,
}

/// `criu_cg_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMode {
    Ignore = 0,
    Soft = 3,
    Full = 4,
    Strict = 5,
}

/// The `criu_opts` tandem sends (field numbers are rpc.proto's).
#[derive(Debug, Default, Clone)]
pub struct Opts {
    pub images_dir_fd: Option<RawFd>,
    pub pid: Option<i32>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub evasive_devices: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub log_level: Option<i32>,
    pub log_file: Option<String>,
    /// Page server address and port.
    pub ps: Option<(String, i32)>,
    pub root: Option<String>,
    pub parent_img: Option<String>,
    pub track_mem: bool,
    pub auto_dedup: bool,
    pub work_dir_fd: Option<RawFd>,
    /// Mount point in the container -> name in the image (dump), or name
    /// -> source on the host (restore).
    pub ext_mnt: Vec<(String, String)>,
    pub manage_cgroups: bool,
    /// (controller, path): the image's cgroups rebased here at restore.
    pub cg_root: Vec<(Option<String>, String)>,
    pub rst_sibling: bool,
    /// (key, fd in CRIU's process).
    pub inherit_fd: Vec<(String, RawFd)>,
    pub manage_cgroups_mode: Option<CgMode>,
    pub external: Vec<String>,
    pub empty_ns: Option<u32>,
    pub freeze_cgroup: Option<String>,
    pub lazy_pages: bool,
    pub status_fd: Option<RawFd>,
    pub orphan_pts_master: bool,
    /// Notifications (action scripts, the orphan pty master) over the RPC.
    pub notify_scripts: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// What tandem reads of a `criu_resp`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resp {
    pub typ: i64,
    pub success: bool,
    /// restore.pid
    pub restored_pid: Option<i32>,
    /// notify.script, for a notification.
    pub notify_script: Option<String>,
    pub errno: Option<i32>,
    pub errmsg: Option<String>,
}

/// A protobuf message being written (varints and length-delimited fields).
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    /// int32, uint32, enum and bool: a negative int32 is sign-extended.
    fn int(&mut self, field: u32, v: i64) {
        self.varint(u64::from(field) << 3);
        self.varint(v as u64);
    }
    fn flag(&mut self, field: u32, v: bool) {
        if v {
            self.int(field, 1);
        }
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.varint((u64::from(field) << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn pair(&mut self, field: u32, a: &str, b: &str) {
        let mut m = Writer::default();
        m.str(1, a);
        m.str(2, b);
        self.bytes(field, &m.0);
    }
}

impl Opts {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        // images_dir_fd is `required` in rpc.proto.
        w.int(1, i64::from(self.images_dir_fd.unwrap_or(-1)));
        if let Some(v) = self.pid {
            w.int(2, i64::from(v));
        }
        w.flag(3, self.leave_running);
        w.flag(4, self.ext_unix_sk);
        w.flag(5, self.tcp_established);
        w.flag(6, self.evasive_devices);
        w.flag(7, self.shell_job);
        w.flag(8, self.file_locks);
        if let Some(v) = self.log_level {
            w.int(9, i64::from(v));
        }
        if let Some(v) = &self.log_file {
            w.str(10, v);
        }
        if let Some((addr, port)) = &self.ps {
            let mut m = Writer::default();
            m.str(1, addr);
            m.int(2, i64::from(*port));
            w.bytes(11, &m.0);
        }
        if let Some(v) = &self.root {
            w.str(13, v);
        }
        if let Some(v) = &self.parent_img {
            w.str(14, v);
        }
        w.flag(15, self.track_mem);
        w.flag(16, self.auto_dedup);
        if let Some(v) = self.work_dir_fd {
            w.int(17, i64::from(v));
        }
        for (k, v) in &self.ext_mnt {
            w.pair(23, k, v);
        }
        w.flag(24, self.manage_cgroups);
        for (ctrl, path) in &self.cg_root {
            let mut m = Writer::default();
            if let Some(c) = ctrl {
                m.str(1, c);
            }
            m.str(2, path);
            w.bytes(25, &m.0);
        }
        w.flag(12, self.notify_scripts);
        w.flag(26, self.rst_sibling);
        for (key, fd) in &self.inherit_fd {
            let mut m = Writer::default();
            m.str(1, key);
            m.int(2, i64::from(*fd));
            w.bytes(27, &m.0);
        }
        if let Some(mode) = self.manage_cgroups_mode {
            w.int(34, mode as i64);
        }
        for e in &self.external {
            w.str(37, e);
        }
        if let Some(v) = self.empty_ns {
            w.int(38, i64::from(v));
        }
        if let Some(v) = &self.freeze_cgroup {
            w.str(44, v);
        }
        w.flag(48, self.lazy_pages);
        if let Some(v) = self.status_fd {
            w.int(49, i64::from(v));
        }
        w.flag(50, self.orphan_pts_master);
        if let Some(v) = &self.lsm_profile {
            w.str(53, v);
        }
        if let Some(v) = &self.lsm_mount_context {
            w.str(63, v);
        }
        w.0
    }
}

/// A `criu_req`: its type, options, and for a notification's answer
/// whether it went well.
fn request(typ: ReqType, opts: Option<&Opts>, notify_success: bool) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(1, typ as i64);
    if let Some(o) = opts {
        w.bytes(2, &o.encode());
    }
    if typ == ReqType::Notify {
        w.int(3, i64::from(notify_success));
    }
    w.0
}

/// The fields of a message: (number, varint value or bytes).
fn fields(mut b: &[u8]) -> Option<Vec<(u32, Field<'_>)>> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => out.push((field, Field::Int(varint(&mut b)?))),
            1 => b = b.get(8..)?,
            2 => {
                let len = varint(&mut b)? as usize;
                let (data, rest) = (b.get(..len)?, b.get(len..)?);
                out.push((field, Field::Bytes(data)));
                b = rest;
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

impl Resp {
    fn decode(b: &[u8]) -> Option<Resp> {
        let mut r = Resp::default();
        let int_of = |bytes: &[u8], want: u32| {
            fields(bytes)?.into_iter().find_map(|(f, v)| match v {
                Field::Int(n) if f == want => Some(n as i32),
                _ => None,
            })
        };
        for (field, value) in fields(b)? {
            match (field, value) {
                (1, Field::Int(v)) => r.typ = v as i64,
                (2, Field::Int(v)) => r.success = v != 0,
                (4, Field::Bytes(m)) => r.restored_pid = int_of(m, 1),
                (5, Field::Bytes(m)) => {
                    r.notify_script = fields(m)?.into_iter().find_map(|(f, v)| match v {
                        Field::Bytes(s) if f == 1 => Some(String::from_utf8_lossy(s).into_owned()),
                        _ => None,
                    })
                }
                (7, Field::Int(v)) => r.errno = Some(v as i32),
                (9, Field::Bytes(s)) => r.errmsg = Some(String::from_utf8_lossy(s).into_owned()),
                _ => {}
            }
        }
        Some(r)
    }
}

/// The CRIU binary to run (runc's `--criu`; default `criu` on PATH).
#[derive(Debug, Clone)]
pub struct Criu {
    path: PathBuf,
}

impl Criu {
    pub fn new(path: Option<&Path>) -> Criu {
        Criu { path: path.map_or_else(|| PathBuf::from("criu"), Path::to_path_buf) }
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
    /// `notify` (the script's name and the fd that came with it, if any; an
    /// error fails the request). The fds `req` names
    /// (images_dir_fd, work_dir_fd, status_fd) are this process's: CRIU
    /// opens them through /proc, so the caller keeps them open until this
    /// returns; `inherit_fd` entries name CRIU's own 0-2, which are
    /// `stdio` when given, and the fds of `inherit` (each under its key,
    /// e.g. `extRootNetNS`), which CRIU inherits. Fails with CRIU's error, its errno, and the
    /// `criu check` verdict when CRIU could not be run.
    pub fn call(
        &self,
        what: &str,
        typ: ReqType,
        mut opts: Opts,
        stdio: Option<[RawFd; 3]>,
        inherit: &[(&str, RawFd)],
        mut notify: impl FnMut(&str, Option<OwnedFd>) -> Result<()>,
    ) -> Result<Resp> {
        let (ours, theirs) = sys::socketpair().map_err(|e| Error::sys("socketpair for criu", e))?;
        // The child's end, inheritable; closed here once it runs.
        let sock = sys::dup_cloexec(theirs.as_raw_fd()).map_err(|e| Error::sys("duplicate an fd for criu", e))?;
        sys::clear_cloexec(sock.as_raw_fd()).map_err(|e| Error::sys("pass an fd to criu", e))?;
        drop(theirs);
        // Inheritable copies: the child has them under the same numbers.
        let mut passed = Vec::new();
        for (key, fd) in inherit {
            let copy = sys::dup_cloexec(*fd).map_err(|e| Error::sys("duplicate an fd for criu", e))?;
            sys::clear_cloexec(copy.as_raw_fd()).map_err(|e| Error::sys("pass an fd to criu", e))?;
            opts.inherit_fd.push((key.to_string(), copy.as_raw_fd()));
            passed.push(copy);
        }
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
        drop(passed);
        let resp = (|| {
            sys::write(&ours, &request(typ, Some(&opts), false)).map_err(|e| Error::sys("send the criu request", e))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let (n, fd) = sys::recv_with_fd(&ours, &mut buf).map_err(|e| Error::sys("read criu's answer", e))?;
                if n == 0 {
                    let why = format!("criu exited without answering ({})", self.check());
                    return Err(Error::Criu { what: what.into(), why });
                }
                let resp = Resp::decode(&buf[..n])
                    .ok_or_else(|| Error::sys("decode criu's answer", std::io::Error::other("not a criu_resp")))?;
                if resp.typ != ReqType::Notify as i64 {
                    return Ok(resp);
                }
                let answered = notify(resp.notify_script.as_deref().unwrap_or(""), fd);
                sys::write(&ours, &request(ReqType::Notify, None, answered.is_ok()))
                    .map_err(|e| Error::sys("answer criu", e))?;
                answered?;
            }
        })();
        drop(ours);
        let _ = child.wait();
        let resp = resp?;
        if !resp.success {
            let why = match (resp.errmsg.as_deref(), resp.errno) {
                (Some(msg), _) if !msg.trim().is_empty() => msg.trim().to_string(),
                (_, Some(errno)) if errno != 0 => std::io::Error::from_raw_os_error(errno).to_string(),
                _ => "criu failed".to_string(),
            };
            return Err(Error::Criu { what: what.into(), why });
        }
        Ok(resp)
    }
}

/// A CRIU failure told by its log's last `Error` lines where it has any
/// (CRIU's own message is its first error, often a harmless one).
pub fn explained_by_log(e: Error, log: &Path) -> Error {
    match e {
        Error::Criu { what, why } => {
            let log_says = log_errors(log);
            let why = if log_says.is_empty() { why } else { format!("{log_says} (more in {})", log.display()) };
            Error::Criu { what, why }
        }
        e => e,
    }
}

/// The lines of a CRIU log that say what failed (the last `Error` lines),
/// for an error message.
pub fn log_errors(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("Error")).collect();
    errors[errors.len().saturating_sub(3)..].join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_encode_as_rpc_proto_numbers_them() {
        let o = Opts {
            images_dir_fd: Some(5),
            pid: Some(300),
            leave_running: true,
            ext_mnt: vec![("/a".into(), "/b".into())],
            manage_cgroups_mode: Some(CgMode::Soft),
            ..Default::default()
        };
        let got: Vec<(u32, String)> = fields(&o.encode())
            .unwrap()
            .into_iter()
            .map(|(f, v)| match v {
                Field::Int(n) => (f, n.to_string()),
                Field::Bytes(b) => (f, format!("{b:?}")),
            })
            .collect();
        let pair = format!("{:?}", [10u8, 2, b'/', b'a', 18, 2, b'/', b'b']);
        assert_eq!(got, vec![(1, "5".into()), (2, "300".into()), (3, "1".into()), (23, pair), (34, "3".into())]);
        // A negative int32 (no images fd) is ten bytes of varint, as protobuf has it.
        let none = Opts::default().encode();
        assert_eq!(none.len(), 1 + 10);
        let req = request(ReqType::Notify, None, true);
        assert_eq!(req, vec![1 << 3, 6, 3 << 3, 1]);
    }

    #[test]
    fn responses_decode_with_their_nested_messages() {
        let mut restore = Writer::default();
        restore.int(1, 4321);
        let mut notify = Writer::default();
        notify.str(1, "post-restore");
        notify.int(2, 99);
        let mut w = Writer::default();
        w.int(1, 2);
        w.int(2, 1);
        w.bytes(4, &restore.0);
        w.bytes(5, &notify.0);
        w.int(7, 17);
        w.str(9, "no");
        // Fields tandem does not read are skipped, of every wire type.
        w.0.extend_from_slice(&[(12 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0, (13 << 3) | 5, 0, 0, 0, 0]);
        let r = Resp::decode(&w.0).unwrap();
        assert_eq!(
            r,
            Resp {
                typ: 2,
                success: true,
                restored_pid: Some(4321),
                notify_script: Some("post-restore".into()),
                errno: Some(17),
                errmsg: Some("no".into()),
            }
        );
        assert!(Resp::decode(&[0x0a, 5, 1]).is_none(), "a field longer than the message");
    }
}
