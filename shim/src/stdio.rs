//! A process's stdio on containerd's fifos.
//!
//! stdout and stderr are the fifos themselves, opened read-write (so
//! opening never blocks and a restarting containerd, gone as a reader for
//! a moment, does not turn into SIGPIPE): the container writes straight
//! into them, with no copying thread in between. stdin goes through a
//! pipe fed from its fifo by a small thread, so that the container sees
//! end-of-file when containerd closes it (a fifo the container held
//! itself would never report one). With a terminal, the pty master comes
//! back over a socket pair (runtime-core's console socket) and two
//! threads copy between it and the fifos. `file://` paths are appended
//! to; `binary://` loggers are not supported.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tandem_runtime_core::sys;

const COPIER_STACK: usize = 64 * 1024;
/// How long an exit waits for a terminal's last output.
const DRAIN: Duration = Duration::from_secs(5);

/// The stdio containerd asked for.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// Opened before the process is made: what it is given.
pub struct Prepared {
    /// Without a terminal: its 0, 1 and 2.
    fds: Option<[OwnedFd; 3]>,
    /// The write end of the stdin pipe (fed once started).
    stdin_writer: Option<OwnedFd>,
    /// With a terminal: our end, and the one the process gets.
    console: Option<(OwnedFd, OwnedFd)>,
}

impl Prepared {
    pub fn open(paths: &Paths) -> std::io::Result<Prepared> {
        if paths.terminal {
            return Ok(Prepared { fds: None, stdin_writer: None, console: Some(sys::socketpair()?) });
        }
        let (stdin, stdin_writer) = match paths.stdin.is_empty() {
            true => (null()?, None),
            false => {
                let (r, w) = pipe()?;
                (r, Some(w))
            }
        };
        let fds = [stdin, output(&paths.stdout)?, output(&paths.stderr)?];
        Ok(Prepared { fds: Some(fds), stdin_writer, console: None })
    }

    /// For `CreateOptions::stdio` / `ExecOptions::stdio`.
    pub fn stdio_fds(&self) -> Option<[RawFd; 3]> {
        self.fds.as_ref().map(|f| [f[0].as_raw_fd(), f[1].as_raw_fd(), f[2].as_raw_fd()])
    }

    /// For `console_socket_fd`.
    pub fn console_fd(&self) -> Option<RawFd> {
        self.console.as_ref().map(|(_, theirs)| theirs.as_raw_fd())
    }

    /// The process exists: start feeding it, and with a terminal take its
    /// pty master and copy.
    pub fn attach(self, paths: &Paths) -> std::io::Result<Attached> {
        let closed = Arc::new(AtomicBool::new(false));
        let stdin_fifo = (!paths.stdin.is_empty()).then(|| PathBuf::from(&paths.stdin));
        let Some((ours, theirs)) = self.console else {
            if let (Some(fifo), Some(w)) = (&stdin_fifo, self.stdin_writer) {
                spawn_feeder(fifo.clone(), w, closed.clone());
            }
            return Ok(Attached { console: None, stdin_fifo, closed, output_done: None });
        };
        drop(theirs);
        let (master, _) = sys::recv_fd(&ours)?;
        let master = Arc::new(master);
        let out = output(&paths.stdout)?;
        let (done_tx, done_rx) = mpsc::channel();
        let from = master.clone();
        std::thread::Builder::new().name("pty-out".into()).stack_size(COPIER_STACK).spawn(move || {
            copy(&*from, &out);
            let _ = done_tx.send(());
        })?;
        if let Some(fifo) = &stdin_fifo {
            spawn_feeder(fifo.clone(), sys::dup_cloexec(master.as_raw_fd())?, closed.clone());
        }
        Ok(Attached { console: Some(master), stdin_fifo, closed, output_done: Some(done_rx) })
    }
}

/// A started process's terminal and stdin feeder.
pub struct Attached {
    console: Option<Arc<OwnedFd>>,
    stdin_fifo: Option<PathBuf>,
    closed: Arc<AtomicBool>,
    output_done: Option<mpsc::Receiver<()>>,
}

impl Attached {
    pub fn resize(&self, width: u32, height: u32) -> std::io::Result<()> {
        match &self.console {
            Some(master) => sys::set_winsize(master.as_raw_fd(), height as u16, width as u16),
            None => Err(std::io::Error::other("the process has no terminal")),
        }
    }

    /// containerd is done writing stdin: the feeder stops (and the
    /// process, without a terminal, reads end-of-file).
    pub fn close_stdin(&self) {
        if let Some(fifo) = &self.stdin_fifo {
            unblock_feeder(fifo, &self.closed);
        }
    }

    /// The process exited: its terminal's last output is copied (for at
    /// most a few seconds: a daemon it left may hold the pty), its feeder
    /// stops.
    pub fn finish(self) {
        if let Some(done) = &self.output_done {
            let _ = done.recv_timeout(DRAIN);
        }
        self.close_stdin();
    }
}

/// A feeder blocked opening its fifo (nobody has opened it for writing
/// yet) is released by a writer that comes and goes.
fn unblock_feeder(fifo: &Path, closed: &AtomicBool) {
    if !closed.swap(true, Ordering::SeqCst) {
        let _ = sys::open(fifo, libc::O_WRONLY | libc::O_NONBLOCK);
    }
}

fn spawn_feeder(fifo: PathBuf, to: OwnedFd, closed: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new().name("stdin".into()).stack_size(COPIER_STACK).spawn(move || {
        // Blocks until containerd (or unblock_feeder) opens the other end.
        let Ok(from) = sys::open(&fifo, libc::O_RDONLY) else { return };
        if !closed.load(Ordering::SeqCst) {
            copy(&from, &to);
        }
    });
    if let Err(e) = spawned {
        log::error!("start the stdin feeder: {e}");
    }
}

/// Copy until end-of-file or an error (a pty master reports EIO once its
/// last slave is closed).
fn copy(from: &impl AsFd, to: &impl AsFd) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match sys::read(from, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut done = 0;
        while done < n {
            match sys::write(to, &buf[done..n]) {
                Ok(0) | Err(_) => return,
                Ok(w) => done += w,
            }
        }
    }
}

fn null() -> std::io::Result<OwnedFd> {
    sys::open(Path::new("/dev/null"), libc::O_RDWR)
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = std::io::pipe()?;
    Ok((r.into(), w.into()))
}

/// Where a process's stdout or stderr goes: nowhere, a fifo, or a file.
fn output(uri: &str) -> std::io::Result<OwnedFd> {
    if uri.is_empty() {
        return null();
    }
    if let Some(path) = uri.strip_prefix("file://") {
        return sys::open(Path::new(path), libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT);
    }
    if uri.contains("://") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("stdio '{uri}': tandem's shim takes fifos and file:// paths"),
        ));
    }
    sys::open(Path::new(uri), libc::O_RDWR)
}
