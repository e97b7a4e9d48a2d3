//! Finding and reading the module named by `process.args[0]` as the
//! container will see it: in its rootfs or in a bind-mounted volume
//! (symlinks resolved inside the root they start in, never out of it).

use std::io::Read;
use std::path::{Path, PathBuf};

use tandem_executor_api::host::{self, Root};
use tandem_executor_api::{Config, Result};

use crate::err;
use tandem_wasm_handoff::MAGIC;

/// Where a container path's bytes are before the container's mounts exist:
/// under the source of the last bind mount whose destination holds it (it
/// shadows earlier ones), else in the rootfs. Returns (root, path in it).
fn host_location(config: &Config, path: &Path) -> (PathBuf, PathBuf) {
    for m in config.mounts.iter().rev().filter(|m| m.is_bind()) {
        let (Ok(rest), Some(src)) = (path.strip_prefix(&m.destination), m.source.as_ref()) else { continue };
        if rest.as_os_str().is_empty() && !src.is_dir() {
            // A single file bound onto the path itself.
            let dir = src.parent().unwrap_or(Path::new("/")).to_path_buf();
            return (dir, Path::new("/").join(src.file_name().unwrap_or_default()));
        }
        return (src.clone(), Path::new("/").join(rest));
    }
    (config.rootfs.clone(), path.to_path_buf())
}

/// Open a regular file at a container path, resolved inside its root
/// (symlinks never leave it). Anything else is refused before it is
/// opened for reading: a fifo would block the open, a device never end.
fn open_in(config: &Config, path: &Path) -> std::io::Result<std::fs::File> {
    let (root, path) = host_location(config, path);
    let root = Root::open(&root)?;
    let fd = root.open_path(&path)?;
    if !std::fs::metadata(host::fd_path(&fd))?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    std::fs::File::open(host::fd_path(&fd))
}

fn is_file_in(config: &Config, path: &Path) -> bool {
    open_in(config, path).is_ok()
}

/// The container path of the entrypoint: `args[0]` if absolute, else looked
/// up in the process's PATH inside the rootfs.
pub fn resolve(config: &Config) -> Result<PathBuf> {
    let name = &config.process.args[0];
    if name.contains('/') {
        let p = if Path::new(name).is_absolute() { PathBuf::from(name) } else { config.process.cwd.join(name) };
        return Ok(p);
    }
    let path_var = tandem_executor_api::host::search_path(&config.process.env);
    path_var
        .split(':')
        .filter(|d| Path::new(d).is_absolute())
        .map(|d| Path::new(d).join(name))
        .find(|p| is_file_in(config, p))
        .ok_or_else(|| err(format!("\"{name}\": module not found in the rootfs's $PATH ({path_var})")))
}

/// The module, open for reading (it is hashed and, on a cache miss, handed
/// to the compiler from this fd: never read whole into the runtime). Only
/// a regular file: a fifo or a device would block or never end.
pub fn open(config: &Config, path: &Path) -> Result<std::fs::File> {
    open_in(config, path)
        .map_err(|e| err(format!("open module {} (in the rootfs or a bind mount): {e}", path.display())))
}

pub fn has_wasm_magic(config: &Config, path: &Path) -> bool {
    let mut head = [0u8; 4];
    open_in(config, path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == MAGIC
}
