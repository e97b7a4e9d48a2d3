//! The executor contract: what runs as the workload once the container is
//! isolated, and the registry executors join with `inventory::submit!`.
//!
//! runtime-core never names a concrete executor: it asks every registered
//! one how strongly it claims a container and picks the strongest claim.

use std::convert::Infallible;
use std::path::Path;

use crate::config::{Config, Process};
use crate::error::{Error, Result};

/// The annotation that picks any registered executor by name.
pub const EXECUTOR_ANNOTATION: &str = "dev.tandem.executor";

/// What an executor adds to a container before its rootfs is built, in
/// the spec's own types: checked as the bundle's mounts and devices are,
/// mounted after the bundle's, the devices allowed in the device cgroup.
#[derive(Debug, Default, Clone)]
pub struct Additions {
    pub mounts: Vec<oci_spec::runtime::Mount>,
    pub devices: Vec<oci_spec::runtime::LinuxDevice>,
}

/// What an executor gets at `delete`, once the container's processes are
/// gone and before its state directory is removed.
pub struct CleanupContext<'a> {
    pub id: &'a str,
    pub state_dir: &'a Path,
    pub cache_dir: &'a Path,
}

/// How strongly an executor wants to run a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    No,
    /// Runs anything nobody else claims (the native executor).
    Fallback,
    /// Detected from the bundle (e.g. the entrypoint's magic bytes).
    Maybe,
    /// Asked for by an annotation.
    Explicit,
    /// Asked for by an annotation that names a family of executors, and
    /// the bundle shows this one is the closer fit (a `wasi:http`
    /// component under `run.oci.handler=wasm`): it beats the family's
    /// general claim.
    Specific,
}

/// What an executor gets in the runtime, before the init exists.
pub struct PrepareContext<'a> {
    /// The container's id.
    pub id: &'a str,
    /// The container's state directory, removed at delete: an executor may
    /// keep files of its own there (named for it).
    pub state_dir: &'a Path,
    pub config: &'a Config,
    /// The runtime's cache directory, shared between containers: an
    /// executor keeps its artifacts in a subdirectory named for it.
    pub cache_dir: &'a Path,
}

pub trait Executor: Sync {
    fn name(&self) -> &'static str;
    fn can_handle(&self, config: &Config) -> Claim;
    /// How strongly it claims a process exec'd into a running container
    /// (`config.process` is that process): as the init by default. The
    /// wasm executor claims only modules there, so a debug shell in a wasm
    /// image runs as a native process does.
    fn claims_exec(&self, config: &Config) -> Claim {
        self.can_handle(config)
    }
    /// Runs in the runtime at `create`: do here whatever can fail early or
    /// is expensive, so `start` is instant.
    fn prepare(&self, ctx: &PrepareContext) -> Result<Box<dyn Workload>>;
    /// The annotations it reads, each with what it does: `tandem features`
    /// lists them with runtime-core's own.
    fn annotations(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// At `create`, before anything is made: mounts and devices the
    /// workload needs on top of the bundle's (a device node of a hardware
    /// runtime, a tmpfs of its own). An error fails create.
    fn additions(&self, _config: &Config) -> Result<Additions> {
        Ok(Additions::default())
    }
    /// At `delete` (see [`CleanupContext`]): undo whatever `prepare` made
    /// outside the state directory. A failure is a warning: the container
    /// is removed all the same.
    fn cleanup(&self, _ctx: &CleanupContext) -> Result<()> {
        Ok(())
    }
}

/// A prepared workload, carried into the init by the clone.
pub trait Workload {
    /// In the init, inside the container (after pivot_root, before the
    /// identity switch and the start barrier): find what will run. Errors
    /// here fail `create`.
    fn locate(&mut self, process: &Process) -> Result<()>;
    /// After `start`: become the workload, calling [`Seal::apply`] as the
    /// very last step before it runs (just before `execve`). Returns only
    /// on failure.
    fn exec(self: Box<Self>, process: &Process, seal: Seal) -> Result<Infallible>;
    /// False for a workload that runs in this process instead of
    /// `execve`ing: `start` then returns as it begins, and a failure after
    /// that shows only on the container's stderr and exit status.
    fn execs(&self) -> bool {
        true
    }
    /// Fds opened at prepare that the workload needs after `start` (e.g.
    /// a helper's image and input): the init keeps them where it closes
    /// every fd it does not know. [`Seal::fd_base`] says where the
    /// workload may place them for its program.
    fn keep_fds(&self) -> Vec<std::os::fd::RawFd> {
        Vec::new()
    }
}

/// The container's last step before its workload runs: the seccomp filter,
/// when it is loaded at the very end. Once applied, the only calls left
/// must be ones the container's profile allows: a strict profile need
/// allow the runtime nothing but the workload's own `execve`.
pub struct Seal<'a> {
    pub(crate) filter: Option<&'a crate::seccomp::Filter>,
    pub(crate) fd_base: std::os::fd::RawFd,
}

/// How many fds from [`Seal::fd_base`] a workload may place its own in.
pub const WORKLOAD_FDS: std::os::fd::RawFd = 8;

impl Seal<'_> {
    /// The lowest fd above stdio and the preserved fds: from here,
    /// [`WORKLOAD_FDS`] numbers are free for the workload's own fds (only
    /// its [`Workload::keep_fds`] are open above the preserved ones).
    pub fn fd_base(&self) -> std::os::fd::RawFd {
        self.fd_base
    }

    pub fn apply(self) -> Result<()> {
        match self.filter {
            Some(f) => f.load().map(drop),
            None => Ok(()),
        }
    }
}

