//! The native executor: the container's workload is a Linux binary,
//! `execve`d by the init once `start` releases it.
//!
//! `process.args[0]` is looked up in the container's `PATH` (from
//! `process.env`) inside the rootfs before the start barrier, so a missing
//! executable fails `create`, as with runc. It runs whatever no other
//! executor claims.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tandem_runtime_core::sys;
use tandem_runtime_core::{Claim, Config, Error, Executor, PrepareContext, Process, Registration, Result, Workload};

pub struct Native;

tandem_runtime_core::inventory::submit!(Registration(&Native));

impl Executor for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn can_handle(&self, _config: &Config) -> Claim {
        Claim::Fallback
    }

    fn prepare(&self, _ctx: &PrepareContext) -> Result<Box<dyn Workload>> {
        Ok(Box::new(NativeWorkload::default()))
    }
}

#[derive(Default)]
struct NativeWorkload {
    path: Option<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

fn err(why: String) -> Error {
    Error::Executor { executor: "native".into(), why }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolve a program name like execvp does, in the current root.
pub fn look_path(name: &str, env: &[String]) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    tandem_runtime_core::config::search_path(env)
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|p| is_executable(p))
}

impl Workload for NativeWorkload {
    fn locate(&mut self, process: &Process) -> Result<()> {
        let name = &process.args[0];
        let path = look_path(name, &process.env)
            .ok_or_else(|| err(format!("exec: \"{name}\": executable file not found in $PATH")))?;
        let c = |s: &str| sys::cstring(s).map_err(|e| err(format!("'{s}': {e}")));
        self.path = Some(sys::cpath(&path).map_err(|e| err(e.to_string()))?);
        self.argv = process.args.iter().map(|a| c(a)).collect::<Result<_>>()?;
        self.envp = process.env.iter().map(|e| c(e)).collect::<Result<_>>()?;
        Ok(())
    }

    fn exec(self: Box<Self>, process: &Process) -> Result<Infallible> {
        let path = self.path.as_ref().ok_or_else(|| err("exec before locate".into()))?;
        // The new program starts with default dispositions and nothing blocked.
        sys::reset_signals().map_err(|e| err(format!("reset signals: {e}")))?;
        let e = sys::execve(path, &self.argv, &self.envp);
        Err(err(format!("exec {}: {e}", process.args[0])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_uses_the_process_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(look_path("sh", &env).is_some());
        assert_eq!(look_path("/bin/sh", &[]), Some(PathBuf::from("/bin/sh")));
        assert_eq!(look_path("no-such-program-here", &env), None);
    }
}
