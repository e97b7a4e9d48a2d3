//! Serving: one listener, a connection task per client, a fresh instance
//! per request.

use std::fs::File;
use std::io::{Read, Seek};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tandem_wasm_handoff::{CODE_FD_OFFSET, PARAMS_FD_OFFSET};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::handoff::Params;
use crate::{CANNOT_RUN, config, linker};

/// How often the engine's epoch ticks: each tick, a running instance
/// yields to the others (and a timed-out one can be dropped).
const TICK: Duration = Duration::from_millis(10);

/// The engine's own memory, left out of what the instances share of the
/// container's limit.
const ENGINE_RESERVE: u64 = 16 << 20;

/// A request's store.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

struct Server {
    pre: ProxyPre<State>,
    params: Params,
    /// Each instance's share of the container's memory limit.
    memory_per_instance: Option<usize>,
    /// One permit per request served at once.
    slots: Semaphore,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// The server's whole life: its exit status.
pub fn main(base: i32) -> i32 {
    match prepare(base).and_then(|(params, code)| run(params, code)) {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("tandem-wasi-http: {why}");
            CANNOT_RUN
        }
    }
}

fn prepare(base: i32) -> Result<(Params, File), String> {
    let take = |offset: i32, what: &str| {
        tandem_executor_wasm::os::take_fd(base + offset).map(File::from).ok_or_else(|| format!("no {what} fd"))
    };
    let mut params = Vec::new();
    let mut file = take(PARAMS_FD_OFFSET, "parameters")?;
    file.rewind().and_then(|()| file.read_to_end(&mut params)).map_err(|e| format!("read the parameters: {e}"))?;
    let params = Params::decode(&params).ok_or("parameters from another version of tandem")?;
    let mut code = take(CODE_FD_OFFSET, "compiled code")?;
    code.rewind().map_err(|e| format!("the compiled code: {e}"))?;
    // The engine's own image: the kernel has it mapped, this fd is spare.
    drop(tandem_executor_wasm::os::take_fd(base));
    Ok((params, code))
}

fn engine(params: &Params, memory_per_instance: Option<usize>) -> Result<Engine, String> {
    let n = params.max_concurrency;
    let mut pool = PoolingAllocationConfig::default();
    // A proxy component built from a core module has a few core instances,
    // tables and one or two memories.
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n);
    if let Some(m) = memory_per_instance {
        pool.max_memory_size(m);
    }
    let mut config = config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| format!("create the wasm engine: {e:#}"))
}

fn run(params: Params, mut code: File) -> Result<(), String> {
    let memory_per_instance = params
        .memory_limit
        .map(|l| (l.saturating_sub(ENGINE_RESERVE) / u64::from(params.max_concurrency)).max(1 << 20) as usize);
    let engine = engine(&params, memory_per_instance)?;
    let mut bytes = Vec::new();
    code.read_to_end(&mut bytes).map_err(|e| format!("read the compiled component: {e}"))?;
    // SAFETY: the code was serialized by `tandem-wasi-http compile` (this
    // binary) for this engine id (the cache key holds it) and checked
    // against the checksum recorded with it.
    let component = unsafe { Component::deserialize(&engine, &bytes) }
        .map_err(|e| format!("load the compiled component (tandem wasm-cache prune clears stale code): {e:#}"))?;
    let pre = linker(&engine)
        .and_then(|l| l.instantiate_pre(&component))
        .and_then(ProxyPre::new)
        .map_err(|e| format!("{e:#}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("start the event loop: {e}"))?;
    let server = Arc::new(Server {
        pre,
        slots: Semaphore::new(params.max_concurrency as usize),
        memory_per_instance,
        args: std::env::args().collect(),
        env: std::env::vars().collect(),
        params,
    });
    // The epoch ticks on a thread of its own until the process exits: an
    // instance stopped mid-run (a timed-out request) yields, and is
    // dropped, only at a tick, even while the server shuts down.
    std::thread::Builder::new()
        .name("epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
        .map_err(|e| format!("start the epoch thread: {e}"))?;
    let served = runtime.block_on(serve(server));
    // Whatever still runs is abandoned with the process.
    runtime.shutdown_background();
    served
}

async fn serve(server: Arc<Server>) -> Result<(), String> {
    let addr = SocketAddr::from(([0, 0, 0, 0], server.params.port));
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("listen on {addr}: {e}"))?;
    eprintln!("tandem-wasi-http: serving on http://{addr}/");
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let (drain, draining) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(connection(server.clone(), client, draining.clone()));
                }
                Err(e) => eprintln!("tandem-wasi-http: accept: {e}"),
            },
            Some(()) = term.recv() => break,
            Some(()) = int.recv() => break,
            // Finished connections are reaped as they go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Drain: no new connections; those open finish their request in
    // flight and close.
    drop(listener);
    let _ = drain.send(true);
    let grace = Duration::from_millis(server.params.request_timeout_ms) + Duration::from_secs(1);
    if tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await.is_err() {
        eprintln!("tandem-wasi-http: requests still running after {grace:?}: stopped");
    }
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, String> {
    tokio::signal::unix::signal(kind).map_err(|e| format!("handle signals: {e}"))
}

/// Serve one client's requests until it closes or the server drains.
async fn connection(server: Arc<Server>, client: tokio::net::TcpStream, mut draining: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
    });
    let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(client), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = draining.wait_for(|d| *d) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

