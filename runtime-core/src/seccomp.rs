//! seccomp: `linux.seccomp` becomes a [`Profile`] when the bundle is
//! validated (actions, operators, architectures and flags checked, syscall
//! names resolved for this architecture). The runtime compiles it into a
//! classic BPF program with libseccomp, or finds it in the cache under the
//! state root ([`Profile::filter`]); the init (or an exec'd process) loads
//! it with seccomp(2) itself, so the kernel flags (TSYNC, LOG, SPEC_ALLOW,
//! NEW_LISTENER, WAIT_KILLABLE_RECV) are ours to pass and the notification
//! fd comes back to us.
//!
//! When it is loaded follows runc: with `noNewPrivileges` it is the last
//! step before the workload; without it loading needs CAP_SYS_ADMIN, so it
//! goes in before the identity switch can drop that (see
//! `init::prepare_process`).

use std::fs;
use std::io::{Read, Seek};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterAttr, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{self as oci, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as O};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sys;

/// A validated seccomp profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub default: Action,
    pub archs: Vec<ScmpArch>,
    /// SECCOMP_FILTER_FLAG_* bits asked for by `flags`.
    pub flags: u64,
    pub rules: Vec<Rule>,
    /// Where the notification fd goes (set when a rule notifies).
    pub listener: Option<Listener>,
    /// Syscall names this architecture does not know: left out, as runc does.
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

/// One syscall with its action and argument conditions.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub syscall: i32,
    pub action: Action,
    pub args: Vec<ArgCondition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCondition {
    pub index: u32,
    pub op: ScmpCompareOp,
    pub value: u64,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: String,
}

/// A compiled filter, ready for seccomp(2).
pub struct Filter {
    prog: Vec<libc::sock_filter>,
    flags: u64,
}

/// The syscalls the init makes after loading a filter and before the
/// listener has the notification fd: notifying them would hang the create.
const NEVER_NOTIFIED: [&str; 1] = ["sendmsg"];

/// Validate `linux.seccomp`.
pub fn from_spec(s: &oci::LinuxSeccomp) -> Result<Profile> {
    let errno = |ret: Option<u32>, field: &str| -> Result<u16> {
        match ret {
            None => Ok(libc::EPERM as u16),
            Some(n) => u16::try_from(n).map_err(|_| Error::config(field, format!("errno {n} is out of range"))),
        }
    };
    let action = |a: A, ret: Option<u32>, field: &str| -> Result<Action> {
        Ok(match a {
            A::ScmpActKill | A::ScmpActKillThread => Action::KillThread,
            A::ScmpActKillProcess => Action::KillProcess,
            A::ScmpActTrap => Action::Trap,
            A::ScmpActErrno => Action::Errno(errno(ret, field)?),
            A::ScmpActTrace => Action::Trace(errno(ret, field)?),
            A::ScmpActAllow => Action::Allow,
            A::ScmpActLog => Action::Log,
            A::ScmpActNotify => Action::Notify,
        })
    };
    let default = action(s.default_action(), s.default_errno_ret(), "linux.seccomp.defaultErrnoRet")?;
    if default == Action::Notify {
        return Err(Error::config("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action"));
    }
    let mut archs = Vec::new();
    for a in s.architectures().iter().flatten() {
        let name = a.to_string();
        let arch = ScmpArch::from_str(&name)
            .map_err(|_| Error::config("linux.seccomp.architectures", format!("unknown architecture {name}")))?;
        archs.push(arch);
    }
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            F::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            F::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            F::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        };
    }
    let mut rules = Vec::new();
    let mut unknown = Vec::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = action(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
        if sc.names().is_empty() {
            return Err(Error::config(format!("{field}.names"), "is empty"));
        }
        let mut args = Vec::new();
        for (j, a) in sc.args().iter().flatten().enumerate() {
            if a.index() >= 6 {
                return Err(Error::config(
                    format!("{field}.args[{j}].index"),
                    format!("{} is not an argument index (0 to 5)", a.index()),
                ));
            }
            // MASKED_EQ compares (arg & value) with valueTwo.
            let (op, value) = match a.op() {
                O::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
                O::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
                O::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
                O::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
                O::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
                O::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
                O::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(a.value()), a.value_two().unwrap_or(0)),
            };
            args.push(ArgCondition { index: a.index() as u32, op, value });
        }
        for name in sc.names() {
            if action == Action::Notify && NEVER_NOTIFIED.contains(&name.as_str()) {
                return Err(Error::config(
                    format!("{field}.names"),
                    format!("SCMP_ACT_NOTIFY on {name}: the runtime needs it to hand over the notification fd"),
                ));
            }
            match ScmpSyscall::from_name(name) {
                Ok(nr) => {
                    rules.push(Rule { name: name.clone(), syscall: nr.as_raw_syscall(), action, args: args.clone() })
                }
                Err(_) => unknown.push(name.clone()),
            }
        }
    }
    let notifies = rules.iter().any(|r| r.action == Action::Notify);
    let listener = match s.listener_path() {
        Some(p) if !p.is_absolute() => {
            return Err(Error::config("linux.seccomp.listenerPath", format!("{} is not absolute", p.display())));
        }
        Some(p) => Some(Listener { path: p.clone(), metadata: s.listener_metadata().clone().unwrap_or_default() }),
        None if notifies => {
            return Err(Error::config("linux.seccomp.listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY"));
        }
        None => None,
    };
    Ok(Profile { default, archs, flags, rules, listener: listener.filter(|_| notifies), unknown })
}

