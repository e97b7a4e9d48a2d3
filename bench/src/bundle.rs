//! The bundles every runtime runs: a busybox rootfs and the default spec.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Removes the scratch directory when the run ends.
pub struct Cleanup(pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/busybox/make-rootfs.sh")
}

/// A bundle at `dir` running `args`, with the same spec for every runtime:
/// runc's default spec (namespaces pid, net, ipc, uts, mount, cgroup),
/// terminal off, ociVersion 1.0.2 so every peer accepts it.
pub fn busybox(dir: &Path, args: &[&str]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let status =
        Command::new(repo_script()).arg(dir.join("rootfs")).status().map_err(|e| format!("make-rootfs.sh: {e}"))?;
    if !status.success() {
        return Err("make-rootfs.sh failed (is busybox-static installed?)".into());
    }
    let spec = include_str!("../../cli/src/default_spec.json");
    let mut spec: serde_json::Value = serde_json::from_str(spec).expect("default spec is JSON");
    spec["ociVersion"] = "1.0.2".into();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(args);
    std::fs::write(dir.join("config.json"), spec.to_string()).map_err(|e| e.to_string())?;
    Ok(dir.to_path_buf())
}

/// The wasm hello bundle: the busybox layout plus examples/wasm/wasi-demo.c
/// compiled to /app/demo.wasm, run by the wasm executor with `args` after
/// the module's path. `None` when clang for wasm32-wasi is not installed.
pub fn wasm_demo(dir: &Path, args: &[&str]) -> Result<Option<PathBuf>, String> {
    let argv: Vec<&str> = std::iter::once("/app/demo.wasm").chain(args.iter().copied()).collect();
    let bundle = busybox(dir, &argv)?;
    let app = dir.join("rootfs/app");
    std::fs::create_dir_all(&app).map_err(|e| e.to_string())?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/wasi-demo.c");
    let built = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-o"])
        .arg(app.join("demo.wasm"))
        .arg(&src)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return Ok(None);
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| e.to_string())?).expect("json");
    spec["annotations"] = serde_json::json!({"run.oci.handler": "wasm"});
    std::fs::write(&path, spec.to_string()).map_err(|e| e.to_string())?;
    Ok(Some(bundle))
}

/// The busybox bundle at `dir` running `args` under the example default
/// seccomp profile (examples/seccomp/default.json).
pub fn busybox_seccomp(dir: &Path, args: &[&str]) -> Result<PathBuf, String> {
    let bundle = busybox(dir, args)?;
    let path = dir.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| e.to_string())?).expect("json");
    let profile = include_str!("../../examples/seccomp/default.json");
    spec["linux"]["seccomp"] = serde_json::from_str(profile).expect("the example profile is JSON");
    std::fs::write(&path, spec.to_string()).map_err(|e| e.to_string())?;
    Ok(bundle)
}
