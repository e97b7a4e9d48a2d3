//! One error type for the whole engine, carrying the seeds' error codes.
//!
//! Every variant says what was being done and on what; the CLI maps each
//! variant to one line and a distinct exit status (see [`Error::exit_code`]).
//!
//! The state errors start with runc's own words ("container not running",
//! "does not exist", "already exists", "container paused"): containerd's
//! runc shim and go-runc match those phrases in the runtime's stderr to
//! tell a task that just exited (NotFound) from a real failure, and Docker,
//! CRI and `ctr` act on that. tandem's clearer text follows them.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container with given ID already exists: '{0}' is already in use")]
    IdInUse(String),

    #[error("invalid container id '{id}': {why}")]
    InvalidIdFormat { id: String, why: &'static str },

    #[error("container '{0}' does not exist")]
    NotFound(String),

    #[error("container paused: '{0}' is paused")]
    Paused(String),

    #[error("container '{id}' is not stopped: it is {status}")]
    NotStopped { id: String, status: String },

    #[error("container not running: '{id}' is {status}")]
    NotRunning { id: String, status: String },

    #[error("container not paused: '{id}' is {status}")]
    NotPaused { id: String, status: String },

    #[error("container '{id}' cannot be started: it is {status}, not created")]
    NotCreated { id: String, status: String },

    #[error("invalid config: {field}: {why}")]
    ConfigInvalid { field: String, why: String },

    #[error("console socket: {0}")]
    Console(String),

    #[error("{executor}: {why}")]
    Executor { executor: String, why: String },

    /// A hook that could not start, failed or timed out.
    #[error("{0}")]
    Hook(String),

    /// CRIU could not be run, or refused or failed a checkpoint or restore.
    #[error("{what}: {why}")]
    Criu { what: String, why: String },

    /// An error the container's init (or an exec'd process) reported from
    /// inside the container, with the exit status of its kind there.
    #[error("container init: {why}")]
    Init { why: String, status: i32 },

    /// The process's program is not there (exit 127, as a shell says it).
    #[error("exec: \"{program}\": {why}")]
    ProgramNotFound { program: String, why: &'static str },

    /// The program is there but cannot be executed (exit 126).
    #[error("exec: \"{program}\": permission denied")]
    ProgramNotExecutable { program: String },

    #[error("{op}: {source}")]
    System {
        op: String,
        #[source]
        source: io::Error,
    },
}

/// How much of a value from the input an error echoes.
const ECHO_MAX: usize = 4096;

/// Text from the input made fit for one error line: control characters
/// escaped (a newline or a terminal escape in an id or a path must not
/// forge lines), and cut at 4 KiB (a 1 MB hostname's error
/// is still one readable line, and fits the init's message to us).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(ECHO_MAX));
    for (i, c) in s.char_indices() {
        if out.len() >= ECHO_MAX {
            out.push_str(&format!("... ({} more bytes)", s.len() - i));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl Error {
    /// A failed syscall or file operation, with what was being done
    /// (`source` an `io::Error`, or nix's `Errno`).
    pub fn sys(op: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::System { op: one_line(&op.into()), source: source.into() }
    }

    /// A failed operation on a path: "`op` `path`: `source`".
    pub fn path(op: &str, path: impl Into<PathBuf>, source: impl Into<io::Error>) -> Self {
        Error::sys(format!("{op} {}", path.into().display()), source)
    }

    /// A failure inside the container with no more specific kind.
    pub fn init(why: impl Into<String>) -> Self {
        Error::Init { why: one_line(&why.into()), status: 1 }
    }

    pub fn config(field: impl Into<String>, why: impl Into<String>) -> Self {
        Error::ConfigInvalid { field: one_line(&field.into()), why: one_line(&why.into()) }
    }

    /// Distinct exit statuses so scripts can tell failures apart.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::System { .. } => 1,
            Error::Init { status, .. } => *status,
            Error::Hook(_) => 11,
            Error::Criu { .. } => 12,
            Error::IdInUse(_) => 2,
            Error::InvalidIdFormat { .. } => 3,
            Error::NotFound(_) => 4,
            Error::Paused(_) => 5,
            Error::NotStopped { .. } => 6,
            Error::NotRunning { .. } | Error::NotCreated { .. } | Error::NotPaused { .. } => 7,
            Error::ConfigInvalid { .. } => 8,
            Error::Console(_) => 9,
            Error::Executor { .. } => 10,
            Error::ProgramNotExecutable { .. } => 126,
            Error::ProgramNotFound { .. } => 127,
        }
    }
}

/// Attach an operation description to an `io::Result`.
pub trait Context<T> {
    fn context(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(op(), e))
    }
}
