//! Containers made by an unprivileged user (runc's rootless mode): what
//! differs from root's is decided here.
//!
//! - **Detection** ([`detect`], `--rootless auto`): not euid 0, or inside
//!   a user namespace whose uid 0 is not the host's.
//! - **Id maps**: the user's own uid and gid are mapped by writing the
//!   maps (gid's after `setgroups` is denied, as the kernel demands of an
//!   unprivileged writer); any other mapping goes through the setuid
//!   `newuidmap`/`newgidmap` (Debian's `uidmap`), which check it against
//!   `/etc/subuid` and `/etc/subgid`.
//! - **Cgroups**: where the user may make the container's cgroup (a
//!   delegated cgroup v2 subtree named by `linux.cgroupsPath`) it is made
//!   and written as root's is; with the systemd driver, the user's own
//!   systemd manager makes it (see `cgroups::systemd`). Where it may not
//!   (no such subtree or manager, a v1 host), a container that asks for
//!   no limits runs without a cgroup, as under runc; one that asks for
//!   limits fails at create, saying why. Device rules are not limits here:
//!   a user namespace cannot make device nodes, only bind the host's.

use std::io;
use std::path::PathBuf;
use std::process::Command;

use crate::config::{Config, IdMap};
use crate::error::{Error, Result};
use crate::namespaces::map_text;
use crate::procfs::Proc;
use crate::sys;

/// Is this process unprivileged (runc's `--rootless auto`)?
pub fn detect() -> bool {
    if sys::geteuid() != 0 {
        return true;
    }
    in_user_namespace()
}

/// Inside a user namespace other than the initial one, whose uid map is
/// not the identity over every id.
fn in_user_namespace() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields != ["0", "0", "4294967295"] && !fields.is_empty()
}

/// Checkpoint and restore need root: CRIU reads and rebuilds a process
/// tree only with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial
/// user namespace (runc only warns, and CRIU then fails in its own words).
pub(crate) fn refuse_checkpoint(what: String) -> Result<()> {
    if detect() {
        return Err(Error::Criu {
            what,
            why: "it needs root: CRIU dumps and restores processes only with CAP_CHECKPOINT_RESTORE or \
                  CAP_SYS_ADMIN in the host's user namespace, which a rootless user has not"
                .into(),
        });
    }
    Ok(())
}

/// Where an unprivileged user's containers live: `$XDG_RUNTIME_DIR/tandem`.
pub fn state_root() -> Result<PathBuf> {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join("tandem")),
        None => Err(Error::config("--root", "rootless: XDG_RUNTIME_DIR is not set; pass --root")),
    }
}

/// The user's cache directory for tandem: `$XDG_CACHE_HOME/tandem`, else
/// `$HOME/.cache/tandem`.
pub fn cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()).map(PathBuf::from);
    let home = || std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".cache"));
    xdg.or_else(home).map(|d| d.join("tandem"))
}

/// May a container whose cgroup could not be made (`made`'s error) run
/// without one? Only when it was refused for want of permission and the
/// config sets no limit; the refusal is then the container's error.
pub(crate) fn without_cgroup(made: &Error, config: &Config) -> Result<bool> {
    // Not permitted, or (systemd driver) no manager of this user to ask.
    let refused = matches!(made, Error::System { source, .. }
        if matches!(source.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound)
            || source.raw_os_error() == Some(libc::EROFS));
    if !refused {
        return Ok(false);
    }
    match limits_set(config) {
        None => Ok(true),
        Some(field) => Err(Error::config(
            "linux.resources",
            format!(
                "rootless: {field} needs a cgroup, and this user may not make one ({made}); \
                 name a cgroup v2 subtree delegated to it in linux.cgroupsPath, or run its systemd \
                 manager and pass --systemd-cgroup, or set no limits"
            ),
        )),
    }
}

/// The first field of `linux.resources` that sets a limit (device rules
/// are not one, see the module docs).
fn limits_set(config: &Config) -> Option<String> {
    let value = serde_json::to_value(&config.resources).ok()?;
    let set = |v: &serde_json::Value| match v {
        serde_json::Value::Null => false,
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => o.values().any(|v| !v.is_null()),
        _ => true,
    };
    value.as_object()?.iter().find(|(k, v)| k.as_str() != "devices" && set(v)).map(|(k, _)| format!("resources.{k}"))
}

/// Write the init's id maps as an unprivileged user may: its own ids
/// directly, anything else through newuidmap/newgidmap.
pub(crate) fn write_id_maps(pid: i32, config: &Config) -> Result<()> {
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    let proc = Proc::open()?;
    if only_self(&config.uid_mappings, uid) {
        proc.write(&format!("{pid}/uid_map"), map_text(&config.uid_mappings).as_bytes())?;
    } else {
        helper("newuidmap", pid, &config.uid_mappings)?;
    }
    if only_self(&config.gid_mappings, gid) {
        proc.write(&format!("{pid}/setgroups"), b"deny")?;
        proc.write(&format!("{pid}/gid_map"), map_text(&config.gid_mappings).as_bytes())?;
    } else {
        helper("newgidmap", pid, &config.gid_mappings)?;
    }
    Ok(())
}

fn only_self(maps: &[IdMap], own: u32) -> bool {
    matches!(maps, [m] if m.host_id == own && m.size == 1)
}

/// `newuidmap PID ID HOST SIZE...`, with its own words on failure.
fn helper(name: &str, pid: i32, maps: &[IdMap]) -> Result<()> {
    let mut cmd = Command::new(name);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id.to_string(), m.host_id.to_string(), m.size.to_string()]);
    }
    let what = format!("rootless: map {} with {name}", map_text(maps).trim().replace('\n', ", "));
    let out = cmd.output().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::config(
            "linux.uidMappings",
            format!("{what}: {name} is not installed (Debian: apt-get install uidmap); only this user's own id maps without it"),
        ),
        _ => Error::sys(what.clone(), e),
    })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
        return Err(Error::config("linux.uidMappings", format!("{what}: {said} (see /etc/subuid, /etc/subgid)")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_own_id_is_mapped_without_a_helper() {
        let own = [IdMap { container_id: 0, host_id: 1001, size: 1 }];
        assert!(only_self(&own, 1001));
        assert!(!only_self(&own, 1002));
        let range = [IdMap { container_id: 0, host_id: 100000, size: 65536 }];
        assert!(!only_self(&range, 100000));
        assert!(!only_self(&[own[0], range[0]], 1001));
    }
}
