//! Terminal tables for load shapes and capacity planning (comfy-table):
//! per-stage results of a staged run, the steps of a breakpoint search, the
//! pool-size sweep with its recommendation, and the capacity plan.

use std::fmt::Write;

use comfy_table::Table;

use super::table::{Width, right_align_from, table};
use super::{pct, rate, us};
use crate::capacity::model::{CapacityReport, Limit, Shaped, StepResult, Sweep};
use crate::stress::results::StressResults;

/// Per-stage results of a staged run; empty when the run had no stages.
pub fn render_stages(r: &StressResults) -> String {
    let shaped = Shaped::of(r).unwrap_or_default();
    let Some(stages) = &shaped.stages else {
        return String::new();
    };
    let mut t = table(
        vec![
            "stage",
            "from s",
            "to s",
            "target",
            "achieved",
            "calls",
            "err %",
            "dropped",
            "p50",
            "worst p99",
            "worst lag p99",
            "max in-flight",
        ],
        Width::Natural,
    );
    let closed = matches!(r.config.load, crate::stress::Load::Closed { .. });
    let unit = |x: f64| {
        if closed {
            format!("{x:.0} clients")
        } else {
            rate(x)
        }
    };
    for s in stages {
        let w = &s.window;
        let target = if (w.from - w.to).abs() < 1e-9 {
            unit(w.to)
        } else {
            format!("{} → {}", unit(w.from), unit(w.to))
        };
        t.add_row(vec![
            w.stage.to_string(),
            format!("{:.1}", w.start_s),
            format!("{:.1}", w.end_s),
            target,
            rate(s.achieved_rate),
            s.calls.to_string(),
            pct(s.error_rate),
            s.dropped.to_string(),
            us(s.p50_us),
            us(s.p99_worst_us),
            us(s.lag_p99_worst_us),
            s.inflight_max.to_string(),
        ]);
    }
    right_align_from(&mut t, 1);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nStages (p50: median of the seconds' p50; worst p99: the worst second's p99)\n{t}"
    );
    if let Some(s) = &shaped.soak {
        let _ = writeln!(
            out,
            "\nSoak: driver memory {} KiB → {} KiB (max {}, growth {:+} KiB); p99 {} → {} ({:+.1} %), rate {} → {} ({:+.1} %) over the first and last {} s",
            s.rss_start_kib,
            s.rss_end_kib,
            s.rss_max_kib,
            s.rss_growth_kib,
            us(s.first.p99_us as u64),
            us(s.last.p99_us as u64),
            s.p99_drift_pct,
            rate(s.first.rate),
            rate(s.last.rate),
            s.rate_drift_pct,
            s.window_intervals
        );
    }
    out
}

fn cores(c: Option<f64>) -> String {
    c.map(|c| format!("{c:.2}")).unwrap_or_else(|| "?".into())
}

fn busy(c: Option<f64>) -> String {
    c.map(|c| format!("{:.0} %", c * 100.0))
        .unwrap_or_else(|| "?".into())
}

fn top_wait(s: &StepResult) -> String {
    s.server
        .waits
        .first()
        .map(|w| format!("{} {:.1}", w.event, w.mean_backends))
        .unwrap_or_else(|| "-".into())
}

fn outcome(s: &StepResult) -> String {
    match (s.passed, s.limit) {
        (true, _) => "meets SLO".into(),
        (false, Some(Limit::Driver)) => "FAIL: driver".into(),
        (false, Some(Limit::Database)) => "FAIL: database".into(),
        (false, None) => "FAIL".into(),
    }
}

/// One progress line per finished step (stderr).
pub fn step_line(s: &StepResult) -> String {
    let what = match (s.target_qps, s.clients) {
        (Some(q), _) => format!("pool {:>3}  target {:>8}", s.pool, rate(q)),
        (None, Some(c)) => format!("pool {:>3}  clients {:>4}", s.pool, c),
        _ => format!("pool {:>3}", s.pool),
    };
    format!(
        "{what}  achieved {:>8}  p50 {:>8}  p99 {:>8}  err {}  lag p99 {}  pool wait p99 {}  driver CPU {}  host CPU {}  {}",
        rate(s.qps),
        us(s.p50_us),
        us(s.p99_us),
        pct(s.error_rate),
        us(s.lag_p99_us),
        us(s.pool_wait_p99_us),
        cores(s.cpu.driver_cores),
        busy(s.cpu.host_busy),
        outcome(s)
    )
}

fn steps_table(steps: &[StepResult], closed: bool) -> Table {
    let mut t = table(
        vec![
            if closed { "clients" } else { "target" },
            "achieved",
            "p50",
            "p99",
            "err %",
            "dropped",
            "lag p99",
            "pool wait p99",
            "exec p99",
            "driver CPU",
            "host CPU",
            "active",
            "top wait",
            "commits",
            "blks read",
            "result",
        ],
        Width::Natural,
    );
    for s in steps {
        let db = s.server.db.unwrap_or_default();
        t.add_row(vec![
            if closed {
                s.clients.unwrap_or(0).to_string()
            } else {
                rate(s.target_qps.unwrap_or(0.0))
            },
            rate(s.qps),
            us(s.p50_us),
            us(s.p99_us),
            pct(s.error_rate),
            s.dropped.to_string(),
            us(s.lag_p99_us),
            us(s.pool_wait_p99_us),
            us(s.exec_p99_us),
            cores(s.cpu.driver_cores),
            busy(s.cpu.host_busy),
            format!("{:.1}", s.server.mean_active),
            top_wait(s),
            db.commits.to_string(),
            db.blks_read.to_string(),
            outcome(s),
        ]);
    }
    right_align_from(&mut t, 0);
    t
}

