//! Kubernetes' view of tandem: containerd's CRI plugin with a runtime
//! handler `tandem` (what a RuntimeClass names), driven over gRPC as
//! kubelet drives it. One host-network pod annotated `compat-smart` holds
//! a native and a wasm container, each run by what its entrypoint is; the
//! pod goes away with nothing left behind.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::Env;
use common::cri::*;
use common::engines::{Containerd, cgroup_file_of, remove_cgroup_parent};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;

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
