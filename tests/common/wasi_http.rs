//! wasi:http/proxy components for the tests, made from the WAT in
//! tests/wasi_http/ with wit-component and the wasi:http WIT of the pinned
//! wasmtime-wasi-http (read from where cargo keeps its source).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The component made from tests/wasi_http/<name>.wat, once per binary.
pub fn component(name: &str) -> Vec<u8> {
    static WIT: OnceLock<PathBuf> = OnceLock::new();
    let wit = WIT.get_or_init(wasi_http_wit);
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/wasi_http/{name}.wat"));
    let mut module = wat::parse_file(&wat).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_dir(wit).unwrap();
    let http = resolve.packages.iter().find(|(_, p)| p.name.namespace == "wasi" && p.name.name == "http").unwrap().0;
    let world = resolve.select_world(&[http], Some("proxy")).unwrap();
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    wit_component::ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

/// The WIT directory of the wasmtime-wasi-http this workspace pins.
/// Offline and for this platform only: the build downloaded this
/// platform's crates, not the ones other targets need (hermit-abi, ...).
fn wasi_http_wit() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--manifest-path"])
        .arg(&manifest)
        .args(["--filter-platform", &format!("{}-unknown-linux-gnu", std::env::consts::ARCH)])
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"].as_array().unwrap().iter().find(|p| p["name"] == "wasmtime-wasi-http").unwrap();
    Path::new(pkg["manifest_path"].as_str().unwrap()).with_file_name("wit")
}

/// One HTTP/1.0 request to 127.0.0.1:port of the namespace the calling
/// thread is in: the status and the body, or why it failed.
pub fn request(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!("{method} {path} HTTP/1.0\r\nHost: test\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply)?;
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").ok_or(std::io::ErrorKind::InvalidData)?;
    let status_line = String::from_utf8_lossy(&reply[..split]).lines().next().unwrap_or_default().to_string();
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, reply[split + 4..].to_vec()))
}

/// Once the server listens: a request retried until it connects.
pub fn first_request(port: u16, path: &str) -> (u16, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match request(port, "GET", path, b"") {
            Ok(r) => return r,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the server never answered on port {port}: {e}"),
        }
    }
}
