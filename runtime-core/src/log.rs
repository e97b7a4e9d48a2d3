//! Where the engine's warnings and debug lines go. The CLI points them at
//! its `--log` (and stderr); without that, warnings go to stderr and debug
//! lines nowhere.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warning,
    Debug,
}

static SINK: OnceLock<fn(Level, &str)> = OnceLock::new();

/// Set in a container process (its own copy of memory): the sink is the
/// caller's, whose locks another thread may have held at the fork.
static IN_CONTAINER_PROCESS: AtomicBool = AtomicBool::new(false);

/// From here on this process is a container process (cloned, setting up
/// or becoming a workload): warnings go to its stderr with one write(2),
/// taking no lock; debug lines nowhere.
pub(crate) fn enter_container_process() {
    IN_CONTAINER_PROCESS.store(true, Ordering::Relaxed);
}

/// A line on stderr with one write(2), taking no lock: what a process
/// forked from a threaded caller may do (`eprintln!` takes std's stderr
/// lock, which another thread may have held at the fork).
pub(crate) fn stderr_line(line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = crate::sys::write(&std::io::stderr(), &buf);
}

/// Set once, by the program that embeds the engine.
pub fn set_sink(sink: fn(Level, &str)) {
    let _ = SINK.set(sink);
}

pub fn warn(msg: &str) {
    match SINK.get().filter(|_| !IN_CONTAINER_PROCESS.load(Ordering::Relaxed)) {
        Some(sink) => sink(Level::Warning, msg),
        None => stderr_line(&format!("tandem: warning: {msg}")),
    }
}

pub fn debug(msg: &str) {
    if IN_CONTAINER_PROCESS.load(Ordering::Relaxed) {
        return;
    }
    if let Some(sink) = SINK.get() {
        sink(Level::Debug, msg);
    }
}
