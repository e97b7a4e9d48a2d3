//! An SVG chart of the distributions: one panel per operation, one row per
//! runtime; each sample is a dot, the bar spans min..p90, the tick is the
//! median.

use std::fmt::Write;

use crate::measure::Results;
use crate::stats::summarize;

const COLORS: &[&str] = &["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"];

pub fn chart(res: &Results, names: &[&str]) -> String {
    let (width, row_h, label_w, panel_gap) = (760.0, 22.0, 110.0, 46.0);
    let plot_w = width - label_w - 30.0;
    let panels: Vec<_> = res.ms.iter().collect();
    let height = 20.0 + panels.len() as f64 * (names.len() as f64 * row_h + panel_gap);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let mut y = 20.0;
    for (op, by_rt) in panels {
        let max = by_rt.values().flatten().cloned().fold(0.0_f64, f64::max).max(1e-9) * 1.05;
        let x = |v: f64| label_w + v / max * plot_w;
        let _ = writeln!(s, r#"<text x="4" y="{}" font-weight="bold">{op} (ms, axis 0..{max:.1})</text>"#, y + 4.0);
        y += 12.0;
        for (i, name) in names.iter().enumerate() {
            let Some(xs) = by_rt.get(*name) else { continue };
            let Some(sum) = summarize(xs) else { continue };
            let color = COLORS[i % COLORS.len()];
            let cy = y + row_h / 2.0;
            let _ = writeln!(s, r#"<text x="4" y="{}">{name}</text>"#, cy + 4.0);
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="10" fill="{color}" fill-opacity="0.25"/>"#,
                x(sum.min),
                cy - 5.0,
                (x(sum.p90) - x(sum.min)).max(1.0)
            );
            for v in xs {
                let _ =
                    writeln!(s, r#"<circle cx="{:.1}" cy="{cy:.1}" r="2" fill="{color}" fill-opacity="0.6"/>"#, x(*v));
            }
            let _ = writeln!(
                s,
                r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="black" stroke-width="2"/>"#,
                x(sum.median),
                cy - 8.0,
                cy + 8.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{:.2}</text>"#,
                x(sum.median) + 4.0,
                cy - 7.0,
                sum.median
            );
            y += row_h;
        }
        y += panel_gap - 12.0;
    }
    s.push_str("</svg>\n");
    s
}
