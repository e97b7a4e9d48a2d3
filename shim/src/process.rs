//! One process of a task, the init or an exec'd one, as containerd asks
//! about it: its status, its exit, its stdio and terminal. The shim is
//! the parent of both (runtime-core clones them as its children) and one
//! small thread per process waits for its exit: no `waitpid(-1)` loop,
//! which would reap runtime-core's own helpers from under it.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::types::task::Status;
use tandem_runtime_core::{ExecProcess, sys};

use crate::stdio::{Attached, Paths};

/// A waiter needs little stack: it blocks in waitpid and then reports.
const WAITER_STACK: usize = 64 * 1024;

#[derive(Clone)]
pub struct Exit {
    pub status: u32,
    pub at: Timestamp,
}

pub struct Proc {
    /// Empty for the init.
    pub exec_id: String,
    pub paths: Paths,
    state: Mutex<ProcState>,
    exited: Condvar,
    /// The terminal and the stdin feeder, once started.
    io: Mutex<Option<Attached>>,
    /// For signals: refers to this process until the waiter reaps it
    /// (never to a reused pid).
    pidfd: Mutex<Option<OwnedFd>>,
}

struct ProcState {
    pid: u32,
    status: Status,
    exit: Option<Exit>,
}

impl Proc {
    pub fn new(exec_id: &str, paths: Paths) -> Arc<Proc> {
        Arc::new(Proc {
            exec_id: exec_id.to_string(),
            paths,
            state: Mutex::new(ProcState { pid: 0, status: Status::CREATED, exit: None }),
            exited: Condvar::new(),
            io: Mutex::new(None),
            pidfd: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ProcState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pid(&self) -> u32 {
        self.lock().pid
    }

    pub fn set_pid(&self, pid: u32) {
        self.lock().pid = pid;
    }

    /// Created, running or stopped (a paused container's init is the
    /// container's business: see the service).
    pub fn status(&self) -> Status {
        self.lock().status
    }

    pub fn set_running(&self) {
        let mut s = self.lock();
        if s.exit.is_none() {
            s.status = Status::RUNNING;
        }
    }

    pub fn exit(&self) -> Option<Exit> {
        self.lock().exit.clone()
    }

    pub fn attach(&self, io: Attached) {
        *self.io.lock().unwrap_or_else(|p| p.into_inner()) = Some(io);
    }

    pub fn with_io<T>(&self, f: impl FnOnce(&Attached) -> T) -> Option<T> {
        self.io.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(f)
    }

    /// Record an exit that happened without a waiter (a process that
    /// never started, or one containerd's delete found gone).
    pub fn set_exited(&self, status: u32) -> Exit {
        self.record(Exit { status, at: crate::events::now() });
        self.exit().expect("just recorded")
    }

    fn record(&self, exit: Exit) {
        let mut s = self.lock();
        s.exit.get_or_insert(exit);
        s.status = Status::STOPPED;
        self.exited.notify_all();
    }

    /// Block until the process exited.
    pub fn wait(&self) -> Exit {
        let mut s = self.lock();
        loop {
            if let Some(e) = &s.exit {
                return e.clone();
            }
            s = self.exited.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub fn signal(&self, sig: i32) -> std::io::Result<()> {
        match &*self.pidfd.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(fd) => sys::pidfd_send_signal(fd, sig),
            None => Err(std::io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// Reap `child` on a thread of its own; `on_exit` runs once it is
    /// recorded (it publishes the exit).
    pub fn watch(self: &Arc<Self>, child: ExecProcess, on_exit: impl FnOnce(&Proc, &Exit) + Send + 'static) {
        match sys::pidfd_open(child.pid()) {
            Ok(fd) => *self.pidfd.lock().unwrap_or_else(|p| p.into_inner()) = Some(fd),
            Err(e) => log::warn!("pidfd_open {}: {e}", child.pid()),
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new().name(format!("wait-{}", child.pid())).stack_size(WAITER_STACK).spawn(
            move || {
                let pid = child.pid();
                let status = match child.wait() {
                    Ok(code) => code as u32,
                    Err(e) => {
                        log::error!("wait for {pid}: {e}");
                        255
                    }
                };
                // Output of a terminal goes on until the pty is drained.
                if let Some(io) = me.io.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    io.finish();
                }
                me.pidfd.lock().unwrap_or_else(|p| p.into_inner()).take();
                // Published before a Wait returns, so that containerd (and
                // `ctr events`) sees the exit before anything the waiter
                // does next (an exec's exit before the pause that follows).
                let exit = Exit { status, at: crate::events::now() };
                on_exit(&me, &exit);
                me.record(exit);
            },
        );
        if let Err(e) = spawned {
            log::error!("start the waiter of {}: {e}", self.pid());
        }
    }
}