fn plain(status: u16, text: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(format!("{text}\n"))).map_err(|never| match never {}).boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp
}

impl Server {
    /// One request, in an instance of its own: the component's response,
    /// a 500 when it traps or sets none, a 503 when it runs too long.
    async fn handle(&self, req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<HyperOutgoingBody> {
        let started = Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let _slot = self.slots.acquire().await;
        let timeout = Duration::from_millis(self.params.request_timeout_ms);
        let resp = match tokio::time::timeout(timeout, self.run_instance(req)).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(why)) => {
                eprintln!("tandem-wasi-http: {method} {path}: {why}");
                plain(500, "internal server error")
            }
            Err(_) => {
                eprintln!("tandem-wasi-http: {method} {path}: still running after {timeout:?}: stopped");
                plain(503, "request timed out")
            }
        };
        println!("{method} {path} {} {:.3}ms", resp.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
        resp
    }

    async fn run_instance(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, String> {
        let mut limits = StoreLimitsBuilder::new().trap_on_grow_failure(true);
        if let Some(m) = self.memory_per_instance {
            limits = limits.memory_size(m);
        }
        let mut wasi = WasiCtx::builder();
        wasi.args(&self.args).envs(&self.env).inherit_stdio();
        wasi.preopened_dir("/", "/", FsPerms::ReadWrite).map_err(|e| format!("preopen /: {e:#}"))?;
        let state =
            State { wasi: wasi.build(), http: WasiHttpCtx::new(), table: ResourceTable::new(), limits: limits.build() };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_async_yield_and_update(1);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req).map_err(|e| format!("{e:#}"))?;
        let out = store.data_mut().http().new_response_outparam(sender).map_err(|e| format!("{e:#}"))?;
        let pre = self.pre.clone();
        // Its own task: the body may stream on after the response is set.
        // Until then it is stopped with this request (a timeout drops this
        // future): at its next epoch tick, not spinning on unseen.
        let mut task = Instance(Some(tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
        })));
        match receiver.await {
            Ok(Ok(resp)) => {
                task.detach();
                Ok(resp)
            }
            Ok(Err(code)) => Err(format!("the component answered with error {code:?}")),
            Err(_) => Err(match task.finished().await {
                Ok(Ok(())) => "the component set no response".to_string(),
                Ok(Err(e)) => format!("the component failed: {e:#}"),
                Err(e) => format!("the component's task: {e}"),
            }),
        }
    }
}

/// A request's instance task, aborted when dropped unless detached.
struct Instance(Option<tokio::task::JoinHandle<wasmtime::Result<()>>>);

impl Instance {
    fn detach(&mut self) {
        self.0.take();
    }

    async fn finished(&mut self) -> Result<wasmtime::Result<()>, tokio::task::JoinError> {
        self.0.take().expect("not detached").await
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
