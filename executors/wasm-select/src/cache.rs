//! The compiled-code cache: `<cache dir>/wasm/<module sha256>-<engine
//! id hash>.cwasm`, with a checksum beside it that binds the artifact to
//! its key: sha256 of the key and the artifact, checked before every use.
//! A corrupted entry, or another module's artifact filed under this key,
//! fails the check and is compiled again. Entries are written to a
//! temporary name and renamed, never written in place, so an artifact a
//! reader checked stays as it was while the helper maps it; concurrent
//! creates of one module are safe.

use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub struct Cache {
    dir: PathBuf,
    /// [`engine_hash`] of the engine whose artifacts these are.
    engine: String,
}

/// One cached artifact, for `tandem wasm-cache list`.
pub struct Entry {
    pub module_sha256: String,
    pub engine: String,
    pub bytes: u64,
    pub modified: SystemTime,
    pub path: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The engine part of every key: a hash of the engine's id (its build and
/// configuration; the wasm executor's is `tandem_wasm_handoff::ENGINE_ID`).
pub fn engine_hash(engine_id: &str) -> String {
    hex(&Sha256::digest(engine_id.as_bytes())[..8])
}

/// The checksum recorded beside an artifact: it covers the key too.
fn checksum(key: &str, artifact: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(artifact);
    hex(&h.finalize())
}

/// Feed `file` from its start into `h`, a block at a time (positioned
/// reads: its offset stays where it was).
fn hash_file(h: &mut Sha256, file: &fs::File) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = 0;
    loop {
        match file.read_at(&mut buf, at)? {
            0 => return Ok(()),
            n => {
                h.update(&buf[..n]);
                at += n as u64;
            }
        }
    }
}

impl Cache {
    /// The wasm executor's artifacts: `<cache dir>/wasm`.
    pub fn at(cache_dir: &Path) -> Cache {
        Cache::for_engine(cache_dir, "wasm", tandem_wasm_handoff::ENGINE_ID)
    }

    /// Another engine's (a plugin's), in `<cache dir>/<name>`: entries are
    /// shared by its containers, checked as the wasm executor's are, and
    /// pruned by their own engine id.
    pub fn for_engine(cache_dir: &Path, name: &str, engine_id: &str) -> Cache {
        Cache { dir: cache_dir.join(name), engine: engine_hash(engine_id) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a module: its sha256 and the engine's.
    pub fn key(&self, module: &[u8]) -> String {
        format!("{}-{}", hex(&Sha256::digest(module)), self.engine)
    }

    /// [`Cache::key`] of the module in `file`.
    pub fn key_of(&self, file: &fs::File) -> std::io::Result<String> {
        let mut h = Sha256::new();
        hash_file(&mut h, file)?;
        Ok(format!("{}-{}", hex(&h.finalize()), self.engine))
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (self.dir.join(format!("{key}.cwasm")), self.dir.join(format!("{key}.sha256")))
    }

    /// The verified artifact filed under `key`, open for the helper.
    pub fn load(&self, key: &str) -> Option<OwnedFd> {
        let (artifact, sum) = self.paths(key);
        let file = fs::File::open(&artifact).ok()?;
        let mut h = Sha256::new();
        h.update(key.as_bytes());
        h.update([0]);
        hash_file(&mut h, &file).ok()?;
        let want = fs::read_to_string(sum).ok()?;
        (hex(&h.finalize()) == want.trim()).then(|| file.into())
    }

    /// File `data` under `key`. A cache that cannot be written only costs
    /// the next create a compile.
    pub fn store(&self, key: &str, data: &[u8]) -> std::io::Result<()> {
        let (artifact, sum) = self.paths(key);
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let tmp = |p: &Path| p.with_extension(format!("tmp{}", std::process::id()));
        let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
            let t = tmp(path);
            let mut f = fs::File::options().write(true).create(true).truncate(true).mode(0o600).open(&t)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&t, path)
        };
        write(&sum, checksum(key, data).as_bytes())?;
        write(&artifact, data)
    }

    pub fn list(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_name()?.to_str()?.strip_suffix(".cwasm")?.to_string();
                let (module, engine) = stem.split_once('-')?;
                let md = e.metadata().ok()?;
                Some(Entry {
                    module_sha256: module.into(),
                    engine: engine.into(),
                    bytes: md.len(),
                    modified: md.modified().ok()?,
                    path,
                })
            })
            .collect();
        out.sort_by(|a, b| a.module_sha256.cmp(&b.module_sha256));
        out
    }

    /// Remove entries this build's engine cannot load (another wasmtime,
    /// tandem or configuration), and leftovers of interrupted writes; with
    /// `all`, everything. Returns how many files were removed.
    pub fn prune(&self, all: bool) -> std::io::Result<usize> {
        let current = &self.engine;
        let mut removed = 0;
        for e in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = match name.rsplit_once('.') {
                Some((stem, "cwasm" | "sha256")) => stem.split_once('-').is_none_or(|(_, eng)| eng != current),
                _ => true,
            };
            if all || stale {
                fs::remove_file(e.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tandem-wasm-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_entry_is_bound_to_its_key_and_content() {
        let dir = scratch("bound");
        let c = Cache::at(&dir);
        let (a, b) = (c.key(b"module a"), c.key(b"module b"));
        c.store(&a, b"artifact of a").unwrap();
        c.store(&b, b"artifact of b").unwrap();
        assert!(c.load(&a).is_some() && c.load(&b).is_some());
        // The key of a module read through its file is the key of its bytes.
        fs::write(dir.join("module"), b"module a").unwrap();
        assert_eq!(c.key_of(&fs::File::open(dir.join("module")).unwrap()).unwrap(), a);
        // b's artifact and checksum filed under a's key: refused.
        let (pa, sa) = c.paths(&a);
        let (pb, sb) = c.paths(&b);
        fs::copy(&pb, &pa).unwrap();
        fs::copy(&sb, &sa).unwrap();
        assert!(c.load(&a).is_none(), "another module's artifact was taken");
        // A flipped byte: refused.
        let mut data = fs::read(&pb).unwrap();
        data[0] ^= 1;
        fs::write(&pb, data).unwrap();
        assert!(c.load(&b).is_none(), "a corrupted artifact was taken");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prune_keeps_this_engine_s_entries() {
        let dir = scratch("prune");
        let c = Cache::at(&dir);
        let key = c.key(b"m");
        c.store(&key, b"x").unwrap();
        fs::write(c.dir().join("0000-oldengine.cwasm"), b"old").unwrap();
        fs::write(c.dir().join("leftover.tmp123"), b"").unwrap();
        assert_eq!(c.prune(false).unwrap(), 2);
        assert!(c.load(&key).is_some());
        assert_eq!(c.prune(true).unwrap(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }
}
