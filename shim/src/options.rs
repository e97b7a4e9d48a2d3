//! Where tandem keeps a container's state, from containerd's runtime
//! options, and the record of it in the bundle for `delete`.
//!
//! containerd hands the options a runtime is configured with to `create`:
//! `containerd.runc.v1.Options` (what a `runc.v2` handler's `options`
//! table, or `ctr --runc-root`, sets: `Root`, `SystemdCgroup`) or, for any
//! other runtime type, CRI's and ctr's `runtimeoptions.v1.Options`, whose
//! `ConfigPath` names a file of tandem's own:
//!
//! ```json
//! { "root": "/run/containerd/tandem", "systemd_cgroup": false, "cache": "/var/cache/tandem" }
//! ```
//!
//! As with the runc shim, containers live under `<root>/<namespace>`.

use std::path::{Path, PathBuf};

use containerd_shim::api::Options as RuncOptions;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{CodedInputStream, Message};
use containerd_shim::protos::shim::oci::CheckpointOptions as RuncCheckpoint;
use serde::{Deserialize, Serialize};
use tandem_runtime_core::CheckpointOptions;

pub const DEFAULT_ROOT: &str = "/run/containerd/tandem";
/// Written into each bundle at create: what `delete` needs once the
/// server that made the container is gone.
const RECORD: &str = "tandem-shim.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    pub cache: PathBuf,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            root: PathBuf::from(DEFAULT_ROOT),
            systemd_cgroup: false,
            cache: PathBuf::from(tandem_runtime_core::DEFAULT_CACHE),
        }
    }
}

impl Options {
    /// The options of a create request (none: the defaults).
    pub fn from_any(any: Option<&Any>) -> Result<Options, String> {
        let Some(any) = any.filter(|a| !a.type_url.is_empty()) else { return Ok(Options::default()) };
        let name = any.type_url.rsplit('/').next().unwrap_or_default();
        match name {
            "containerd.runc.v1.Options" => {
                let runc = RuncOptions::parse_from_bytes(&any.value).map_err(|e| format!("{name}: {e}"))?;
                let mut o = Options { systemd_cgroup: runc.systemd_cgroup, ..Options::default() };
                if !runc.root.is_empty() {
                    o.root = PathBuf::from(&runc.root);
                }
                Ok(o)
            }
            "runtimeoptions.v1.Options" => match config_path(&any.value).map_err(|e| format!("{name}: {e}"))? {
                Some(path) => Options::load(&path),
                None => Ok(Options::default()),
            },
            other => Err(format!("runtime options of type '{other}' are not tandem's")),
        }
    }

    /// runtime-core's checkpoint options from containerd's request: its
    /// runc `CheckpointOptions` (what `ctr` and the client send, whatever
    /// the runtime) into `path`, unless they name an image path.
    pub fn checkpoint(any: Option<&Any>, path: &str) -> Result<CheckpointOptions, String> {
        // No options are runc's defaults: the task runs on.
        let mut o = CheckpointOptions { image_path: PathBuf::from(path), leave_running: true, ..Default::default() };
        let Some(any) = any.filter(|a| !a.type_url.is_empty()) else { return Ok(o) };
        let name = any.type_url.rsplit('/').next().unwrap_or_default();
        if name != "containerd.runc.v1.CheckpointOptions" {
            return Err(format!("checkpoint options of type '{name}' are not runc's"));
        }
        let c = RuncCheckpoint::parse_from_bytes(&any.value).map_err(|e| format!("{name}: {e}"))?;
        if !c.image_path.is_empty() {
            o.image_path = PathBuf::from(&c.image_path);
        }
        o.work_path = (!c.work_path.is_empty()).then(|| PathBuf::from(&c.work_path));
        o.leave_running = !c.exit;
        o.tcp_established = c.open_tcp;
        o.ext_unix_sk = c.external_unix_sockets;
        o.shell_job = c.terminal;
        o.file_locks = c.file_locks;
        o.empty_ns = c.empty_namespaces.clone();
        o.manage_cgroups_mode = (!c.cgroups_mode.is_empty()).then(|| c.cgroups_mode.clone());
        Ok(o)
    }