impl Action {
    fn to_scmp(self) -> ScmpAction {
        match self {
            Action::KillThread => ScmpAction::KillThread,
            Action::KillProcess => ScmpAction::KillProcess,
            Action::Trap => ScmpAction::Trap,
            Action::Errno(n) => ScmpAction::Errno(n.into()),
            Action::Trace(n) => ScmpAction::Trace(n),
            Action::Allow => ScmpAction::Allow,
            Action::Log => ScmpAction::Log,
            Action::Notify => ScmpAction::Notify,
        }
    }
}

impl Profile {
    /// Compile to BPF. Rules whose action is the default one are left out
    /// (libseccomp refuses them). Conditions on distinct arguments must all
    /// hold; several on the same argument match if any holds, each becoming
    /// a rule of its own (libseccomp cannot AND them), as in runc.
    pub fn compile(&self) -> Result<Filter> {
        Ok(Filter { prog: self.compile_prog()?, flags: self.load_flags() })
    }

    /// The compiled filter, from `cache_dir` when this profile was compiled
    /// before: libseccomp takes about 10 ms here for a profile covering
    /// x86_64, x86 and x32, reading it back about 0.1 ms. Entries are named
    /// by a sha256 of the profile as this build resolved it and of
    /// libseccomp's version, and written under a temporary name then
    /// renamed, so a reader sees a whole program or none.
    pub fn filter(&self, cache_dir: &Path) -> Result<Filter> {
        let path = cache_dir.join(format!("{}.bpf", self.cache_key()));
        if let Some(prog) = fs::read(&path).ok().and_then(|b| decode(&b)) {
            return Ok(Filter { prog, flags: self.load_flags() });
        }
        let filter = self.compile()?;
        let stored = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(cache_dir)
            .map_err(|e| Error::path("create", cache_dir, e))
            .and_then(|()| crate::state::write_atomic(&path, &encode(&filter.prog)));
        if let Err(e) = stored {
            crate::log::debug(&format!("seccomp: filter not cached: {e}"));
        }
        Ok(filter)
    }

