//! Path lookups as the kernel makes them for a native process in the
//! container, for WASI's path calls: preview 1's ([`p1`]) and
//! `wasi:filesystem`'s ([`p2`], which components and the p1 adapter call).
//!
//! wasmtime-wasi opens through cap-std, which refuses any symlink whose
//! target is absolute and any `..` above a preopen (EPERM, wasmtime
//! #6227): an image's `/etc/localtime -> /usr/share/zoneinfo/UTC`, or a
//! volume's link to `/data/current`, fails in a module where `cat` follows
//! it. The helper runs after pivot_root, so the kernel's `/` is the
//! container's root and nothing lies above it. A path call cap-std refuses
//! with EPERM is looked up again here the kernel's way: an absolute target
//! from the root, `..` stopping at it, at most 40 links. The result is a
//! path with no symlink in it, and the call is made again with that path
//! from the root preopen. cap-std still checks the second call, so a link
//! swapped in between can lead nowhere it would have refused. A call that
//! succeeds, or fails for another reason, costs one wrapper more.
//!
//! A lookup starts where the module's directory handle is: a preopen's
//! directory, or the path a directory was opened by (a directory renamed
//! while open is looked up at its old path).

pub mod p1;
pub mod p2;

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The kernel's limit on links in one lookup (MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// A lookup met more than [`MAX_LINKS`] links (ELOOP).
#[derive(Debug, PartialEq)]
pub struct TooManyLinks;

/// The filesystem root the helper sees, where every lookup is made: `/`
/// (a test's directory in the unit tests).
pub struct Root(PathBuf);

impl Root {
    pub fn new(path: &Path) -> Root {
        Root(path.to_path_buf())
    }

    /// `path` from the directory at `start` (a path from the root), looked
    /// up as the kernel would in the root: the same file by a path from the
    /// root with no symlink in it (the last component left as it is unless
    /// `follow`).
    pub fn resolve(&self, start: &str, path: &[u8], follow: bool) -> Result<Vec<u8>, TooManyLinks> {
        resolve_in(&self.0, start.as_bytes(), path, follow)
    }

    /// The target of the link at `path`, a path [`Root::resolve`] gave.
    /// cap-std refuses to read an absolute target; reading follows nothing.
    pub fn read_link(&self, path: &[u8]) -> std::io::Result<Vec<u8>> {
        Ok(std::fs::read_link(self.0.join(OsStr::from_bytes(path)))?.into_os_string().into_vec())
    }
}

/// The path a directory opened at `path` from `start` is at, for lookups
/// from it.
pub fn opened_at(start: &str, path: &[u8]) -> String {
    if path.first() == Some(&b'/') {
        String::from_utf8_lossy(path).into_owned()
    } else {
        format!("{start}/{}", String::from_utf8_lossy(path))
    }
}

/// The kernel's lookup of `path` (from `start` when relative) inside
/// `root`, as a path from the root with no symlink in it and no leading
/// `/`. A component that does not exist, or is not a directory, ends the
/// walk: it and the rest are kept as they are, for the call to report.
fn resolve_in(root: &Path, start: &[u8], path: &[u8], follow: bool) -> Result<Vec<u8>, TooManyLinks> {
    // Components still to walk, the next one last.
    let mut todo: Vec<Vec<u8>> = Vec::new();
    push_components(&mut todo, path);
    if path.first() != Some(&b'/') {
        push_components(&mut todo, start);
    }
    // A trailing `/` follows the last link, as for the kernel.
    let follow = follow || path.ends_with(b"/");
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == b".." {
            done.pop();
            continue;
        }
        if todo.is_empty() && !follow {
            done.push(name);
            break;
        }
        let mut here = root.to_path_buf();
        here.extend(done.iter().map(|c| OsStr::from_bytes(c)));
        here.push(OsStr::from_bytes(&name));
        let link = match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => std::fs::read_link(&here).ok(),
            Ok(m) if m.is_dir() || todo.is_empty() => {
                done.push(name);
                continue;
            }
            _ => None,
        };
        let Some(target) = link else {
            // Missing, not a directory, or changed under the walk.
            done.push(name);
            done.extend(todo.drain(..).rev());
            break;
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(TooManyLinks);
        }
        let target = target.into_os_string().into_vec();
        if target.first() == Some(&b'/') {
            done.clear();
        }
        push_components(&mut todo, &target);
    }
    let mut out = done.join(&b'/');
    if out.is_empty() {
        out.push(b'.');
    } else if path.ends_with(b"/") {
        out.push(b'/');
    }
    Ok(out)
}

