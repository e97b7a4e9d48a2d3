//! `checkpoint` and `restore`, with runc's flags, on CRIU (`--criu` names
//! the binary, as runc's global flag does).
//!
//! Their flags are read here rather than declared to clap: clap builds
//! every subcommand's arguments at each start of `tandem`, and these two
//! dozen made every command (`start`, `state`...) peak about 0.2 MiB
//! higher (measured with `--help` and `state`, release builds).

use std::path::PathBuf;

use tandem_runtime_core::{CheckpointOptions, Error, RestoreOptions, Runtime};

const CHECKPOINT_HELP: &str = "\
Checkpoint a running container with CRIU

Usage: tandem checkpoint [OPTIONS] <ID>

Options:
      --image-path <DIR>           where CRIU writes the images [default: checkpoint]
      --work-path <DIR>            its log and work files [default: the image path]
      --parent-path <DIR>          a pre-dump's images this dump builds on
      --leave-running              leave the container running
      --tcp-established            allow open TCP connections
      --ext-unix-sk                allow external unix sockets
      --shell-job                  allow shell jobs
      --file-locks                 handle file locks
      --pre-dump                   dump memory only (needs soft-dirty tracking)
      --manage-cgroups-mode <M>    soft (default), full, strict or ignore
      --empty-ns <NS>              a namespace CRIU leaves empty (network)
      --auto-dedup                 deduplicate memory against the parent's images
      --lazy-pages                 leave memory for a lazy-pages daemon
      --status-fd <FD>             CRIU writes \\0 there once lazy pages are served
      --page-server <ADDR:PORT>    a CRIU page server
";

const RESTORE_HELP: &str = "\
Restore a container from a checkpoint

Usage: tandem restore [OPTIONS] <ID>

Options:
      --image-path <DIR>           the checkpoint's images [default: checkpoint]
      --work-path <DIR>            CRIU's log and work files
  -b, --bundle <DIR>               the container's bundle [default: .]
  -d, --detach                     return once restored
      --pid-file <FILE>            write the restored init's pid here
      --console-socket <SOCKET>    where a terminal's new pty master goes
      --no-pivot, --no-subreaper   accepted (CRIU restores the mount namespace)
      --tcp-established            restore open TCP connections
      --ext-unix-sk                allow external unix sockets
      --shell-job                  allow shell jobs
      --file-locks                 handle file locks
      --manage-cgroups-mode <M>    soft (default), full, strict or ignore
      --empty-ns <NS>              a namespace made empty, not restored (network)
      --auto-dedup, --lazy-pages   as for checkpoint
      --lsm-profile <P>            LSM profile of the restored processes
      --lsm-mount-context <C>      LSM mount context of the restored mounts
";

/// runc-style flags: `--name`, `--name value` or `--name=value`, then the id.
struct Flags {
    set: Vec<(String, Option<String>)>,
    id: String,
}

impl Flags {
    /// `with_value` names the flags that take one; `-x` short forms map to long names.
    fn parse(args: &[String], with_value: &[&str], bools: &[&str], short: &[(&str, &str)]) -> Result<Flags, Error> {
        let mut set = Vec::new();
        let mut id = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-').filter(|f| !f.is_empty())) else {
                if id.replace(a.clone()).is_some() {
                    return Err(Error::config("arguments", format!("unexpected '{a}': one container id")));
                }
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            let name = short.iter().find(|(s, _)| *s == name).map_or(name, |(_, long)| long);
            if with_value.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or_else(|| Error::config(format!("--{name}"), "needs a value"))?,
                };
                set.push((name.to_string(), Some(value)));
            } else if bools.contains(&name) {
                set.push((name.to_string(), None));
            } else {
                return Err(Error::config(format!("--{name}"), "is not a flag of this command (see --help)"));
            }
        }
        let id = id.ok_or_else(|| Error::config("container id", "missing"))?;
        Ok(Flags { set, id })
    }

    fn has(&self, name: &str) -> bool {
        self.set.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.set.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.clone())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.set.iter().filter(|(n, _)| n == name).filter_map(|(_, v)| v.clone()).collect()
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.value(name).map(PathBuf::from)
    }
}

fn wants_help(args: &[String], help: &str) -> bool {
    let asked = args.iter().any(|a| a == "--help" || a == "-h");
    if asked {
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), help.as_bytes());
    }
    asked
}

