//! Task events, published to containerd as they happen.

use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::ttrpc::context::Context;
use containerd_shim::publisher::RemotePublisher;

pub struct Events {
    publisher: RemotePublisher,
    namespace: String,
}

impl Events {
    pub fn new(publisher: RemotePublisher, namespace: &str) -> Events {
        Events { publisher, namespace: namespace.to_string() }
    }

    /// Publish `event` on `topic`; a failure is logged (containerd may be
    /// restarting: it reconciles from `state` when it is back).
    pub fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Err(e) = self.publisher.publish(Context::default(), topic, &self.namespace, event) {
            log::warn!("publish {topic}: {e}");
        }
    }
}

/// Now, as containerd's timestamps are.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut t = Timestamp::new();
    t.seconds = d.as_secs() as i64;
    t.nanos = d.subsec_nanos() as i32;
    t
}
