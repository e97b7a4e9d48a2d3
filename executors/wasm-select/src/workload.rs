//! The wasm container's process at `start`: it `execve`s the helper
//! (`tandem-wasm-run`, or a plugin's engine that takes the same fds) from
//! a sealed image, with the module's argv, `process.env`, and the helper's
//! fds placed from [`Seal::fd_base`] (see `tandem-wasm-handoff`).

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use tandem_executor_api::host;
use tandem_executor_api::{Error, Process, Result, Seal, Workload};
use tandem_wasm_handoff::FDS;

pub struct HelperWorkload {
    /// The executor's name, for its errors.
    executor: &'static str,
    /// The helper's sealed image, its parameters, the compiled code.
    pub(crate) fds: [OwnedFd; FDS as usize],
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl HelperWorkload {
    /// The helper's sealed image, its parameters and the compiled code,
    /// for `executor`'s container.
    pub fn new(executor: &'static str, helper: OwnedFd, params: OwnedFd, code: OwnedFd) -> HelperWorkload {
        HelperWorkload { executor, fds: [helper, params, code], argv: Vec::new(), envp: Vec::new() }
    }
}

/// Move `fds` to `base`, `base + 1`, ...: first above that range (so no
/// move overwrites one still to come), then into it.
fn place(fds: [OwnedFd; FDS as usize], base: RawFd) -> std::io::Result<Vec<OwnedFd>> {
    let high: Vec<OwnedFd> =
        fds.into_iter().map(|f| host::dup_cloexec_from(f.as_raw_fd(), base + FDS)).collect::<std::io::Result<_>>()?;
    high.iter().zip(base..).map(|(f, n)| host::dup2_owned(f, n)).collect()
}

impl Workload for HelperWorkload {
    fn locate(&mut self, process: &Process) -> Result<()> {
        // The module was found, read and compiled at prepare; what is left
        // is the helper's argv and environment.
        let executor = self.executor;
        let c = |s: &str| {
            host::cstring(s).map_err(|e| Error::Executor { executor: executor.into(), why: format!("'{s}': {e}") })
        };
        self.argv = process.args.iter().map(|a| c(a)).collect::<Result<_>>()?;
        self.envp = process.env.iter().map(|e| c(e)).collect::<Result<_>>()?;
        Ok(())
    }

    fn keep_fds(&self) -> Vec<RawFd> {
        self.fds.iter().map(|f| f.as_raw_fd()).collect()
    }

    fn exec(self: Box<Self>, _process: &Process, seal: Seal) -> Result<Infallible> {
        let base = seal.fd_base();
        let HelperWorkload { executor, fds, argv, envp } = *self;
        let err = |why: String| Error::Executor { executor: executor.into(), why };
        let placed = place(fds, base).map_err(|e| err(format!("place the helper's fds at {base}: {e}")))?;
        host::reset_signals().map_err(|e| err(format!("reset signals: {e}")))?;
        // Through /proc where the container has its own (a path any
        // seccomp profile that runs a native program allows), else the fd.
        let via_proc = format!("/proc/self/fd/{base}");
        let by_path = std::path::Path::new(&via_proc).exists();
        let helper = host::cstring(&via_proc).map_err(|e| err(e.to_string()))?;
        seal.apply()?;
        let e = if by_path { host::execve(&helper, &argv, &envp) } else { host::execveat_fd(&placed[0], &argv, &envp) };
        Err(err(format!("exec the {executor} helper: {e}")))
    }
}
