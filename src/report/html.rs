//! The HTML report: one self-contained page (inline CSS, inline SVG charts
//! from [`super::html_charts`], no scripts, nothing fetched) for a regress
//! or stress results file: the outcome, the environment and dataset
//! fingerprint, then per run its thresholds, verdicts against the baseline
//! and charts (throughput vs target, latency percentiles and schedule lag
//! over time, per-scenario latency bars, baseline vs current), and the trend
//! of the key metrics over the stored history.
//!
//! Capacity sweeps (stage / pool-sweep curves with the USL fit) have no
//! place in the results yet; their section comes with the data.

use std::fmt::Write as _;

use super::html_charts::{self, BarGroup, PALETTE, Series};
use super::regress_markdown::value;
use crate::capacity::model::{PoolRun, Shaped, StageWindow};
use crate::regress::RegressResults;
use crate::regress::compare::Verdict;
use crate::regress::history::Point;
use crate::stress::StressResults;

/// What the page shows besides the results themselves.
#[derive(Default)]
pub struct Extras<'a> {
    /// Baseline runs by name, for the baseline-vs-current charts.
    pub baseline: Vec<(String, &'a StressResults)>,
    /// Stored history (oldest first), for the trend charts.
    pub history: Vec<Point>,
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    super::junit::escape(s)
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f5f5}
.outcome{padding:.6em 1em;border-radius:4px;font-weight:600}.pass{background:#e6f4ea;color:#137333}
.fail{background:#fce8e6;color:#a50e0e}.other{background:#fef7e0;color:#8a5a00}
.regressed{color:#a50e0e;font-weight:600}.improved{color:#137333;font-weight:600}.inconclusive{color:#8a5a00}
.chart{margin:.8em 0}.note{background:#f8f9fa;border-left:3px solid #999;padding:.4em .8em}
code{background:#f3f3f3;padding:0 .2em}";

fn chart(o: &mut String, c: Result<Option<String>, String>) {
    match c {
        Ok(Some(svg)) => {
            let _ = writeln!(o, "<div class=\"chart\">{svg}</div>");
        }
        Ok(None) => {}
        Err(e) => {
            let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&e));
        }
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Improved => "improved",
        Verdict::Unchanged => "unchanged",
        Verdict::Regressed => "regressed",
        Verdict::Inconclusive => "inconclusive",
    }
}

fn series(
    name: &str,
    color: usize,
    r: &StressResults,
    f: impl Fn(&crate::stress::results::IntervalSample) -> Option<f64>,
) -> Series {
    Series {
        name: name.to_string(),
        // Full intervals only: the short one while draining would dip to 0.
        points: r
            .intervals
            .iter()
            .filter(|i| i.secs >= 0.5)
            .filter_map(|i| f(i).map(|y| (i.t, y)))
            .collect(),
        color: PALETTE[color % PALETTE.len()],
        markers: false,
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn environment(o: &mut String, r: &StressResults) {
    let _ = writeln!(
        o,
        "<table><tr><th>server</th><td>{}</td></tr>",
        esc(&r.server.version)
    );
    let _ = writeln!(
        o,
        "<tr><th>dataset</th><td>{}</td></tr>",
        esc(&super::dataset_line(&r.dataset))
    );
    let _ = writeln!(
        o,
        "<tr><th>workload</th><td>{} (<code>{}</code>, sha256 {}…)</td></tr>",
        esc(&r.workload.name),
        esc(&r.workload.path),
        esc(r.workload.sha256.get(..12).unwrap_or(&r.workload.sha256))
    );
    let model = match (&r.config.load, r.config.target_qps()) {
        (_, Some(q)) => format!("open model, {q} /s"),
        (crate::stress::Load::Closed { clients, .. }, None) => {
            format!("closed model, {clients} clients")
        }
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "<tr><th>load</th><td>{}, {:.0} s measured after {:.0} s warm-up, pool {}, seed {}</td></tr>",
        esc(&model),
        r.config.duration.as_secs_f64(),
        r.config.warmup.as_secs_f64(),
        r.config.pool,
        r.config.seed
    );
    let settings: Vec<String> = r
        .server
        .settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        o,
        "<tr><th>settings</th><td>{}</td></tr></table>",
        esc(&settings.join(", "))
    );
}

/// p99 beyond this multiple of p50 gets a chart of its own.
pub const TAIL_SPLIT: u64 = 10;

/// Whether the run's worst per-second p99 is more than [`TAIL_SPLIT`]×
/// its median per-second p50.
fn tail_dwarfs_median(r: &StressResults) -> bool {
    let mut p50: Vec<u64> = r
        .intervals
        .iter()
        .filter(|i| i.calls > 0)
        .map(|i| i.p50_us)
        .collect();
    if p50.is_empty() {
        return false;
    }
    p50.sort_unstable();
    let median = p50[p50.len() / 2].max(1);
    let worst = r.intervals.iter().map(|i| i.p99_us).max().unwrap_or(0);
    worst > TAIL_SPLIT * median
}

/// Metrics with the direction that is better and the change in words.
fn metric_table(o: &mut String, ms: &[&crate::regress::model::MetricVerdict]) {
    let _ = writeln!(
        o,
        "<table><tr><th>scenario</th><th>metric</th><th>better</th><th>baseline</th><th>current</th><th>change</th><th>95 % interval (+ = worse)</th><th>verdict</th></tr>"
    );
    for m in ms {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=\"{}\">{}</td></tr>",
            esc(if m.scenario == "*" {
                "all"
            } else {
                &m.scenario
            }),
            esc(&m.metric),
            super::regress_markdown::better_word(m.better),
            esc(&value(m.baseline, &m.unit)),
            esc(&value(m.current, &m.unit)),
            esc(&super::regress_markdown::change_words(m.change)),
            esc(&m
                .interval
                .map(|(a, b)| format!("{:+.1} % … {:+.1} %", a * 100.0, b * 100.0))
                .unwrap_or_else(|| "–".into())),
            verdict_class(m.verdict),
            verdict_class(m.verdict)
        );
    }
    let _ = writeln!(o, "</table>");
}

fn run_section(o: &mut String, run: &crate::regress::RunReport, base: Option<&StressResults>) {
    let r = &run.results;
    let _ = writeln!(o, "<h2>Run {}</h2>", esc(&run.name));
    environment(o, r);
    for reason in &r.verdict.invalid_reasons {
        let _ = writeln!(
            o,
            "<p class=\"outcome other\">invalid run: {}</p>",
            esc(reason)
        );
    }
    if let Some(n) = &run.note {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
    let t = &r.totals;
    let _ = writeln!(
        o,
        "<table><tr><th>calls</th><th>rate</th><th>errors</th><th>p50 (whole run)</th><th>p95 (whole run)</th><th>p99 (whole run)</th><th>max</th><th>lag p99</th><th>dropped</th></tr>\
         <tr><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr></table>",
        t.calls,
        esc(&super::rate(t.rate)),
        esc(&super::pct(t.error_rate)),
        esc(&super::us(t.latency.total.p50_us)),
        esc(&super::us(t.latency.total.p95_us)),
        esc(&super::us(t.latency.total.p99_us)),
        esc(&super::us(t.latency.total.max_us)),
        esc(&super::us(t.latency.lag.p99_us)),
        t.dropped
    );
    if !r.verdict.thresholds.is_empty() {
        let _ = writeln!(
            o,
            "<h3>Thresholds</h3><table><tr><th>threshold</th><th>actual</th><th>result</th></tr>"
        );
        for th in &r.verdict.thresholds {
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td class=n>{} {}</td><td class=\"{}\">{}</td></tr>",
                esc(&th.expr),
                th.actual,
                esc(&th.unit),
                if th.passed { "improved" } else { "regressed" },
                if th.passed { "passed" } else { "breached" }
            );
        }
        let _ = writeln!(o, "</table>");
    }
    if !run.metrics.is_empty() {
        let (changed, rest) = super::regress_markdown::split_metrics(&run.metrics);
        let _ = writeln!(o, "<h3>Baseline vs current</h3>");
        if changed.is_empty() {
            let _ = writeln!(o, "<p>No metric changed beyond its tolerance.</p>");
        } else {
            metric_table(o, &changed);
        }
        if !rest.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>{} unchanged or inconclusive metric(s)</summary>",
                rest.len()
            );
            metric_table(o, &rest);
            let _ = writeln!(o, "</details>");
        }
        let _ = writeln!(
            o,
            "<p class=\"note\">{}.</p>",
            esc(super::regress_markdown::MEDIANS_NOTE)
        );
    }
    let _ = writeln!(o, "<h3>Over time</h3>");
    let mut thr = vec![series("achieved", 0, r, |i| {
        Some(i.calls as f64 / i.secs.max(1e-9))
    })];
    if r.config.target_qps().is_some() {
        thr.push(series("target", 5, r, |i| i.target_rate));
    }
    if let Some(b) = base {
        thr.push(series("baseline achieved", 3, b, |i| {
            Some(i.calls as f64 / i.secs.max(1e-9))
        }));
    }
    chart(
        o,
        html_charts::lines("Throughput vs target", "seconds", "scenarios/s", &thr),
    );
    let p50 = |x: &StressResults, c: usize, name: &str| {
        series(name, c, x, |i| (i.calls > 0).then(|| ms(i.p50_us)))
    };
    let p99 = |x: &StressResults, c: usize, name: &str| {
        series(name, c, x, |i| (i.calls > 0).then(|| ms(i.p99_us)))
    };
    let title = "Latency percentiles (from the intended start)";
    if tail_dwarfs_median(r) {
        // One axis would flatten p50 against the floor: a panel each.
        let _ = writeln!(
            o,
            "<p class=\"note\">p99 is more than {TAIL_SPLIT}× the median p50: p50 and p99 get a chart each.</p>"
        );
        let mut lo = vec![p50(r, 0, "p50")];
        let mut hi = vec![p99(r, 1, "p99")];
        if let Some(b) = base {
            lo.push(p50(b, 2, "baseline p50"));
            hi.push(p99(b, 3, "baseline p99"));
        }
        chart(
            o,
            html_charts::lines(
                "Latency p50 (from the intended start)",
                "seconds",
                "ms",
                &lo,
            ),
        );
        chart(
            o,
            html_charts::lines(
                "Latency p99 (from the intended start)",
                "seconds",
                "ms",
                &hi,
            ),
        );
    } else {
        let mut lat = vec![p50(r, 0, "p50"), p99(r, 1, "p99")];
        if let Some(b) = base {
            lat.push(p50(b, 2, "baseline p50"));
            lat.push(p99(b, 3, "baseline p99"));
        }
        chart(o, html_charts::lines(title, "seconds", "ms", &lat));
    }
    if r.config.target_qps().is_some() {
        chart(
            o,
            html_charts::lines(
                "Schedule lag",
                "seconds",
                "ms",
                &[
                    series("lag p50", 0, r, |i| Some(ms(i.lag_p50_us))),
                    series("lag p99", 1, r, |i| Some(ms(i.lag_p99_us))),
                ],
            ),
        );
    }
    let names: Vec<String> = r.scenarios.iter().map(|s| s.name.clone()).collect();
    let pick = |f: fn(&crate::stress::results::Latency) -> u64| -> Vec<f64> {
        r.scenarios
            .iter()
            .map(|s| ms(f(&s.latency.total)))
            .collect()
    };
    chart(
        o,
        html_charts::bars(
            "Latency per scenario",
            "ms",
            &names,
            &[
                BarGroup {
                    name: "p50".into(),
                    values: pick(|l| l.p50_us),
                    color: PALETTE[0],
                },
                BarGroup {
                    name: "p95".into(),
                    values: pick(|l| l.p95_us),
                    color: PALETTE[3],
                },
                BarGroup {
                    name: "p99".into(),
                    values: pick(|l| l.p99_us),
                    color: PALETTE[1],
                },
            ],
        ),
    );
    if let Some(b) = base {
        let p95 = |x: &StressResults| -> Vec<f64> {
            names
                .iter()
                .map(|n| {
                    x.scenarios
                        .iter()
                        .find(|s| &s.name == n)
                        .map(|s| ms(s.latency.total.p95_us))
                        .unwrap_or(f64::NAN)
                })
                .collect()
        };
        chart(
            o,
            html_charts::bars(
                "p95 per scenario: baseline vs current",
                "ms",
                &names,
                &[
                    BarGroup {
                        name: "baseline".into(),
                        values: p95(b),
                        color: PALETTE[5],
                    },
                    BarGroup {
                        name: "current".into(),
                        values: p95(r),
                        color: PALETTE[0],
                    },
                ],
            ),
        );
    }
    shape_charts(o, r);
}

/// A line of measured points, each marked.
fn measured(name: &str, color: usize, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        points: points
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect(),
        color: PALETTE[color % PALETTE.len()],
        markers: true,
    }
}

