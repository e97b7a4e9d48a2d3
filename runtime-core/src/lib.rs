//! tandem's lifecycle engine.
//!
//! A [`Runtime`] is opened on a state root and creates [`Container`]s from
//! OCI bundles. `create` validates `config.json` once into a [`Config`],
//! picks an [`Executor`] from the registry (executors are separate crates
//! that join with `inventory::submit!`), lets it prepare its workload, and
//! clones the container's init straight into its namespaces. The init sets
//! up the rootfs, identity and capabilities, then blocks until `start`,
//! when it hands over to the executor's [`Workload`].
//!
//! Modules follow one concern each:
//! - `config` (validation into [`Config`]), `state`, `runtime` (open a
//!   state root, `create`), `container` (a [`Container`] and one file per
//!   lifecycle verb);
//! - `process`: the processes and their messages (`launch` on the
//!   runtime's side, `init` and `exec` in the container, `channel` between
//!   them, `attrs` for rlimits, scheduling and the rest); its docs draw them;
//! - the isolation the init applies: `namespaces`, `rootfs` (its mounts,
//!   `devices`, the in-root resolver `inroot`, and `kernel`, the seam its
//!   unit tests record through), `cgroups` (v1, v2, and `systemd` with the
//!   D-Bus client it alone uses), `capabilities`, `seccomp`, `lsm`,
//!   `console`, `hooks`;
//! - `exe_seal` (the runtime's binary sealed), `criu` (CRIU's RPC and the
//!   files it is told about), `rootless`, `procfs`;
//! - `sys`: the engine's syscalls, on `nix` where it has them, and the
//!   few it lacks by hand. Every `unsafe` block of the crate is there,
//!   each with its `SAFETY:` line.
//!
//! Executors see one part of it: [`executor`] (the traits, the registry's
//! rules and `executor::host`, the few host-side helpers a workload
//! needs), which the `tandem-executor-api` crate re-exports; executor
//! crates depend on that crate, not on this one. The other public modules
//! are for front ends (the CLI, the shim).

pub mod capabilities;
pub mod cgroups;
pub mod config;
mod console;
mod container;
mod cpulist;
mod criu;
pub mod error;
pub mod exe_seal;
pub mod executor;
mod hooks;
pub mod log;
mod lsm;
mod namespaces;
pub mod preserved_fds;
mod process;
mod procfs;
mod rootfs;
pub mod rootless;
mod runtime;
pub mod seccomp;
pub mod state;
pub mod sys;

pub use config::{Config, Process};
pub use container::Container;
pub use container::checkpoint::{CHECKPOINT_RECORD, CheckpointOptions};
pub use container::events::{Event, Events};
pub use container::exec::{ExecOptions, ExecProcess};
pub use container::restore::RestoreOptions;
pub use error::{Error, Result};
pub use executor::{Additions, Claim, CleanupContext, Executor, PrepareContext, Registration, Seal, Workload};
/// OCI mount options as mount(2) flags, for a front end that mounts (the shim's rootfs).
pub use rootfs::mount_options;
pub use runtime::{CreateOptions, DEFAULT_CACHE, DEFAULT_ROOT, Runtime};
pub use state::{State, Status};

/// Re-exported so executor crates register without naming the dependency.
pub use inventory;
