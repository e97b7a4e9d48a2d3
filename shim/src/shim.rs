//! The shim's own lifecycle, as containerd drives it: `start` finds or
//! spawns the server for the container's pod, `delete` cleans up after a
//! server that is gone, the server waits until containerd shuts it down.
//!
//! One server per pod: containers whose config carries the same
//! `io.kubernetes.cri.sandbox-id` annotation (the CRI plugin sets it on
//! the sandbox and on every container of the pod) get the same socket
//! address, so the second `start` finds the first's server listening and
//! hands containerd its address (what containerd's runc shim does).

use std::path::Path;
use std::sync::Arc;

use containerd_shim::api::DeleteResponse;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Config, ExitSignal, Flags, Shim, StartOpts};
use tandem_runtime_core::Runtime;

use crate::options::Options;
use crate::service::Service;

/// The annotation the CRI plugin puts on a pod's sandbox and containers.
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

pub struct TandemShim {
    namespace: String,
    id: String,
    /// The server's socket (`unix://...`; empty for `start` and `delete`).
    socket: String,
    exit: Arc<ExitSignal>,
}

impl Shim for TandemShim {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        TandemShim {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            socket: args.socket.clone(),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    /// In the bundle's directory: the address of the pod's server, spawned
    /// unless it is already there.
    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        let grouping = pod_of(Path::new("config.json")).unwrap_or_else(|| opts.id.clone());
        let (_, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        containerd_shim::util::write_address(&address)?;
        Ok(address)
    }

    /// In the bundle's directory, after the server died: the container
    /// goes (its processes killed, its cgroup and state removed) and so
    /// does its rootfs mount.
    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let bundle = std::env::current_dir().map_err(|e| containerd_shim::Error::Other(e.to_string()))?;
        let options = Options::recorded_in(&bundle);
        let mut pid = 0;
        if let Ok(runtime) = Runtime::open(options.state_root(&self.namespace))
            && let Ok(c) = runtime.load(&self.id)
        {
            pid = c.pid().max(0) as u32;
            if let Err(e) = c.delete(true) {
                log::warn!("delete {}: {e}", self.id);
            }
        }
        crate::service::unmount_rootfs(&bundle);
        Ok(DeleteResponse {
            pid,
            exit_status: 128 + libc::SIGKILL as u32,
            exited_at: containerd_shim::protos::protobuf::MessageField::some(crate::events::now()),
            ..Default::default()
        })
    }

    /// Until containerd shuts the server down; then its socket goes. (The
    /// crate would remove it by the `address` file in the first bundle,
    /// which containerd has deleted by then.)
    fn wait(&mut self) {
        self.exit.wait();
        if let Some(path) = self.socket.strip_prefix("unix://")
            && let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::warn!("remove the socket {path}: {e}");
        }
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Service {
        Service::new(&self.namespace, self.exit.clone(), publisher)
    }
}

/// The pod a bundle's container belongs to, from its config.
fn pod_of(config: &Path) -> Option<String> {
    let text = std::fs::read(config).ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&text).ok()?;
    spec.get("annotations")?.get(SANDBOX_ID)?.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_of_a_pod_share_the_sandbox_id() {
        let dir = std::env::temp_dir().join(format!("tandem-shim-pod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.json");
        std::fs::write(&config, br#"{"annotations": {"io.kubernetes.cri.sandbox-id": "pod1"}}"#).unwrap();
        assert_eq!(pod_of(&config).as_deref(), Some("pod1"));
        std::fs::write(&config, br#"{"annotations": {}}"#).unwrap();
        assert_eq!(pod_of(&config), None);
        assert_eq!(pod_of(&dir.join("missing.json")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
