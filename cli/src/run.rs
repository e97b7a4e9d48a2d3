//! `run`: create + start; in the foreground also wait for the workload,
//! forwarding signals to it, delete the container and return its status.
//!
//! A foreground container with `process.terminal` and no `--console-socket`
//! gets its pty proxied to our own stdin/stdout (raw mode when stdin is a
//! terminal), as `runc run` does.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use tandem_runtime_core::{CreateOptions, Error, Runtime, sys};

/// Signals a foreground `run` passes on to the container's init.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGALRM,
    libc::SIGCONT,
    libc::SIGPIPE,
];

/// How `run` ends: at once (`--detach`), or after the workload, deleting
/// the container or (`--keep`) leaving it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Detach,
    Foreground,
    Keep,
}

pub fn run(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions, mode: Mode) -> Result<i32, Error> {
    if mode == Mode::Detach {
        let mut c = rt.create(id, bundle, opts)?;
        if let Err(e) = c.start() {
            let _ = rt.load(id).and_then(|c| c.delete(true));
            return Err(e);
        }
        return Ok(0);
    }
    let signals = block_forwarded_signals()?;

    let mut opts = opts.clone();
    let console = if opts.console_socket.is_none() && wants_terminal(bundle) {
        let (ours, theirs) = sys::socketpair().map_err(|e| Error::sys("socketpair for the console", e))?;
        opts.console_socket_fd = Some(theirs.as_raw_fd());
        Some((ours, theirs))
    } else {
        None
    };
    let mut c = rt.create(id, bundle, &opts)?;
    let master = match console {
        Some((ours, theirs)) => {
            drop(theirs);
            match sys::recv_fd(&ours) {
                Ok((master, _name)) => Some(master),
                Err(e) => {
                    let _ = rt.load(id).and_then(|c| c.delete(true));
                    return Err(Error::Console(format!("receive the pty master: {e}")));
                }
            }
        }
        None => None,
    };
    if let Err(e) = c.start() {
        let _ = rt.load(id).and_then(|c| c.delete(true));
        return Err(e);
    }
    let code = wait_forwarding(c.pid(), &signals, master.as_ref())?;
    if mode == Mode::Foreground {
        rt.load(id)?.delete(true)?;
    }
    Ok(code)
}

/// Block the signals a foreground command passes on (and SIGCHLD) and
/// return a signalfd for them. Blocked before the clone so no signal is
/// lost; the child unblocks everything before it runs the workload.
pub fn block_forwarded_signals() -> Result<OwnedFd, Error> {
    let mut watched: Vec<i32> = FORWARDED.to_vec();
    watched.push(libc::SIGCHLD);
    sys::set_sigmask(libc::SIG_BLOCK, &watched).map_err(|e| Error::sys("block signals", e))?;
    sys::signalfd(&watched).map_err(|e| Error::sys("signalfd", e))
}

/// Read `process.terminal` from the bundle without a full validation (the
/// runtime does that in `create`).
fn wants_terminal(bundle: &Path) -> bool {
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["process"]["terminal"] == true)
}

/// Restores the caller's terminal settings when dropped.
struct RawMode(Option<libc::termios>);

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            sys::restore_terminal(0, t);
        }
    }
}

fn copy(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 8192];
    match sys::read(&from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut done = 0;
            while done < n {
                match sys::write(&to, &buf[done..n]) {
                    Ok(w) => done += w,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// Copy what the workload wrote last and is still in the pty.
fn drain(master: &OwnedFd) {
    while sys::poll(&[(master.as_raw_fd(), libc::POLLIN)], 0).is_ok_and(|r| r[0] & libc::POLLIN != 0) {
        if !copy(master.as_fd(), std::io::stdout().as_fd()) {
            break;
        }
    }
}

/// Wait for `pid` (our child), passing signals on and proxying its pty.
pub fn wait_forwarding(pid: i32, signals: &OwnedFd, master: Option<&OwnedFd>) -> Result<i32, Error> {
    let _raw = RawMode(match master {
        Some(m) if sys::isatty(0) => {
            if let Ok((rows, cols)) = sys::get_winsize(0) {
                let _ = sys::set_winsize(m.as_raw_fd(), rows, cols);
            }
            sys::make_raw(0).ok()
        }
        _ => None,
    });
    let (mut stdin_open, mut master_open) = (master.is_some(), master.is_some());
    loop {
        let mut fds = vec![(signals.as_raw_fd(), libc::POLLIN)];
        if let Some(m) = master.filter(|_| master_open) {
            fds.push((m.as_raw_fd(), libc::POLLIN));
        }
        if stdin_open {
            fds.push((0, libc::POLLIN));
        }
        let ready = sys::poll(&fds, -1).map_err(|e| Error::sys("poll", e))?;
        for (&(fd, _), &rev) in fds.iter().zip(&ready) {
            if rev == 0 {
                continue;
            }
            if fd == signals.as_raw_fd() {
                let sig = sys::read_signal(signals).map_err(|e| Error::sys("read signalfd", e))?;
                if sig == libc::SIGCHLD {
                    if let Ok((p, status)) = sys::waitpid(pid, libc::WNOHANG)
                        && p == pid
                    {
                        if let Some(m) = master.filter(|_| master_open) {
                            drain(m);
                        }
                        return Ok(sys::exit_code_of(status));
                    }
                } else if sig == libc::SIGWINCH && master.is_some() {
                    if let (Some(m), Ok((rows, cols))) = (master, sys::get_winsize(0)) {
                        let _ = sys::set_winsize(m.as_raw_fd(), rows, cols);
                    }
                } else {
                    let _ = sys::kill(pid, sig);
                }
            } else if fd == 0 {
                let m = master.expect("stdin is polled only with a pty");
                stdin_open = copy(std::io::stdin().as_fd(), m.as_fd());
            } else if let Some(m) = master {
                master_open = copy(m.as_fd(), std::io::stdout().as_fd());
            }
        }
    }
}
