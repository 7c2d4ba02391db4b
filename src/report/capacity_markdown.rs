//! Markdown for load shapes and capacity planning: per-stage results, the
//! breakpoint steps, the pool-size sweep and the capacity plan.

use std::fmt::Write;

use super::md::text;
use super::{pct, rate, us};
use crate::capacity::model::{CapacityReport, Limit, Shaped, StepResult, Sweep};
use crate::stress::results::StressResults;

/// Per-stage results as a Markdown table; empty without stages.
pub fn render_stages(r: &StressResults) -> String {
    let shaped = Shaped::of(r).unwrap_or_default();
    let Some(stages) = &shaped.stages else {
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
    if let Some(s) = &shaped.soak {
        let _ = writeln!(
            o,
            "\n**Soak**: driver RSS {} → {} KiB ({:+} KiB); p99 drift {:+.1} %, rate drift {:+.1} %.",
            s.rss_start_kib, s.rss_end_kib, s.rss_growth_kib, s.p99_drift_pct, s.rate_drift_pct
        );
    }
    o
}

fn result(s: &StepResult) -> &'static str {
    match (s.passed, s.limit) {
        (true, _) => "meets SLO",
        (false, Some(Limit::Driver)) => "FAIL: driver",
        (false, Some(Limit::Database)) => "FAIL: database",
        (false, None) => "FAIL",
    }
}

fn steps(o: &mut String, steps: &[StepResult]) {
    let _ = writeln!(
        o,
        "| target / clients | achieved | p50 | p99 | err % | lag p99 | pool wait p99 | driver CPU | host CPU | result |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for s in steps {
        let what = match (s.target_qps, s.clients) {
            (Some(q), _) => rate(q),
            (None, Some(c)) => format!("{c} clients"),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "| {what} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rate(s.qps),
            us(s.p50_us),
            us(s.p99_us),
            pct(s.error_rate),
            us(s.lag_p99_us),
            us(s.pool_wait_p99_us),
            s.cpu
                .driver_cores
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
            s.cpu
                .host_busy
                .map(|c| format!("{:.0} %", c * 100.0))
                .unwrap_or_default(),
            result(s)
        );
    }
}

/// A breakpoint search or pool sweep as Markdown.
pub fn render_sweep(sw: &Sweep) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## dbload stress: {}\n\n- **SLO**: {}\n",
        if sw.mode == "find_max" {
            "breakpoint search"
        } else {
            "pool-size sweep"
        },
        text(&sw.slo.join(", "))
    );
    for p in &sw.pools {
        if let Some(b) = &p.breakpoint {
            let _ = writeln!(o, "### Pool {}\n", p.pool);
            steps(&mut o, &b.steps);
            let _ = writeln!(o, "\n{}\n", text(&b.verdict));
        }
    }
    let _ = writeln!(
        o,
        "### Pool sizes\n\n| pool | max QPS under SLO / target | achieved | p50 | p99 | err % | pool wait p99 |\n|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in &sw.pools {
        let rep = p.representative();
        let max = match &p.breakpoint {
            Some(b) => b.max_qps.map(rate).unwrap_or_else(|| "none".into()),
            None => rep.and_then(|s| s.target_qps).map(rate).unwrap_or_default(),
        };
        let _ = writeln!(
            o,
            "| {} | {max} | {} | {} | {} | {} | {} |",
            p.pool,
            rep.map(|s| rate(s.qps)).unwrap_or_default(),
            rep.map(|s| us(s.p50_us)).unwrap_or_default(),
            rep.map(|s| us(s.p99_us)).unwrap_or_default(),
            rep.map(|s| pct(s.error_rate)).unwrap_or_default(),
            rep.map(|s| us(s.pool_wait_p99_us)).unwrap_or_default()
        );
    }
    let r = &sw.recommendation;
    let _ = match r.pool {
        Some(p) => writeln!(o, "\n**Recommended pool: {p}** — {}", text(&r.reason)),
        None => writeln!(o, "\n**No recommendation** — {}", text(&r.reason)),
    };
    o
}

/// The capacity model and plan as Markdown.
pub fn render_capacity(c: &CapacityReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## dbload stress: capacity plan\n\n- **SLO**: {}\n",
        text(&c.slo.join(", "))
    );
    steps(&mut o, &c.steps);
    if let Some(m) = &c.usl {
        let _ = writeln!(
            o,
            "\n**USL**: λ = {:.1}/s, σ = {:.4}, κ = {:.6}, R² = {:.3}; peak {} at {} clients\n",
            m.lambda,
            m.sigma,
            m.kappa,
            m.r_squared,
            c.peak_qps.map(rate).unwrap_or_else(|| "none".into()),
            c.peak_clients
                .map(|n| format!("{n:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    for s in &c.plan.summary {
        let _ = writeln!(o, "- {}", text(s));
    }
    o
}
