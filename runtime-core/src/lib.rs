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
//! Modules follow one concern each: `config` (validation), `namespaces`,
//! `rootfs`, `devices`, `cgroups`, `capabilities`, `seccomp`, `hooks`, `console`,
//! `process` (the processes and their messages: `launch` on the runtime's
//! side, `init` and `exec` in the container, `channel` between them; its
//! docs draw them), `exe_seal` (the runtime's binary sealed), `state`,
//! `criu` (CRIU's RPC, for `container_checkpoint` and `container_restore`),
//! and one `container_<verb>` file per lifecycle verb. Most `unsafe` code
//! lives in `sys`.
//!
//! Executors see one part of it: [`executor`] (the traits, the registry's
//! rules and `executor::host`, the few host-side helpers a workload
//! needs), which the `tandem-executor-api` crate re-exports; executor
//! crates depend on that crate, not on this one. The other public modules
//! are for front ends (the CLI, the shim).

pub mod capabilities;
pub mod cgroups;
mod checkpoint_files;
pub mod config;
mod console;
mod container;
mod container_checkpoint;
mod container_delete;
mod container_events;
mod container_exec;
mod container_kill;
mod container_pause;
mod container_restore;
mod container_start;
mod container_update;
mod cpulist;
mod criu;
mod dbus;
mod devices;
pub mod error;
pub mod exe_seal;
pub mod executor;
mod hooks;
mod host_mounts;
mod inroot;
pub mod log;
mod lsm;
pub mod mount_options;
mod namespaces;
pub mod preserved_fds;
mod process;
mod process_attrs;
mod procfs;
mod rootfs;
pub mod rootless;
mod runtime;
pub mod seccomp;
pub mod state;
pub mod sys;

pub use config::{Config, Process};
pub use container::Container;
pub use container_checkpoint::{CHECKPOINT_RECORD, CheckpointOptions};
pub use container_events::{Event, Events};
pub use container_exec::{ExecOptions, ExecProcess};
pub use container_restore::RestoreOptions;
pub use error::{Error, Result};
pub use executor::{Additions, Claim, CleanupContext, Executor, PrepareContext, Registration, Seal, Workload};
pub use runtime::{CreateOptions, DEFAULT_CACHE, DEFAULT_ROOT, Runtime};
pub use state::{State, Status};

/// Re-exported so executor crates register without naming the dependency.
pub use inventory;
