//! tandem-bench: times tandem against every peer runtime it finds (runc,
//! crun) on the same busybox bundle, in one run, interleaving runtimes so
//! drift on the machine is shared (`run` also under the example seccomp
//! profile). Reports min/median/p90 per operation,
//! peak RSS per command, a density run, ratios against the fastest peer, the
//! raw numbers as JSON and an SVG chart. The wasm rows are tandem's alone;
//! the wasi-http rows put tandem against `wasmtime serve` where one is
//! installed.
//!
//! A benchmark, not a test: nothing here asserts a timing.

mod bundle;
mod cgroup_probe;
mod http;
mod measure;
mod peers;
mod report;
mod shim;
mod stats;
mod svg;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmark tandem against runc and crun on one bundle")]
pub struct Args {
    /// Iterations of each operation per runtime.
    #[arg(short = 'n', long, default_value_t = 30)]
    iterations: usize,
    /// Containers started at once in the density run (0 to skip).
    #[arg(short = 'm', long, default_value_t = 20)]
    density: usize,
    /// The tandem binary (default: `tandem` beside this program).
    #[arg(long)]
    tandem: Option<PathBuf>,
    /// Only these runtimes (comma-separated names), if found.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also time containerd through tandem's shim and the runc shim (a
    /// private containerd; `--shim=false` to skip).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    shim: bool,
    /// Directory for results.json and chart.svg.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tandem-bench: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let tandem = match &args.tandem {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("tandem"),
    };
    let work = std::env::temp_dir().join(format!("tandem-bench-{}", std::process::id()));
    let _cleanup = bundle::Cleanup(work.clone());
    let mut notes = Vec::new();
    notes.extend(peers::private_cgroup_view()?);
    let runtimes = peers::discover(&tandem, &work, &args.only)?;
    let names: Vec<&str> = runtimes.iter().map(|r| r.name.as_str()).collect();
    eprintln!("runtimes: {}", names.join(", "));
    for r in runtimes.iter().filter(|r| r.name != "tandem") {
        notes.push(format!("{}: {}", r.name, r.version));
    }
    if !runtimes.iter().any(|r| r.name == "tandem") {
        return Err(format!("tandem binary not found at {}", tandem.display()));
    }
    let true_bundle = bundle::busybox(&work.join("true"), &["/bin/true"])?;
    let seccomp_bundle = bundle::busybox_seccomp(&work.join("true-seccomp"), &["/bin/true"])?;
    let sleep_bundle = bundle::busybox(&work.join("sleep"), &["sleep", "1000"])?;

    if let Some(ms) = cgroup_probe::migration_ms() {
        notes.push(format!(
            "one cgroup migration by pid after an idle moment costs {ms:.1} ms on this host (an RCU grace period); \
             runc and crun pay one per create and run (tandem's init moves itself, which does not wait), and the \
             bench idles {} ms before each timed command so none rides on the previous one's migration",
            cgroup_probe::SETTLE.as_millis()
        ));
    }
    let mut results = measure::Results::default();
    measure::lifecycle(&runtimes, &true_bundle, &seccomp_bundle, &sleep_bundle, args.iterations, &mut results)?;
    if args.density > 0 {
        measure::density(&runtimes, &sleep_bundle, args.density, &mut results)?;
    }
    let tandem_rt = runtimes.iter().find(|r| r.name == "tandem").expect("checked above");
    match bundle::wasm_demo(&work.join("wasm"), &[])? {
        Some(wasm_bundle) => {
            let native = bundle::busybox(&work.join("native-hello"), &["echo", "hello"])?;
            measure::wasm(tandem_rt, &wasm_bundle, &native, args.iterations, &mut results)?;
            notes.push("wasm rows: tandem only (no peer here has a wasm handler); cold = compiled-code cache pruned before each run; wasm create/start/delete (warm cache) against the fastest peer's native ones".into());
            notes.push(match peers::which("wasmtime") {
                Some(wasmtime) => {
                    let theirs = measure::wasmtime_run_cold(&wasmtime, &wasm_bundle.join("rootfs/app/demo.wasm"), args.iterations)?;
                    let ours = results.ms["wasm cold"]["tandem"].clone();
                    let ours = stats::summarize(&ours).expect("iterations >= 1").median;
                    format!(
                        "wasm cold: tandem {ours:.2} ms (a container, the module compiled, run) against `wasmtime run -C cache=n` of the same module {theirs:.2} ms (compiled and run, no container): {:.2}x",
                        ours / theirs
                    )
                }
                None => "wasm cold: no wasmtime CLI on PATH, so no `wasmtime run` comparison".into(),
            });
            let spin = bundle::wasm_demo(&work.join("wasm-spin"), &["spin"])?.expect("clang built the demo above");
            let (rss_kib, threads) = measure::running_wasm_process(tandem_rt, &spin)?;
            notes.push(format!(
                "a running wasm container's process (the helper, running a spinning module): VmRSS {:.2} MiB, {threads} thread(s)",
                rss_kib / 1024.0
            ));
        }
        None => notes.push("wasm rows skipped: clang for wasm32-wasi is not installed".into()),
    }
    notes.extend(http::rows(tandem_rt, &work)?);

    if args.shim {
        let shim = tandem.with_file_name(shim::SHIM);
        if !shim.is_file() {
            return Err(format!("{} not found beside tandem (make build)", shim.display()));
        }
        notes.extend(shim::rows(&work, &tandem, &true_bundle.join("rootfs"), args.iterations)?);
    }

    std::fs::create_dir_all(&args.out).map_err(|e| format!("create {}: {e}", args.out.display()))?;
    let table = report::table(&results, &names);
    println!("{table}");
    for n in &notes {
        println!("note: {n}");
    }
    let json = report::json(&results, &runtimes, &notes, args);
    let json_path = args.out.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json).expect("json")).map_err(|e| e.to_string())?;
    let svg_path = args.out.join("chart.svg");
    std::fs::write(&svg_path, svg::chart(&results, &names)).map_err(|e| e.to_string())?;
    println!("raw numbers: {}\nchart: {}", json_path.display(), svg_path.display());
    Ok(())
}
