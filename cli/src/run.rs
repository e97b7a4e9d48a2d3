//! `run`: create + start; in the foreground also wait for the workload,
//! forwarding signals to it, delete the container and return its status.

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

pub fn run(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions, detach: bool) -> Result<i32, Error> {
    let mut waited: Vec<i32> = FORWARDED.to_vec();
    waited.push(libc::SIGCHLD);
    if !detach {
        // Blocked before the clone so no signal is lost; the init unblocks
        // everything before it runs the workload.
        sys::set_sigmask(libc::SIG_BLOCK, &waited).map_err(|e| Error::sys("block signals", e))?;
    }
    let mut c = rt.create(id, bundle, opts)?;
    if let Err(e) = c.start() {
        let _ = rt.load(id).and_then(|c| c.delete(true));
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let pid = c.pid();
    let code = loop {
        let sig = sys::sigwait(&waited).map_err(|e| Error::sys("wait for signals", e))?;
        if sig == libc::SIGCHLD {
            match sys::waitpid(pid, libc::WNOHANG) {
                Ok((p, status)) if p == pid => break sys::exit_code_of(status),
                Ok(_) => continue,
                Err(e) => return Err(Error::sys(format!("wait for {pid}"), e)),
            }
        }
        let _ = sys::kill(pid, sig);
    };
    rt.load(id)?.delete(true)?;
    Ok(code)
}
