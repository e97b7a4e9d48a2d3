//! The runc-compatible command line over tandem's runtime-core, with the
//! native and the wasm executor and the wasi-http plugin linked in. The wasm executor links no
//! engine: its compiler and its helper are binaries of their own, next to
//! `tandem` (see `tandem-wasm-select`), so what a native container command
//! maps and pages in stays small.
//!
//! Each subcommand maps onto one `Runtime`/`Container` call; errors come
//! back as one line on stderr (and in the `--log` file, as text or JSON
//! lines that containerd reads) with a distinct exit status per error kind.

// Link the executors this build's features name, so their registrations
// are in the binary.
#[cfg(feature = "native")]
use tandem_executor_native as _;
#[cfg(feature = "wasi-http")]
use tandem_plugin_wasi_http as _;
#[cfg(feature = "wasm")]
use tandem_wasm_select as _;

mod cgroup_cmds;
mod checkpoint;
mod exec;
mod logging;
mod run;
mod signal;
mod spec;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tandem_runtime_core::{CreateOptions, Error, Runtime};

#[derive(Parser)]
#[command(name = "tandem", version, about = "An OCI runtime for native and WebAssembly containers")]
struct Cli {
    /// Directory holding container state [default: /run/tandem; rootless: $XDG_RUNTIME_DIR/tandem].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Directory for caches shared by containers (compiled seccomp filters and wasm)
    /// [default: /var/cache/tandem; rootless: $XDG_CACHE_HOME/tandem or ~/.cache/tandem].
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// Also write errors (and with --debug, debug lines) to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of --log lines: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[arg(long, global = true)]
    debug: bool,
    /// Make containers' cgroups as systemd units (linux.cgroupsPath is slice:prefix:name).
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// true, false or auto (default: auto, unprivileged or in a user namespace);
    /// `spec --rootless` writes a rootless spec.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true", value_parser = ["true", "false", "auto"])]
    rootless: Option<String>,
    /// The CRIU binary checkpoint and restore run (default: criu on PATH).
    #[arg(long, global = true)]
    criu: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Write the init's pid to this file.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for a ramdisk root).
    #[arg(long)]
    no_pivot: bool,
    /// Keep the caller's session keyring instead of making one for the container.
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the workload.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

impl CreateArgs {
    fn options(&self, systemd_cgroup: bool) -> CreateOptions {
        CreateOptions {
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            console_socket_fd: None,
            stdio: None,
            preserve_fds: self.preserve_fds,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            systemd_cgroup,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a container; its workload waits for `start`.
    Create(CreateArgs),
    /// Start a created container's workload.
    Start { id: String },
    /// Print a container's OCI state as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init.
    Kill {
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (a running one only with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container; in the foreground, wait and delete it.
    Run {
        #[arg(short, long)]
        detach: bool,
        /// Keep the stopped container after a foreground run (its state stays readable).
        #[arg(long, conflicts_with = "detach")]
        keep: bool,
        #[command(flatten)]
        create: CreateArgs,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json for a new bundle.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports, as OCI features JSON.
    Features,
    /// Run a process in a running container.
    Exec(Box<exec::ExecArgs>),
    /// Checkpoint a running container with CRIU (runc's flags; --help lists them).
    #[command(disable_help_flag = true)]
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Restore a container from a checkpoint (runc's flags; --help lists them).
    #[command(disable_help_flag = true)]
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List a container's processes (table: the host's `ps` output, filtered).
    Ps {
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Arguments for ps (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Stream a container's stats and OOM events as JSON lines.
    Events {
        /// Time between stats, e.g. 5s or 500ms.
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Print the stats once and exit.
        #[arg(long)]
        stats: bool,
        id: String,
    },
    /// Change a running container's resources.
    Update {
        id: String,
        #[command(flatten)]
        args: Box<cgroup_cmds::UpdateArgs>,
    },
    /// The wasm executor's compiled-code cache under --root.
    WasmCache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand)]
pub enum CacheAction {
    /// List cached artifacts: module sha256, engine hash, size, path.
    List,
    /// Remove artifacts the current engine cannot use (and, with --all, every one).
    Prune {
        #[arg(long)]
        all: bool,
    },
}

/// The log, for the engine's warnings and debug lines as well as ours.
static LOG: std::sync::OnceLock<logging::Log> = std::sync::OnceLock::new();

/// The whole command line.
pub fn main() {
    let cli = Cli::parse();
    // Before this process opens anything (the log file first): an fd of
    // its own must never take the number of a preserved fd.
    let preserved = match &cli.command {
        Command::Create(args) | Command::Run { create: args, .. } => args.preserve_fds,
        Command::Exec(args) => args.preserve_fds,
        _ => 0,
    };
    let passed = tandem_runtime_core::preserved_fds::check(preserved);
    let log = LOG.get_or_init(|| logging::Log::new(cli.log.clone(), cli.log_format == "json", cli.debug));
    tandem_runtime_core::log::set_sink(|level, msg| {
        if let Some(log) = LOG.get() {
            match level {
                tandem_runtime_core::log::Level::Warning => log.warn(msg),
                tandem_runtime_core::log::Level::Debug => log.debug(msg),
            }
        }
    });
    // The commands that clone processes into a container run from a
    // sealed image of this binary (CVE-2019-5736): once, here.
    if let Err(e) = passed.and_then(|()| match &cli.command {
        Command::Create(_) | Command::Run { .. } | Command::Exec(_) => tandem_runtime_core::exe_seal::reexec(),
        _ => Ok(()),
    }) {
        log.error(&e.to_string());
        std::process::exit(e.exit_code());
    }
    // runc: exec's own failures exit 255, never to be taken for the
    // process's status; a program not found or not executable is 127/126.
    let is_exec = matches!(cli.command, Command::Exec(_));
    let status = |e: &Error| match e.exit_code() {
        code if is_exec && code != 126 && code != 127 => 255,
        code => code,
    };
    match dispatch(cli, log) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&e.to_string());
            std::process::exit(status(&e));
        }
    }
}

/// One line on stdout. A reader that has gone (`tandem features | head`)
/// ends the output, not the command: as the list and events do.
pub(crate) fn out_line(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn dispatch(cli: Cli, log: &logging::Log) -> Result<i32, Error> {
    match cli.command {
        Command::Spec { bundle } => {
            let rootless = cli.rootless.as_deref().is_some_and(|r| r == "true");
            return spec::write_default(&bundle, rootless).map(|()| 0);
        }
        Command::Features => {
            out_line(spec::features());
            return Ok(0);
        }
        _ => {}
    }
    // runc's --rootless: auto unless said.
    let rootless = match cli.rootless.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => tandem_runtime_core::rootless::detect(),
    };
    let root = match (cli.root, rootless) {
        (Some(root), _) => root,
        (None, true) => tandem_runtime_core::rootless::state_root()?,
        (None, false) => PathBuf::from(tandem_runtime_core::DEFAULT_ROOT),
    };
    let cache = match (cli.cache_dir, rootless) {
        (Some(dir), _) => dir,
        (None, true) => tandem_runtime_core::rootless::cache_dir().unwrap_or_else(|| root.join("cache")),
        (None, false) => PathBuf::from(tandem_runtime_core::DEFAULT_CACHE),
    };
    let rt = Runtime::open(&root)?.with_cache(cache).with_rootless(rootless);
    match cli.command {
        Command::Create(args) => {
            log.debug(&format!("create {} from {}", args.id, args.bundle.display()));
            rt.create(&args.id, &args.bundle, &args.options(cli.systemd_cgroup))?;
        }
        Command::Start { id } => rt.load(&id)?.start()?,
        Command::State { id } => {
            let c = rt.load(&id)?;
            out_line(serde_json::to_string_pretty(&c.oci_state()).expect("state serialises"));
        }
        Command::Kill { all, id, signal } => {
            let sig = signal::parse(&signal)?;
            rt.load(&id)?.signal(sig, all)?;
        }
        Command::Delete { force, id } => match rt.load(&id).and_then(|c| c.delete(force)) {
            Ok(()) => {}
            // runc: deleting a container that is already gone is fine with
            // --force, also when a racing delete removed it meanwhile.
            Err(Error::NotFound(_)) if force => {}
            Err(e) => return Err(e),
        },
        Command::Run { detach, keep, create } => {
            let mode = match (detach, keep) {
                (true, _) => run::Mode::Detach,
                (false, true) => run::Mode::Keep,
                (false, false) => run::Mode::Foreground,
            };
            return run::run(&rt, &create.id, &create.bundle, &create.options(cli.systemd_cgroup), mode);
        }
        Command::List { format, quiet } => list(&rt, &format, quiet)?,
        Command::Exec(args) => return exec::exec(&rt, &args),
        Command::Checkpoint { args } => return checkpoint::checkpoint(&rt, cli.criu, &args),
        Command::Restore { args } => return checkpoint::restore(&rt, cli.criu, cli.systemd_cgroup, &args),
        Command::Pause { id } => cgroup_cmds::pause(&rt, &id)?,
        Command::Resume { id } => cgroup_cmds::resume(&rt, &id)?,
        Command::Ps { format, id, ps_args } => cgroup_cmds::ps(&rt, &id, &format, &ps_args)?,
        Command::Events { interval, stats, id } => cgroup_cmds::events(&rt, &id, &interval, stats)?,
        Command::Update { id, args } => cgroup_cmds::update(&rt, &id, &args)?,
        Command::WasmCache { action } => wasm_cache(&rt, action)?,
        Command::Spec { .. } | Command::Features => unreachable!("handled above"),
    }
    Ok(0)
}

#[cfg(not(feature = "wasm"))]
fn wasm_cache(_: &Runtime, _: CacheAction) -> Result<(), Error> {
    Err(Error::Executor {
        executor: "wasm".into(),
        why: "this build has no wasm executor (the cli's `wasm` feature)".into(),
    })
}

#[cfg(feature = "wasm")]
fn wasm_cache(rt: &Runtime, action: CacheAction) -> Result<(), Error> {
    let c = tandem_wasm_select::cache::Cache::at(rt.cache());
    match action {
        CacheAction::List => {
            for e in c.list() {
                let age = e.modified.elapsed().map(|d| d.as_secs()).unwrap_or(0);
                out_line(format_args!(
                    "{} {} {:>10} bytes {:>8}s old {}",
                    e.module_sha256,
                    e.engine,
                    e.bytes,
                    age,
                    e.path.display()
                ));
            }
        }
        CacheAction::Prune { all } => {
            let n = c.prune(all).map_err(|e| Error::path("prune", c.dir(), e))?;
            out_line(format_args!("removed {n} file(s) from {}", c.dir().display()));
        }
    }
    Ok(())
}

/// Columns padded to their widest cell plus three spaces, at least 12
/// wide, as runc's `list` (Go's tabwriter) lays them out: 64-character ids
/// (Docker's, containerd's) line up.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match i {
                5 => out.push_str(cell),
                _ => out.push_str(&format!("{cell:<0$}", widths[i])),
            }
        }
        out.push('\n');
    }
    out
}