fn evidence(out: &mut String, steps: &[StepResult]) {
    for s in steps.iter().filter(|s| !s.passed) {
        let what = match (s.target_qps, s.clients) {
            (Some(q), _) => rate(q),
            (None, Some(c)) => format!("{c} clients"),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {what} (pool {}): {}", s.pool, s.evidence.join("; "));
    }
}

/// A breakpoint search or pool sweep: steps per pool, the table of pools
/// and the recommendation.
pub fn render_sweep(sw: &Sweep) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "SLO: {}", sw.slo.join(", "));
    for p in &sw.pools {
        if let Some(b) = &p.breakpoint {
            let probe = b
                .probe_qps
                .map(|q| format!(" (closed-model probe with {} clients: {})", p.pool, rate(q)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "\nBreakpoint search, pool {}{probe}\n{}",
                p.pool,
                steps_table(&b.steps, false)
            );
            evidence(&mut out, &b.steps);
            let _ = writeln!(out, "=> {}", b.verdict);
        }
    }
    let steps: Vec<StepResult> = sw.pools.iter().filter_map(|p| p.step.clone()).collect();
    if !steps.is_empty() {
        let closed = steps.iter().all(|s| s.clients.is_some());
        let _ = writeln!(
            out,
            "\nOne run per pool size\n{}",
            steps_table(&steps, closed)
        );
        evidence(&mut out, &steps);
    }
    if sw.pools.len() > 1 || sw.mode == "find_max" {
        let find_max = sw.mode == "find_max";
        let mut t = table(
            vec![
                "pool",
                if find_max {
                    "max QPS under SLO"
                } else {
                    "target"
                },
                "achieved",
                "p50",
                "p99",
                "err %",
                "pool wait p99",
                "limit / hints",
            ],
            Width::Natural,
        );
        for p in &sw.pools {
            let rep = p.representative();
            let hint = match (&p.breakpoint, rep) {
                (Some(b), _) => {
                    let mut h = match b.limit {
                        Some(Limit::Database) => "database saturated above".to_string(),
                        Some(Limit::Driver) => "driver saturated above".to_string(),
                        None => "no limit found".to_string(),
                    };
                    if let Some(f) = b
                        .steps
                        .iter()
                        .find(|s| b.failed_qps.is_some() && s.target_qps == b.failed_qps)
                        && f.cpu.host_busy.is_some_and(|x| x >= 0.9)
                    {
                        h.push_str(&format!("; host CPU {} busy", busy(f.cpu.host_busy)));
                    }
                    h
                }
                (None, Some(s)) => s.evidence.first().cloned().unwrap_or_else(|| outcome(s)),
                _ => String::new(),
            };
            let max = match &p.breakpoint {
                Some(b) => b
                    .max_qps
                    .map(rate)
                    .unwrap_or_else(|| "none (first step failed)".into()),
                None => rep.and_then(|s| s.target_qps).map(rate).unwrap_or_default(),
            };
            t.add_row(vec![
                p.pool.to_string(),
                max,
                rep.map(|s| rate(s.qps)).unwrap_or_default(),
                rep.map(|s| us(s.p50_us)).unwrap_or_default(),
                rep.map(|s| us(s.p99_us)).unwrap_or_default(),
                rep.map(|s| pct(s.error_rate)).unwrap_or_default(),
                rep.map(|s| us(s.pool_wait_p99_us)).unwrap_or_default(),
                hint,
            ]);
        }
        right_align_from(&mut t, 0);
        let _ = writeln!(
            out,
            "\nPool sizes{}\n{t}",
            if find_max {
                " (p50/p99 at the highest rate meeting the SLO)"
            } else {
                ""
            }
        );
    }
    let r = &sw.recommendation;
    let _ = match r.pool {
        Some(p) => writeln!(out, "recommended pool: {p} — {}", r.reason),
        None => writeln!(out, "no recommendation: {}", r.reason),
    };
    out
}

/// The capacity model: the concurrency sweep, the USL fit and the plan.
pub fn render_capacity(c: &CapacityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Closed-model concurrency sweep (SLO: {})\n{}",
        c.slo.join(", "),
        steps_table(&c.steps, true)
    );
    match (&c.usl, &c.usl_error) {
        (Some(m), _) => {
            let _ = writeln!(
                out,
                "USL fit X(N) = λN / (1 + σ(N−1) + κN(N−1)): λ = {:.1}/s, σ = {:.4}, κ = {:.6}, R² = {:.3}; peak {} at {}",
                m.lambda,
                m.sigma,
                m.kappa,
                m.r_squared,
                c.peak_qps
                    .map(rate)
                    .unwrap_or_else(|| "none (no coherency term)".into()),
                c.peak_clients
                    .map(|n| format!("{n:.1} clients"))
                    .unwrap_or_else(|| "no peak in reach (κ ≈ 0: levels off)".into())
            );
            let mut t = table(vec!["clients", "measured", "USL", "error"], Width::Natural);
            for s in &c.steps {
                if let Some(n) = s.clients {
                    let x = m.throughput(n as f64);
                    t.add_row(vec![
                        n.to_string(),
                        rate(s.qps),
                        rate(x),
                        format!("{:+.1} %", (s.qps / x - 1.0) * 100.0),
                    ]);
                }
            }
            right_align_from(&mut t, 0);
            let _ = writeln!(out, "{t}");
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "USL: not fitted ({e})");
        }
        _ => {}
    }
    let _ = writeln!(out, "\nCapacity plan");
    for s in &c.plan.summary {
        let _ = writeln!(out, "  - {s}");
    }
    if c.interrupted {
        let _ = writeln!(out, "INTERRUPTED: the sweep is partial");
    }
    out
}
