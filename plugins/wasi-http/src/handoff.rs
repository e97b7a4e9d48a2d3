//! What passes from the executor (in `tandem`) to `tandem-wasi-http`, the
//! engine a wasi-http container execs: the fd layout of
//! `tandem-wasm-handoff` (the engine's sealed image at the base, these
//! [`Params`] at base + 1, the compiled component at base + 2) and, at
//! create on a cache miss, `tandem-wasi-http compile` with the component on
//! stdin and the artifact on stdout (exit status
//! `tandem_wasm_handoff::INVALID` with why on stderr).
//!
//! No dependencies: the engine includes this file as it is.

/// The engine's binary, next to tandem.
pub const ENGINE: &str = "tandem-wasi-http";

/// The engine build and configuration compiled code depends on (part of
/// the cache key); bumped with any change to the engine's configuration.
pub const ENGINE_ID: &str = concat!("wasmtime-48.0.8-tandem-wasi-http-", env!("CARGO_PKG_VERSION"), "-1");

/// How the engine serves, from the bundle's annotations and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The TCP port it listens on, in the container's network namespace.
    pub port: u16,
    /// Requests served at once (each in a fresh instance); more wait.
    pub max_concurrency: u32,
    /// A request still running after this long gets a 503 and its
    /// instance is stopped.
    pub request_timeout_ms: u64,
    /// `linux.resources.memory.limit`: divided between the instances.
    pub memory_limit: Option<u64>,
}

const HEADER: &str = "tandem-wasi-http 1";

impl Params {
    pub fn encode(&self) -> Vec<u8> {
        let limit = self.memory_limit.map_or("none".to_string(), |l| l.to_string());
        format!(
            "{HEADER}\nport {}\nmax-concurrency {}\nrequest-timeout-ms {}\nmemory-limit {limit}\n",
            self.port, self.max_concurrency, self.request_timeout_ms
        )
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Params> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let (mut port, mut max_concurrency, mut request_timeout_ms, mut memory_limit) = (None, None, None, None);
        for line in lines {
            match line.split_once(' ')? {
                ("port", n) => port = Some(n.parse().ok()?),
                ("max-concurrency", n) => max_concurrency = Some(n.parse().ok()?),
                ("request-timeout-ms", n) => request_timeout_ms = Some(n.parse().ok()?),
                ("memory-limit", "none") => memory_limit = Some(None),
                ("memory-limit", n) => memory_limit = Some(Some(n.parse().ok()?)),
                _ => return None,
            }
        }
        Some(Params {
            port: port?,
            max_concurrency: max_concurrency?,
            request_timeout_ms: request_timeout_ms?,
            memory_limit: memory_limit?,
        })
    }
}
