//! The terminal summary of a stress run (comfy-table): per scenario calls,
//! rate, errors and latency percentiles; where the time went (schedule lag,
//! pool wait, execution); arrivals; errors by class; server-side top
//! statements; thresholds and the verdict.

use std::fmt::Write;

use super::table::{Width, right_align_from, table};
use super::{dataset_line, pct, rate};
use crate::stress::Load;
use crate::stress::results::StressResults;

/// Render the summary.
pub fn render(r: &StressResults) -> String {
    let mut out = String::new();
    let model = match &r.config.load {
        Load::Open {
            arrival,
            max_inflight,
            ..
        } => format!(
            "open model, target {} ({:?} arrivals, max in-flight {max_inflight})",
            rate(r.totals.target_rate.unwrap_or(0.0)),
            arrival
        )
        .to_lowercase(),
        Load::Closed { clients, .. } if *clients > r.config.pool => format!(
            "closed model, {clients} clients pipelined on {} connections",
            r.config.pool
        ),
        Load::Closed { clients, .. } => format!("closed model, {clients} clients"),
    };
    let _ = writeln!(out, "workload  {} ({})", r.workload.name, r.workload.path);
    let _ = writeln!(
        out,
        "load      {model}; {:.1}s measured after {:.1}s warm-up; pool {}",
        r.measured_secs,
        r.config.warmup.as_secs_f64(),
        r.config.pool
    );
    let _ = writeln!(
        out,
        "server    {}",
        r.server.version.split(" on ").next().unwrap_or("")
    );
    let _ = writeln!(out, "dataset   {}", dataset_line(&r.dataset));
    if let Some(line) = super::segment_summary(r) {
        let _ = writeln!(out, "segment   {}", line.trim_start_matches("segment "));
    }
    if r.interrupted {
        let _ = writeln!(out, "INTERRUPTED: partial results");
    }

    let lat = |l: &crate::stress::results::Latency| {
        vec![
            l.p50_us,
            l.p90_us,
            l.p95_us,
            l.p99_us,
            l.p999_us,
            l.max_us,
            l.mean_us.round() as u64,
        ]
    };
    let mut named: Vec<(String, u64, f64, f64)> = r
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), s.calls, s.rate, s.error_rate))
        .collect();
    named.push((
        "TOTAL".into(),
        r.totals.calls,
        r.totals.rate,
        r.totals.error_rate,
    ));
    let mut times: Vec<Vec<u64>> = r.scenarios.iter().map(|s| lat(&s.latency.total)).collect();
    times.push(lat(&r.totals.latency.total));
    let (units, cells) = super::duration_columns(
        &["p50", "p90", "p95", "p99", "p99.9", "max", "mean"],
        &times,
    );
    let mut header = vec!["scenario", "calls", "rate", "err %"];
    header.extend(units.iter().map(String::as_str));
    let mut t = table(header, Width::Natural);
    for ((name, calls, rt, er), c) in named.iter().zip(cells) {
        let mut row = vec![name.clone(), calls.to_string(), rate(*rt), pct(*er)];
        row.extend(c);
        t.add_row(row);
    }
    right_align_from(&mut t, 1);
    let _ = writeln!(
        out,
        "\nLatency from the intended start (µs resolution, 1 % precision)\n{t}"
    );

    let parts = |p: &crate::stress::results::Parts| {
        vec![
            p.lag.p50_us,
            p.lag.p99_us,
            p.pool_wait.p50_us,
            p.pool_wait.p99_us,
            p.exec.p50_us,
            p.exec.p99_us,
            p.exec.max_us,
        ]
    };
    let mut times: Vec<Vec<u64>> = r.scenarios.iter().map(|s| parts(&s.latency)).collect();
    times.push(parts(&r.totals.latency));
    let (units, cells) = super::duration_columns(
        &[
            "lag p50",
            "lag p99",
            "pool wait p50",
            "pool wait p99",
            "exec p50",
            "exec p99",
            "exec max",
        ],
        &times,
    );
    let mut header = vec!["scenario"];
    header.extend(units.iter().map(String::as_str));
    let mut t = table(header, Width::Natural);
    for ((name, ..), c) in named.iter().zip(cells) {
        let mut row = vec![name.clone()];
        row.extend(c);
        t.add_row(row);
    }
    right_align_from(&mut t, 1);
    let _ = writeln!(
        out,
        "\nWhere the time went: schedule lag + pool wait + execution\n{t}"
    );

    let tot = &r.totals;
    if r.totals.target_rate.is_some() {
        let _ = writeln!(
            out,
            "\narrivals  scheduled {}  started {}  dropped {}  unfinished {}  peak in-flight {}",
            tot.scheduled, tot.started, tot.dropped, tot.unfinished, tot.peak_inflight
        );
    }
    let errs: Vec<String> = r
        .scenarios
        .iter()
        .filter(|s| s.errors > 0)
        .map(|s| {
            let classes: Vec<String> = s
                .errors_by_class
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect();
            let window = s
                .error_window
                .map(|(a, b)| format!(", between {a:.0}s and {b:.0}s"))
                .unwrap_or_default();
            format!(
                "  {}: {} ({}){window}",
                s.name,
                s.errors,
                classes.join(", ")
            )
        })
        .collect();
    if !errs.is_empty() {
        let _ = writeln!(out, "\nerrors by SQLSTATE class\n{}", errs.join("\n"));
    }
    let no_rows: Vec<String> = r
        .scenarios
        .iter()
        .filter(|s| s.no_rows > 0)
        .map(|s| format!("{} {}", s.name, s.no_rows))
        .collect();
    if !no_rows.is_empty() {
        let _ = writeln!(
            out,
            "cut short (a @bind statement returned no row): {}",
            no_rows.join(", ")
        );
    }

    match &r.server_statements {
        Some(v) if !v.is_empty() => {
            let mut t = table(
                vec![
                    "server: top statements by time",
                    "calls",
                    "total",
                    "mean",
                    "rows",
                ],
                Width::Natural,
            );
            for s in v.iter().take(8) {
                let q: String = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
                let q = if q.chars().count() > 70 {
                    format!("{}…", q.chars().take(69).collect::<String>())
                } else {
                    q
                };
                t.add_row(vec![
                    q,
                    s.calls.to_string(),
                    format!("{:.1}ms", s.total_ms),
                    format!("{:.3}ms", s.mean_ms),
                    s.rows.to_string(),
                ]);
            }
            right_align_from(&mut t, 1);
            let _ = writeln!(out, "\n{t}");
        }
        Some(_) => {}
        None => {
            let _ = writeln!(
                out,
                "\nserver: {}",
                r.server_statements_note
                    .as_deref()
                    .unwrap_or("pg_stat_statements not available in this database")
            );
        }
    }
    if let (Some(_), Some(note)) = (&r.server_statements, &r.server_statements_note) {
        let _ = writeln!(out, "server: {note}");
    }

    for th in &r.verdict.thresholds {
        let actual = match &th.note {
            Some(n) => n.clone(),
            None => format!("actual {} {}", th.actual, th.unit),
        };
        let _ = writeln!(
            out,
            "threshold {:<28} {}  ({actual})",
            th.expr,
            if th.passed { "pass" } else { "FAIL" },
        );
    }
    for reason in &r.verdict.invalid_reasons {
        let _ = writeln!(out, "INVALID RUN: {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::stress::results::StressResults;

    const FIXTURE: &str = include_str!("../../fixtures/stress_results.json");

    #[test]
    fn renders_a_stored_results_file() {
        let r: StressResults = serde_json::from_str(FIXTURE).unwrap();
        let t = super::render(&r);
        for needle in [
            "workload  vetclinic (queries/vetclinic.sql)",
            "open model, target 50.0/s (poisson arrivals, max in-flight 1000)",
            "│ dashboard_schedule",
            "│ TOTAL",
            "Where the time went",
            "arrivals  scheduled 118  started 118  dropped 0",
            "threshold p99<2s",
            "server: top statements by time",
        ] {
            assert!(t.contains(needle), "missing {needle:?} in\n{t}");
        }
        // One unit per duration column, named in its header.
        assert!(t.contains(" p99 ms ") && t.contains(" exec p99 ms "), "{t}");
        let lines: Vec<&str> = t.lines().filter(|l| l.contains("│ TOTAL")).collect();
        assert!(
            lines.iter().all(|l| !l.contains("µs") && !l.contains("ms")),
            "{t}"
        );
        let md = super::super::stress_markdown::render(&r);
        assert!(md.starts_with("## dbload stress: vetclinic"));
        assert!(md.contains("| checkout | 1 |"), "{md}");
        assert!(
            md.contains("| `checkout:error_rate<1%` | 0 % | pass |"),
            "{md}"
        );
    }

    #[test]
    fn results_schema_round_trips() {
        let r: StressResults = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(r.schema, crate::stress::results::SCHEMA);
        let again: serde_json::Value = serde_json::to_value(&r).unwrap();
        let orig: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(again, orig);
        let h = crate::stress::results::decode_hist(&r.totals.histograms.total).unwrap();
        assert_eq!(h.len(), r.totals.calls);
    }

    #[test]
    fn results_written_before_timer_resolution_still_load() {
        let old = FIXTURE.replace("\"timer_resolution\":0.0", "\"timer\": \"coarse\"");
        assert_ne!(old, FIXTURE);
        let r: StressResults = serde_json::from_str(&old).unwrap();
        assert_eq!(r.config.timer_resolution, Some(std::time::Duration::ZERO));
    }
}
