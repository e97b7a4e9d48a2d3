//! The wasi-http executor: a container that serves a `wasi:http/proxy`
//! component, as `wasmtime serve` does, inside its own network namespace.
//!
//! Chosen by `dev.tandem.executor=wasi-http`, or detected under the wasm
//! annotations (`run.oci.handler=wasm`, `module.wasm.image/variant`) from
//! the component's `wasi:http/incoming-handler` export. Like the wasm
//! executor it links no engine into `tandem`: at `create` the component is
//! compiled (on a cache miss) by its engine, `tandem-wasi-http compile`,
//! in a child process, which also refuses a component that is not a proxy
//! or imports what the engine lacks; at `start` the container's process
//! `execve`s the engine from a sealed image ([`handoff`] has the protocol).
//!
//! Annotations (all optional):
//!
//! | annotation | default | |
//! | --- | --- | --- |
//! | `dev.tandem.wasi-http.port` | 8080 | the TCP port, on every address of the container's network namespace |
//! | `dev.tandem.wasi-http.max-concurrency` | 100 | requests served at once, each in a fresh instance; the container's memory limit is divided between them |
//! | `dev.tandem.wasi-http.request-timeout` | `60s` | a request running longer gets a 503 (`500ms`, `30s`, `2m`) |

pub mod handoff;

use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use tandem_executor_api::{Claim, Config, Error, Executor, PrepareContext, Registration, Result, Workload, host};
use tandem_wasm_handoff::Kind;
use tandem_wasm_select::cache::Cache;
use tandem_wasm_select::{entrypoint, workload::HelperWorkload};

use handoff::{ENGINE, ENGINE_ID, Params};

/// The executor's name, as `dev.tandem.executor` gives it.
pub const NAME: &str = "wasi-http";
pub const PORT_ANNOTATION: &str = "dev.tandem.wasi-http.port";
pub const CONCURRENCY_ANNOTATION: &str = "dev.tandem.wasi-http.max-concurrency";
pub const TIMEOUT_ANNOTATION: &str = "dev.tandem.wasi-http.request-timeout";

const DEFAULT_PORT: u16 = 8080;
const DEFAULT_CONCURRENCY: u32 = 100;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The export a proxy component serves through (any 0.2 version).
const HANDLER_EXPORT: &[u8] = b"wasi:http/incoming-handler@0.2";

fn err(why: impl Into<String>) -> Error {
    Error::Executor { executor: NAME.into(), why: why.into() }
}

pub struct WasiHttp;

tandem_executor_api::inventory::submit!(Registration(&WasiHttp));

impl Executor for WasiHttp {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Under the wasm annotations, a component that exports an incoming
    /// handler is this executor's (a `wasi:cli/command` stays the wasm
    /// executor's). The file is read only in that case, and only its
    /// section headers and top-level exports.
    fn can_handle(&self, config: &Config) -> Claim {
        if tandem_wasm_select::claim(config) == Claim::No {
            return Claim::No;
        }
        let exports_handler = entrypoint::resolve(config)
            .and_then(|path| entrypoint::open(config, &path))
            .is_ok_and(|file| exports_handler(&file).unwrap_or(false));
        if exports_handler { Claim::Specific } else { Claim::No }
    }

    /// Nothing exec'd into a serving container is a request handler.
    fn claims_exec(&self, _config: &Config) -> Claim {
        Claim::No
    }

    fn annotations(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (PORT_ANNOTATION, "wasi-http: the TCP port served (default 8080)"),
            (CONCURRENCY_ANNOTATION, "wasi-http: requests served at once, sharing the memory limit (default 100)"),
            (TIMEOUT_ANNOTATION, "wasi-http: a request running longer gets a 503 (default 60s)"),
        ]
    }

    fn prepare(&self, ctx: &PrepareContext) -> Result<Box<dyn Workload>> {
        let config = ctx.config;
        let params = Params {
            port: annotation(config, PORT_ANNOTATION, DEFAULT_PORT, |v| v.parse().ok().filter(|&p: &u16| p > 0))?,
            max_concurrency: annotation(config, CONCURRENCY_ANNOTATION, DEFAULT_CONCURRENCY, |v| {
                v.parse().ok().filter(|&n: &u32| (1..=10_000).contains(&n))
            })?,
            request_timeout_ms: annotation(config, TIMEOUT_ANNOTATION, DEFAULT_TIMEOUT, parse_duration)?.as_millis()
                as u64,
            memory_limit: tandem_wasm_select::memory_limit(config),
        };
        let path = entrypoint::resolve(config)?;
        let file = entrypoint::open(config, &path)?;
        let mut head = [0u8; 8];
        let n = file.read_at(&mut head, 0).unwrap_or(0);
        match Kind::of(&head[..n]) {
            Some(Kind::Component) => {}
            Some(Kind::Module) => {
                return Err(err(format!(
                    "{}: a core module; wasi-http serves a wasi:http/proxy component",
                    path.display()
                )));
            }
            None => return Err(err(format!("{}: not a WebAssembly component (no \\0asm header)", path.display()))),
        }
        let engine_path = host::self_path().with_file_name(ENGINE);
        let engine =
            host::sealed_image(&engine_path).map_err(|e| err(format!("this needs {ENGINE} next to tandem: {e}")))?;
        let code = compiled(ctx.cache_dir, &engine_path, &file, &path)?;
        let params = host::sealed_memfd(c"tandem-wasi-http-params", &params.encode())
            .map_err(|e| err(format!("hand the engine its parameters: {e}")))?;
        Ok(Box::new(HelperWorkload::new(NAME, engine, params, code)))
    }
}

