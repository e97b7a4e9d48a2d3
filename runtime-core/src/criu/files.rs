//! Files a container's processes hold from outside the container's
//! mounts, which CRIU can neither find at dump nor open at restore: the
//! image of an executor's helper (a detached read-only mount of
//! tandem's sibling binary, see [`crate::exe_seal`]) and what it maps
//! read-only from the host (a wasm module's compiled code in the cache).
//!
//! A checkpoint names each such file to CRIU as external
//! (`file[MNT_ID:INODE]`) and says in its record how to give it back:
//! tandem's own binaries as a fresh sealed image of the same name next to
//! the restoring tandem (CRIU checks the file's size and build id), any
//! other file as a copy kept in the images (another host's cache may not
//! hold it). A file opened for writing outside the container is left to
//! CRIU, which refuses it, as it does under runc.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{exe_seal, sys};

/// In the image directory: the copies of external files.
const COPIES: &str = "tandem-files";

/// One external file, as the checkpoint record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalFile {
    /// CRIU's name for it in the images: `file[MNT_ID:INODE]`, in hex.
    pub key: String,
    /// Where it was seen on the checkpointing host (for messages).
    pub path: PathBuf,
    /// One of tandem's binaries, by its file name next to tandem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Else its content, copied into the images' `tandem-files/` as this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<String>,
}

/// A file a process holds: how it was reached, its mount and inode.
struct Held {
    link: PathBuf,
    mnt_id: u64,
    dev: u64,
    ino: u64,
}

/// What the init's fds 0-2 are, for the record: a fifo (a shim's) or a
/// log file (write-only, appending: CRIU checks neither its size nor its
/// offset) outside the container's `mounts` by its CRIU key, to be named
/// external and given back as restore's own stdio; else what /proc says
/// (`pipe:[N]`, a path).
pub(crate) fn stdio(pid: i32, mounts: &HashSet<u64>) -> Vec<String> {
    (0..3)
        .map(|fd| {
            let link = PathBuf::from(format!("/proc/{pid}/fd/{fd}"));
            let said = std::fs::read_link(&link).map(|p| p.to_string_lossy().into_owned());
            let flags = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .ok()
                .and_then(|info| i32::from_str_radix(fdinfo_field(&info, "flags")?, 8).ok())
                .unwrap_or(0);
            let log = flags & libc::O_ACCMODE == libc::O_WRONLY && flags & libc::O_APPEND != 0;
            let outside = sys::open(&link, libc::O_PATH | libc::O_CLOEXEC).ok().and_then(|f| {
                let st = sys::fstat(&f).ok()?;
                let mnt_id = mount_id(&f)?;
                let kind = st.st_mode & libc::S_IFMT;
                let given_back = kind == libc::S_IFIFO || (kind == libc::S_IFREG && log);
                (given_back && !mounts.contains(&mnt_id)).then(|| key(mnt_id, st.st_ino))
            });
            match (outside, said) {
                (Some(key), Ok(said)) if !said.starts_with("pipe:") => key,
                (_, Ok(said)) => said,
                (_, Err(_)) => "/dev/null".into(),
            }
        })
        .collect()
}

fn key(mnt_id: u64, ino: u64) -> String {
    format!("file[{mnt_id:x}:{ino:x}]")
}

/// The external files of `pids`, whose mounts are `mounts` (mount ids in
/// their mount namespace), but for the keys in `given` (the init's
/// stdio, which restore gives); copies go into `images`.
pub(crate) fn collect(
    pids: &[i32],
    mounts: &HashSet<u64>,
    images: &Path,
    given: &[String],
) -> Result<Vec<ExternalFile>> {
    let mut seen: HashSet<String> = given.iter().cloned().collect();
    let mut out = Vec::new();
    let mut binaries: Option<HashMap<(u64, u64), String>> = None;
    for &pid in pids {
        for held in held_read_only(pid) {
            let key = key(held.mnt_id, held.ino);
            if mounts.contains(&held.mnt_id) || !seen.insert(key.clone()) {
                continue;
            }
            let path = std::fs::read_link(&held.link).unwrap_or_else(|_| held.link.clone());
            let binary = binaries.get_or_insert_with(own_binaries).get(&(held.dev, held.ino)).cloned();
            let copy = match binary {
                Some(_) => None,
                None => {
                    let name = format!("{:x}-{:x}", held.mnt_id, held.ino);
                    let dir = images.join(COPIES);
                    std::fs::create_dir_all(&dir).map_err(|e| Error::path("create", &dir, e))?;
                    let to = dir.join(&name);
                    std::fs::copy(&held.link, &to)
                        .map_err(|e| Error::path(&format!("copy {} into the checkpoint as", path.display()), &to, e))?;
                    Some(name)
                }
            };
            out.push(ExternalFile { key, path, binary, copy });
        }
    }
    Ok(out)
}

/// The copies of a dump that failed.
pub(crate) fn discard(images: &Path) {
    let _ = std::fs::remove_dir_all(images.join(COPIES));
}

