//! The benchmark tool runs end to end (a small N). It reports; nothing here
//! checks a timing.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_runs_and_writes_table_json_and_chart() {
    let bench = env!("CARGO_BIN_EXE_tandem-bench");
    // `cargo test --workspace` builds the tandem binary beside this one.
    let tandem = Path::new(bench).with_file_name("tandem");
    assert!(tandem.exists(), "build tandem first: {}", tandem.display());
    let out = std::env::temp_dir().join(format!("tandem-bench-test-{}", std::process::id()));
    let o = Command::new(bench)
        .args(["-n", "2", "-m", "2", "--tandem"])
        .arg(&tandem)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    for op in ["run", "create", "start", "delete", "density 2", "wasm cold", "wasm warm", "native hello"] {
        assert!(stdout.lines().any(|l| l.starts_with(op) && l.contains("tandem")), "no {op} row:\n{stdout}");
    }
    // The containerd rows: tandem's shim against the runc shim.
    for note in [
        "ctr run --rm of /bin/true",
        "containerd-shim-tandem-v1 serving one pod",
        "tandem shim: 20 tasks",
        "http hello (4 keep-alive clients, 3 s): tandem wasi-http",
        "wasm cold: ",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with("note:") && l.contains(note)), "no '{note}' note:\n{stdout}");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["ms"]["run"]["tandem"].as_array().unwrap().len(), 2);
    assert!(json["peak_rss_kib"]["create"]["tandem"][0].as_f64().unwrap() > 0.0);
    let svg = std::fs::read_to_string(out.join("chart.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("tandem"));
    std::fs::remove_dir_all(&out).unwrap();
}
