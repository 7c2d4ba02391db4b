//! A finished run summarised: the raw [`RunOutcome`] (merged histograms
//! and counters) becomes the [`StressResults`] of a results file —
//! per-scenario and per-statement latency summaries, totals, histograms,
//! and the verdict on whether the run is valid.

use super::StressConfig;
use super::outcome::RunOutcome;
use super::results::{
    Extensions, Histograms, Latency, Parts, SCHEMA, ScenarioResult, StatementResult, StressResults,
    Totals, Verdict, WorkloadInfo,
};
use super::server::{ServerInfo, ServerStatement};
use super::stats::ScenarioStats;
use super::threshold::{Metric, Threshold};
use crate::workload::Workload;

fn parts(s: &ScenarioStats) -> Parts {
    Parts {
        total: Latency::of(&s.total),
        lag: Latency::of(&s.lag),
        pool_wait: Latency::of(&s.pool_wait),
        exec: Latency::of(&s.exec),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Assemble results from a finished run. The verdict's validity is set
/// here; thresholds are added by [`super::threshold::apply`].
pub fn build(
    w: &Workload,
    cfg: &StressConfig,
    out: &RunOutcome,
    server: ServerInfo,
    dataset: Option<serde_json::Value>,
    server_statements: Option<Vec<ServerStatement>>,
) -> StressResults {
    let secs = out.measured_secs.max(1e-9);
    let all_done = out.totals.calls() + out.totals.errors();
    let scenarios = w
        .scenarios
        .iter()
        .enumerate()
        .zip(&out.totals.scenarios)
        .map(|((i, sc), st)| {
            let with_errors: Vec<f64> = out
                .intervals
                .iter()
                .filter(|iv| iv.scenarios[i].errors > 0)
                .map(|iv| iv.t)
                .collect();
            ScenarioResult {
                name: sc.name.clone(),
                weight: sc.weight,
                transaction: sc.transaction,
                calls: st.calls,
                errors: st.errors,
                no_rows: st.no_rows,
                share: ratio(st.calls + st.errors, all_done),
                rate: out.window_calls.get(i).copied().unwrap_or(st.calls) as f64 / secs,
                error_rate: ratio(st.errors, st.calls + st.errors),
                errors_by_class: st
                    .error_classes
                    .iter()
                    .map(|(c, n)| (String::from_utf8_lossy(c).into_owned(), *n))
                    .collect(),
                error_window: with_errors
                    .first()
                    .map(|f| (*f, *with_errors.last().unwrap())),
                latency: parts(st),
                statements: sc
                    .statements
                    .iter()
                    .zip(&st.statements)
                    .map(|(d, s)| StatementResult {
                        name: d.name.clone(),
                        location: format!("{}:{}", w.path, d.line),
                        calls: s.calls,
                        errors: s.errors,
                        exec: Latency::of(&s.exec),
                        exec_histogram: super::results::encode_opt(&s.exec),
                    })
                    .collect(),
                histograms: Histograms::of(st),
            }
        })
        .collect();

    let mut all = super::stats::ScenarioStats::new(0);
    for s in &out.totals.scenarios {
        let _ = all.total.add(&s.total);
        let _ = all.lag.add(&s.lag);
        let _ = all.pool_wait.add(&s.pool_wait);
        let _ = all.exec.add(&s.exec);
    }
    let totals = Totals {
        calls: out.totals.calls(),
        errors: out.totals.errors(),
        error_rate: ratio(out.totals.errors(), all_done),
        rate: if out.window_calls.is_empty() {
            out.totals.calls()
        } else {
            out.window_calls.iter().sum()
        } as f64
            / secs,
        target_rate: cfg.target_qps(),
        scheduled: out.scheduled,
        started: out.totals.started,
        dropped: out.dropped,
        unfinished: out.unfinished,
        peak_inflight: out.peak_inflight,
        latency: parts(&all),
        histograms: Histograms::of(&all),
    };

    let mut verdict = Verdict {
        valid: true,
        ..Default::default()
    };
    if out.interrupted {
        verdict
            .invalid_reasons
            .push(super::results::INTERRUPTED.into());
    }
    if cfg.target_qps().is_some() {
        let dropped_frac = ratio(out.dropped, out.scheduled);
        if dropped_frac > 0.01 {
            // Raising --max-inflight only helps when the slots were not
            // all queued for a connection.
            let why = if totals.latency.pool_wait.p99_us > totals.latency.exec.p99_us {
                "the in-flight slots were queued for a connection (the pool or the server cannot keep up; more --max-inflight would only queue longer)"
            } else {
                "every in-flight slot was busy (raise --max-inflight, or the server cannot keep up)"
            };
            verdict.invalid_reasons.push(format!(
                "{} of {} arrivals ({:.1} %) were dropped: {why}",
                out.dropped,
                out.scheduled,
                dropped_frac * 100.0
            ));
        }
        let started_frac = ratio(out.totals.started, out.scheduled);
        if out.scheduled > 0 && started_frac < 0.99 && dropped_frac <= 0.01 {
            verdict.invalid_reasons.push(format!(
                "only {:.1} % of the scheduled arrivals started",
                started_frac * 100.0
            ));
        }
        let lag_p50 = totals.latency.lag.p50_us;
        if lag_p50 > 10_000 {
            verdict.invalid_reasons.push(format!(
                "median schedule lag {:.1} ms > 10 ms: the driver could not start work on time (CPU-bound driver?)",
                lag_p50 as f64 / 1000.0
            ));
        }
    }
    if !out.worker_panics.is_empty() {
        verdict.invalid_reasons.push(format!(
            "{} driver worker(s) panicked (a dbload bug; the results are incomplete): {}",
            out.worker_panics.len(),
            out.worker_panics.join("; ")
        ));
    }
    if out.unfinished > 0 {
        verdict.invalid_reasons.push(format!(
            "{} execution(s) were still running at the end of the drain timeout",
            out.unfinished
        ));
    }
    verdict.valid = verdict.invalid_reasons.is_empty();
    verdict.exit_code = if verdict.valid { 0 } else { 3 };

    let mut extensions = Extensions::default();
    if let Some(t) = &out.timer {
        // Plain numbers and a word: serialising them cannot fail.
        let _ = extensions.set(TIMER_KEY, t);
    }
    StressResults {
        schema: SCHEMA.to_string(),
        dbload_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: out.started_at,
        finished_at: out.finished_at,
        measured_secs: (out.measured_secs * 1000.0).round() / 1000.0,
        interrupted: out.interrupted,
        config: cfg.clone(),
        workload: WorkloadInfo {
            name: w.name.clone(),
            path: w.path.clone(),
            sha256: w.sha256.clone(),
        },
        server,
        dataset,
        totals,
        scenarios,
        intervals: out.intervals.clone(),
        server_statements,
        server_statements_note: None,
        verdict,
        segment: None,
        extensions,
    }
}

/// The results field of what the open model's timer did
/// ([`super::outcome::TimerUse`]).
pub const TIMER_KEY: &str = "driver_timer";

/// Share of failed calls above which a run is invalid unless the user set
/// an `error_rate` threshold of their own.
pub const ERROR_BUDGET: f64 = 0.05;
/// Seconds in a row without one successful call that make a run invalid
/// (a server down, or never back).
pub const MAX_SECONDS_WITHOUT_SUCCESS: f64 = 10.0;

/// A broken run is not a healthy one: errors stay non-fatal during the
/// run, but a run whose calls failed beyond the error budget, or that had
/// no successful call for [`MAX_SECONDS_WITHOUT_SUCCESS`], is invalid
/// (exit 3) and says when. `thresholds` with an `error_rate` of the user's
/// own replace the budget.
pub fn error_budget(r: &mut StressResults, thresholds: &[Threshold]) {
    let own = thresholds.iter().any(|t| t.metric == Metric::ErrorRate);
    let window = |r: &StressResults| {
        let with: Vec<f64> = r
            .intervals
            .iter()
            .filter(|i| i.errors > 0)
            .map(|i| i.t)
            .collect();
        match (with.first(), with.last()) {
            (Some(a), Some(b)) => format!(" (errors from {:.0} s to {:.0} s)", a - 1.0, b),
            _ => String::new(),
        }
    };
    let t = &r.totals;
    if !own && t.errors > 0 && t.error_rate > ERROR_BUDGET {
        let reason = format!(
            "{:.1} % of calls failed{}: above the {:.0} % error budget (set your own with --threshold 'error_rate<…')",
            t.error_rate * 100.0,
            window(r),
            ERROR_BUDGET * 100.0
        );
        r.verdict.invalid_reasons.push(reason);
    }
    // The longest stretch of whole intervals with errors and no success.
    let (mut run, mut longest, mut from) = (0.0, (0.0, 0.0), 0.0);
    for i in &r.intervals {
        if i.calls == 0 && i.errors > 0 {
            if run == 0.0 {
                from = i.t - i.secs;
            }
            run += i.secs;
            if run > longest.0 {
                longest = (run, from);
            }
        } else {
            run = 0.0;
        }
    }
    if longest.0 >= MAX_SECONDS_WITHOUT_SUCCESS {
        r.verdict.invalid_reasons.push(format!(
            "no call succeeded for {:.0} s (from {:.0} s): the server was unreachable or failing",
            longest.0, longest.1
        ));
    }
    if !r.verdict.invalid_reasons.is_empty() {
        r.verdict.valid = false;
        r.verdict.exit_code = 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::stats::Stats;

    /// A one-scenario workload, a closed-model config of `secs` and an
    /// outcome with `totals` over that window (no intervals, no panics).
    fn one_scenario(secs: u64, totals: Stats) -> (Workload, StressConfig, RunOutcome) {
        let w = crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
        let cfg = StressConfig {
            load: crate::stress::Load::closed(1),
            duration: std::time::Duration::from_secs(secs),
            warmup: std::time::Duration::ZERO,
            pool: 1,
            seed: 1,
            drain_timeout: std::time::Duration::from_secs(1),
            timer_resolution: None,
        };
        let out = RunOutcome {
            totals,
            intervals: vec![],
            scheduled: 0,
            dropped: 0,
            unfinished: 0,
            interrupted: false,
            measured_secs: secs as f64,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            peak_inflight: 1,
            worker_panics: vec![],
            window_calls: vec![],
            timer: None,
        };
        (w, cfg, out)
    }

    #[test]
    fn a_worker_panic_makes_the_run_invalid_with_its_message() {
        let (w, cfg, mut out) = one_scenario(1, Stats::new(&[1]));
        out.worker_panics = vec!["boom".into()];
        let r = build(&w, &cfg, &out, Default::default(), None, None);
        assert!(!r.verdict.valid);
        assert_eq!(r.verdict.exit_code, 3);
        assert_eq!(r.verdict.invalid_reasons.len(), 1, "{:?}", r.verdict);
        assert!(
            r.verdict.invalid_reasons[0].contains("panicked")
                && r.verdict.invalid_reasons[0].contains("boom")
        );
    }

    #[test]
    fn the_rate_counts_only_calls_completed_within_the_measured_window() {
        let mut totals = Stats::new(&[1]);
        totals.scenarios[0].calls = 150; // 50 of them completed while draining
        let (w, cfg, mut out) = one_scenario(2, totals);
        out.window_calls = vec![100];
        let r = build(&w, &cfg, &out, Default::default(), None, None);
        assert_eq!((r.totals.calls, r.totals.rate), (150, 50.0));
        assert_eq!((r.scenarios[0].calls, r.scenarios[0].rate), (150, 50.0));
    }

    fn failing(errors_per_s: &[u64]) -> StressResults {
        let (w, _, _) = one_scenario(1, Stats::new(&[1]));
        let mut totals = Stats::new(&[1]);
        let mut intervals = Vec::new();
        for (k, e) in errors_per_s.iter().enumerate() {
            let mut s = Stats::new(&[1]);
            s.scenarios[0].calls = 100 - e;
            for _ in 0..*e {
                s.scenarios[0].error(*b"08", None);
            }
            totals.merge(&s);
            intervals.push(crate::stress::results::interval_sample(
                &w,
                &s,
                k as f64 + 1.0,
                1.0,
                None,
                1,
            ));
        }
        let (w, cfg, mut out) = one_scenario(errors_per_s.len() as u64, totals);
        out.intervals = intervals;
        build(&w, &cfg, &out, Default::default(), None, None)
    }

    #[test]
    fn a_run_beyond_the_error_budget_or_without_success_is_invalid() {
        // 3 % errors: within the budget.
        let mut r = failing(&[3; 20]);
        error_budget(&mut r, &[]);
        assert!(r.verdict.valid, "{:?}", r.verdict);
        // A server down for 12 s of 30: 40 % errors, 12 s without success.
        let mut e = vec![0; 30];
        e[5..17].iter_mut().for_each(|x| *x = 100);
        let mut r = failing(&e);
        error_budget(&mut r, &[]);
        assert_eq!(r.verdict.exit_code, 3);
        let why = r.verdict.invalid_reasons.join(" | ");
        assert!(
            why.contains("40.0 % of calls failed (errors from 5 s to 17 s)"),
            "{why}"
        );
        assert!(
            why.contains("no call succeeded for 12 s (from 5 s)"),
            "{why}"
        );
        // The user's own error threshold replaces the budget (not the outage rule).
        let mut r = failing(&[8; 20]);
        let own = crate::stress::threshold::parse("error_rate<10%").unwrap();
        error_budget(&mut r, &[own]);
        assert!(r.verdict.valid, "{:?}", r.verdict);
    }
}
