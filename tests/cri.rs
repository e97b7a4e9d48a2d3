//! Kubernetes' view of tandem: containerd's CRI plugin with a runtime
//! handler `tandem` (what a RuntimeClass names), driven over gRPC as
//! kubelet drives it. One host-network pod annotated `compat-smart` holds
//! a native and a wasm container, each run by what its entrypoint is; the
//! pod goes away with nothing left behind.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Env;
use common::engines::{Containerd, cgroup_file_of, remove_cgroup_parent};
use common::image::{self, ImageConfig};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

const PAUSE: &str = "registry.k8s.io/pause:3.6";
const BUSYBOX: &str = "docker.io/library/tandem-busybox:cri";
const WASM: &str = "docker.io/library/tandem-wasm:cri";

/// The CRI plugin's section: a `tandem` handler on containerd's runc shim
/// with tandem as its binary, the annotations wasm selection reads passed
/// through, no CNI needed (host-network pods), and an OOM score no lower
/// than containerd's own (this host has no CAP_SYS_RESOURCE).
fn cri_config(dir: &Path) -> String {
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
"#,
        cni = dir.join("cni").display(),
        tandem = common::tandem_bin(),
        runc_root = dir.join("ctrd/runc").display(),
    )
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn channel(socket: PathBuf) -> Channel {
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
        .expect("connect to containerd's CRI")
}

fn import_images(env: &Env, c: &Containerd) {
    let rootfs = env.rootfs("image-rootfs");
    let pause = ImageConfig { entrypoint: &["/bin/sleep", "2147483647"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, PAUSE, &rootfs, &pause));
    let busybox = ImageConfig { cmd: &["sh"], env: &["PATH=/bin"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, BUSYBOX, &rootfs, &busybox));
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasm/hello.wat");
    fs::create_dir_all(rootfs.join("app")).unwrap();
    fs::write(rootfs.join("app/hello.wasm"), wat::parse_file(wat).unwrap()).unwrap();
    let wasm = ImageConfig { cmd: &["/app/hello.wasm"], ..Default::default() };
    c.import(&image::docker_archive(&env.dir, WASM, &rootfs, &wasm));
}

/// What kubelet asks for a hostNetwork pod without shareProcessNamespace.
fn pod_namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

