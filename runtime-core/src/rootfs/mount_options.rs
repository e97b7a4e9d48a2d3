//! OCI mount `options` strings turned into mount(2) flags, as runc reads them.

/// Flags for one mount: `set` goes into mount(2); `clear` records options
/// that switch a default off (`rw`, `dev`, ...) so a bind remount keeps them
/// off; `propagation` is applied after the mount in order; `data` is what is
/// left, passed to the filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountFlags {
    pub set: u64,
    pub clear: u64,
    pub propagation: Vec<u64>,
    pub data: String,
    /// Recursive attributes (`rro`, `rnosuid`, ...): MOUNT_ATTR_* to set
    /// and to clear on the whole subtree, with mount_setattr(AT_RECURSIVE).
    pub recursive_set: u64,
    pub recursive_clear: u64,
}

/// Options that set or clear a flag: (name, clear?, flag).
const FLAGS: &[(&str, bool, u64)] = &[
    ("acl", false, libc::MS_POSIXACL),
    ("async", true, libc::MS_SYNCHRONOUS),
    ("atime", true, libc::MS_NOATIME),
    ("bind", false, libc::MS_BIND),
    ("defaults", false, 0),
    ("dev", true, libc::MS_NODEV),
    ("diratime", true, libc::MS_NODIRATIME),
    ("dirsync", false, libc::MS_DIRSYNC),
    ("exec", true, libc::MS_NOEXEC),
    ("iversion", false, libc::MS_I_VERSION),
    ("lazytime", false, libc::MS_LAZYTIME),
    ("loud", true, libc::MS_SILENT),
    ("mand", false, libc::MS_MANDLOCK),
    ("noacl", true, libc::MS_POSIXACL),
    ("noatime", false, libc::MS_NOATIME),
    ("nodev", false, libc::MS_NODEV),
    ("nodiratime", false, libc::MS_NODIRATIME),
    ("noexec", false, libc::MS_NOEXEC),
    ("noiversion", true, libc::MS_I_VERSION),
    ("nolazytime", true, libc::MS_LAZYTIME),
    ("nomand", true, libc::MS_MANDLOCK),
    ("norelatime", true, libc::MS_RELATIME),
    ("nostrictatime", true, libc::MS_STRICTATIME),
    ("nosuid", false, libc::MS_NOSUID),
    ("rbind", false, libc::MS_BIND | libc::MS_REC),
    ("relatime", false, libc::MS_RELATIME),
    ("remount", false, libc::MS_REMOUNT),
    ("ro", false, libc::MS_RDONLY),
    ("rw", true, libc::MS_RDONLY),
    ("silent", false, libc::MS_SILENT),
    ("strictatime", false, libc::MS_STRICTATIME),
    ("suid", true, libc::MS_NOSUID),
    ("sync", false, libc::MS_SYNCHRONOUS),
];

/// Recursive options: (name, clear?, MOUNT_ATTR_* flag). The access time
/// modes are one field: setting one clears the others.
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, libc::MOUNT_ATTR_RDONLY),
    ("rrw", true, libc::MOUNT_ATTR_RDONLY),
    ("rnosuid", false, libc::MOUNT_ATTR_NOSUID),
    ("rsuid", true, libc::MOUNT_ATTR_NOSUID),
    ("rnodev", false, libc::MOUNT_ATTR_NODEV),
    ("rdev", true, libc::MOUNT_ATTR_NODEV),
    ("rnoexec", false, libc::MOUNT_ATTR_NOEXEC),
    ("rexec", true, libc::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, libc::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, libc::MOUNT_ATTR_NODIRATIME),
    ("rnosymfollow", false, libc::MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, libc::MOUNT_ATTR_NOSYMFOLLOW),
    ("rrelatime", false, libc::MOUNT_ATTR_RELATIME),
    ("rnoatime", false, libc::MOUNT_ATTR_NOATIME),
    ("rstrictatime", false, libc::MOUNT_ATTR_STRICTATIME),
];

/// A propagation option's flags, or None if `name` is not one.
pub fn propagation(name: &str) -> Option<u64> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

pub fn parse(options: &[String]) -> Result<MountFlags, String> {
    let mut out = MountFlags::default();
    let mut data = Vec::new();
    for opt in options {
        if let Some(&(_, clear, flag)) = FLAGS.iter().find(|(n, _, _)| n == opt) {
            if clear {
                out.set &= !flag;
                out.clear |= flag;
            } else {
                out.set |= flag;
                out.clear &= !flag;
            }
        } else if let Some(&(name, clear, flag)) = RECURSIVE.iter().find(|(n, _, _)| n == opt) {
            let atime = matches!(name, "rrelatime" | "rnoatime" | "rstrictatime");
            if atime {
                out.recursive_set &= !libc::MOUNT_ATTR__ATIME;
                out.recursive_clear |= libc::MOUNT_ATTR__ATIME;
                out.recursive_set |= flag;
            } else if clear {
                out.recursive_set &= !flag;
                out.recursive_clear |= flag;
            } else {
                out.recursive_set |= flag;
                out.recursive_clear &= !flag;
            }
        } else if let Some(p) = propagation(opt) {
            out.propagation.push(p);
        } else if matches!(opt.as_str(), "idmap" | "ridmap") {
            return Err(format!("option '{opt}' (id-mapped mounts) is not supported"));
        } else if opt == "tmpcopyup" {
            // crun's extension; runc ignores it too on tmpfs it does not copy up.
        } else {
            data.push(opt.as_str());
        }
    }
    out.data = data.join(",");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> MountFlags {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let f = opts(&["nosuid", "noexec", "mode=755", "size=65536k", "rprivate"]);
        assert_eq!(f.set, libc::MS_NOSUID | libc::MS_NOEXEC);
        assert_eq!(f.data, "mode=755,size=65536k");
        assert_eq!(f.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn later_option_wins() {
        let f = opts(&["ro", "rw"]);
        assert_eq!(f.set & libc::MS_RDONLY, 0);
        assert_eq!(f.clear, libc::MS_RDONLY);
        assert_eq!(opts(&["rbind", "ro"]).set, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
    }

    #[test]
    fn recursive_attributes_are_their_own() {
        let f = opts(&["rbind", "rro", "rnosuid", "rrelatime"]);
        assert_eq!(f.set, libc::MS_BIND | libc::MS_REC);
        assert_eq!(f.recursive_set, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_RELATIME);
        assert_eq!(f.recursive_clear, libc::MOUNT_ATTR__ATIME);
        let f = opts(&["rro", "rrw"]);
        assert_eq!((f.recursive_set, f.recursive_clear), (0, libc::MOUNT_ATTR_RDONLY));
    }

    #[test]
    fn idmap_is_refused() {
        assert!(parse(&["idmap".to_string()]).is_err());
    }
}
