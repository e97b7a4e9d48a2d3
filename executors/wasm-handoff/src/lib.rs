//! What passes from `tandem`, which links no wasm engine, to the engine's
//! two binaries, installed next to it:
//!
//! - [`COMPILER`] (`tandem-wasm-compile`, wasmtime with its compiler), run
//!   at `create` on a cache miss as a child process: the module's bytes on
//!   stdin, its kind as the one argument; the compiled artifact on stdout,
//!   or why not on stderr (exit status [`INVALID`] for a module that cannot
//!   run: invalid, or not linkable against WASI, or without an entry point).
//! - [`HELPER`] (`tandem-wasm-run`, wasmtime's runtime and WASI, no
//!   compiler), which a wasm container's process `execve`s at `start`: its
//!   argv is the module's, its environment `process.env`, its cwd
//!   `process.cwd`. Everything else comes in three fds from a base the
//!   kernel tells it: the helper's own image at `base` (close-on-exec: the
//!   container process execs `/proc/self/fd/<base>`, or the fd itself, so
//!   the kernel's `AT_EXECFN` names it), the [`Params`] at `base + 1`, the
//!   compiled code at `base + 2`. No host path, variable or argument shows
//!   in the container.
//!
//! No dependencies: both sides link it.

pub const COMPILER: &str = "tandem-wasm-compile";
pub const HELPER: &str = "tandem-wasm-run";

/// The compiler's exit status for a module that cannot run.
pub const INVALID: i32 = 65;

/// The engine build and configuration compiled code depends on: part of
/// every cache key, so code compiled by another one is never loaded. The
/// engine crate checks the wasmtime version in its tests; the last number
/// is bumped with any change to the engine's configuration.
pub const ENGINE_ID: &str = concat!("wasmtime-48.0.8-tandem-", env!("CARGO_PKG_VERSION"), "-1");

pub const MAGIC: &[u8; 4] = b"\0asm";

/// Core module or component, from the header's version field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Module,
    Component,
}

impl Kind {
    pub fn of(bytes: &[u8]) -> Option<Kind> {
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return None;
        }
        // Core modules are version 1; components carry layer 1 in bytes 6..8.
        Some(if bytes[4..8] == [1, 0, 0, 0] { Kind::Module } else { Kind::Component })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Module => "module",
            Kind::Component => "component",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Module, Kind::Component].into_iter().find(|k| k.name() == name)
    }
}

/// The helper's fds, from its base (see the crate docs).
pub const PARAMS_FD_OFFSET: i32 = 1;
pub const CODE_FD_OFFSET: i32 = 2;
/// How many fds from the base the helper's take.
pub const FDS: i32 = 3;

/// The base fd from the name the kernel gave the helper's execve
/// (`AT_EXECFN`): `/proc/self/fd/N` or `/dev/fd/N` (execveat of the fd).
pub fn base_from_execfn(execfn: &str) -> Option<i32> {
    let n = execfn.strip_prefix("/proc/self/fd/").or_else(|| execfn.strip_prefix("/dev/fd/"))?;
    n.parse().ok().filter(|&n: &i32| n >= 3)
}

/// What the helper needs besides its argv, environment and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub kind: Kind,
    /// `linux.resources.memory.limit`: the whole process's, of which
    /// linear memory gets what the helper itself does not use.
    pub memory_limit: Option<u64>,
}

const HEADER: &str = "tandem-wasm-run 1";

impl Params {
    pub fn encode(&self) -> Vec<u8> {
        let limit = self.memory_limit.map_or("none".to_string(), |l| l.to_string());
        format!("{HEADER}\nkind {}\nmemory-limit {limit}\n", self.kind.name()).into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Params> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut kind = None;
        let mut memory_limit = None;
        for line in lines {
            match line.split_once(' ')? {
                ("kind", k) => kind = Some(Kind::from_name(k)?),
                ("memory-limit", "none") => {}
                ("memory-limit", n) => memory_limit = Some(n.parse().ok()?),
                _ => return None,
            }
        }
        Some(Params { kind: kind?, memory_limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_modules_from_components() {
        assert_eq!(Kind::of(b"\0asm\x01\0\0\0"), Some(Kind::Module));
        assert_eq!(Kind::of(b"\0asm\x0d\0\x01\0"), Some(Kind::Component));
        assert_eq!(Kind::of(b"\x7fELF\x02\x01\x01\0"), None);
        assert_eq!(Kind::of(b"\0asm"), None);
    }

    #[test]
    fn params_round_trip_and_refuse_anything_else() {
        for p in [
            Params { kind: Kind::Module, memory_limit: None },
            Params { kind: Kind::Component, memory_limit: Some(64 << 20) },
        ] {
            assert_eq!(Params::decode(&p.encode()), Some(p));
        }
        assert_eq!(Params::decode(b"tandem-wasm-run 2\nkind module\n"), None);
        assert_eq!(Params::decode(b"tandem-wasm-run 1\nkind elf\n"), None);
        assert_eq!(Params::decode(b"tandem-wasm-run 1\nmemory-limit 5\n"), None);
    }

    #[test]
    fn the_base_fd_comes_from_the_exec_name() {
        assert_eq!(base_from_execfn("/proc/self/fd/7"), Some(7));
        assert_eq!(base_from_execfn("/dev/fd/12"), Some(12));
        assert_eq!(base_from_execfn("/dev/fd/2"), None);
        assert_eq!(base_from_execfn("/usr/bin/tandem-wasm-run"), None);
    }
}
