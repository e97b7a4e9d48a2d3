//! `exec`: run a process in a live container, with runc's flags. In the
//! foreground it returns the process's exit status and forwards signals
//! (and proxies a pty when there is no --console-socket); detached it
//! writes the pid file and returns.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use tandem_runtime_core::config::{self, Process};
use tandem_runtime_core::{Container, Error, ExecOptions, Runtime, capabilities, sys};

use crate::run;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// A JSON file holding the OCI process to run (instead of CMD).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pty.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process is started.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE); repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// An additional gid; repeatable.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_X or X); repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many extra fds (3, 4, ...) to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec into a paused container.
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container: PATH, or
    /// CONTROLLER:PATH for one v1 controller; repeatable.
    #[arg(long)]
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl ExecArgs {
    /// The process to run: the --process file, or the container's own
    /// process with the command and the flags on top (as runc builds it).
    fn process(&self, container: &Container) -> Result<Process, Error> {
        let mut p = match &self.process {
            Some(file) => {
                let text = std::fs::read(file).map_err(|e| Error::path("read", file, e))?;
                config::parse_process(&text)?
            }
            None => {
                if self.command.is_empty() {
                    return Err(Error::config("exec", "give a command to run, or --process FILE"));
                }
                let mut p = container.config()?.process;
                p.args = self.command.clone();
                p.terminal = self.tty;
                p
            }
        };
        if self.process.is_some() && !self.command.is_empty() {
            p.args = self.command.clone();
        }
        if self.tty {
            p.terminal = true;
        }
        if let Some(cwd) = &self.cwd {
            if !cwd.is_absolute() {
                return Err(Error::config("--cwd", format!("'{}' is not absolute", cwd.display())));
            }
            p.cwd = cwd.clone();
        }
        for e in &self.env {
            let Some((key, _)) = e.split_once('=') else {
                return Err(Error::config("--env", format!("'{e}' is not KEY=VALUE")));
            };
            p.env.retain(|old| old.split_once('=').is_none_or(|(k, _)| k != key));
            p.env.push(e.clone());
        }
        if let Some(user) = &self.user {
            let bad = || Error::config("--user", format!("'{user}' is not uid[:gid]"));
            let (uid, gid) = match user.split_once(':') {
                Some((u, g)) => (u.parse().map_err(|_| bad())?, Some(g.parse().map_err(|_| bad())?)),
                None => (user.parse().map_err(|_| bad())?, None),
            };
            p.uid = uid;
            if let Some(g) = gid {
                p.gid = g;
            }
        }
        p.additional_gids.extend(&self.additional_gids);
        for name in &self.cap {
            let bit = capabilities::bit(name)
                .ok_or_else(|| Error::config("--cap", format!("unknown capability '{name}'")))?;
            // Bounding, effective and permitted only, as runc since
            // CVE-2022-29162: an inheritable or ambient cap would survive
            // into any program a non-root user runs (a file capability
            // regains it). Those two sets come from the process spec alone.
            let m = 1u64 << bit;
            let c = &mut p.capabilities;
            c.bounding |= m;
            c.effective |= m;
            c.permitted |= m;
        }
        if self.no_new_privs {
            p.no_new_privileges = true;
        }
        Ok(p)
    }
}

pub fn exec(rt: &Runtime, args: &ExecArgs) -> Result<i32, Error> {
    let c = rt.load(&args.id)?;
    let process = args.process(&c)?;
    let mut opts = ExecOptions {
        console_socket: args.console_socket.clone(),
        console_socket_fd: None,
        stdio: None,
        pid_file: args.pid_file.clone(),
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
        sub_cgroups: args
            .cgroup
            .iter()
            .map(|c| match c.split_once(':') {
                Some((ctl, path)) => (Some(ctl.to_string()), path.to_string()),
                None => (None, c.clone()),
            })
            .collect(),
    };
    if args.detach {
        c.exec(process, &opts)?;
        return Ok(0);
    }
    let signals = run::block_forwarded_signals()?;
    let console = if process.terminal && opts.console_socket.is_none() {
        let (ours, theirs) = sys::socketpair().map_err(|e| Error::sys("socketpair for the console", e))?;
        opts.console_socket_fd = Some(theirs.as_raw_fd());
        Some((ours, theirs))
    } else {
        None
    };
    let p = c.exec(process, &opts)?;
    let master = match console {
        Some((ours, theirs)) => {
            drop(theirs);
            let (master, _) =
                sys::recv_fd(&ours).map_err(|e| Error::Console(format!("receive the pty master: {e}")))?;
            Some(master)
        }
        None => None,
    };
    run::wait_forwarding(p.pid(), &signals, master.as_ref())
}