    fn cache_key(&self) -> String {
        let v = libseccomp::ScmpVersion::current().map(|v| (v.major, v.minor, v.micro)).unwrap_or_default();
        let text = format!("tandem seccomp 1 {v:?} {:?} {:?} {:?}", self.default, self.archs, self.rules);
        Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn compile_prog(&self) -> Result<Vec<libc::sock_filter>> {
        let fail =
            |what: String| move |e: libseccomp::error::SeccompError| Error::init(format!("seccomp: {what}: {e}"));
        let mut ctx = ScmpFilterContext::new(self.default.to_scmp()).map_err(fail("new filter".into()))?;
        // no_new_privs is ours to set (or not); a binary tree keeps long
        // allow lists cheap per syscall.
        ctx.set_ctl_nnp(false).map_err(fail("clear the NNP attribute".into()))?;
        ctx.set_filter_attr(ScmpFilterAttr::CtlOptimize, 2).map_err(fail("optimize for size".into()))?;
        for &arch in &self.archs {
            ctx.add_arch(arch).map_err(fail(format!("add architecture {arch:?}")))?;
        }
        for r in &self.rules {
            if r.action == self.default {
                continue;
            }
            let conds: Vec<ScmpArgCompare> =
                r.args.iter().map(|a| ScmpArgCompare::new(a.index, a.op, a.value)).collect();
            let mut seen = 0u8;
            let repeated = r.args.iter().any(|a| {
                let bit = 1 << a.index;
                let dup = seen & bit != 0;
                seen |= bit;
                dup
            });
            let syscall = ScmpSyscall::from_raw_syscall(r.syscall);
            let what = || format!("rule for {} ({:?})", r.name, r.action);
            if repeated {
                for c in &conds {
                    ctx.add_rule_conditional(r.action.to_scmp(), syscall, std::slice::from_ref(c))
                        .map_err(fail(what()))?;
                }
            } else {
                ctx.add_rule_conditional(r.action.to_scmp(), syscall, &conds).map_err(fail(what()))?;
            }
        }
        let mut mem = fs::File::from(sys::memfd(c"seccomp").map_err(|e| Error::sys("seccomp: memfd_create", e))?);
        ctx.export_bpf(&mem).map_err(fail("export the program".into()))?;
        let mut bytes = Vec::new();
        mem.rewind()
            .and_then(|_| mem.read_to_end(&mut bytes))
            .map_err(|e| Error::sys("seccomp: read the program", e))?;
        decode(&bytes).ok_or_else(|| Error::init(format!("seccomp: libseccomp made a {}-byte program", bytes.len())))
    }

    /// The seccomp(2) flags: the profile's, and a listener's.
    fn load_flags(&self) -> u64 {
        let mut flags = self.flags;
        if self.listener.is_none() {
            // Only notifications wait, and the kernel refuses it without a listener.
            flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        } else {
            flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
                // TSYNC alone reports a thread id in the return value, which
                // NEW_LISTENER needs for the fd.
                flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
        }
        flags
    }
}

/// A classic BPF program as libseccomp exports it: 8-byte instructions
/// in host byte order; `None` unless whole and within the kernel's limit.
fn decode(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    const INSN: usize = size_of::<libc::sock_filter>();
    if bytes.is_empty() || !bytes.len().is_multiple_of(INSN) || bytes.len() / INSN > libc::BPF_MAXINSNS as usize {
        return None;
    }
    let insn = |c: &[u8]| libc::sock_filter {
        code: u16::from_ne_bytes([c[0], c[1]]),
        jt: c[2],
        jf: c[3],
        k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
    };
    Some(bytes.chunks_exact(INSN).map(insn).collect())
}

fn encode(prog: &[libc::sock_filter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_of_val(prog));
    for i in prog {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.extend_from_slice(&[i.jt, i.jf]);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

impl Filter {
    /// Install it on this process; returns the notification fd when a
    /// rule notifies.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let killable = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        let loaded = match sys::seccomp_set_filter(self.flags, &self.prog) {
            // Kernels before 5.19 do not know it: go on without.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.flags & killable != 0 => {
                sys::seccomp_set_filter(self.flags & !killable, &self.prog)
            }
            r => r,
        };
        loaded.map_err(|e| {
            Error::init(format!(
                "seccomp: load the filter ({} instructions, flags {:#x}): {e}",
                self.prog.len(),
                self.flags
            ))
        })
    }

    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Does a rule notify (so the listener needs the fd during create)?
    pub fn notifies(&self) -> bool {
        self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }

    pub fn is_empty(&self) -> bool {
        self.prog.is_empty()
    }
}

/// Where `filter` is loaded for a process: with no_new_privs and no
/// notification, as the very last step before the workload's execve
/// (`Some`, for the [`crate::Seal`]); otherwise during setup (`None`):
/// before the identity switch without no_new_privs (loading needs
/// CAP_SYS_ADMIN then), or last in it when the listener must get its fd
/// at create, as runc does.
pub fn at_exec(filter: Option<&Filter>, no_new_privileges: bool) -> Option<&Filter> {
    filter.filter(|f| no_new_privileges && !f.notifies())
}