pub fn checkpoint(rt: &Runtime, criu: Option<PathBuf>, args: &[String]) -> Result<i32, Error> {
    if wants_help(args, CHECKPOINT_HELP) {
        return Ok(0);
    }
    let with_value =
        ["image-path", "work-path", "parent-path", "manage-cgroups-mode", "empty-ns", "status-fd", "page-server"];
    let bools = [
        "leave-running",
        "tcp-established",
        "ext-unix-sk",
        "shell-job",
        "file-locks",
        "pre-dump",
        "auto-dedup",
        "lazy-pages",
    ];
    let f = Flags::parse(args, &with_value, &bools, &[])?;
    let status_fd = f
        .value("status-fd")
        .map(|v| v.parse::<i32>().map_err(|_| Error::config("--status-fd", format!("'{v}' is not an fd number"))))
        .transpose()?;
    let opts = CheckpointOptions {
        criu,
        image_path: f.path("image-path").unwrap_or_else(|| PathBuf::from("checkpoint")),
        work_path: f.path("work-path"),
        parent_path: f.path("parent-path"),
        leave_running: f.has("leave-running"),
        tcp_established: f.has("tcp-established"),
        ext_unix_sk: f.has("ext-unix-sk"),
        shell_job: f.has("shell-job"),
        file_locks: f.has("file-locks"),
        pre_dump: f.has("pre-dump"),
        manage_cgroups_mode: f.value("manage-cgroups-mode"),
        empty_ns: f.values("empty-ns"),
        auto_dedup: f.has("auto-dedup"),
        lazy_pages: f.has("lazy-pages"),
        status_fd,
        page_server: f.value("page-server"),
    };
    rt.load(&f.id)?.checkpoint(&opts)?;
    Ok(0)
}

pub fn restore(rt: &Runtime, criu: Option<PathBuf>, systemd_cgroup: bool, args: &[String]) -> Result<i32, Error> {
    if wants_help(args, RESTORE_HELP) {
        return Ok(0);
    }
    let with_value = [
        "image-path",
        "work-path",
        "bundle",
        "pid-file",
        "console-socket",
        "manage-cgroups-mode",
        "empty-ns",
        "lsm-profile",
        "lsm-mount-context",
    ];
    let bools = [
        "detach",
        "no-pivot",
        "no-subreaper",
        "tcp-established",
        "ext-unix-sk",
        "shell-job",
        "file-locks",
        "auto-dedup",
        "lazy-pages",
    ];
    let f = Flags::parse(args, &with_value, &bools, &[("b", "bundle"), ("d", "detach")])?;
    let opts = RestoreOptions {
        criu,
        image_path: f.path("image-path").unwrap_or_else(|| PathBuf::from("checkpoint")),
        work_path: f.path("work-path"),
        pid_file: f.path("pid-file"),
        console_socket: f.path("console-socket"),
        tcp_established: f.has("tcp-established"),
        ext_unix_sk: f.has("ext-unix-sk"),
        shell_job: f.has("shell-job"),
        file_locks: f.has("file-locks"),
        manage_cgroups_mode: f.value("manage-cgroups-mode"),
        empty_ns: f.values("empty-ns"),
        lsm_profile: f.value("lsm-profile"),
        lsm_mount_context: f.value("lsm-mount-context"),
        systemd_cgroup,
        auto_dedup: f.has("auto-dedup"),
        lazy_pages: f.has("lazy-pages"),
        ..Default::default()
    };
    let bundle = f.path("bundle").unwrap_or_else(|| PathBuf::from("."));
    let mut c = rt.restore(&f.id, &bundle, &opts)?;
    if f.has("detach") {
        return Ok(0);
    }
    // In the foreground, as `run`: the container's status is ours, then it goes.
    let code = c.wait()?;
    rt.load(&f.id)?.delete(true)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runc_style_flags_parse() {
        let f = Flags::parse(
            &strings(&["--image-path", "/i", "--leave-running", "--empty-ns=network", "-b", ".", "web"]),
            &["image-path", "empty-ns", "bundle"],
            &["leave-running"],
            &[("b", "bundle")],
        )
        .unwrap();
        assert_eq!(f.id, "web");
        assert_eq!(f.value("image-path").as_deref(), Some("/i"));
        assert_eq!(f.values("empty-ns"), ["network"]);
        assert_eq!(f.value("bundle").as_deref(), Some("."));
        assert!(f.has("leave-running") && !f.has("tcp-established"));
        let bad = |a: &[&str]| Flags::parse(&strings(a), &["image-path"], &[], &[]).err().unwrap().to_string();
        assert!(bad(&["--nope", "x"]).contains("--nope"));
        assert!(bad(&["--image-path"]).contains("needs a value"));
        assert!(bad(&["a", "b"]).contains("one container id"));
        assert!(bad(&[]).contains("missing"));
    }
}
