//! Container images made locally, for engines with no registry to pull
//! from: one uncompressed layer from a directory, written as a `docker
//! save` tarball (what `docker load`, `podman load` and `ctr image import`
//! read) or as an OCI archive (an OCI image layout in a tar, which also
//! carries manifest annotations).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct Image {
    /// The reference the archive names it by, e.g. `localhost/tandem-bb:t1`.
    pub reference: String,
    pub archive: PathBuf,
}

/// What goes into the image's config: entrypoint, command, env, workdir.
#[derive(Default)]
pub struct ImageConfig<'a> {
    pub entrypoint: &'a [&'a str],
    pub cmd: &'a [&'a str],
    pub env: &'a [&'a str],
    pub working_dir: &'a str,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn tar(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .args(["--numeric-owner", "--sort=name", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar -C {} failed", dir.display());
}

/// The layer and config blobs of an image of `rootfs`: (layer, config).
fn blobs(work: &Path, rootfs: &Path, config: &ImageConfig) -> (Vec<u8>, Vec<u8>) {
    let layer_path = work.join("layer.tar");
    tar(rootfs, &layer_path);
    let layer = fs::read(&layer_path).unwrap();
    fs::remove_file(&layer_path).unwrap();
    let strings = |v: &[&str]| -> Value { if v.is_empty() { Value::Null } else { json!(v) } };
    let image_config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {
            "Entrypoint": strings(config.entrypoint),
            "Cmd": strings(config.cmd),
            "Env": strings(config.env),
            "WorkingDir": config.working_dir,
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&layer))]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "tandem tests"}],
    });
    (layer, serde_json::to_vec(&image_config).unwrap())
}

/// A `docker save` tarball of `rootfs` named `reference`.
pub fn docker_archive(work: &Path, reference: &str, rootfs: &Path, config: &ImageConfig) -> Image {
    let dir = work.join(format!("docker-archive-{}", sha256(reference.as_bytes())));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let (layer, image_config) = blobs(work, rootfs, config);
    let layer_dir = sha256(&layer);
    fs::create_dir_all(dir.join(&layer_dir)).unwrap();
    fs::write(dir.join(&layer_dir).join("layer.tar"), &layer).unwrap();
    let config_name = format!("{}.json", sha256(&image_config));
    fs::write(dir.join(&config_name), &image_config).unwrap();
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": [format!("{layer_dir}/layer.tar")],
    }]);
    fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let archive = work.join(format!("{}.docker.tar", sha256(reference.as_bytes())));
    tar(&dir, &archive);
    fs::remove_dir_all(&dir).unwrap();
    Image { reference: reference.to_string(), archive }
}

/// An OCI archive of `rootfs` named `reference`, its manifest carrying
/// `annotations` (as a wasm image's `module.wasm.image/variant` does).
pub fn oci_archive(
    work: &Path,
    reference: &str,
    rootfs: &Path,
    config: &ImageConfig,
    annotations: &[(&str, &str)],
) -> Image {
    let dir = work.join(format!("oci-archive-{}", sha256(reference.as_bytes())));
    let _ = fs::remove_dir_all(&dir);
    let blobs_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs_dir).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        fs::write(blobs_dir.join(&digest), bytes).unwrap();
        json!({"digest": format!("sha256:{digest}"), "size": bytes.len()})
    };
    let (layer, image_config) = blobs(work, rootfs, config);
    let mut layer_desc = put(&layer);
    layer_desc["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar");
    let mut config_desc = put(&image_config);
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let annotations: serde_json::Map<String, Value> =
        annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
        "annotations": annotations,
    });
    let mut manifest_desc = put(manifest.to_string().as_bytes());
    manifest_desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    manifest_desc["annotations"] = json!({"org.opencontainers.image.ref.name": reference});
    let index = json!({"schemaVersion": 2, "manifests": [manifest_desc]});
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = work.join(format!("{}.oci.tar", sha256(reference.as_bytes())));
    tar(&dir, &archive);
    fs::remove_dir_all(&dir).unwrap();
    Image { reference: reference.to_string(), archive }
}
