//! The runtimes to compare, and the host quirks a fair run has to handle.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Runtime {
    pub name: String,
    pub bin: PathBuf,
    pub root: PathBuf,
    pub version: String,
}

/// `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

pub fn discover(tandem: &Path, work: &Path, only: &[String]) -> Result<Vec<Runtime>, String> {
    let mut found = Vec::new();
    let mut add = |name: &str, bin: Option<PathBuf>| {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            return;
        }
        let Some(bin) = bin.filter(|b| b.is_file()) else { return };
        let version = Command::new(&bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string())
            .unwrap_or_default();
        found.push(Runtime { name: name.into(), root: work.join(format!("root-{name}")), bin, version });
    };
    add("tandem", Some(tandem.to_path_buf()));
    add("runc", which("runc"));
    add("crun", which("crun"));
    Ok(found)
}

/// crun 1.8 refuses a hybrid cgroup host (v1 controllers with a cgroup2
/// mount). Hide the cgroup2 `cgroup.controllers` behind an empty file in a
/// private mount namespace that this whole benchmark runs in, so no runtime
/// pays for a per-call wrapper. Returns a note when it did so.
pub fn private_cgroup_view() -> Result<Option<String>, String> {
    let controllers = Path::new("/sys/fs/cgroup/unified/cgroup.controllers");
    if !controllers.exists() {
        return Ok(None);
    }
    // SAFETY: unshare and mount with valid C strings; the benchmark is
    // single-threaded at this point.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!("unshare mount namespace: {}", std::io::Error::last_os_error()));
        }
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("make / private: {}", std::io::Error::last_os_error()));
        }
        let empty = std::env::temp_dir().join(format!("tandem-bench-empty-{}", std::process::id()));
        std::fs::write(&empty, "").map_err(|e| e.to_string())?;
        let src = std::ffi::CString::new(empty.to_str().unwrap()).unwrap();
        let dst = std::ffi::CString::new(controllers.to_str().unwrap()).unwrap();
        let r = libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null());
        let _ = std::fs::remove_file(&empty);
        if r != 0 {
            return Err(format!("mask {}: {}", controllers.display(), std::io::Error::last_os_error()));
        }
    }
    Ok(Some(
        "hybrid cgroup host: all runtimes run in one private mount namespace where the cgroup2 \
         cgroup.controllers is masked by an empty file, because crun 1.8 refuses hybrid hosts"
            .into(),
    ))
}
