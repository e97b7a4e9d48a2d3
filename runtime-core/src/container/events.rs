//! `pids`, `stats` and `events`: what the container's cgroup says about it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::cgroups::{Cgroup, Stats, stats};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::{State, Status};
use crate::sys;

/// What happens to a container, as the seeds' event stream names it.
#[derive(Debug, Clone)]
pub enum Event {
    /// Usage counters, every interval.
    Stats(Box<Stats>),
    /// The kernel's OOM killer killed a process of the container.
    Oom,
    Paused,
    Resumed,
    /// The init is gone: the last event.
    Exit,
}

impl Container {
    /// Every process in the container.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let status = self.status();
        if matches!(status, Status::Stopped | Status::Creating) && self.state.cgroup.is_none() {
            return Ok(Vec::new());
        }
        match &self.state.cgroup {
            Some(cg) => cg.pids(),
            None => Ok(self.member_pids()),
        }
    }

    /// Usage counters of a live container.
    pub fn stats(&self) -> Result<Stats> {
        let status = self.status();
        if matches!(status, Status::Stopped | Status::Creating) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        container_stats(self.cgroup("read the stats of")?, &self.state)
    }

    /// Events until the container stops: stats every `interval`, OOM
    /// kills as they happen, pause and resume as they are seen.
    pub fn events(&self, interval: Duration) -> Result<Events> {
        let status = self.status();
        if matches!(status, Status::Stopped | Status::Creating) {
            return Err(Error::NotRunning { id: self.id().to_string(), status: status.to_string() });
        }
        let cgroup = self.cgroup("watch")?.clone();
        Ok(Events {
            oom_fd: cgroup.oom_notifier().ok(),
            ooms: cgroup.oom_kills(),
            frozen: cgroup.is_frozen(),
            next_stats: Instant::now(),
            interval,
            dir: self.dir(),
            state: self.state.clone(),
            cgroup,
            done: false,
        })
    }
}

fn container_stats(cg: &Cgroup, state: &State) -> Result<Stats> {
    let mut s = cg.stats()?;
    s.network_interfaces = stats::network_interfaces(state.pid);
    Ok(s)
}

/// The event stream of one container (an iterator that blocks).
pub struct Events {
    cgroup: Cgroup,
    state: State,
    dir: std::path::PathBuf,
    oom_fd: Option<OwnedFd>,
    ooms: u64,
    frozen: bool,
    next_stats: Instant,
    interval: Duration,
    done: bool,
}

impl Iterator for Events {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        if self.done {
            return None;
        }
        loop {
            let ooms = self.cgroup.oom_kills();
            if ooms > self.ooms {
                self.ooms = ooms;
                return Some(Ok(Event::Oom));
            }
            if self.state.live_status(&self.dir) == Status::Stopped {
                self.done = true;
                return Some(Ok(Event::Exit));
            }
            let frozen = self.cgroup.is_frozen();
            if frozen != self.frozen {
                self.frozen = frozen;
                return Some(Ok(if frozen { Event::Paused } else { Event::Resumed }));
            }
            let now = Instant::now();
            if now >= self.next_stats {
                self.next_stats = now + self.interval;
                return Some(container_stats(&self.cgroup, &self.state).map(|s| Event::Stats(Box::new(s))));
            }
            // Wake for an OOM notification, the next stats, or at least
            // every 100 ms to see the container stop or pause.
            let wait = (self.next_stats - now).min(Duration::from_millis(100));
            match &self.oom_fd {
                Some(fd) => {
                    if let Err(e) = sys::poll(&[(fd.as_raw_fd(), libc::POLLIN)], wait.as_millis() as i32) {
                        return Some(Err(Error::sys("wait for cgroup events", e)));
                    }
                    sys::drain(fd);
                }
                None => std::thread::sleep(wait),
            }
        }
    }
}
