//! Where the engine's warnings and debug lines go. The CLI points them at
//! its `--log` (and stderr); without that, warnings go to stderr and debug
//! lines nowhere.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warning,
    Debug,
}

static SINK: OnceLock<fn(Level, &str)> = OnceLock::new();

/// Set once, by the program that embeds the engine.
pub fn set_sink(sink: fn(Level, &str)) {
    let _ = SINK.set(sink);
}

pub fn warn(msg: &str) {
    match SINK.get() {
        Some(sink) => sink(Level::Warning, msg),
        None => eprintln!("tandem: warning: {msg}"),
    }
}

pub fn debug(msg: &str) {
    if let Some(sink) = SINK.get() {
        sink(Level::Debug, msg);
    }
}
