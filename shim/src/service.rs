//! The task API (containerd.task.v2.Task) over runtime-core: one `Task`
//! per container this server runs, each request a lifecycle verb on the
//! container loaded from tandem's state (the truth, as for the CLI), or
//! on one of its exec'd processes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use containerd_shim::api::*;
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskPaused, TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::topics::*;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::protos::types::task::{ProcessInfo, Status as TaskStatus};
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{ExitSignal, Task as TaskApi, TtrpcContext};
use tandem_runtime_core::{Container, CreateOptions, Error, ExecOptions, Process, RestoreOptions, Runtime, Status};

use crate::events::Events;
use crate::oom::OomWatch;
use crate::options::Options;
use crate::process::{Exit, Proc};
use crate::stdio::{Paths, Prepared};

pub struct Service {
    events: Arc<Events>,
    namespace: String,
    exit: Arc<ExitSignal>,
    tasks: Mutex<HashMap<String, Arc<Task>>>,
}

/// A container this server made.
struct Task {
    id: String,
    bundle: PathBuf,
    runtime: Runtime,
    init: Arc<Proc>,
    execs: Mutex<HashMap<String, Exec>>,
    oom: Mutex<Option<Arc<OomWatch>>>,
    /// Created from a checkpoint: restored at start, as the runc shim does.
    restore: Mutex<Option<PendingRestore>>,
    /// Held while the init starts and its start is published: an init that
    /// exits at once has its exit published after its start.
    starting: Arc<Mutex<()>>,
}

struct PendingRestore {
    images: PathBuf,
    prepared: Prepared,
    systemd_cgroup: bool,
}