/// What an executor may use of runtime-core besides the traits above:
/// the few host-side helpers a workload needs, and nothing of the
/// lifecycle's internals. An executor crate (`executors/`, `plugins/`)
/// names only this module and the items `tandem-executor-api` re-exports.
pub mod host {
    /// `PATH` of a process environment, or the default one.
    pub use crate::config::search_path;
    /// A host binary to `execve` from inside a container: a sealed image of
    /// it (never a path a container could reach through `/proc/PID/exe`),
    /// and where tandem's own binary (and its siblings) are.
    pub use crate::exe_seal::{sealed_image, self_path};
    /// Paths resolved inside a root, symlinks never leaving it.
    pub use crate::rootfs::inroot::{Root, fd_path};
    /// Thin syscall wrappers a workload's exec step uses.
    pub use crate::sys::{
        cpath, cstring, dup_cloexec_from, dup2_owned, execve, execveat_fd, reset_signals, sealed_memfd,
    };
}

pub struct Registration(pub &'static dyn Executor);
inventory::collect!(Registration);

pub fn registered() -> impl Iterator<Item = &'static dyn Executor> {
    inventory::iter::<Registration>.into_iter().map(|r| r.0)
}

/// Every registered executor's annotations (see [`Executor::annotations`]).
pub fn annotations() -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = registered().flat_map(|e| e.annotations().iter().copied()).collect();
    v.sort_unstable();
    v.dedup_by_key(|(k, _)| *k);
    v
}

/// The registered executor of this name (the one a container's state
/// records), if this build has it.
pub fn by_name(name: &str) -> Option<&'static dyn Executor> {
    registered().find(|e| e.name() == name)
}

pub fn names() -> Vec<&'static str> {
    let mut v: Vec<_> = registered().map(|e| e.name()).collect();
    v.sort_unstable();
    v
}

/// Choose the executor for a container: the annotation's name wins, then
/// the strongest claim; among equal claims, the name first in
/// alphabetical order (never the link order). Two executors registered
/// under one name are an error.
pub fn select(config: &Config) -> Result<&'static dyn Executor> {
    unique_names(registered())?;
    if let Some(name) = config.annotations.get(EXECUTOR_ANNOTATION) {
        return registered().find(|e| e.name() == name).ok_or_else(|| {
            Error::config(
                format!("annotations.{EXECUTOR_ANNOTATION}"),
                format!("unknown executor '{name}' (this build has: {})", names().join(", ")),
            )
        });
    }
    strongest(|e| e.can_handle(config))
}

/// Choose the executor for a process exec'd into a container: the named
/// one if it claims the process, else the strongest claim.
pub fn select_exec(config: &Config) -> Result<&'static dyn Executor> {
    unique_names(registered())?;
    let named = config.annotations.get(EXECUTOR_ANNOTATION).and_then(|n| registered().find(|e| e.name() == n));
    match named {
        Some(e) if e.claims_exec(config) != Claim::No => Ok(e),
        _ => strongest(|e| e.claims_exec(config)),
    }
}

fn strongest(claim_of: impl Fn(&dyn Executor) -> Claim) -> Result<&'static dyn Executor> {
    strongest_of(registered().map(|e| (e, claim_of(e))))
}

/// The strongest of the executors' claims; a tie goes to the name first
/// in alphabetical order.
fn strongest_of<'a>(claims: impl Iterator<Item = (&'a dyn Executor, Claim)>) -> Result<&'a dyn Executor> {
    let (best, claim) = claims
        .max_by(|(a, ca), (b, cb)| ca.cmp(cb).then_with(|| b.name().cmp(a.name())))
        .ok_or_else(|| Error::config("process", "no executor is registered in this build"))?;
    if claim == Claim::No {
        return Err(Error::config("process", "no registered executor can run this container"));
    }
    Ok(best)
}

/// Every executor's name is its own: the annotation and `features` name
/// them, and a second one under a name would be chosen by link order.
fn unique_names<'a>(executors: impl Iterator<Item = &'a dyn Executor>) -> Result<()> {
    let mut names: Vec<&str> = executors.map(|e| e.name()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(Error::config(
            "executors",
            format!("two executors are registered as '{}' in this build: each needs a name of its own", w[0]),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(&'static str, Claim);

    impl Executor for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        fn can_handle(&self, _: &Config) -> Claim {
            self.1
        }
        fn prepare(&self, _: &PrepareContext) -> Result<Box<dyn Workload>> {
            Err(Error::init("a fake"))
        }
    }

    fn pick(list: &[&Fake]) -> Result<&'static str> {
        strongest_of(list.iter().map(|f| (*f as &dyn Executor, f.1))).map(|e| e.name())
    }

    #[test]
    fn the_strongest_claim_wins_and_a_tie_goes_by_name() {
        let (native, a, b) = (Fake("native", Claim::Fallback), Fake("alpha", Claim::Maybe), Fake("beta", Claim::Maybe));
        assert_eq!(pick(&[&native, &b, &a]).unwrap(), "alpha");
        assert_eq!(pick(&[&a, &b, &native]).unwrap(), "alpha", "link order decided");
        let explicit = Fake("zeta", Claim::Explicit);
        assert_eq!(pick(&[&a, &explicit, &native]).unwrap(), "zeta");
        assert!(pick(&[&Fake("none", Claim::No)]).is_err());
    }

    #[test]
    fn two_executors_under_one_name_are_an_error() {
        let (a, b) = (Fake("wasm", Claim::Maybe), Fake("wasm", Claim::Explicit));
        let list: [&dyn Executor; 2] = [&a, &b];
        let e = unique_names(list.into_iter()).unwrap_err();
        assert!(e.to_string().contains("two executors are registered as 'wasm'"), "{e}");
        let c = Fake("native", Claim::Fallback);
        let list: [&dyn Executor; 2] = [&a, &c];
        assert!(unique_names(list.into_iter()).is_ok());
    }
}