fn list(rt: &Runtime, format: &str, quiet: bool) -> Result<(), Error> {
    let containers = rt.list()?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for c in &containers {
            let _ = writeln!(out, "{}", c.id());
        }
    } else if format == "json" {
        let v: Vec<_> = containers
            .iter()
            .map(|c| {
                let mut s = c.oci_state();
                s["owner"] = owner_of(&c.dir()).into();
                s
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(v));
    } else {
        let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
        for c in &containers {
            let s = c.oci_state();
            let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
            rows.push([
                c.id().into(),
                s["pid"].to_string(),
                text("status"),
                text("bundle"),
                text("created"),
                owner_of(&c.dir()),
            ]);
        }
        let _ = out.write_all(table(&rows).as_bytes());
    }
    Ok(())
}

/// Who owns a container, as runc's `list` says: the user owning its state
/// directory, by name from the host's /etc/passwd, else `#uid`.
fn owner_of(dir: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata(dir).map(|m| m.uid()) else { return String::new() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2].parse() == Ok(uid))
        .map_or_else(|| format!("#{uid}"), |f| f[0].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_columns_fit_the_longest_id() {
        let long = "f".repeat(64);
        let row = |id: &str, pid: &str| [id, pid, "running", "/b", "2026-01-01T00:00:00Z", "root"].map(String::from);
        let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
        let text = table(&[header, row(&long, "4242"), row("short", "7")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].find("PID"), Some(67), "{text}");
        assert_eq!(&lines[1][67..71], "4242", "{text}");
        assert_eq!(&lines[2][67..68], "7", "{text}");
        assert_eq!(lines[1].find("root"), lines[0].find("OWNER"), "{text}");
    }
}