/// Charts of the load-shape data a results file may carry (issue 5):
/// per-stage target vs achieved rate, the pool sweep (max QPS under the
/// SLO, or the rate run's throughput, and p99 per pool size) and the
/// concurrency sweep with its fitted USL curve.
pub fn shape_charts(o: &mut String, r: &StressResults) {
    let shaped = Shaped::of(r).unwrap_or_default();
    let has_stages = shaped.stages.as_ref().is_some_and(|s| !s.is_empty());
    if !has_stages && shaped.sweep.is_none() && shaped.capacity.is_none() {
        return;
    }
    let _ = writeln!(o, "<h3>Load shape</h3>");
    if let Some(stages) = shaped.stages.as_ref().filter(|s| !s.is_empty()) {
        let mid = |w: &StageWindow| (w.start_s + w.end_s) / 2.0;
        let open = matches!(r.config.load, crate::stress::Load::Open { .. });
        let mut lines = Vec::new();
        if open {
            lines.push(measured(
                "target (mean)",
                5,
                stages
                    .iter()
                    .map(|s| (mid(&s.window), s.target_mean))
                    .collect(),
            ));
        }
        lines.push(measured(
            "achieved",
            0,
            stages
                .iter()
                .map(|s| (mid(&s.window), s.achieved_rate))
                .collect(),
        ));
        chart(
            o,
            html_charts::lines(
                if open {
                    "Stages: target vs achieved rate"
                } else {
                    "Stages (closed model): achieved rate"
                },
                "seconds (middle of each stage)",
                "executions/s",
                &lines,
            ),
        );
        chart(
            o,
            html_charts::lines(
                "Stages: latency",
                "seconds (middle of each stage)",
                "ms",
                &[
                    measured(
                        "p50 (median second)",
                        0,
                        stages
                            .iter()
                            .map(|s| (mid(&s.window), ms(s.p50_us)))
                            .collect(),
                    ),
                    measured(
                        "p99 (worst second)",
                        1,
                        stages
                            .iter()
                            .map(|s| (mid(&s.window), ms(s.p99_worst_us)))
                            .collect(),
                    ),
                ],
            ),
        );
    }
    if let Some(sw) = &shaped.sweep {
        let slo = if sw.slo.is_empty() {
            String::new()
        } else {
            format!(" (SLO {})", sw.slo.join(", "))
        };
        let by_pool = |f: &dyn Fn(&PoolRun) -> Option<f64>| {
            sw.pools
                .iter()
                .filter_map(|p| Some((p.pool as f64, f(p)?)))
                .collect::<Vec<_>>()
        };
        let find_max = sw.pools.iter().any(|p| p.breakpoint.is_some());
        let rates = if find_max {
            vec![
                measured(
                    "max QPS under the SLO",
                    2,
                    by_pool(&|p| p.breakpoint.as_ref()?.max_qps),
                ),
                measured(
                    "achieved at that rate",
                    0,
                    by_pool(&|p| p.breakpoint.as_ref()?.achieved_qps),
                ),
            ]
        } else {
            vec![
                measured(
                    "target",
                    5,
                    by_pool(&|p| p.step.as_ref()?.target_qps.or(sw.target_qps)),
                ),
                measured("achieved", 0, by_pool(&|p| Some(p.step.as_ref()?.qps))),
            ]
        };
        chart(
            o,
            html_charts::lines(
                &format!(
                    "Pool sweep: {}{slo}",
                    if find_max {
                        "max QPS under the SLO per pool size"
                    } else {
                        "throughput per pool size"
                    }
                ),
                "pool size (connections)",
                "scenarios/s",
                &rates,
            ),
        );
        chart(
            o,
            html_charts::lines(
                &format!(
                    "Pool sweep: p99 per pool size{}",
                    if find_max { " (best passing step)" } else { "" }
                ),
                "pool size (connections)",
                "ms",
                &[measured(
                    "p99",
                    1,
                    by_pool(&|p| Some(ms(p.representative()?.p99_us))),
                )],
            ),
        );
        let _ = writeln!(
            o,
            "<p>Recommended pool: {} — {}</p>",
            sw.recommendation
                .pool
                .map(|p| p.to_string())
                .unwrap_or_else(|| "none".into()),
            esc(&sw.recommendation.reason)
        );
    }
    if let Some(cap) = &shaped.capacity {
        let pts: Vec<(f64, f64)> = cap
            .steps
            .iter()
            .filter_map(|s| Some((s.clients? as f64, s.qps)))
            .collect();
        let mut lines = vec![measured("measured", 0, pts.clone())];
        let title = match &cap.usl {
            Some(u) => {
                // The fitted curve from 1 client to past the last measured
                // concurrency (and the model's peak, when it is near).
                let last = pts.iter().map(|p| p.0).fold(1.0f64, f64::max);
                let end = cap
                    .peak_clients
                    .filter(|p| p.is_finite())
                    .map_or(last, |p| p.min(2.0 * last))
                    .max(last)
                    * 1.25;
                const N: usize = 80;
                let curve = (0..=N)
                    .map(|k| 1.0 + (end - 1.0) * k as f64 / N as f64)
                    .map(|n| (n, u.throughput(n)))
                    .filter(|(_, y)| y.is_finite())
                    .collect();
                lines.push(Series {
                    name: "USL fit".into(),
                    points: curve,
                    color: PALETTE[1],
                    markers: false,
                });
                format!(
                    "Concurrency vs throughput, USL fit (λ {:.1}/s, σ {:.4}, κ {:.5}, R² {:.3})",
                    u.lambda, u.sigma, u.kappa, u.r_squared
                )
            }
            None => format!(
                "Concurrency vs throughput (no USL fit{})",
                cap.usl_error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        };
        chart(
            o,
            html_charts::lines(&title, "clients (concurrency)", "scenarios/s", &lines),
        );
    }
}

fn trend(o: &mut String, history: &[Point]) {
    let mut runs: Vec<&str> = history.iter().map(|p| p.run.as_str()).collect();
    runs.sort();
    runs.dedup();
    let any = runs
        .iter()
        .any(|n| history.iter().filter(|p| p.run == *n).count() >= 2);
    if !any {
        return;
    }
    let _ = writeln!(o, "<h2>History</h2>");
    let _ = writeln!(
        o,
        "<p>Runs stored: {} (x axis: when each run started, UTC, oldest first).</p>",
        history.len()
    );
    for name in runs {
        let pts: Vec<&Point> = history.iter().filter(|p| p.run == name).collect();
        if pts.len() < 2 {
            continue;
        }
        let line = |label: &str, c: usize, f: fn(&Point) -> f64| Series {
            name: label.into(),
            points: pts
                .iter()
                .enumerate()
                .map(|(i, p)| ((i + 1) as f64, f(p)))
                .collect(),
            color: PALETTE[c],
            markers: true,
        };
        let when: Vec<String> = pts
            .iter()
            .map(|p| p.at.format("%m-%d %H:%M").to_string())
            .collect();
        chart(
            o,
            html_charts::lines_labelled(
                &format!("{name}: latency trend"),
                "run started (UTC)",
                &when,
                "ms",
                &[
                    line("p50", 0, |p| p.p50_ms),
                    line("p95", 3, |p| p.p95_ms),
                    line("p99", 1, |p| p.p99_ms),
                ],
            ),
        );
        chart(
            o,
            html_charts::lines_labelled(
                &format!("{name}: throughput trend"),
                "run started (UTC)",
                &when,
                "scenarios/s",
                &[line("rate", 2, |p| p.rate)],
            ),
        );
        let _ = writeln!(
            o,
            "<table><tr><th>#</th><th>started</th><th>rate</th><th>p50</th><th>p99</th><th>valid</th></tr>"
        );
        for (i, p) in pts.iter().enumerate() {
            let _ = writeln!(
                o,
                "<tr><td class=n>{}</td><td>{}</td><td class=n>{:.1}</td><td class=n>{:.2} ms</td><td class=n>{:.2} ms</td><td>{}</td></tr>",
                i + 1,
                p.at.format("%Y-%m-%d %H:%M UTC"),
                p.rate,
                p.p50_ms,
                p.p99_ms,
                if p.valid { "yes" } else { "no" }
            );
        }
        let _ = writeln!(o, "</table>");
    }
}

/// Render the page.
pub fn render(r: &RegressResults, extras: &Extras<'_>) -> String {
    let mut o = String::new();
    let title = format!("dbload report: {}", r.suite.name);
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&title));
    let class = match r.outcome.exit_code {
        0 => "pass",
        1 => "fail",
        _ => "other",
    };
    let _ = writeln!(
        o,
        "<p class=\"outcome {class}\">{} (exit {})</p>",
        esc(&r.outcome.summary),
        r.outcome.exit_code
    );
    let _ = writeln!(
        o,
        "<p>Suite <code>{}</code> · {} → {} · baseline {} · tolerance ±{:.0} %{} · dbload {}</p>",
        esc(&r.suite.path),
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.finished_at.format("%H:%M:%S UTC"),
        r.baseline
            .as_ref()
            .map(|b| format!("<code>{}</code>", esc(&b.path)))
            .unwrap_or_else(|| "none".into()),
        r.tolerance * 100.0,
        r.tail_tolerance
            .map(|t| format!(" (p95/p99 ±{:.0} %)", t * 100.0))
            .unwrap_or_default(),
        esc(&r.dbload_version)
    );
    let _ = writeln!(
        o,
        "<table><tr><th>run</th><th>rate</th><th>p99</th><th>thresholds</th><th>regressed</th><th>improved</th><th>unchanged</th><th>inconclusive</th></tr>"
    );
    for run in &r.runs {
        let th = &run.results.verdict.thresholds;
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td class=\"n regressed\">{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&run.name),
            esc(&super::rate(run.results.totals.rate)),
            esc(&super::us(run.results.totals.latency.total.p99_us)),
            super::thresholds_passed(th),
            run.count(Verdict::Regressed),
            run.count(Verdict::Improved),
            run.count(Verdict::Unchanged),
            run.count(Verdict::Inconclusive)
        );
    }
    let _ = writeln!(o, "</table>");
    for run in &r.runs {
        let base = extras
            .baseline
            .iter()
            .find(|(n, _)| *n == run.name)
            .or(if extras.baseline.len() == 1 {
                extras.baseline.first()
            } else {
                None
            })
            .map(|(_, b)| *b);
        run_section(&mut o, run, base);
    }
    trend(&mut o, &extras.history);
    let _ = writeln!(o, "</body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::model::{
        Breakpoint, CapacityReport, Recommendation, StageResult, StepResult, Sweep,
    };
    use crate::capacity::step;
    use crate::capacity::usl::Usl;

    fn fixture() -> StressResults {
        serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap()
    }

    fn a_step(r: &StressResults, pool: usize, clients: Option<usize>, qps: f64) -> StepResult {
        let mut s = step::judge(r, &[], Default::default(), Default::default());
        s.pool = pool;
        s.clients = clients;
        s.qps = qps;
        s.p99_us = 20_000 + 1_000 * pool as u64;
        s
    }

    /// Small synthetic results carrying stages, a find-max pool sweep and a
    /// concurrency sweep with its USL fit.
    pub(crate) fn shaped() -> StressResults {
        let mut r = fixture();
        let stages = [
            (0.0, 10.0, 50.0, 49.5),
            (10.0, 20.0, 100.0, 98.0),
            (20.0, 30.0, 150.0, 120.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(start_s, end_s, target, achieved))| StageResult {
            window: StageWindow {
                stage: i + 1,
                start_s,
                end_s,
                from: target - 50.0,
                to: target,
            },
            target_mean: target - 25.0,
            achieved_rate: achieved,
            calls: (achieved * 10.0) as u64,
            errors: 0,
            error_rate: 0.0,
            dropped: 0,
            p50_us: 2_000 + 500 * i as u64,
            p99_worst_us: 9_000 + 4_000 * i as u64,
            lag_p99_worst_us: 100,
            inflight_max: 4,
        })
        .collect();
        let mut shaped = Shaped {
            stages: Some(stages),
            ..Default::default()
        };
        let pools = [(4, 180.0), (8, 320.0), (16, 330.0)]
            .iter()
            .map(|&(pool, max)| PoolRun {
                pool,
                breakpoint: Some(Breakpoint {
                    pool,
                    probe_qps: None,
                    max_qps: Some(max),
                    achieved_qps: Some(max * 0.98),
                    failed_qps: Some(max * 1.2),
                    limit: None,
                    verdict: "ok".into(),
                    steps: vec![{
                        let mut s = a_step(&r, pool, None, max * 0.98);
                        s.target_qps = Some(max);
                        s.passed = true;
                        s
                    }],
                    interrupted: false,
                }),
                step: None,
            })
            .collect();
        shaped.sweep = Some(Sweep {
            mode: "find_max".into(),
            slo: vec!["p99<50ms".into()],
            target_qps: None,
            pools,
            recommendation: Recommendation {
                pool: Some(8),
                reason: "smallest pool within 5 % of the best".into(),
            },
        });
        let usl = Usl {
            lambda: 100.0,
            sigma: 0.05,
            kappa: 0.002,
            r_squared: 0.99,
        };
        shaped.capacity = Some(CapacityReport {
            slo: vec!["p99<50ms".into()],
            steps: [1usize, 2, 4, 8, 16]
                .iter()
                .map(|&n| a_step(&r, n, Some(n), usl.throughput(n as f64) * 0.97))
                .collect(),
            usl: Some(usl),
            usl_error: None,
            peak_clients: usl.peak_concurrency(),
            peak_qps: usl.peak_throughput(),
            plan: crate::capacity::plan::plan(&[], Some(&usl), None, None),
            interrupted: false,
        });
        shaped.attach(&mut r).unwrap();
        r
    }

    /// The number of points of each `<polyline>` in `svg`.
    fn polyline_points(svg: &str) -> Vec<usize> {
        svg.split("<polyline")
            .skip(1)
            .map(|p| {
                let attr = p.split("points=\"").nth(1).unwrap_or("");
                let pts = &attr[..attr.find('"').unwrap_or(0)];
                pts.split_whitespace().count()
            })
            .collect()
    }

    #[test]
    fn draws_stage_sweep_and_capacity_charts() {
        let r = shaped();
        let mut o = String::new();
        shape_charts(&mut o, &r);
        let svgs: Vec<&str> = o.split("<svg").skip(1).collect();
        assert_eq!(svgs.len(), 5, "{o}");
        for (title, points) in [
            ("Stages: target vs achieved rate", 3),
            ("Stages: latency", 3),
            (
                "Pool sweep: max QPS under the SLO per pool size (SLO p99&lt;50ms)",
                3,
            ),
            ("Pool sweep: p99 per pool size (best passing step)", 3),
            ("Concurrency vs throughput, USL fit", 5),
        ] {
            let svg = svgs
                .iter()
                .find(|s| s.contains(title))
                .unwrap_or_else(|| panic!("no chart {title:?} in {o}"));
            let lines = polyline_points(svg);
            // Every data line has its points (legend samples have 2).
            assert!(lines.iter().any(|&n| n >= points), "{title}: {lines:?}");
            assert!(svg.matches("<circle").count() >= points, "{title}");
        }
        let usl = svgs.iter().find(|s| s.contains("USL fit (")).unwrap();
        assert!(usl.contains(">\nUSL fit\n</text>"), "legend entry: {usl}");
        assert!(
            polyline_points(usl).iter().any(|&n| n > 50),
            "the fitted curve is drawn densely"
        );
        assert!(o.contains("Recommended pool: 8"));
    }

    #[test]
    fn report_without_shapes_has_no_shape_section_and_with_them_has_it() {
        let mut r = crate::regress::assess::tests::sample();
        let extras = Extras {
            baseline: vec![],
            history: vec![],
        };
        assert!(!render(&r, &extras).contains("Load shape"));
        r.runs[0].results = shaped();
        let html = render(&r, &extras);
        // To look at the charts: DBLOAD_DUMP_HTML=/tmp/r.html cargo test report::html
        if let Ok(p) = std::env::var("DBLOAD_DUMP_HTML") {
            std::fs::write(p, &html).unwrap();
        }
        assert!(html.contains("<h3>Load shape</h3>"));
        assert!(html.contains("Concurrency vs throughput, USL fit"));
    }

    #[test]
    fn history_axis_shows_dates_and_a_long_tail_gets_its_own_panel() {
        use chrono::TimeZone;
        let mut r = crate::regress::assess::tests::sample();
        let at = |d: u32| chrono::Utc.with_ymd_and_hms(2026, 11, d, 2, 17, 0).unwrap();
        let point = |d: u32| Point {
            at: at(d),
            run: "steady".into(),
            rate: 100.0,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            valid: true,
        };
        let extras = Extras {
            baseline: vec![],
            history: vec![point(27), point(28), point(29)],
        };
        let html = render(&r, &extras);
        assert!(html.contains("11-28 02:17"), "dates on the trend's x axis");
        assert!(html.contains("run started (UTC)"));
        // Changed metrics first with the better direction; the rest folded.
        assert!(html.contains("<th>better</th>") && html.contains("50.2 % worse"));
        assert!(html.contains("<details><summary>2 unchanged"));
        assert!(!html.contains("get a chart each"));

        // One second whose p99 is 100× the p50: p50 and p99 apart.
        let iv = &mut r.runs[0].results.intervals;
        iv[0].p99_us = iv[0].p50_us.max(1) * 100;
        let html = render(&r, &extras);
        assert!(html.contains("get a chart each"));
        assert!(html.contains("Latency p99 (from the intended start)"));
    }
}
