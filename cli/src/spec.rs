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
    let flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    let v = json!({
        "ociVersionMin": config::OCI_VERSION_MIN,
        "ociVersionMax": config::OCI_VERSION_MAX,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": true, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                // The ones a filter can hold next to this (little-endian) host's own.
                "archs": [
                    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_X32",
                    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"
                ],
                "knownFlags": flags,
                "supportedFlags": flags,
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            // What tandem honours (process.scheduler, ioPriority,
            // execCPUAffinity and linux.personality are applied as given);
            // the rest is refused at create, not ignored.
            "memoryPolicy": {
                "modes": [
                    "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                    "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"
                ],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"],
            },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } },
            "netDevices": { "enabled": false },
        },
        "annotations": {
            "io.github.tandem.executors": executor::names().join(","),
            executor::EXECUTOR_ANNOTATION: "name of a registered executor",
            // As runc says it: checkpoint and restore through CRIU
            // (`--criu`); pre-dump needs the kernel's soft-dirty tracking.
            "org.opencontainers.runc.checkpoint.enabled": "true",
        },
    });
    let mut v = v;
    for (key, what) in executor::annotations() {
        v["annotations"][key] = what.into();
    }
    serde_json::to_string_pretty(&v).expect("features serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What features advertises for seccomp, a profile may use.
    #[test]
    fn advertised_seccomp_features_validate() {
        let f: serde_json::Value = serde_json::from_str(&features()).unwrap();
        let sc = &f["linux"]["seccomp"];
        for action in sc["actions"].as_array().unwrap() {
            let p = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/l", "architectures": sc["archs"],
                "flags": sc["knownFlags"], "syscalls": [{"names": ["mkdir"], "action": action,
                "args": sc["operators"].as_array().unwrap().iter().enumerate()
                    .map(|(i, op)| json!({"index": i % 6, "value": 1, "op": op})).collect::<Vec<_>>()}]});
            let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
            tandem_runtime_core::seccomp::from_spec(&p).unwrap().compile().unwrap();
        }
    }

    /// The document has runtime-spec's shape (features.md).
    #[test]
    fn features_parse_as_the_spec_type() {
        let f: oci_spec::runtime::Features = serde_json::from_str(&features()).unwrap();
        let linux = f.linux().as_ref().unwrap();
        assert_eq!(linux.net_devices().as_ref().and_then(|n| *n.enabled()), Some(false));
        assert!(linux.memory_policy().as_ref().and_then(|m| m.modes().as_ref()).is_some_and(|m| m.len() == 7));
    }

    #[test]
    fn default_spec_validates() {
        for rootless in [false, true] {
            let text = serde_json::to_vec(&default_spec(rootless)).unwrap();
            config::parse_spec(&text).unwrap();
        }
    }
}