    fn load(path: &Path) -> Result<Options, String> {
        let text = std::fs::read(path).map_err(|e| format!("read the shim config {}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("the shim config {}: {e}", path.display()))
    }

    /// The state root of containers in `namespace`.
    pub fn state_root(&self, namespace: &str) -> PathBuf {
        self.root.join(namespace)
    }

    pub fn save_in(&self, bundle: &Path) -> std::io::Result<()> {
        std::fs::write(bundle.join(RECORD), serde_json::to_vec(self).expect("plain data"))
    }

    /// What create recorded in `bundle` (a bundle it never reached: the
    /// defaults).
    pub fn recorded_in(bundle: &Path) -> Options {
        std::fs::read(bundle.join(RECORD)).ok().and_then(|t| serde_json::from_slice(&t).ok()).unwrap_or_default()
    }
}

/// Field 2 (`config_path`) of a `runtimeoptions.v1.Options`; the message
/// is not among the crate's protos, and it is two strings.
fn config_path(bytes: &[u8]) -> Result<Option<PathBuf>, String> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let mut path = None;
    while let Some(tag) = input.read_raw_tag_or_eof().map_err(|e| e.to_string())? {
        match (tag >> 3, tag & 7) {
            (1 | 2, 2) => {
                let s = input.read_string().map_err(|e| e.to_string())?;
                if tag >> 3 == 2 && !s.is_empty() {
                    path = Some(PathBuf::from(s));
                }
            }
            (_, wire) => {
                let wire = containerd_shim::protos::protobuf::rt::WireType::new(wire)
                    .ok_or_else(|| format!("wire type {wire} is not protobuf's"))?;
                input.skip_field(wire).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim::protos::protobuf::CodedOutputStream;

    fn any(type_url: &str, value: Vec<u8>) -> Any {
        let mut a = Any::new();
        a.type_url = type_url.to_string();
        a.value = value;
        a
    }

    #[test]
    fn runc_options_give_the_root_and_the_cgroup_driver() {
        let runc = RuncOptions { root: "/r".into(), systemd_cgroup: true, ..Default::default() };
        let o = Options::from_any(Some(&any("containerd.runc.v1.Options", runc.write_to_bytes().unwrap()))).unwrap();
        assert_eq!(o.root, PathBuf::from("/r"));
        assert!(o.systemd_cgroup);
        assert_eq!(o.state_root("k8s.io"), PathBuf::from("/r/k8s.io"));
        assert_eq!(Options::from_any(None).unwrap(), Options::default());
    }

    #[test]
    fn runtimeoptions_name_a_config_file() {
        let dir = std::env::temp_dir().join(format!("tandem-shim-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("shim.json");
        std::fs::write(&file, br#"{"root": "/x", "cache": "/c"}"#).unwrap();
        let mut bytes = Vec::new();
        {
            let mut out = CodedOutputStream::vec(&mut bytes);
            out.write_string(1, "ignored").unwrap();
            out.write_string(2, file.to_str().unwrap()).unwrap();
            out.flush().unwrap();
        }
        let o = Options::from_any(Some(&any("runtimeoptions.v1.Options", bytes))).unwrap();
        assert_eq!((o.root.as_path(), o.cache.as_path(), o.systemd_cgroup), (Path::new("/x"), Path::new("/c"), false));
        std::fs::write(&file, br#"{"rooot": "/x"}"#).unwrap();
        let mut bytes = Vec::new();
        {
            let mut out = CodedOutputStream::vec(&mut bytes);
            out.write_string(2, file.to_str().unwrap()).unwrap();
            out.flush().unwrap();
        }
        let err = Options::from_any(Some(&any("runtimeoptions.v1.Options", bytes))).unwrap_err();
        assert!(err.contains("rooot"), "{err}");
        assert!(Options::from_any(Some(&any("other.Options", vec![]))).unwrap_err().contains("other.Options"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn runc_checkpoint_options_map_onto_runc_flags() {
        let runc = RuncCheckpoint { exit: true, open_tcp: true, work_path: "/w".into(), ..Default::default() };
        let bytes = runc.write_to_bytes().unwrap();
        let o = Options::checkpoint(Some(&any("containerd.runc.v1.CheckpointOptions", bytes)), "/given").unwrap();
        assert_eq!(o.image_path, PathBuf::from("/given"));
        assert_eq!(o.work_path.as_deref(), Some(Path::new("/w")));
        assert!(!o.leave_running && o.tcp_established && !o.shell_job);
        let runc = RuncCheckpoint { image_path: "/mine".into(), ..Default::default() };
        let bytes = runc.write_to_bytes().unwrap();
        let o = Options::checkpoint(Some(&any("containerd.runc.v1.CheckpointOptions", bytes)), "/given").unwrap();
        assert!(o.image_path == Path::new("/mine") && o.leave_running);
        assert!(Options::checkpoint(None, "/given").unwrap().leave_running);
        assert!(Options::checkpoint(Some(&any("x.Y", vec![])), "/g").unwrap_err().contains("x.Y"));
    }
}
