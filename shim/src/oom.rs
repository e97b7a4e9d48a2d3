//! OOM kills of a container, published as TaskOOM: a thread waits on the
//! memory controller's notification (runtime-core's `oom_notifier`) and
//! the init's pidfd, and counts kills so that noise is not reported; the
//! init's waiter checks once more before the exit goes out, so a kill
//! that ended the init is reported before its exit.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use containerd_shim::protos::events::task::TaskOOM;
use containerd_shim::protos::topics::TASK_OOM_EVENT_TOPIC;
use tandem_runtime_core::cgroups::Cgroup;
use tandem_runtime_core::sys;

use crate::events::Events;

pub struct OomWatch {
    container_id: String,
    cgroup: Mutex<Cgroup>,
    reported: Mutex<u64>,
    events: Arc<Events>,
}

impl OomWatch {
    /// Watch `cgroup` while `init` lives (None where the cgroup has no
    /// memory controller to ask).
    pub fn start(container_id: &str, cgroup: Cgroup, init: i32, events: Arc<Events>) -> Option<Arc<OomWatch>> {
        let notifier = cgroup.oom_notifier().ok()?;
        let init = sys::pidfd_open(init).ok()?;
        let watch = Arc::new(OomWatch {
            container_id: container_id.to_string(),
            reported: Mutex::new(cgroup.oom_kills()),
            cgroup: Mutex::new(cgroup),
            events,
        });
        let w = watch.clone();
        let spawned =
            std::thread::Builder::new().name("oom".into()).stack_size(64 * 1024).spawn(move || w.run(notifier, init));
        spawned.map_err(|e| log::error!("start the OOM watch of {container_id}: {e}")).ok()?;
        Some(watch)
    }

    fn run(&self, notifier: OwnedFd, init: OwnedFd) {
        let mut buf = [0u8; 4096];
        loop {
            let ready = match sys::poll(&[(notifier.as_raw_fd(), libc::POLLIN), (init.as_raw_fd(), libc::POLLIN)], -1) {
                Ok(r) => r,
                Err(e) => {
                    log::error!("OOM watch of {}: {e}", self.container_id);
                    return;
                }
            };
            if ready[0] & libc::POLLIN != 0 {
                // An eventfd's count (v1) or inotify records (v2): read to rearm.
                let _ = sys::read(&notifier, &mut buf);
                self.check();
            }
            if ready[1] != 0 {
                return;
            }
        }
    }

    /// Publish TaskOOM if the kernel killed more than was reported.
    pub fn check(&self) {
        let kills = self.cgroup.lock().unwrap_or_else(|p| p.into_inner()).oom_kills();
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        if kills > *reported {
            *reported = kills;
            let event = TaskOOM { container_id: self.container_id.clone(), ..Default::default() };
            self.events.publish(TASK_OOM_EVENT_TOPIC, Box::new(event));
        }
    }
}
