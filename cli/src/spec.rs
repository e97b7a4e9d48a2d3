//! `spec` (a default config.json, like `runc spec`) and `features` (the OCI
//! features document).

use std::path::Path;

use serde_json::{Value, json};
use tandem_runtime_core::{Error, capabilities, config, executor};

const DEFAULT_SPEC: &str = include_str!("default_spec.json");

pub fn default_spec(rootless: bool) -> Value {
    let mut spec: Value = serde_json::from_str(DEFAULT_SPEC).expect("built-in spec is JSON");
    if rootless {
        let (uid, gid) = caller_ids();
        let linux = &mut spec["linux"];
        linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uid, "size": 1 }]);
        linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gid, "size": 1 }]);
        let ns = linux["namespaces"].as_array_mut().expect("namespaces list");
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({ "type": "user" }));
        linux.as_object_mut().expect("linux object").remove("resources");
        // Without a network namespace of its own, sysfs can only be bound.
        for m in spec["mounts"].as_array_mut().expect("mounts list") {
            if m["destination"] == "/sys" {
                *m = json!({ "destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] });
            }
        }
        let mounts = spec["mounts"].as_array_mut().expect("mounts list");
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/dev/pts" {
                m["options"] = json!(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]);
            }
        }
    }
    spec
}

/// The caller's uid and gid, read from /proc.
fn caller_ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("Uid:"), field("Gid:"))
}

pub fn write_default(bundle: &Path, rootless: bool) -> Result<(), Error> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::sys(
            format!("write {}", path.display()),
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists; remove it first"),
        ));
    }
    let text = serde_json::to_string_pretty(&default_spec(rootless)).expect("spec serialises");
    std::fs::write(&path, text + "\n").map_err(|e| Error::path("write", &path, e))
}

pub fn features() -> String {
    let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"];
    let caps = capabilities::names(u64::MAX);
    let mount_options: Vec<&str> = [
        "acl",
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noacl",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "unbindable",
    ]
    .to_vec();
    let v = json!({
        "ociVersionMin": config::OCI_VERSION_MIN,
        "ociVersionMax": config::OCI_VERSION_MAX,
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
        },
        "annotations": {
            "io.github.tandem.executors": executor::names().join(","),
            executor::EXECUTOR_ANNOTATION: "name of a registered executor",
        },
    });
    serde_json::to_string_pretty(&v).expect("features serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_validates() {
        for rootless in [false, true] {
            let text = serde_json::to_vec(&default_spec(rootless)).unwrap();
            config::parse_spec(&text).unwrap();
        }
    }
}