/// An fd for each external file, for CRIU to inherit under its key.
pub(crate) fn provide(files: &[ExternalFile], images: &Path) -> Result<Vec<(String, OwnedFd)>> {
    files
        .iter()
        .map(|f| {
            let fd = match (&f.binary, &f.copy) {
                (Some(name), _) => {
                    let path = exe_seal::self_path().with_file_name(name);
                    exe_seal::sealed_image(&path).map_err(|e| Error::Criu {
                        what: "restore".into(),
                        why: format!("the checkpoint runs {name}, which must be next to tandem: {e}"),
                    })?
                }
                (None, Some(copy)) => {
                    let path = images.join(COPIES).join(copy);
                    sys::open(&path, libc::O_RDONLY).map_err(|e| Error::path("open", &path, e))?
                }
                (None, None) => {
                    return Err(Error::Criu {
                        what: "restore".into(),
                        why: format!("the record names {} ({}) without a way to give it back", f.key, f.path.display()),
                    });
                }
            };
            Ok((f.key.clone(), fd))
        })
        .collect()
}

/// The regular files `pid` runs, maps or has open without write access
/// (the ones outside its mounts are what CRIU cannot see).
fn held_read_only(pid: i32) -> Vec<Held> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let mut links = vec![proc.join("exe")];
    // Mappings of files, but not shared writable ones.
    let maps = std::fs::read_to_string(proc.join("maps")).unwrap_or_default();
    links.extend(maps.lines().filter_map(|line| {
        let mut f = line.split_whitespace();
        let (range, perms, _off, _dev, inode) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
        if inode == "0" || (perms.contains('s') && perms.contains('w')) {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        let (start, end) = (u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?);
        Some(proc.join(format!("map_files/{start:x}-{end:x}")))
    }));
    // Open files, read-only or O_PATH.
    if let Ok(dir) = std::fs::read_dir(proc.join("fd")) {
        links.extend(dir.flatten().filter_map(|e| {
            let info = std::fs::read_to_string(proc.join("fdinfo").join(e.file_name())).ok()?;
            let flags = fdinfo_field(&info, "flags").and_then(|f| i32::from_str_radix(f, 8).ok())?;
            (flags & libc::O_PATH != 0 || flags & libc::O_ACCMODE == libc::O_RDONLY).then(|| e.path())
        }));
    }
    links.sort();
    links.dedup();
    links
        .into_iter()
        .filter_map(|link| {
            let fd = sys::open(&link, libc::O_PATH | libc::O_CLOEXEC).ok()?;
            let st = sys::fstat(&fd).ok()?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return None;
            }
            let mnt_id = mount_id(&fd)?;
            Some(Held { link, mnt_id, dev: st.st_dev, ino: st.st_ino })
        })
        .collect()
}

/// The mount an fd of ours is on (its fdinfo's `mnt_id`).
fn mount_id(fd: &OwnedFd) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    fdinfo_field(&info, "mnt_id")?.parse().ok()
}

fn fdinfo_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

/// tandem's binaries (files named `tandem*` next to it) by device and inode.
fn own_binaries() -> HashMap<(u64, u64), String> {
    let dir = exe_seal::self_path().parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !name.starts_with("tandem") {
                return None;
            }
            let meta = std::fs::metadata(e.path()).ok()?;
            meta.is_file().then(|| ((std::os::unix::fs::MetadataExt::dev(&meta), meta.ino()), name))
        })
        .collect()
}

use std::os::unix::fs::MetadataExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_fields_are_read_by_name() {
        let info = "pos:\t0\nflags:\t02100000\nmnt_id:\t44\nino:\t12\n";
        assert_eq!(fdinfo_field(info, "flags"), Some("02100000"));
        assert_eq!(fdinfo_field(info, "mnt_id"), Some("44"));
        assert_eq!(fdinfo_field(info, "mnt"), None);
    }

    #[test]
    fn a_file_of_this_process_outside_the_given_mounts_is_copied_and_given_back() {
        // On a tmpfs of its own mount, which the "container" is said to lack.
        let dir = Path::new("/dev/shm").join(format!("tandem-cpfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = dir.join("held");
        std::fs::write(&held, b"compiled code").unwrap();
        let file = std::fs::File::open(&held).unwrap();
        let outside = mount_id(&sys::open(&held, libc::O_PATH).unwrap()).unwrap();
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts: HashSet<u64> =
            crate::procfs::parse_mountinfo(&text).iter().map(|m| m.id).filter(|id| *id != outside).collect();
        let images = dir.join("images");
        let files = collect(&[std::process::id() as i32], &mounts, &images, &[]).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].key.starts_with("file[") && files[0].binary.is_none(), "{files:?}");
        assert_eq!(files[0].path, held);
        let given = provide(&files, &images).unwrap();
        let copy = std::fs::read(format!("/proc/self/fd/{}", given[0].1.as_raw_fd())).unwrap();
        assert_eq!(copy, b"compiled code");
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
