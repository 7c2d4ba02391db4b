//! Markdown for load shapes and capacity planning: per-stage results, the
//! breakpoint steps, the pool-size sweep and the capacity plan.

use std::fmt::Write;

use super::{pct, rate, us};
use crate::stress::results::StressResults;

/// Per-stage results as a Markdown table; empty without stages.
pub fn render_stages(r: &StressResults) -> String {
    let Some(stages) = &r.stages else {
        return String::new();
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\n### Stages\n\n| stage | window | target | achieved | calls | err % | dropped | p50 | worst p99 |\n|---:|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for s in stages {
        let w = &s.window;
        let _ = writeln!(
            o,
            "| {} | {:.1}–{:.1} s | {} → {} | {} | {} | {} | {} | {} | {} |",
            w.stage,
            w.start_s,
            w.end_s,
            rate(w.from),
            rate(w.to),
            rate(s.achieved_rate),
            s.calls,
            pct(s.error_rate),
            s.dropped,
            us(s.p50_us),
            us(s.p99_worst_us)
        );
    }
    if let Some(s) = &r.soak {
        let _ = writeln!(
            o,
            "\n**Soak**: driver RSS {} → {} KiB ({:+} KiB); p99 drift {:+.1} %, rate drift {:+.1} %.",
            s.rss_start_kib, s.rss_end_kib, s.rss_growth_kib, s.p99_drift_pct, s.rate_drift_pct
        );
    }
    o
}