struct Exec {
    proc: Arc<Proc>,
    /// Until it is started: what runs, and its stdio.
    pending: Option<(Process, Prepared)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// runtime-core's error as a ttrpc status with containerd's code for it.
fn status_of(e: Error) -> ttrpc::Error {
    let code = match &e {
        Error::NotFound(_) => Code::NOT_FOUND,
        Error::IdInUse(_) => Code::ALREADY_EXISTS,
        Error::InvalidIdFormat { .. } | Error::ConfigInvalid { .. } => Code::INVALID_ARGUMENT,
        Error::Paused(_)
        | Error::NotStopped { .. }
        | Error::NotRunning { .. }
        | Error::NotPaused { .. }
        | Error::NotCreated { .. } => Code::FAILED_PRECONDITION,
        _ => Code::UNKNOWN,
    };
    rpc(code, e.to_string())
}

fn rpc(code: Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

fn io_status(what: &str, e: std::io::Error) -> ttrpc::Error {
    let code = match e.kind() {
        std::io::ErrorKind::Unsupported => Code::UNIMPLEMENTED,
        std::io::ErrorKind::NotFound => Code::NOT_FOUND,
        _ => Code::UNKNOWN,
    };
    rpc(code, format!("{what}: {e}"))
}

/// containerd's status of a container as runtime-core sees it live.
fn task_status(s: Status) -> TaskStatus {
    match s {
        Status::Creating => TaskStatus::UNKNOWN,
        Status::Created => TaskStatus::CREATED,
        Status::Running => TaskStatus::RUNNING,
        Status::Paused => TaskStatus::PAUSED,
        Status::Stopped => TaskStatus::STOPPED,
    }
}

impl Service {
    pub fn new(namespace: &str, exit: Arc<ExitSignal>, publisher: RemotePublisher) -> Service {
        Service {
            events: Arc::new(Events::new(publisher, namespace)),
            namespace: namespace.to_string(),
            exit,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    fn task(&self, id: &str) -> ttrpc::Result<Arc<Task>> {
        lock(&self.tasks).get(id).cloned().ok_or_else(|| rpc(Code::NOT_FOUND, format!("task {id} not found")))
    }

    fn exec_proc(&self, task: &Task, exec_id: &str) -> ttrpc::Result<Arc<Proc>> {
        if exec_id.is_empty() {
            return Ok(task.init.clone());
        }
        lock(&task.execs)
            .get(exec_id)
            .map(|e| e.proc.clone())
            .ok_or_else(|| rpc(Code::NOT_FOUND, format!("process {exec_id} of task {} not found", task.id)))
    }

    /// Publish an exit once a process is reaped.
    fn on_exit(&self, task: &Task) -> impl FnOnce(&Proc, &Exit) + Send + 'static {
        let events = self.events.clone();
        let container_id = task.id.clone();
        let oom = lock(&task.oom).clone();
        let starting = task.starting.clone();
        move |proc: &Proc, exit: &Exit| {
            let _started = lock(&starting);
            // An OOM kill that ended the init goes out before its exit.
            if proc.exec_id.is_empty()
                && let Some(oom) = &oom
            {
                oom.check();
            }
            let id = if proc.exec_id.is_empty() { container_id.clone() } else { proc.exec_id.clone() };
            let event = TaskExit {
                container_id,
                id,
                pid: proc.pid(),
                exit_status: exit.status,
                exited_at: MessageField::some(exit.at.clone()),
                ..Default::default()
            };
            events.publish(TASK_EXIT_EVENT_TOPIC, Box::new(event));
        }
    }

    fn create_task(&self, req: &CreateTaskRequest) -> ttrpc::Result<Arc<Task>> {
        let options = Options::from_any(req.options.as_ref()).map_err(|e| rpc(Code::INVALID_ARGUMENT, e))?;
        let bundle = PathBuf::from(&req.bundle);
        let runtime =
            Runtime::open(options.state_root(&self.namespace)).map_err(status_of)?.with_cache(options.cache.clone());
        options
            .save_in(&bundle)
            .map_err(|e| io_status(&format!("write the shim record in {}", bundle.display()), e))?;
        mount_rootfs(&bundle, &req.rootfs)?;
        let made = (|| {
            let paths = Paths {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
            };
            let prepared = Prepared::open(&paths).map_err(|e| io_status("open the task's stdio", e))?;
            if !req.checkpoint.is_empty() {
                let restore = PendingRestore {
                    images: PathBuf::from(&req.checkpoint),
                    prepared,
                    systemd_cgroup: options.systemd_cgroup,
                };
                return Ok(Arc::new(Task {
                    id: req.id.clone(),
                    bundle: bundle.clone(),
                    runtime,
                    init: Proc::new("", paths),
                    execs: Mutex::new(HashMap::new()),
                    oom: Mutex::new(None),
                    restore: Mutex::new(Some(restore)),
                    starting: Arc::default(),
                }));
            }
            let opts = CreateOptions {
                stdio: prepared.stdio_fds(),
                console_socket_fd: prepared.console_fd(),
                systemd_cgroup: options.systemd_cgroup,
                ..Default::default()
            };
            let mut container = runtime.create(&req.id, &bundle, &opts).map_err(status_of)?;
            let attached = match prepared.attach(&paths) {
                Ok(a) => a,
                Err(e) => {
                    let _ = container.delete(true);
                    return Err(io_status("attach the task's terminal", e));
                }
            };
            let init = Proc::new("", paths);
            init.set_pid(container.pid() as u32);
            init.attach(attached);
            let child = container.take_init().expect("create returns the init it made");
            let task = Arc::new(Task {
                id: req.id.clone(),
                bundle: bundle.clone(),
                runtime,
                init: init.clone(),
                execs: Mutex::new(HashMap::new()),
                oom: Mutex::new(self.watch_oom(&container)),
                restore: Mutex::new(None),
                starting: Arc::default(),
            });
            init.watch(child, self.on_exit(&task));
            Ok(task)
        })();
        if made.is_err() {
            unmount_rootfs(&bundle);
        }
        made
    }

    fn watch_oom(&self, container: &Container) -> Option<Arc<OomWatch>> {
        let cg = container.state().cgroup.clone()?;
        OomWatch::start(container.id(), cg, container.pid(), self.events.clone())
    }

    /// Start a task created from a checkpoint: CRIU brings its processes
    /// back with the task's stdio, the restored init this server's child.
    fn restore_task(&self, task: &Task, pending: PendingRestore) -> ttrpc::Result<()> {
        let opts = RestoreOptions {
            image_path: pending.images,
            stdio: pending.prepared.stdio_fds(),
            console_socket_fd: pending.prepared.console_fd(),
            systemd_cgroup: pending.systemd_cgroup,
            ..Default::default()
        };
        let restored = task.runtime.restore(&task.id, &task.bundle, &opts);
        let mut container = match restored {
            Ok(c) => c,
            Err(e) => {
                task.init.set_exited(255);
                return Err(status_of(e));
            }
        };
        match pending.prepared.attach(&task.init.paths) {
            Ok(a) => task.init.attach(a),
            Err(e) => log::warn!("attach the terminal of {}: {e}", task.id),
        }
        task.init.set_pid(container.pid() as u32);
        *lock(&task.oom) = self.watch_oom(&container);
        let child = container.take_init().expect("restore returns the init it made");
        task.init.watch(child, self.on_exit(task));
        Ok(())
    }

    fn start_exec(&self, task: &Task, exec_id: &str) -> ttrpc::Result<u32> {
        let (proc, (process, prepared)) = {
            let mut execs = lock(&task.execs);
            let exec = execs
                .get_mut(exec_id)
                .ok_or_else(|| rpc(Code::NOT_FOUND, format!("process {exec_id} of task {} not found", task.id)))?;
            let pending = exec
                .pending
                .take()
                .ok_or_else(|| rpc(Code::FAILED_PRECONDITION, format!("{exec_id} already started")))?;
            (exec.proc.clone(), pending)
        };
        let container = task.container()?;
        let opts =
            ExecOptions { stdio: prepared.stdio_fds(), console_socket_fd: prepared.console_fd(), ..Default::default() };
        let child = match container.exec(process, &opts) {
            Ok(c) => c,
            Err(e) => {
                proc.set_exited(255);
                return Err(status_of(e));
            }
        };
        let pid = child.pid() as u32;
        proc.set_pid(pid);
        match prepared.attach(&proc.paths) {
            Ok(a) => proc.attach(a),
            Err(e) => log::warn!("attach the terminal of {exec_id}: {e}"),
        }
        proc.set_running();
        // Published before the waiter starts, so that a short exec's exit
        // never goes out before its start (containerd's runc shim holds
        // its exits back for the same reason).
        let event =
            TaskExecStarted { container_id: task.id.clone(), exec_id: exec_id.to_string(), pid, ..Default::default() };
        self.events.publish(TASK_EXEC_STARTED_EVENT_TOPIC, Box::new(event));
        proc.watch(child, self.on_exit(task));
        Ok(pid)
    }
}

impl Task {
    fn container(&self) -> ttrpc::Result<Container> {
        self.runtime.load(&self.id).map_err(status_of)
    }

    /// The init's status: its recorded exit once reaped, else the live one.
    fn status(&self) -> TaskStatus {
        if self.init.exit().is_some() {
            return TaskStatus::STOPPED;
        }
        if lock(&self.restore).is_some() {
            return TaskStatus::CREATED;
        }
        self.container().map_or(TaskStatus::UNKNOWN, |c| task_status(c.status()))
    }
}

/// containerd's rootfs mounts (an overlay of the image's snapshots, or a
/// bind of one) onto the bundle's `rootfs`, in this thread: the crate's
/// `mount_rootfs` forks a child it waits for through a reaper this shim
/// does not run (see main.rs). An overlay's options must fit mount(2)'s
/// one page (about 40 layers at containerd's path lengths).
fn mount_rootfs(bundle: &Path, mounts: &[containerd_shim::protos::types::mount::Mount]) -> ttrpc::Result<()> {
    if mounts.is_empty() {
        return Ok(());
    }
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(|e| io_status(&format!("create {}", rootfs.display()), e))?;
    for m in mounts {
        if let Err(e) = mount_one(m, &rootfs) {
            unmount_rootfs(bundle);
            return Err(rpc(Code::UNKNOWN, format!("mount {} {} on {}: {e}", m.type_, m.source, rootfs.display())));
        }
    }
    Ok(())
}

fn mount_one(m: &containerd_shim::protos::types::mount::Mount, target: &Path) -> std::io::Result<()> {
    use nix::mount::{MsFlags, mount};
    use tandem_runtime_core::mount_options;
    let flags = mount_options::parse(&m.options).map_err(std::io::Error::other)?;
    let data = (!flags.data.is_empty()).then_some(flags.data.as_str());
    let ms = |bits: u64| MsFlags::from_bits_retain(bits as libc::c_ulong);
    mount(Some(m.source.as_str()), target, Some(m.type_.as_str()), ms(flags.set), data)?;
    // A bind mount takes read-only and the like on a remount only.
    let bind_attrs = flags.set & !(libc::MS_BIND | libc::MS_REC);
    if flags.set & libc::MS_BIND != 0 && bind_attrs != 0 {
        mount(None::<&str>, target, None::<&str>, ms(libc::MS_REMOUNT | libc::MS_BIND | bind_attrs), None::<&str>)?;
    }
    Ok(())
}

/// Undo [`mount_rootfs`] (nothing there: nothing to do).
pub fn unmount_rootfs(bundle: &Path) {
    let rootfs = bundle.join("rootfs");
    if let Some(path) = rootfs.to_str()
        && let Err(e) = containerd_shim::mount::umount_recursive(Some(path), libc::MNT_DETACH)
    {
        log::warn!("unmount {path}: {e}");
    }
}

impl TaskApi for Service {
    fn create(&self, _ctx: &TtrpcContext, req: CreateTaskRequest) -> ttrpc::Result<CreateTaskResponse> {
        if lock(&self.tasks).contains_key(&req.id) {
            return Err(rpc(Code::ALREADY_EXISTS, format!("task {} already exists", req.id)));
        }
        let task = self.create_task(&req)?;
        let pid = task.init.pid();
        lock(&self.tasks).insert(req.id.clone(), task);
        let event = TaskCreate {
            container_id: req.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(TaskIO {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
                ..Default::default()
            }),
            pid,
            ..Default::default()
        };
        self.events.publish(TASK_CREATE_EVENT_TOPIC, Box::new(event));
        Ok(CreateTaskResponse { pid, ..Default::default() })
    }

    fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> ttrpc::Result<StartResponse> {
        let task = self.task(&req.id)?;
        if !req.exec_id.is_empty() {
            let pid = self.start_exec(&task, &req.exec_id)?;
            return Ok(StartResponse { pid, ..Default::default() });
        }
        let _starting = lock(&task.starting);
        let pending = lock(&task.restore).take();
        match pending {
            Some(pending) => self.restore_task(&task, pending)?,
            None => task.container()?.start().map_err(status_of)?,
        }
        task.init.set_running();
        let pid = task.init.pid();
        let event = TaskStart { container_id: req.id.clone(), pid, ..Default::default() };
        self.events.publish(TASK_START_EVENT_TOPIC, Box::new(event));
        Ok(StartResponse { pid, ..Default::default() })
    }

    fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> ttrpc::Result<StateResponse> {
        let task = self.task(&req.id)?;
        let proc = self.exec_proc(&task, &req.exec_id)?;
        let status = if req.exec_id.is_empty() { task.status() } else { proc.status() };
        let exit = proc.exit();
        Ok(StateResponse {
            id: if req.exec_id.is_empty() { req.id.clone() } else { req.exec_id.clone() },
            bundle: task.bundle.to_string_lossy().into_owned(),
            pid: proc.pid(),
            status: status.into(),
            stdin: proc.paths.stdin.clone(),
            stdout: proc.paths.stdout.clone(),
            stderr: proc.paths.stderr.clone(),
            terminal: proc.paths.terminal,
            exit_status: exit.as_ref().map_or(0, |e| e.status),
            exited_at: exit.map(|e| e.at).into(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> ttrpc::Result<WaitResponse> {
        let task = self.task(&req.id)?;
        let proc = self.exec_proc(&task, &req.exec_id)?;
        let exit = proc.wait();
        Ok(WaitResponse { exit_status: exit.status, exited_at: MessageField::some(exit.at), ..Default::default() })
    }

    fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        let sig = req.signal as i32;
        if !req.exec_id.is_empty() {
            let proc = self.exec_proc(&task, &req.exec_id)?;
            return match proc.signal(sig) {
                Ok(()) => Ok(Empty::new()),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) || proc.exit().is_some() => {
                    Err(rpc(Code::NOT_FOUND, format!("process {} already finished", req.exec_id)))
                }
                Err(e) => Err(io_status(&format!("signal {sig} to {}", req.exec_id), e)),
            };
        }
        match task.container()?.signal(sig, req.all) {
            Ok(()) => Ok(Empty::new()),
            Err(Error::NotRunning { .. }) if !req.all || task.init.exit().is_some() => {
                Err(rpc(Code::NOT_FOUND, format!("process of task {} already finished", req.id)))
            }
            Err(e) => Err(status_of(e)),
        }
    }

    fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> ttrpc::Result<DeleteResponse> {
        let task = self.task(&req.id)?;
        if !req.exec_id.is_empty() {
            let mut execs = lock(&task.execs);
            let exec = execs
                .get(&req.exec_id)
                .ok_or_else(|| rpc(Code::NOT_FOUND, format!("process {} not found", req.exec_id)))?;
            let exit = match (exec.proc.exit(), &exec.pending) {
                (Some(exit), _) => exit,
                (None, Some(_)) => exec.proc.set_exited(0),
                (None, None) => {
                    return Err(rpc(Code::FAILED_PRECONDITION, format!("process {} is running", req.exec_id)));
                }
            };
            let pid = exec.proc.pid();
            execs.remove(&req.exec_id);
            return Ok(DeleteResponse {
                pid,
                exit_status: exit.status,
                exited_at: MessageField::some(exit.at),
                ..Default::default()
            });
        }
        // A checkpoint never restored has no container; one checkpointed
        // with exit has none any more (tandem removed it, its init is reaped).
        if lock(&task.restore).take().is_some() {
            task.init.set_exited(0);
        }
        let container = match task.runtime.load(&task.id) {
            Ok(c) => Some(c),
            Err(Error::NotFound(_)) if task.init.exit().is_some() => None,
            Err(e) => return Err(status_of(e)),
        };
        if let Some(container) = container {
            let started = task.init.status() == TaskStatus::RUNNING;
            if started && task.init.exit().is_none() && container.status() != Status::Stopped {
                return Err(rpc(Code::FAILED_PRECONDITION, format!("task {} is running: kill it first", req.id)));
            }
            // A task never started goes as runc's does: its init killed.
            container.delete(true).map_err(status_of)?;
        }
        let exit = task.init.wait();
        unmount_rootfs(&task.bundle);
        lock(&self.tasks).remove(&req.id);
        let pid = task.init.pid();
        let event = TaskDelete {
            container_id: req.id.clone(),
            id: req.id.clone(),
            pid,
            exit_status: exit.status,
            exited_at: MessageField::some(exit.at.clone()),
            ..Default::default()
        };
        self.events.publish(TASK_DELETE_EVENT_TOPIC, Box::new(event));
        Ok(DeleteResponse {
            pid,
            exit_status: exit.status,
            exited_at: MessageField::some(exit.at),
            ..Default::default()
        })
    }

    fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        if task.init.exit().is_some() {
            return Err(rpc(Code::FAILED_PRECONDITION, format!("task {} is stopped", req.id)));
        }
        let spec = req.spec.as_ref().ok_or_else(|| rpc(Code::INVALID_ARGUMENT, "exec without a process spec"))?;
        let process = tandem_runtime_core::config::parse_process(&spec.value).map_err(status_of)?;
        let paths = Paths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        {
            let mut execs = lock(&task.execs);
            if execs.contains_key(&req.exec_id) {
                return Err(rpc(Code::ALREADY_EXISTS, format!("process {} already exists", req.exec_id)));
            }
            let prepared = Prepared::open(&paths).map_err(|e| io_status("open the process's stdio", e))?;
            let proc = Proc::new(&req.exec_id, paths);
            execs.insert(req.exec_id.clone(), Exec { proc, pending: Some((process, prepared)) });
        }
        let event = TaskExecAdded { container_id: req.id.clone(), exec_id: req.exec_id.clone(), ..Default::default() };
        self.events.publish(TASK_EXEC_ADDED_EVENT_TOPIC, Box::new(event));
        Ok(Empty::new())
    }

    fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> ttrpc::Result<PidsResponse> {
        let task = self.task(&req.id)?;
        let pids = task.container()?.pids().map_err(status_of)?;
        let processes =
            pids.into_iter().map(|pid| ProcessInfo { pid: pid as u32, ..Default::default() }).collect::<Vec<_>>();
        Ok(PidsResponse { processes, ..Default::default() })
    }

    fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        task.container()?.pause().map_err(status_of)?;
        self.events
            .publish(TASK_PAUSED_EVENT_TOPIC, Box::new(TaskPaused { container_id: req.id, ..Default::default() }));
        Ok(Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        task.container()?.resume().map_err(status_of)?;
        let event = TaskResumed { container_id: req.id, ..Default::default() };
        self.events.publish(TASK_RESUMED_EVENT_TOPIC, Box::new(event));
        Ok(Empty::new())
    }

    /// Into the directory containerd names (it keeps it as a checkpoint
    /// image), with runc's options; with `exit` the container goes and
    /// its init's exit is published as any other.
    fn checkpoint(&self, _ctx: &TtrpcContext, req: CheckpointTaskRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        let opts = Options::checkpoint(req.options.as_ref(), &req.path).map_err(|e| rpc(Code::INVALID_ARGUMENT, e))?;
        task.container()?.checkpoint(&opts).map_err(status_of)?;
        Ok(Empty::new())
    }

    fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        let any = req.resources.as_ref().ok_or_else(|| rpc(Code::INVALID_ARGUMENT, "update without resources"))?;
        // containerd sends the runtime spec's LinuxResources as JSON.
        let res: oci_spec::runtime::LinuxResources =
            serde_json::from_slice(&any.value).map_err(|e| rpc(Code::INVALID_ARGUMENT, format!("resources: {e}")))?;
        task.container()?.update(&res).map_err(status_of)?;
        Ok(Empty::new())
    }

    fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> ttrpc::Result<StatsResponse> {
        let task = self.task(&req.id)?;
        let container = task.container()?;
        let stats = container.stats().map_err(status_of)?;
        let cgroup = container.state().cgroup.as_ref().ok_or_else(|| rpc(Code::NOT_FOUND, "the task has no cgroup"))?;
        let any = crate::metrics::to_any(&stats, &cgroup.version, cgroup.oom_kills());
        Ok(StatsResponse { stats: MessageField::some(any), ..Default::default() })
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        let proc = self.exec_proc(&task, &req.exec_id)?;
        proc.with_io(|io| io.close_stdin());
        Ok(Empty::new())
    }

    fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> ttrpc::Result<Empty> {
        let task = self.task(&req.id)?;
        let proc = self.exec_proc(&task, &req.exec_id)?;
        match proc.with_io(|io| io.resize(req.width, req.height)) {
            Some(Err(e)) => Err(io_status("resize the terminal", e)),
            _ => Ok(Empty::new()),
        }
    }

    fn connect(&self, _ctx: &TtrpcContext, req: ConnectRequest) -> ttrpc::Result<ConnectResponse> {
        let task_pid = lock(&self.tasks).get(&req.id).map_or(0, |t| t.init.pid());
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    /// containerd asks after each delete: the server goes once it serves
    /// no task (a pod's server stays for the pod's other containers).
    fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> ttrpc::Result<Empty> {
        if lock(&self.tasks).is_empty() {
            self.exit.signal();
        }
        Ok(Empty::new())
    }
}
