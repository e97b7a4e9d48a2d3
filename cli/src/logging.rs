//! Error and debug lines: always one line on stderr for errors, and in the
//! `--log` file as text or as the JSON lines containerd's runc shim reads.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use tandem_runtime_core::state;

pub struct Log {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

impl Log {
    pub fn new(file: Option<PathBuf>, json: bool, debug: bool) -> Log {
        Log { file, json, debug }
    }

    /// One line, whatever the message holds.
    pub fn error(&self, msg: &str) {
        let msg = &tandem_runtime_core::error::one_line(msg);
        eprintln!("tandem: {msg}");
        self.write("error", msg);
    }

    pub fn warn(&self, msg: &str) {
        let msg = &tandem_runtime_core::error::one_line(msg);
        eprintln!("tandem: warning: {msg}");
        self.write("warning", msg);
    }

    /// With --debug: to the --log file when there is one, else to stderr,
    /// in runc's format either way (text or JSON lines).
    pub fn debug(&self, msg: &str) {
        if self.debug {
            let msg = &tandem_runtime_core::error::one_line(msg);
            match &self.file {
                Some(_) => self.write("debug", msg),
                None => eprintln!("{}", self.line("debug", msg)),
            }
        }
    }

    /// One line as runc writes it: `time="..." level=... msg="..."`, or
    /// the same fields as JSON.
    fn line(&self, level: &str, msg: &str) -> String {
        let (secs, nanos) = state::now();
        let time = state::rfc3339(secs, nanos);
        if self.json {
            serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
        } else {
            format!("time=\"{time}\" level={level} msg={msg:?}")
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let line = self.line(level, msg);
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}