/// An annotation's value, parsed, or its default when absent; a value
/// that does not parse fails create, naming the annotation.
fn annotation<T>(config: &Config, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    match config.annotations.get(key) {
        None => Ok(default),
        Some(v) => parse(v.trim())
            .ok_or_else(|| Error::config(format!("annotations.{key}"), format!("'{v}' is not a valid value"))),
    }
}

/// `500ms`, `30s`, `2m`, or a number of seconds; never zero.
fn parse_duration(v: &str) -> Option<Duration> {
    let (n, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// The compiled component, open: a verified cache entry, or compiled now
/// by the engine and filed (a sealed memfd of it when the cache cannot be
/// written).
fn compiled(cache_dir: &Path, engine: &Path, file: &std::fs::File, path: &Path) -> Result<std::os::fd::OwnedFd> {
    let cache = Cache::for_engine(cache_dir, NAME, ENGINE_ID);
    let key = cache.key_of(file).map_err(|e| err(format!("read component {}: {e}", path.display())))?;
    if let Some(fd) = cache.load(&key) {
        return Ok(fd);
    }
    let artifact = tandem_wasm_select::compile::compile(engine, &["compile"], file, path, err)?;
    if cache.store(&key, &artifact).is_ok()
        && let Some(fd) = cache.load(&key)
    {
        return Ok(fd);
    }
    host::sealed_memfd(c"tandem-wasi-http-code", &artifact).map_err(|e| err(format!("hold the compiled code: {e}")))
}

/// A LEB128 u32 at `at`: its value and the offset after it.
fn leb_u32(file: &std::fs::File, at: u64) -> io::Result<(u32, u64)> {
    let mut buf = [0u8; 5];
    let n = file.read_at(&mut buf, at)?;
    let mut value = 0u32;
    for (i, b) in buf[..n].iter().enumerate() {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, at + i as u64 + 1));
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "bad LEB128"))
}

/// Does the component in `file` export an incoming handler at its top
/// level? Sections are skipped by their sizes; only export sections
/// (id 11) are read.
fn exports_handler(file: &std::fs::File) -> io::Result<bool> {
    const EXPORT_SECTION: u8 = 11;
    let len = file.metadata()?.len();
    let mut head = [0u8; 8];
    file.read_exact_at(&mut head, 0)?;
    if Kind::of(&head) != Some(Kind::Component) {
        return Ok(false);
    }
    let mut at = 8;
    while at < len {
        let mut id = [0u8; 1];
        file.read_exact_at(&mut id, at)?;
        let (size, body) = leb_u32(file, at + 1)?;
        if id[0] == EXPORT_SECTION {
            let mut bytes = vec![0u8; size as usize];
            file.read_exact_at(&mut bytes, body)?;
            if bytes.windows(HANDLER_EXPORT.len()).any(|w| w == HANDLER_EXPORT) {
                return Ok(true);
            }
        }
        at = body + u64::from(size);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_their_units_say() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        for bad in ["0s", "", "s", "1h", "-1s", "1.5s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn params_round_trip_and_refuse_anything_else() {
        let p = Params { port: 8080, max_concurrency: 4, request_timeout_ms: 1500, memory_limit: Some(64 << 20) };
        assert_eq!(Params::decode(&p.encode()), Some(p.clone()));
        let none = Params { memory_limit: None, ..p };
        assert_eq!(Params::decode(&none.encode()), Some(none));
        assert_eq!(Params::decode(b"tandem-wasi-http 2\nport 1\n"), None);
        assert_eq!(Params::decode(b"tandem-wasi-http 1\nport 1\n"), None);
    }
}
