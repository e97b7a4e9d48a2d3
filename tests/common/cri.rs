//! Talking to containerd's CRI plugin as kubelet does (gRPC over its
//! socket), for the tests that run pods: its config with tandem's two
//! handlers, the images a pod needs, the configs kubelet sends.

use std::fs;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

use super::Env;
use super::engines::Containerd;
use super::image::{self, ImageConfig};

pub const PAUSE: &str = "registry.k8s.io/pause:3.6";
pub const BUSYBOX: &str = "docker.io/library/tandem-busybox:cri";
pub const WASM: &str = "docker.io/library/tandem-wasm:cri";

/// The CRI plugin's section: a `tandem` handler on containerd's runc shim
/// with tandem as its binary and a `tandem-shim` handler on tandem's own
/// shim (`io.containerd.tandem.v1`, its config file named by ConfigPath),
/// each passing through the annotations wasm selection reads; no CNI
/// needed (host-network pods), and an OOM score no lower than
/// containerd's own (this host has no CAP_SYS_RESOURCE).
pub fn cri_config(dir: &Path) -> String {
    format!(
        r#"[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni}/bin"
    conf_dir = "{cni}/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "tandem"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tandem]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["run.oci.handler", "module.wasm.image/variant", "dev.tandem.executor"]
      container_annotations = ["run.oci.handler", "module.wasm.image/variant", "dev.tandem.executor"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tandem.options]
        BinaryName = "{tandem}"
        Root = "{runc_root}"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tandem-shim]
      runtime_type = "io.containerd.tandem.v1"
      pod_annotations = ["run.oci.handler", "module.wasm.image/variant", "dev.tandem.executor"]
      container_annotations = ["run.oci.handler", "module.wasm.image/variant", "dev.tandem.executor"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tandem-shim.options]
        ConfigPath = "{shim_config}"
"#,
        cni = dir.join("cni").display(),
        tandem = super::tandem_bin(),
        shim_config = dir.join("ctrd/tandem-shim.json").display(),
        runc_root = dir.join("ctrd/runc").display(),
    )
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

pub async fn channel(socket: PathBuf) -> Channel {
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
        .expect("connect to containerd's CRI")
}

pub fn import_images(env: &Env, c: &Containerd) {
    let rootfs = env.rootfs("image-rootfs");
    let pause = ImageConfig { entrypoint: &["/bin/sleep", "2147483647"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, PAUSE, &rootfs, &pause));
    let busybox = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, BUSYBOX, &rootfs, &busybox));
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat");
    fs::create_dir_all(rootfs.join("app")).unwrap();
    fs::write(rootfs.join("app/hello.wasm"), wat::parse_file(wat).unwrap()).unwrap();
    fs::copy(super::demo_wasm(), rootfs.join("app/demo.wasm")).unwrap();
    let wasm = ImageConfig { cmd: &["/app/hello.wasm"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, WASM, &rootfs, &wasm));
}

/// What kubelet asks for a hostNetwork pod without shareProcessNamespace.
pub fn pod_namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

pub fn container_config(name: &str, image: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata { name: name.into(), attempt: 0 }),
        image: Some(ImageSpec { image: image.into(), ..Default::default() }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}.log"),
        // kubelet repeats the pod's namespace modes for each container.
        linux: Some(LinuxContainerConfig {
            security_context: Some(LinuxContainerSecurityContext {
                namespace_options: Some(pod_namespaces()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