fn container_config(name: &str, image: &str, command: &[&str]) -> ContainerConfig {
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

#[test]
fn a_pod_with_a_native_and_a_wasm_container_through_cri() {
    let env = Env::new("cri-pod");
    let mut c = Containerd::start(&env, Some(&cri_config(&env.dir)));
    c.ns = "k8s.io".into();
    import_images(&env, &c);
    let cgroup_parent = format!("/tandem/pod-{}", env.tag);
    // Removed however the test ends (only where nothing is left in it).
    struct RemoveOnDrop(String);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            remove_cgroup_parent(&self.0);
        }
    }
    let _parent = RemoveOnDrop(cgroup_parent.trim_start_matches('/').to_string());
    let logs = env.dir.join("pod-logs");
    fs::create_dir_all(&logs).unwrap();
    let address = c.address.clone();

    block_on(async {
        let ch = channel(address).await;
        let mut rt = RuntimeServiceClient::new(ch.clone());
        let mut images = ImageServiceClient::new(ch);
        let listed = images
            .list_images(ListImagesRequest::default())
            .await
            .unwrap_or_else(|e| panic!("ListImages: {e}\n{}", c.log_tail()))
            .into_inner();
        assert!(listed.images.iter().any(|i| i.repo_tags.iter().any(|t| t == BUSYBOX)), "{listed:?}");

        let sandbox_config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: "mixed".into(),
                uid: env.tag.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            // kubelet sets no hostname for a host-network pod: it shares
            // the node's UTS namespace.
            // As a pod's annotations reach every container: each is run as
            // wasm or natively by what its entrypoint is.
            annotations: [("module.wasm.image/variant".to_string(), "compat-smart".to_string())].into(),
            log_directory: logs.to_str().unwrap().into(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(sandbox_config.clone()),
                runtime_handler: "tandem".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", c.log_tail()))
            .into_inner()
            .pod_sandbox_id;

        let create = |config: ContainerConfig| CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(config),
            sandbox_config: Some(sandbox_config.clone()),
        };
        let native = rt
            .create_container(create(container_config("native", BUSYBOX, &["sleep", "1000"])))
            .await
            .unwrap_or_else(|e| panic!("CreateContainer native: {e}\n{}", c.log_tail()))
            .into_inner()
            .container_id;
        let wasm = rt
            .create_container(create(container_config("wasm", WASM, &[])))
            .await
            .unwrap_or_else(|e| panic!("CreateContainer wasm: {e}\n{}", c.log_tail()))
            .into_inner()
            .container_id;
        for id in [&native, &wasm] {
            rt.start_container(StartContainerRequest { container_id: id.clone() })
                .await
                .unwrap_or_else(|e| panic!("StartContainer {id}: {e}\n{}", c.log_tail()));
        }

        // The wasm container ran its module and exited 0; its output is in
        // the pod's log, as kubectl logs would show it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            let s = rt
                .container_status(ContainerStatusRequest { container_id: wasm.clone(), verbose: false })
                .await
                .unwrap()
                .into_inner()
                .status
                .unwrap();
            if s.state == ContainerState::ContainerExited as i32 {
                break s;
            }
            assert!(Instant::now() < deadline, "wasm container still {:?}", s.state);
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.exit_code, 0, "{status:?}");
        let log = fs::read_to_string(logs.join("wasm.log")).unwrap();
        assert!(log.contains("stdout F hello from a WAT module"), "{log}");

        // ExecSync in the native one: a host-network pod has the node's hostname.
        let out = rt
            .exec_sync(ExecSyncRequest {
                container_id: native.clone(),
                cmd: vec!["sh".into(), "-c".into(), "hostname; cat /proc/1/cmdline; exit 3".into()],
                timeout: 10,
            })
            .await
            .unwrap()
            .into_inner();
        // Its own pid namespace (the pod does not share one): sleep is pid 1.
        let node = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let want = format!("{node}sleep\01000\0");
        assert_eq!((out.exit_code, String::from_utf8_lossy(&out.stdout)), (3, want.into()), "{out:?}");

        let stats = rt
            .container_stats(ContainerStatsRequest { container_id: native.clone() })
            .await
            .unwrap()
            .into_inner()
            .stats
            .unwrap();
        let working_set = stats.memory.and_then(|m| m.working_set_bytes).map_or(0, |v| v.value);
        assert!(working_set > 0, "memory read from the container's cgroup: {working_set}");

        rt.update_container_resources(UpdateContainerResourcesRequest {
            container_id: native.clone(),
            linux: Some(LinuxContainerResources {
                cpu_period: 100000,
                cpu_quota: 50000,
                cpu_shares: 512,
                memory_limit_in_bytes: 64 << 20,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("UpdateContainerResources: {e}\n{}", c.log_tail()));
        let status = rt
            .container_status(ContainerStatusRequest { container_id: native.clone(), verbose: true })
            .await
            .unwrap()
            .into_inner();
        let pid = status.info.get("info").map(|i| serde_json::from_str::<serde_json::Value>(i).unwrap()["pid"].clone());
        let pid = pid.expect("verbose status has the pid").to_string();
        assert_eq!(cgroup_file_of(&pid, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(cgroup_file_of(&pid, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroup_file_of(&pid, "cpu", "cpu.shares"), "512");

        // sleep as pid 1 ignores TERM: StopContainer kills it after the timeout.
        rt.stop_container(StopContainerRequest { container_id: native.clone(), timeout: 1 }).await.unwrap();
        let s = rt
            .container_status(ContainerStatusRequest { container_id: native.clone(), verbose: false })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        assert_eq!((s.state, s.exit_code), (ContainerState::ContainerExited as i32, 137), "{s:?}");

        rt.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: pod.clone() }).await.unwrap();
        rt.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: pod.clone() }).await.unwrap();
        let left = rt.list_containers(ListContainersRequest::default()).await.unwrap().into_inner();
        assert!(left.containers.is_empty(), "{left:?}");
    });

    // Nothing of the pod is left on the host: no tandem state, no process,
    // no cgroup.
    // The shim gives tandem `<Root>/<namespace>` as its --root.
    let runc_root = c.runc_root.join("k8s.io");
    let left: Vec<_> =
        fs::read_dir(&runc_root).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "tandem state left: {left:?}");
    for dir in common::cgroup_dirs(&format!("pod-{}", env.tag)) {
        let inside: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(inside.is_empty(), "cgroups left in {}: {inside:?}", dir.display());
    }
}
