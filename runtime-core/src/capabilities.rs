//! Linux capabilities: names to bits, and applying the five OCI sets.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::sys::{self, CapSets};

/// Capability names in kernel bit order (CAP_CHOWN is bit 0).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The five sets as bit masks. A missing set in the spec is empty, as runc
/// treats it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapConfig {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

pub fn bit(name: &str) -> Option<u32> {
    let name = name.to_ascii_uppercase();
    let full = if name.starts_with("CAP_") { name } else { format!("CAP_{name}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

fn mask(set: Option<&Capabilities>) -> u64 {
    set.into_iter()
        .flatten()
        // oci-spec displays capabilities without the CAP_ prefix.
        .filter_map(|c| bit(&c.to_string()))
        .fold(0, |m, b| m | (1u64 << b))
}

pub fn from_spec(caps: Option<&LinuxCapabilities>) -> CapConfig {
    let Some(c) = caps else {
        return CapConfig::default();
    };
    CapConfig {
        bounding: mask(c.bounding().as_ref()),
        effective: mask(c.effective().as_ref()),
        inheritable: mask(c.inheritable().as_ref()),
        permitted: mask(c.permitted().as_ref()),
        ambient: mask(c.ambient().as_ref()),
    }
}

/// The highest capability this kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// Drop from the bounding set everything not in `bounding`. Needs
/// CAP_SETPCAP, so it runs before the final sets are applied.
pub fn drop_bounding(bounding: u64) -> std::io::Result<()> {
    for b in 0..=last_cap() {
        if bounding & (1 << b) == 0 {
            match sys::prctl(libc::PR_CAPBSET_DROP, b as u64) {
                // A capability the kernel does not know is not held either.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                r => r?,
            }
        }
    }
    Ok(())
}

/// Set effective, permitted and inheritable, then raise the ambient set.
/// The kernel only holds an ambient capability that is also permitted and
/// inheritable; like runc, others are left out rather than failing.
pub fn apply(c: &CapConfig) -> std::io::Result<()> {
    sys::capset(CapSets { effective: c.effective, permitted: c.permitted, inheritable: c.inheritable })?;
    sys::prctl_ambient(libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0)?;
    let ambient = c.ambient & c.permitted & c.inheritable;
    for b in 0..64 {
        if ambient & (1 << b) != 0 {
            sys::prctl_ambient(libc::PR_CAP_AMBIENT_RAISE as u64, b)?;
        }
    }
    Ok(())
}

/// Names of the capabilities in a mask (for `features` and messages).
pub fn names(mask: u64) -> Vec<&'static str> {
    (0..NAMES.len()).filter(|b| mask & (1 << b) != 0).map(|b| NAMES[b]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_agree() {
        assert_eq!(bit("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(bit("net_raw"), Some(13));
        assert_eq!(bit("CAP_NOPE"), None);
        assert_eq!(names((1 << 0) | (1 << 40)), ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]);
    }

    #[test]
    fn spec_sets_become_masks() {
        let json = r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]}"#;
        let caps: LinuxCapabilities = serde_json::from_str(json).unwrap();
        let c = from_spec(Some(&caps));
        assert_eq!(c.bounding, (1 << 5) | 1);
        assert_eq!(c.effective, 1 << 5);
        assert_eq!(c.ambient, 0);
    }
}