fn push_components(todo: &mut Vec<Vec<u8>>, path: &[u8]) {
    todo.extend(path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").rev().map(<[u8]>::to_vec));
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root with `/usr/share/zone/UTC`, `/etc/localtime` linking to it
    /// by an absolute path, `/lib` to `usr/lib` by a relative one, and a
    /// link that climbs above the root.
    pub fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/share/zone")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("srv/app")).unwrap();
        std::fs::write(r.join("usr/share/zone/UTC"), "utc").unwrap();
        symlink("/usr/share/zone/UTC", r.join("etc/localtime")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("../../../../usr/share", r.join("srv/up")).unwrap();
        symlink("/srv/app/../../etc", r.join("srv/app/etc")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("/loop1", r.join("loop2")).unwrap();
        d
    }

    fn resolve(root: &Path, start: &str, path: &str, follow: bool) -> Result<String, TooManyLinks> {
        Root::new(root).resolve(start, path.as_bytes(), follow).map(|p| String::from_utf8(p).unwrap())
    }

    #[test]
    fn absolute_links_are_the_root_s() {
        let d = root();
        assert_eq!(resolve(d.path(), "/", "/etc/localtime", true), Ok("usr/share/zone/UTC".into()));
        assert_eq!(resolve(d.path(), "/", "etc/localtime", true), Ok("usr/share/zone/UTC".into()));
        // Not followed at the end (lstat, unlink, readlink): only the
        // directories on the way are.
        assert_eq!(resolve(d.path(), "/", "/etc/localtime", false), Ok("etc/localtime".into()));
        assert_eq!(resolve(d.path(), "/srv", "app/etc/localtime", false), Ok("etc/localtime".into()));
        // ... unless the path ends in `/`.
        assert_eq!(resolve(d.path(), "/", "lib/", false), Ok("usr/lib/".into()));
    }

    #[test]
    fn dot_dot_stops_at_the_root() {
        let d = root();
        assert_eq!(resolve(d.path(), "/", "../../etc/../usr/lib", true), Ok("usr/lib".into()));
        assert_eq!(resolve(d.path(), "/srv", "up/zone/UTC", true), Ok("usr/share/zone/UTC".into()));
        // `..` after a link is the link target's parent, as for the kernel.
        assert_eq!(resolve(d.path(), "/", "lib/..", true), Ok("usr".into()));
        // A file on the way is left for the call's ENOTDIR.
        assert_eq!(resolve(d.path(), "/", "etc/localtime/..", true), Ok("usr/share/zone/UTC/..".into()));
        assert_eq!(resolve(d.path(), "/", "/", true), Ok(".".into()));
    }

    #[test]
    fn a_lookup_from_a_directory_starts_there() {
        let d = root();
        assert_eq!(resolve(d.path(), "/srv/app", "etc/localtime", true), Ok("usr/share/zone/UTC".into()));
        assert_eq!(resolve(d.path(), "/srv/app", "/lib", true), Ok("usr/lib".into()));
    }

    #[test]
    fn what_is_missing_is_left_for_the_call_to_report() {
        let d = root();
        assert_eq!(resolve(d.path(), "/", "/lib/new.so", true), Ok("usr/lib/new.so".into()));
        assert_eq!(resolve(d.path(), "/", "/etc/localtime/x/../y", true), Ok("usr/share/zone/UTC/x/../y".into()));
        assert_eq!(resolve(d.path(), "/", "/nowhere/../etc", true), Ok("nowhere/../etc".into()));
    }

    #[test]
    fn a_loop_of_links_is_eloop() {
        let d = root();
        assert_eq!(resolve(d.path(), "/", "/loop1", true), Err(TooManyLinks));
        assert_eq!(resolve(d.path(), "/", "/loop1", false), Ok("loop1".into()));
    }

    #[test]
    fn a_link_s_absolute_target_is_read_as_it_is() {
        let d = root();
        let r = Root::new(d.path());
        let found = r.resolve("/", b"/srv/app/etc/localtime", false).unwrap();
        assert_eq!(r.read_link(&found).unwrap(), b"/usr/share/zone/UTC");
        assert_eq!(r.read_link(b"etc").unwrap_err().raw_os_error(), Some(libc::EINVAL));
    }
}
