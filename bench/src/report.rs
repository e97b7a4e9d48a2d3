//! The table people read and the JSON machines read.

use std::fmt::Write;

use serde_json::json;

use crate::Args;
use crate::measure::{OPS, Results, WASM_OPS};
use crate::peers::Runtime;
use crate::stats::summarize;

fn ops(res: &Results) -> Vec<String> {
    let mut v: Vec<String> = OPS.iter().map(|s| s.to_string()).collect();
    v.extend(res.ms.keys().filter(|k| !OPS.contains(&k.as_str())).cloned());
    v
}

/// Median of the fastest runtime other than tandem, for the ratio column.
fn fastest_peer(by_rt: &std::collections::BTreeMap<String, Vec<f64>>) -> Option<(String, f64)> {
    by_rt
        .iter()
        .filter(|(name, _)| name.as_str() != "tandem")
        .filter_map(|(name, xs)| Some((name.clone(), summarize(xs)?.median)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

pub fn table(res: &Results, names: &[&str]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "wall time in ms ({} iterations; ratio = median / fastest peer's median, wasm rows / native hello's)",
        res.iterations
    );
    let _ = writeln!(out, "{:<12} {:<8} {:>8} {:>8} {:>8}  ratio", "op", "runtime", "min", "median", "p90");
    for op in ops(res) {
        let Some(by_rt) = res.ms.get(&op) else { continue };
        // wasm rows compare with the native hello on the same layout.
        let native = res.ms.get("native hello").and_then(|m| m.get("tandem")).and_then(|xs| summarize(xs));
        // A wasm create, start or delete against the peers' native one.
        let native_step = op.strip_prefix("wasm ").and_then(|step| res.ms.get(step)).and_then(fastest_peer);
        let peer = match (native_step, native) {
            (Some((p, m)), _) => Some((format!("{p} native"), m)),
            (None, Some(n)) if op.starts_with("wasm") => Some(("native hello".to_string(), n.median)),
            _ => fastest_peer(by_rt),
        };
        for name in names {
            let Some(s) = by_rt.get(*name).and_then(|xs| summarize(xs)) else { continue };
            let ratio = match &peer {
                Some((p, m)) => format!("{:.2}x {p}", s.median / m),
                None => "-".into(),
            };
            let _ = writeln!(out, "{:<12} {:<8} {:>8.2} {:>8.2} {:>8.2}  {ratio}", op, name, s.min, s.median, s.p90);
        }
    }
    let _ = writeln!(out, "\npeak RSS of the runtime process in MiB (median)");
    let _ = writeln!(out, "{:<12} {}", "op", names.iter().map(|n| format!("{n:>8}")).collect::<String>());
    for op in OPS.iter().chain(WASM_OPS) {
        let Some(by_rt) = res.rss_kib.get(*op) else { continue };
        let cells: String = names
            .iter()
            .map(|n| match by_rt.get(*n).and_then(|xs| summarize(xs)) {
                Some(s) => format!("{:>8.2}", s.median / 1024.0),
                None => format!("{:>8}", "-"),
            })
            .collect();
        let _ = writeln!(out, "{op:<12} {cells}");
    }
    out
}

pub fn json(res: &Results, rts: &[Runtime], notes: &[String], args: &Args) -> serde_json::Value {
    let summary: serde_json::Map<String, serde_json::Value> = res
        .ms
        .iter()
        .map(|(op, by_rt)| {
            let per: serde_json::Map<String, serde_json::Value> = by_rt
                .iter()
                .filter_map(|(rt, xs)| {
                    let s = summarize(xs)?;
                    Some((rt.clone(), json!({"min": s.min, "median": s.median, "p90": s.p90, "max": s.max})))
                })
                .collect();
            (op.clone(), per.into())
        })
        .collect();
    json!({
        "runtimes": rts.iter().map(|r| json!({"name": r.name, "bin": r.bin, "version": r.version})).collect::<Vec<_>>(),
        "iterations": args.iterations,
        "density": args.density,
        "notes": notes,
        "ms": res.ms,
        "peak_rss_kib": res.rss_kib,
        "summary_ms": summary,
    })
}
