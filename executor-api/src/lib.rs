//! The executor API: all an executor crate (`executors/`, `plugins/`)
//! depends on. An executor claims containers ([`Executor::can_handle`]),
//! prepares its [`Workload`] in the runtime at create, may add mounts and
//! devices ([`Additions`]), names the annotations it reads, and cleans up
//! at delete; the workload runs in the container's init after `start`.
//! It registers with `tandem_executor_api::inventory::submit!(Registration(&MyExecutor))`.
//!
//! Besides these traits, an executor may use [`host`]: the host-side
//! helpers a workload's exec step needs. Nothing else of runtime-core's
//! lifecycle is reachable from here, by design: `plugins/README.md` walks
//! through writing one.

pub use tandem_runtime_core::executor::{
    Additions, Claim, CleanupContext, EXECUTOR_ANNOTATION, Executor, PrepareContext, Registration, Seal, WORKLOAD_FDS,
    Workload, host,
};
pub use tandem_runtime_core::{Config, Error, Process, Result, inventory};
