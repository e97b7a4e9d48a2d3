//! The wasi-http rows: requests per second and latency of the hello
//! handler (tests/wasi_http/hello.wat as a component) served by a tandem
//! container, and by `wasmtime serve` of the same component where a
//! `wasmtime` CLI is on PATH, one after the other in the same run, under
//! the same load: a few client threads, each with one keep-alive
//! connection, for a fixed time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::Runtime;
use crate::stats::summarize;

#[path = "../../tests/common/wasi_http.rs"]
#[allow(dead_code)]
mod fixture;

/// Clients at once, and how long each run lasts (after a warm-up).
const CLIENTS: usize = 4;
const WARMUP: Duration = Duration::from_millis(500);
const RUN: Duration = Duration::from_secs(3);

/// One server's numbers.
pub struct Served {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Served {
    fn line(&self, who: &str) -> String {
        format!("{who} {:.0} req/s (p50 {:.3} ms, p99 {:.3} ms)", self.rps, self.p50_ms, self.p99_ms)
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The notes of the http rows.
pub fn rows(tandem: &Runtime, work: &Path) -> Result<Vec<String>, String> {
    let component = fixture::component("hello");
    let port = free_port()?;
    let bundle = crate::bundle::busybox(&work.join("http"), &["/app/hello.wasm"])?;
    std::fs::create_dir_all(bundle.join("rootfs/app")).map_err(|e| e.to_string())?;
    std::fs::write(bundle.join("rootfs/app/hello.wasm"), &component).map_err(|e| e.to_string())?;
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| e.to_string())?).expect("json");
    spec["annotations"] =
        serde_json::json!({"dev.tandem.executor": "wasi-http", "dev.tandem.wasi-http.port": port.to_string()});
    // The host's network, where the clients are.
    let namespaces = spec["linux"]["namespaces"].as_array_mut().expect("namespaces");
    namespaces.retain(|n| n["type"] != "network");
    std::fs::write(&path, spec.to_string()).map_err(|e| e.to_string())?;

    let id = format!("bench-http-{}", std::process::id());
    // stderr to a file: the detached container keeps what it inherits.
    let err_path = work.join("http-stderr");
    let tandem_cmd = |args: &[&str]| -> Result<std::process::ExitStatus, String> {
        let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
        Command::new(&tandem.bin)
            .arg("--root")
            .arg(&tandem.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .map_err(|e| e.to_string())
    };
    if !tandem_cmd(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id])?.success() {
        let said = std::fs::read_to_string(&err_path).unwrap_or_default();
        return Err(format!("run the wasi-http container: {}", said.trim()));
    }
    let served = load(port);
    let _ = tandem_cmd(&["kill", &id, "TERM"]);
    let _ = tandem_cmd(&["delete", "--force", &id]);
    let ours = served?;
    let mut notes = vec![format!(
        "http hello ({CLIENTS} keep-alive clients, {} s): {}",
        RUN.as_secs(),
        ours.line("tandem wasi-http")
    )];
    match wasmtime_serve(&work.join("http/rootfs/app/hello.wasm"))? {
        Some((mut server, port)) => {
            let theirs = load(port);
            let _ = server.kill();
            let _ = server.wait();
            let theirs = theirs?;
            notes.push(format!(
                "http hello: {}; tandem / wasmtime serve = {:.2}x the requests per second",
                theirs.line("wasmtime serve"),
                ours.rps / theirs.rps
            ));
        }
        None => notes.push("http hello: no wasmtime CLI on PATH, so no wasmtime serve row".into()),
    }
    Ok(notes)
}

/// `wasmtime serve` of the component on a free port, once it listens.
fn wasmtime_serve(component: &Path) -> Result<Option<(Child, u16)>, String> {
    let Some(wasmtime) = crate::peers::which("wasmtime") else {
        return Ok(None);
    };
    let port = free_port()?;
    let child = Command::new(wasmtime)
        .arg("serve")
        .arg(format!("--addr=127.0.0.1:{port}"))
        .arg(component)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("wasmtime serve: {e}"))?;
    Ok(Some((child, port)))
}

/// Load the server on `port`: the clients' requests per second over
/// [`RUN`] and the latency of each.
fn load(port: u16) -> Result<Served, String> {
    // Once it answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fixture::request(port, "GET", "/", b"").is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing answered on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let results: Vec<Result<Vec<f64>, String>> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS).map(|_| s.spawn(move || client(port))).collect();
        clients.into_iter().map(|c| c.join().unwrap_or_else(|_| Err("a client panicked".into()))).collect()
    });
    let mut latencies = Vec::new();
    for r in results {
        latencies.extend(r?);
    }
    let summary = summarize(&latencies).ok_or("no request was answered")?;
    let mut sorted = latencies.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len()) - 1];
    Ok(Served { rps: latencies.len() as f64 / RUN.as_secs_f64(), p50_ms: summary.median, p99_ms: p99 })
}

/// One client: GET / over one connection, again and again; the latency
/// (ms) of every request after the warm-up, until [`RUN`] is over.
fn client(port: u16) -> Result<Vec<f64>, String> {
    let conn = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = conn.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(conn);
    let start = Instant::now();
    let mut latencies = Vec::new();
    while start.elapsed() < WARMUP + RUN {
        let t = Instant::now();
        writer.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n").map_err(|e| e.to_string())?;
        read_response(&mut reader)?;
        if start.elapsed() > WARMUP {
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(latencies)
}

/// Read one HTTP/1.1 response (a length or chunked body) off `r`.
fn read_response(r: &mut BufReader<TcpStream>) -> Result<(), String> {
    let mut line = String::new();
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the server closed the connection".into());
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        chunked |= l.starts_with("transfer-encoding:") && l.contains("chunked");
    }
    match (length, chunked) {
        (Some(n), _) => {
            let mut buf = vec![0u8; n];
            r.read_exact(&mut buf).map_err(|e| e.to_string())
        }
        (None, true) => loop {
            let mut size = String::new();
            r.read_line(&mut size).map_err(|e| e.to_string())?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(|_| format!("bad chunk size '{}'", size.trim()))?;
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(());
            }
        },
        (None, false) => Ok(()),
    }
}
