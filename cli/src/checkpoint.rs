//! `checkpoint` and `restore`, with runc's flags, on CRIU (`--criu` names
//! the binary, as runc's global flag does).

use std::path::PathBuf;

use tandem_runtime_core::{CheckpointOptions, Error, RestoreOptions, Runtime};

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// Where CRIU writes the images.
    #[arg(long, default_value = "checkpoint")]
    image_path: PathBuf,
    /// Where CRIU writes its log and work files (default: the image path).
    #[arg(long)]
    work_path: Option<PathBuf>,
    /// A pre-dump's images, relative to the image path, this dump builds on.
    #[arg(long)]
    parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long)]
    leave_running: bool,
    /// Allow open TCP connections.
    #[arg(long)]
    tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long)]
    ext_unix_sk: bool,
    /// Allow shell jobs.
    #[arg(long)]
    shell_job: bool,
    /// Handle file locks.
    #[arg(long)]
    file_locks: bool,
    /// Dump memory only, leaving the container running (needs soft-dirty tracking).
    #[arg(long)]
    pre_dump: bool,
    /// cgroups mode: soft (default), full, strict or ignore.
    #[arg(long)]
    manage_cgroups_mode: Option<String>,
    /// A namespace CRIU leaves empty (network).
    #[arg(long)]
    empty_ns: Vec<String>,
    /// Deduplicate memory against the parent's images.
    #[arg(long)]
    auto_dedup: bool,
    /// Leave memory for a lazy-pages daemon.
    #[arg(long)]
    lazy_pages: bool,
    /// An fd CRIU writes \0 to once the lazy-pages server is ready.
    #[arg(long)]
    status_fd: Option<i32>,
    /// ADDRESS:PORT of a CRIU page server.
    #[arg(long)]
    page_server: Option<String>,
    id: String,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    #[arg(long, default_value = "checkpoint")]
    image_path: PathBuf,
    #[arg(long)]
    work_path: Option<PathBuf>,
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Return once restored instead of waiting for the container to exit.
    #[arg(short, long)]
    detach: bool,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Where a restored terminal's master would go (not supported yet).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for runc's callers: CRIU restores the mount namespace itself.
    #[arg(long)]
    no_pivot: bool,
    #[arg(long)]
    no_subreaper: bool,
    #[arg(long)]
    tcp_established: bool,
    #[arg(long)]
    ext_unix_sk: bool,
    #[arg(long)]
    shell_job: bool,
    #[arg(long)]
    file_locks: bool,
    #[arg(long)]
    manage_cgroups_mode: Option<String>,
    #[arg(long)]
    auto_dedup: bool,
    #[arg(long)]
    lazy_pages: bool,
    /// LSM profile for the restored processes.
    #[arg(long)]
    lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts.
    #[arg(long)]
    lsm_mount_context: Option<String>,
    id: String,
}

pub fn checkpoint(rt: &Runtime, criu: Option<PathBuf>, a: CheckpointArgs) -> Result<i32, Error> {
    let opts = CheckpointOptions {
        criu,
        image_path: a.image_path,
        work_path: a.work_path,
        parent_path: a.parent_path,
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        pre_dump: a.pre_dump,
        manage_cgroups_mode: a.manage_cgroups_mode,
        empty_ns: a.empty_ns,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
        status_fd: a.status_fd,
        page_server: a.page_server,
    };
    rt.load(&a.id)?.checkpoint(&opts)?;
    Ok(0)
}

pub fn restore(rt: &Runtime, criu: Option<PathBuf>, systemd_cgroup: bool, a: RestoreArgs) -> Result<i32, Error> {
    if a.console_socket.is_some() {
        return Err(Error::Console("restoring a container with a terminal is not supported yet".into()));
    }
    let opts = RestoreOptions {
        criu,
        image_path: a.image_path,
        work_path: a.work_path,
        pid_file: a.pid_file,
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a.manage_cgroups_mode,
        lsm_profile: a.lsm_profile,
        lsm_mount_context: a.lsm_mount_context,
        systemd_cgroup,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
    };
    let mut c = rt.restore(&a.id, &a.bundle, &opts)?;
    if a.detach {
        return Ok(0);
    }
    // In the foreground, as `run`: the container's status is ours, then it goes.
    let code = c.wait()?;
    rt.load(&a.id)?.delete(true)?;
    Ok(code)
}
