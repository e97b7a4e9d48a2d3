//! The wasi-http plugin: containers that serve a `wasi:http/proxy`
//! component. The components are made here from the WAT in
//! tests/wasi_http/ (wit-component, with the wasi:http WIT of the pinned
//! wasmtime-wasi-http); each container gets a network namespace the test
//! makes (`ip netns add`, loopback up), and requests go from a thread that
//! joined it.

mod common;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wasi_http::{component, first_request, request};
use common::{Bundle, Env};
use serde_json::json;

/// A network namespace of the test's, with its loopback up.
struct Netns(String);

impl Netns {
    fn new(env: &Env) -> Netns {
        let name = format!("tdm-http-{}", env.tag);
        assert!(Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
        let ns = Netns(name);
        assert!(Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"]).status().unwrap().success());
        ns
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }

    /// `f`, on a thread of its own that joined the namespace.
    fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns = fs::File::open(self.path()).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on this thread only, with a namespace fd we hold open.
                assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A busybox bundle serving `component` at /app/handler.wasm, in `netns`.
fn http_bundle(env: &Env, name: &str, component: &[u8], netns: &Netns, annotations: serde_json::Value) -> Bundle {
    let mut b = env.bundle(name, &["/app/handler.wasm"]);
    fs::create_dir_all(b.rootfs().join("app")).unwrap();
    fs::write(b.rootfs().join("app/handler.wasm"), component).unwrap();
    let namespaces: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str() {
            Some("network") => json!({"type": "network", "path": netns.path()}),
            _ => n.clone(),
        })
        .collect();
    b.config["linux"]["namespaces"] = json!(namespaces);
    b.config["annotations"] = annotations;
    b.save();
    b
}

/// `tandem run` in the foreground, its output in files.
struct Server {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Server {
    fn run(env: &Env, b: &Bundle, id: &str) -> Server {
        let (out, err) = (env.dir.join(format!("{id}.out")), env.dir.join(format!("{id}.err")));
        let child = Command::new(&env.bin)
            .arg("--root")
            .arg(&env.root)
            .arg("--cache-dir")
            .arg(&env.cache)
            .args(["run", "--bundle", b.str(), id])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Server { child, out, err }
    }

    /// SIGTERM through tandem; the container's exit status and output.
    fn stop(self, env: &Env, id: &str) -> (i32, String) {
        env.ok(&["kill", id, "TERM"]);
        self.wait()
    }

    /// Its exit status and output, once it exited.
    fn wait(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        let err = fs::read_to_string(&self.err).unwrap_or_default();
        (status.code().unwrap_or(-1), fs::read_to_string(&self.out).unwrap_or_default() + &err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Under `run.oci.handler=wasm` (what a wasm image says), a component
/// exporting an incoming handler is served: GET answers with its body, an
/// access line per request on the container's stdout, SIGTERM exits 0.
#[test]
fn a_proxy_component_serves_through_the_containers_network_namespace() {
    let env = Env::new("http-hello");
    let netns = Netns::new(&env);
    let b = http_bundle(&env, "b", &component("hello"), &netns, json!({"run.oci.handler": "wasm"}));
    let id = env.id("c");
    let server = Server::run(&env, &b, &id);
    let (status, body) = netns.within(|| first_request(8080, "/hi"));
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "hello from a wasi:http component\n"));
    let (code, out) = server.stop(&env, &id);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("GET /hi 200 "), "no access log line: {out}");
    env.assert_gone(&id, None);
}

/// Requests at once, each in its own instance: every body comes back as
/// it was sent.
#[test]
fn concurrent_requests_are_all_answered() {
    let env = Env::new("http-echo");
    let netns = Netns::new(&env);
    let annotations = json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.port": "9090"});
    let b = http_bundle(&env, "b", &component("echo"), &netns, annotations);
    let id = env.id("c");
    let server = Server::run(&env, &b, &id);
    netns.within(|| first_request(9090, "/"));
    let bodies: Vec<Vec<u8>> = (0..16u8).map(|i| (0..10_000u32).map(|n| (n as u8) ^ i).collect()).collect();
    let answers: Vec<(u16, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|body| s.spawn(|| netns.within(|| request(9090, "POST", "/echo", body).unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (status, got)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "request {i}");
        assert!(got == &bodies[i], "request {i}: {} bytes back, not its own {}", got.len(), bodies[i].len());
    }
    let (code, out) = server.stop(&env, &id);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("POST /echo 200 ").count(), 16, "{out}");
    env.assert_gone(&id, None);
}

/// A request whose instance traps gets a 500, one that runs past the
/// request timeout a 503; the next request is served as ever.
#[test]
fn a_trap_is_a_500_a_timeout_a_503_and_the_next_request_is_served() {
    let env = Env::new("http-trap");
    let netns = Netns::new(&env);
    let annotations = json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.request-timeout": "1s"});
    let b = http_bundle(&env, "b", &component("hello"), &netns, annotations);
    let id = env.id("c");
    let server = Server::run(&env, &b, &id);
    netns.within(|| {
        first_request(8080, "/");
        assert_eq!(request(8080, "GET", "/trap", b"").unwrap().0, 500);
        assert_eq!(request(8080, "GET", "/", b"").unwrap().0, 200);
        assert_eq!(request(8080, "GET", "/spin", b"").unwrap().0, 503);
        assert_eq!(request(8080, "GET", "/", b"").unwrap().0, 200);
    });
    let (code, out) = server.stop(&env, &id);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("GET /trap 500 ") && out.contains("GET /spin 503 "), "{out}");
    assert!(out.contains("unreachable"), "the trap is not on stderr: {out}");
    env.assert_gone(&id, None);
}

/// The container's memory limit is shared by the instances that may run
/// at once: with 256 MiB and 8 of them, an instance growing by 40 MiB
/// traps (a 500) where with 2 of them it is served.
#[test]
fn the_memory_limit_is_divided_between_the_instances() {
    let env = Env::new("http-mem");
    let netns = Netns::new(&env);
    for (concurrency, want) in [("8", 500), ("2", 200)] {
        let annotations =
            json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.max-concurrency": concurrency});
        let mut b = http_bundle(&env, &format!("b{concurrency}"), &component("hello"), &netns, annotations);
        b.linux("resources", json!({"memory": {"limit": 256u64 << 20}}));
        let id = env.id(&format!("c{concurrency}"));
        let server = Server::run(&env, &b, &id);
        netns.within(|| {
            assert_eq!(first_request(8080, "/").0, 200);
            assert_eq!(request(8080, "GET", "/grow", b"").unwrap().0, want, "{concurrency} at once");
            assert_eq!(request(8080, "GET", "/", b"").unwrap().0, 200);
        });
        let (code, out) = server.stop(&env, &id);
        assert_eq!(code, 0, "{out}");
        env.assert_gone(&id, None);
    }
}

/// SIGTERM stops new connections at once, lets the request in flight
/// finish with its answer, then exits 0.
#[test]
fn sigterm_drains_the_requests_in_flight_and_exits_0() {
    let env = Env::new("http-drain");
    let netns = Netns::new(&env);
    let annotations = json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.request-timeout": "2s"});
    let b = http_bundle(&env, "b", &component("hello"), &netns, annotations);
    let id = env.id("c");
    let server = Server::run(&env, &b, &id);
    netns.within(|| first_request(8080, "/"));
    let (in_flight, refused) = std::thread::scope(|s| {
        let in_flight = s.spawn(|| netns.within(|| request(8080, "GET", "/spin", b"")));
        // The spinning request is in the server well before this.
        std::thread::sleep(Duration::from_millis(500));
        env.ok(&["kill", &id, "TERM"]);
        std::thread::sleep(Duration::from_millis(300));
        let refused = netns.within(|| request(8080, "GET", "/", b""));
        (in_flight.join().unwrap(), refused)
    });
    assert_eq!(in_flight.unwrap().0, 503, "the request in flight got no answer");
    assert!(refused.is_err(), "a new connection was served while draining: {refused:?}");
    let (code, out) = server.wait();
    assert_eq!(code, 0, "{out}");
    env.assert_gone(&id, None);
}

/// A request that keeps running after its response began (the timeout
/// only bounds the wait for the response) is stopped once the drain's
/// grace is over, and the server exits 0 all the same.
#[test]
fn a_request_still_running_after_the_drain_is_stopped_and_the_server_exits() {
    let env = Env::new("http-late");
    let netns = Netns::new(&env);
    let annotations = json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.request-timeout": "1s"});
    let b = http_bundle(&env, "b", &component("hello"), &netns, annotations);
    let id = env.id("c");
    let server = Server::run(&env, &b, &id);
    netns.within(|| first_request(8080, "/"));
    let late = std::thread::scope(|s| {
        let late = s.spawn(|| netns.within(|| request(8080, "GET", "/late", b"")));
        std::thread::sleep(Duration::from_millis(300));
        env.ok(&["kill", &id, "TERM"]);
        late.join().unwrap()
    });
    // Its headers came; its body ended with the process.
    assert_eq!(late.map(|(status, _)| status).ok(), Some(200));
    let (code, out) = server.wait();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("requests still running after"), "{out}");
    env.assert_gone(&id, None);
}

/// What cannot be served fails create, in one line: a core module, a
/// component that is no proxy, bytes that are no WebAssembly, an
/// annotation that does not parse.
#[test]
fn what_cannot_be_served_fails_at_create() {
    let env = Env::new("http-bad");
    let netns = Netns::new(&env);
    let hello_core =
        wat::parse_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/wasi_http/hello.wat")).unwrap();
    let explicit = json!({"dev.tandem.executor": "wasi-http"});
    let cases: Vec<(&str, Vec<u8>, serde_json::Value, &str)> = vec![
        ("core", hello_core, explicit.clone(), "a core module"),
        ("command", wat::parse_str("(component)").unwrap(), explicit.clone(), "not a wasi:http/proxy"),
        ("garbage", b"#!/bin/sh\necho hi\n".to_vec(), explicit.clone(), "not a WebAssembly component"),
        (
            "port",
            component("hello"),
            json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.port": "0"}),
            "dev.tandem.wasi-http.port",
        ),
        (
            "timeout",
            component("hello"),
            json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.request-timeout": "soon"}),
            "dev.tandem.wasi-http.request-timeout",
        ),
    ];
    for (name, bytes, annotations, said) in cases {
        let b = http_bundle(&env, name, &bytes, &netns, annotations);
        let id = env.id(name);
        let (_, err) = env.fails(&["create", "--bundle", b.str(), &id]);
        assert!(err.contains(said), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        env.assert_gone(&id, None);
    }
}
