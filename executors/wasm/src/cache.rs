//! The compiled-code cache: `<cache dir>/wasm/<module sha256>-<engine
//! hash>.cwasm`, with the artifact's own sha256 beside it, checked before
//! every load. Entries are written to a temporary name and renamed, so
//! concurrent creates of the same module are safe: a reader sees a whole
//! artifact or none, and one that fails its check is compiled again.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tandem_runtime_core::Result;
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::entrypoint::Kind;
use crate::err;

pub enum Compiled {
    Module(Module),
    Component(Component),
}

/// The engine every wasm container uses. Compilation is single-threaded
/// (the `parallel-compilation` feature is off): the runtime must stay
/// single-threaded until it has cloned the container's init.
pub fn engine() -> Result<Engine> {
    let config = wasmtime::Config::new();
    Engine::new(&config).map_err(|e| err(format!("create the wasm engine: {e:#}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Feeds std's `Hash` into sha256, for a stable engine hash.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// What compiled code depends on besides the module: wasmtime's version
/// and the engine's settings.
pub fn engine_hash(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize()[..8])
}

pub struct Cache {
    dir: PathBuf,
}

/// One cached artifact, for `tandem wasm-cache list`.
pub struct Entry {
    pub module_sha256: String,
    pub engine: String,
    pub bytes: u64,
    pub modified: SystemTime,
    pub path: PathBuf,
}

impl Cache {
    pub fn at(cache_dir: &Path) -> Cache {
        Cache { dir: cache_dir.join("wasm") }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (self.dir.join(format!("{key}.cwasm")), self.dir.join(format!("{key}.sha256")))
    }

    /// The compiled form of `bytes`: from the cache when a verified entry
    /// exists, else compiled now and stored.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8], kind: Kind, path: &Path) -> Result<Compiled> {
        let key = format!("{}-{}", sha256_hex(bytes), engine_hash(engine));
        let (artifact, sum) = self.paths(&key);
        if let Some(c) = self.load(engine, kind, &artifact, &sum) {
            return Ok(c);
        }
        let invalid = |e: wasmtime::Error| err(format!("{}: invalid WebAssembly: {e:#}", path.display()));
        let (compiled, serialized) = match kind {
            Kind::Module => {
                let m = Module::from_binary(engine, bytes).map_err(invalid)?;
                let s = m.serialize().map_err(|e| err(format!("serialize {}: {e:#}", path.display())))?;
                (Compiled::Module(m), s)
            }
            Kind::Component => {
                let c = Component::from_binary(engine, bytes).map_err(invalid)?;
                let s = c.serialize().map_err(|e| err(format!("serialize {}: {e:#}", path.display())))?;
                (Compiled::Component(c), s)
            }
        };
        // A cache that cannot be written only costs the next create a compile.
        let _ = self.store(&artifact, &sum, &serialized);
        Ok(compiled)
    }

    fn load(&self, engine: &Engine, kind: Kind, artifact: &Path, sum: &Path) -> Option<Compiled> {
        let data = fs::read(artifact).ok()?;
        let want = fs::read_to_string(sum).ok()?;
        if sha256_hex(&data) != want.trim() {
            return None;
        }
        // SAFETY: the bytes were written by `serialize` of an engine with
        // this configuration (the key holds its hash), into a directory only
        // root can write, and match the checksum recorded beside them.
        match kind {
            Kind::Module => unsafe { Module::deserialize(engine, &data) }.ok().map(Compiled::Module),
            Kind::Component => unsafe { Component::deserialize(engine, &data) }.ok().map(Compiled::Component),
        }
    }

    fn store(&self, artifact: &Path, sum: &Path, data: &[u8]) -> std::io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let tmp = |p: &Path| p.with_extension(format!("tmp{}", std::process::id()));
        let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
            let t = tmp(path);
            let mut f = fs::File::options().write(true).create(true).truncate(true).mode(0o600).open(&t)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&t, path)
        };
        write(sum, sha256_hex(data).as_bytes())?;
        write(artifact, data)
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

    /// Remove entries no current engine can load (another wasmtime or
    /// configuration), and leftovers of interrupted writes; with `all`,
    /// everything. Returns how many files were removed.
    pub fn prune(&self, engine: &Engine, all: bool) -> std::io::Result<usize> {
        let current = engine_hash(engine);
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
