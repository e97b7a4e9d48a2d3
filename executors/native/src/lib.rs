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

use tandem_executor_api::host;
use tandem_executor_api::{
    Claim, Config, Error, Executor, PrepareContext, Process, Registration, Result, Seal, Workload,
};

pub struct Native;

tandem_executor_api::inventory::submit!(Registration(&Native));

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

/// Is `p` a program: missing (`None`), there but not executable
/// (`Some(false)`: a directory, no exec bit), or runnable.
fn runnable(p: &Path) -> Option<bool> {
    let m = std::fs::metadata(p).ok()?;
    Some(m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolve a program name like execvp does, in the current root. A name
/// that is missing is a 127 error, one found only as a file that cannot
/// be executed a 126, as a shell reports them (and as Docker reads the
/// messages: "executable file not found", "permission denied").
pub fn look_path(name: &str, env: &[String]) -> Result<PathBuf> {
    let program = || name.to_string();
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match runnable(&p) {
            Some(true) => Ok(p),
            Some(false) => Err(Error::ProgramNotExecutable { program: program() }),
            None => Err(Error::ProgramNotFound { program: program(), why: "no such file or directory" }),
        };
    }
    let mut denied = false;
    for dir in tandem_executor_api::host::search_path(env).split(':') {
        let p = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
        match runnable(&p) {
            Some(true) => return Ok(p),
            Some(false) => denied = true,
            None => {}
        }
    }
    Err(match denied {
        true => Error::ProgramNotExecutable { program: program() },
        false => Error::ProgramNotFound { program: program(), why: "executable file not found in $PATH" },
    })
}

impl Workload for NativeWorkload {
    fn locate(&mut self, process: &Process) -> Result<()> {
        let name = &process.args[0];
        let path = look_path(name, &process.env)?;
        let c = |s: &str| host::cstring(s).map_err(|e| err(format!("'{s}': {e}")));
        self.path = Some(host::cpath(&path).map_err(|e| err(e.to_string()))?);
        self.argv = process.args.iter().map(|a| c(a)).collect::<Result<_>>()?;
        self.envp = process.env.iter().map(|e| c(e)).collect::<Result<_>>()?;
        Ok(())
    }

    fn exec(self: Box<Self>, process: &Process, seal: Seal) -> Result<Infallible> {
        let path = self.path.as_ref().ok_or_else(|| err("exec before locate".into()))?;
        // The new program starts with default dispositions and nothing blocked.
        host::reset_signals().map_err(|e| err(format!("reset signals: {e}")))?;
        seal.apply()?;
        let e = host::execve(path, &self.argv, &self.envp);
        let program = process.args[0].clone();
        Err(match e.raw_os_error() {
            // Gone since create, or its interpreter is missing.
            Some(libc::ENOENT) => Error::ProgramNotFound { program, why: "no such file or directory" },
            Some(libc::EACCES) => Error::ProgramNotExecutable { program },
            _ => err(format!("exec {program}: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_uses_the_process_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(look_path("sh", &env).is_ok());
        assert_eq!(look_path("/bin/sh", &[]).unwrap(), PathBuf::from("/bin/sh"));
        let missing = look_path("no-such-program-here", &env).unwrap_err();
        assert_eq!(missing.exit_code(), 127);
        assert!(missing.to_string().contains("executable file not found in $PATH"), "{missing}");
        let missing = look_path("/no/such/program", &env).unwrap_err();
        assert_eq!(missing.exit_code(), 127);
        assert!(missing.to_string().contains("no such file or directory"), "{missing}");
    }

    #[test]
    fn a_file_that_cannot_be_executed_is_126() {
        let dir = std::env::temp_dir().join(format!("tandem-native-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        let env = vec![format!("PATH={}", dir.display())];
        for name in [plain.to_str().unwrap(), "plain", dir.to_str().unwrap()] {
            let e = look_path(name, &env).unwrap_err();
            assert_eq!(e.exit_code(), 126, "{name}: {e}");
            assert!(e.to_string().contains("permission denied"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
