//! Where the host's cgroup hierarchies are and where a container's cgroup
//! goes in them: v1 (one hierarchy per controller), v2 (one unified
//! hierarchy) or hybrid (v1 controllers plus a cgroup2 mount with few or
//! no controllers, as systemd lays out "hybrid" hosts).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The host's cgroup hierarchies, read from /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup2 mounted at /sys/fs/cgroup (or alone).
    Unified { mount: PathBuf },
    /// v1 hierarchies keyed by their name as /proc/self/cgroup writes it
    /// ("cpu", "cpu,cpuacct", "memory"...), and the cgroup2 mount of a
    /// hybrid host.
    Legacy { hierarchies: BTreeMap<String, PathBuf>, unified: Option<PathBuf> },
}

impl Layout {
    pub fn detect() -> Result<Layout> {
        Layout::from_mounts(&crate::procfs::mounts()?).ok_or_else(|| {
            Error::sys("find the cgroup hierarchies", std::io::Error::other("no cgroup or cgroup2 mount on this host"))
        })
    }

    /// Parse mountinfo; only mounts of a hierarchy's root count (a bind of
    /// a sub-cgroup elsewhere is not the hierarchy).
    pub fn parse(mountinfo: &str) -> Option<Layout> {
        Layout::from_mounts(&crate::procfs::parse_mountinfo(mountinfo))
    }

    fn from_mounts(mounts: &[crate::procfs::Mount]) -> Option<Layout> {
        let mut hierarchies = BTreeMap::new();
        let mut unified = None;
        for m in mounts.iter().filter(|m| m.root == Path::new("/")) {
            let mount_point = m.point.clone();
            match m.fstype.as_str() {
                "cgroup2" => {
                    unified.get_or_insert(mount_point);
                }
                "cgroup" => {
                    let name = v1_name(&m.super_opts);
                    if !name.is_empty() {
                        hierarchies.entry(name).or_insert(mount_point);
                    }
                }
                _ => {}
            }
        }
        match (hierarchies.is_empty(), unified) {
            (true, None) => None,
            (true, Some(mount)) => Some(Layout::Unified { mount }),
            (false, unified) => Some(Layout::Legacy { hierarchies, unified }),
        }
    }
}

/// A v1 hierarchy's name from its super options: its controllers (and a
/// `name=`), in the order /proc/self/cgroup lists them.
fn v1_name(super_opts: &str) -> String {
    super_opts
        .split(',')
        .filter(|o| {
            !matches!(*o, "rw" | "ro" | "clone_children" | "noprefix" | "xattr" | "cpuset_v2_mode" | "favordynmods")
                && !o.starts_with("release_agent")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// This process's own cgroup in each hierarchy, from /proc/self/cgroup:
/// v1 hierarchy name -> path, and "" -> the v2 path.
pub fn own_cgroups() -> Result<BTreeMap<String, PathBuf>> {
    let text = fs::read_to_string("/proc/self/cgroup").map_err(|e| Error::path("read", "/proc/self/cgroup", e))?;
    Ok(parse_proc_cgroup(&text))
}

pub fn parse_proc_cgroup(text: &str) -> BTreeMap<String, PathBuf> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, name, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((name.to_string(), PathBuf::from(path)))
        })
        .collect()
}

/// The container's cgroup path inside a hierarchy, from `linux.cgroupsPath`:
/// absolute paths are taken from the hierarchy's root; relative ones from
/// the runtime's own cgroup there (as runc does); none gives
/// `/tandem/<id>`. `..` may not climb out.
pub fn resolve(cgroups_path: Option<&Path>, id: &str, own: Option<&Path>) -> Result<PathBuf> {
    let requested = match cgroups_path {
        None => return Ok(PathBuf::from("/tandem").join(id)),
        Some(p) if p.as_os_str().is_empty() => return Ok(PathBuf::from("/tandem").join(id)),
        Some(p) => p,
    };
    let base = if requested.is_absolute() { PathBuf::from("/") } else { own.unwrap_or(Path::new("/")).to_path_buf() };
    let mut out = PathBuf::from("/");
    for c in base.components().chain(requested.components()) {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return Err(Error::config(
                        "linux.cgroupsPath",
                        format!("'{}' climbs out of the hierarchy", requested.display()),
                    ));
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if out == Path::new("/") {
        return Err(Error::config("linux.cgroupsPath", "the root cgroup cannot be a container's"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 /sub /mnt/memsub rw,relatime - cgroup cgroup rw,memory";

    #[test]
    fn hybrid_hosts_list_each_hierarchy_and_the_unified_mount() {
        let Some(Layout::Legacy { hierarchies, unified }) = Layout::parse(HYBRID) else { panic!("not legacy") };
        assert_eq!(hierarchies["cpu,cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(hierarchies["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(hierarchies["name=systemd"], PathBuf::from("/sys/fs/cgroup/systemd"));
        assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn a_lone_cgroup2_is_unified() {
        let l = Layout::parse("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(l, Some(Layout::Unified { mount: PathBuf::from("/sys/fs/cgroup") }));
        assert_eq!(Layout::parse("1 0 0:1 / / rw - ext4 /dev/sda rw\n"), None);
    }

    #[test]
    fn paths_resolve_like_runc() {
        let own = Path::new("/user.slice/me");
        assert_eq!(resolve(None, "c1", Some(own)).unwrap(), PathBuf::from("/tandem/c1"));
        assert_eq!(resolve(Some(Path::new("/a/b")), "c1", Some(own)).unwrap(), PathBuf::from("/a/b"));
        assert_eq!(resolve(Some(Path::new("x/y")), "c1", Some(own)).unwrap(), PathBuf::from("/user.slice/me/x/y"));
        assert!(resolve(Some(Path::new("/a/../../b")), "c", None).unwrap_err().to_string().contains("climbs"));
        assert!(resolve(Some(Path::new("/a/..")), "c", None).is_err());
    }

    #[test]
    fn proc_cgroup_lines() {
        let m = parse_proc_cgroup("4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/init.scope\n");
        assert_eq!(m["memory"], PathBuf::from("/process_api/x"));
        assert_eq!(m["cpu,cpuacct"], PathBuf::from("/"));
        assert_eq!(m[""], PathBuf::from("/init.scope"));
    }
}
