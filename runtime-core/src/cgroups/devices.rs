//! Device access rules: deny everything, then `linux.resources.devices` in
//! order, then what every container may use (as runc allows it: the
//! standard /dev nodes, ptys, mknod of anything) and the container's own
//! `linux.devices`. Later rules win over earlier ones. Starting from
//! deny-all matters: a new cgroup inherits its parent's list (everything,
//! under the root), so a config without device rules would otherwise let
//! a container with CAP_MKNOD open the host's disks.

use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

use crate::config::Device;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a' (all), 'b' or 'c'.
    pub kind: char,
    /// None is the wildcard.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// A non-empty subset of "rwm", in that order.
    pub access: String,
}

impl DeviceRule {
    fn allow(kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> Self {
        DeviceRule { allow: true, kind, major, minor, access: access.to_string() }
    }

    /// True for a rule that matches every device and access.
    pub fn matches_all(&self) -> bool {
        self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
    }

    /// The v1 devices.allow / devices.deny line.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".to_string();
        }
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        format!("{} {}:{} {}", self.kind, num(self.major), num(self.minor), self.access)
    }
}

/// The defaults runc grants every container.
fn defaults() -> Vec<DeviceRule> {
    let c = |major, minor| DeviceRule::allow('c', Some(major), minor, "rwm");
    vec![
        DeviceRule::allow('c', None, None, "m"),
        DeviceRule::allow('b', None, None, "m"),
        c(1, Some(3)), // null
        c(1, Some(5)), // zero
        c(1, Some(7)), // full
        c(1, Some(8)), // random
        c(1, Some(9)), // urandom
        c(5, Some(0)), // tty
        c(5, Some(1)), // console
        c(5, Some(2)), // ptmx
        c(136, None),  // pts
    ]
}

/// Normalise "rwm" in any order, rejecting anything else.
fn access(field: &str, given: Option<&str>) -> Result<String> {
    let given = given.unwrap_or("rwm");
    let given = if given.is_empty() { "rwm" } else { given };
    if let Some(bad) = given.chars().find(|c| !"rwm".contains(*c)) {
        return Err(Error::config(field, format!("access '{given}' has '{bad}': only r, w and m are allowed")));
    }
    Ok("rwm".chars().filter(|c| given.contains(*c)).collect())
}

/// The rules to enforce: None at update when no device rules were given.
pub fn rules(res: &LinuxResources, own: &[Device], at_create: bool) -> Result<Option<Vec<DeviceRule>>> {
    let given = res.devices().as_deref();
    if !at_create && given.is_none() {
        return Ok(None);
    }
    let mut rules = vec![DeviceRule { allow: false, kind: 'a', major: None, minor: None, access: "rwm".into() }];
    for (i, d) in given.unwrap_or(&[]).iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::P => return Err(Error::config(field, "fifos are not governed by the device controller")),
        };
        let wild = |n: Option<i64>| n.filter(|&n| n >= 0);
        let (major, minor) = if kind == 'a' { (None, None) } else { (wild(d.major()), wild(d.minor())) };
        rules.push(DeviceRule { allow: d.allow(), kind, major, minor, access: access(&field, d.access().as_deref())? });
    }
    rules.extend(defaults());
    for d in own {
        let kind = match d.kind {
            libc::S_IFBLK => 'b',
            libc::S_IFCHR => 'c',
            _ => continue,
        };
        rules.push(DeviceRule::allow(kind, Some(d.major), Some(d.minor), "rwm"));
    }
    Ok(Some(rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules_come_first_then_the_defaults_then_own_devices() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"wr"}]}"#,
        )
        .unwrap();
        let own = [Device {
            path: "/dev/fuse".into(),
            kind: libc::S_IFCHR,
            major: 10,
            minor: 229,
            mode: 0o666,
            uid: 0,
            gid: 0,
        }];
        let rules = rules(&res, &own, true).unwrap().unwrap();
        assert!(rules[0].matches_all() && !rules[0].allow, "deny-all first, always");
        assert!(rules[1].matches_all() && !rules[1].allow);
        assert_eq!(rules[1].v1_line(), "a");
        assert_eq!(rules[2].v1_line(), "c 10:229 rw");
        assert_eq!(rules[3].v1_line(), "c *:* m");
        assert!(rules.iter().any(|r| r.v1_line() == "c 136:* rwm"));
        assert_eq!(rules.last().unwrap().v1_line(), "c 10:229 rwm");
        assert!(super::rules(&LinuxResources::default(), &own, false).unwrap().is_none());
    }

    #[test]
    fn without_rules_in_the_config_everything_else_is_denied() {
        let rules = rules(&LinuxResources::default(), &[], true).unwrap().unwrap();
        assert!(rules[0].matches_all() && !rules[0].allow, "{rules:?}");
        assert!(rules[1..].iter().all(|r| r.allow));
    }

    #[test]
    fn bad_access_is_named() {
        let res: LinuxResources = serde_json::from_str(r#"{"devices":[{"allow":true,"access":"rwx"}]}"#).unwrap();
        let e = rules(&res, &[], true).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[0]") && e.contains("'x'"), "{e}");
    }
}