/// Hand the notification fd of process `pid` to the agent listening at
/// the profile's `listenerPath`, with the container's state, as the spec's
/// ContainerProcessState.
pub fn hand_over(profile: Option<&Profile>, fd: OwnedFd, pid: i32, state: &oci::State) -> Result<()> {
    use std::os::fd::AsRawFd;
    let listener = profile
        .and_then(|p| p.listener.as_ref())
        .ok_or_else(|| Error::init("a seccomp notification fd, but no listenerPath"))?;
    let path = &listener.path;
    let sock = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| Error::path("seccomp: connect to the listener at", path, e))?;
    let mut msg = oci::ContainerProcessState::default();
    msg.set_version(state.version().clone())
        .set_fds(vec![oci::SECCOMP_FD_NAME.to_string()])
        .set_pid(pid)
        .set_metadata((!listener.metadata.is_empty()).then(|| listener.metadata.clone()))
        .set_state(state.clone());
    let msg = serde_json::to_vec(&msg).expect("a process state serialises");
    sys::send_fd(&sock, fd.as_raw_fd(), &msg).map_err(|e| Error::path("seccomp: send the notification fd to", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> Result<Profile> {
        let s: oci::LinuxSeccomp = serde_json::from_str(json).unwrap();
        from_spec(&s)
    }

    #[test]
    fn validates_and_compiles() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mkdir","no_such_call"],"action":"SCMP_ACT_ERRNO","errnoRet":95},
                            {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS",
                             "args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":9,"op":"SCMP_CMP_EQ"},
                                     {"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ","valueTwo":1}]}]}"#,
        )
        .unwrap();
        assert_eq!(p.unknown, vec!["no_such_call".to_string()]);
        assert_eq!(p.rules.len(), 3);
        assert_eq!(p.rules[0].action, Action::Errno(95));
        assert_eq!(p.flags, libc::SECCOMP_FILTER_FLAG_LOG);
        assert_eq!(p.rules[2].args[2], ArgCondition { index: 0, op: ScmpCompareOp::MaskedEqual(1), value: 1 });
        let f = p.compile().unwrap();
        assert!(f.len() > 10, "{} instructions", f.len());
        assert_eq!(f.flags, libc::SECCOMP_FILTER_FLAG_LOG);
    }

    #[test]
    fn refuses_what_cannot_work() {
        let bad = |json: &str, field: &str| match profile(json) {
            Err(Error::ConfigInvalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
            other => panic!("{json}: {other:?}"),
        };
        bad(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "linux.seccomp.defaultAction");
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "linux.seccomp.listenerPath",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/l",
                "syscalls":[{"names":["sendmsg"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "linux.seccomp.syscalls[0].names",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index",
        );
        bad(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#, "linux.seccomp.defaultErrnoRet");
    }

    #[test]
    fn compiled_filters_are_cached_and_a_bad_entry_is_compiled_again() {
        let dir = std::env::temp_dir().join(format!("tandem-seccomp-cache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let p =
            profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#)
                .unwrap();
        let first = p.filter(&dir).unwrap();
        let entries: Vec<_> = fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(fs::read(&entries[0]).unwrap(), encode(&first.prog));
        assert_eq!(encode(&p.filter(&dir).unwrap().prog), encode(&first.prog));
        fs::write(&entries[0], b"short").unwrap();
        assert_eq!(encode(&p.filter(&dir).unwrap().prog), encode(&first.prog));
        assert_eq!(fs::read(&entries[0]).unwrap(), encode(&first.prog), "rewritten");
        // Another profile, another entry.
        let q =
            profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}"#)
                .unwrap();
        q.filter(&dir).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn notify_asks_for_a_listener_fd() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","listenerMetadata":"m",
                "flags":["SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        assert_eq!(p.listener.as_ref().unwrap().metadata, "m");
        let f = p.compile().unwrap();
        let want = libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        assert_eq!(f.flags, want);
    }
}
