//! The results of a stress run as a plain, versioned serde struct
//! (`"schema": "dbload.stress/1"`): configuration, server and dataset
//! fingerprint, totals, per-scenario and per-statement latency summaries,
//! the whole-run histograms (HdrHistogram V2, base64), the per-interval
//! series, server-side statement deltas, thresholds and the verdict.
//! Renderers and `dbload regress` read this struct; JSON is its serde form.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};

use super::StressConfig;
use super::driver::RunOutcome;
use super::server::{ServerInfo, ServerStatement};
use super::stats::{ScenarioStats, Stats};
use crate::workload::Workload;

/// The schema identifier written into every results file.
pub const SCHEMA: &str = "dbload.stress/1";

/// Latency percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// A histogram serialized as HdrHistogram V2, base64 (mergeable later).
pub fn encode_hist(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let _ = V2Serializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decode a histogram written by [`encode_hist`].
pub fn decode_hist(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{e:?}"))
}

/// Serialized whole-run histograms of one scenario (or of the totals).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Latency from the intended start (lag + pool wait + execution).
    pub total: String,
    pub lag: String,
    pub pool_wait: String,
    pub exec: String,
}

impl Histograms {
    fn of(s: &ScenarioStats) -> Self {
        Histograms {
            total: encode_hist(&s.total),
            lag: encode_hist(&s.lag),
            pool_wait: encode_hist(&s.pool_wait),
            exec: encode_hist(&s.exec),
        }
    }
}

/// Latency parts: the whole, and where the time went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    /// From the intended start to the end: what a user of the system felt.
    pub total: Latency,
    /// Intended start → the driver actually started (open model).
    pub lag: Latency,
    /// Waiting for a pooled connection.
    pub pool_wait: Latency,
    /// Running the statements (round trips, BEGIN/COMMIT included).
    pub exec: Latency,
}

/// One statement of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementResult {
    pub name: String,
    /// `file:line` of the statement.
    pub location: String,
    pub calls: u64,
    pub errors: u64,
    /// Execution time of this statement alone (µs).
    pub exec: Latency,
}

/// One scenario's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    /// Weight in the workload file.
    pub weight: f64,
    pub transaction: bool,
    /// Successful executions.
    pub calls: u64,
    pub errors: u64,
    /// Executions cut short because a `@bind` statement returned no row.
    pub no_rows: u64,
    /// Share of all executions (calls + errors) that were this scenario.
    pub share: f64,
    /// Successful executions per second: those completed within the
    /// measured window (not while draining) over its length.of the measured window.
    pub rate: f64,
    /// errors / (calls + errors).
    pub error_rate: f64,
    /// Errors by SQLSTATE class (`08` lost connection, `CL` client-side).
    pub errors_by_class: BTreeMap<String, u64>,
    /// Seconds (since measuring began) of the first and last interval with errors.
    pub error_window: Option<(f64, f64)>,
    pub latency: Parts,
    pub statements: Vec<StatementResult>,
    pub histograms: Histograms,
}

/// Totals over all scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Successful executions per second: those completed within the
    /// measured window (not while draining) over its length.
    pub rate: f64,
    /// Configured target rate (open model).
    pub target_rate: Option<f64>,
    /// Arrivals the schedule produced in the measured window (open model);
    /// with Poisson arrivals this differs randomly from target × duration.
    pub scheduled: u64,
    /// Arrivals or executions started.
    pub started: u64,
    /// Arrivals dropped because every in-flight slot was busy.
    pub dropped: u64,
    /// Executions abandoned at the end of the drain timeout.
    pub unfinished: u64,
    /// Highest number of scenarios in flight at an interval boundary.
    pub peak_inflight: i64,
    pub latency: Parts,
    pub histograms: Histograms,
}

/// One scenario within one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalScenario {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// One (normally 1-second) interval of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalSample {
    /// End of the interval, seconds since measuring began.
    pub t: f64,
    /// Length of the interval, seconds.
    pub secs: f64,
    /// Target arrival rate (open model; absent while draining).
    pub target_rate: Option<f64>,
    /// Completed executions (calls + errors) per second.
    pub rate: f64,
    pub calls: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Scenarios in flight at the end of the interval.
    pub inflight: i64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub lag_p50_us: u64,
    pub lag_p99_us: u64,
    pub scenarios: Vec<IntervalScenario>,
}

/// Build an interval sample from the interval's merged statistics.
pub fn interval_sample(
    w: &Workload,
    s: &Stats,
    t: f64,
    secs: f64,
    target_rate: Option<f64>,
    inflight: i64,
) -> IntervalSample {
    let total = s.all(|x| &x.total);
    let lag = s.all(|x| &x.lag);
    let done = s.calls() + s.errors();
    IntervalSample {
        t: (t * 1000.0).round() / 1000.0,
        secs: (secs * 1000.0).round() / 1000.0,
        target_rate,
        rate: if secs > 0.0 { done as f64 / secs } else { 0.0 },
        calls: s.calls(),
        errors: s.errors(),
        dropped: s.dropped,
        inflight,
        p50_us: if total.is_empty() {
            0
        } else {
            total.value_at_quantile(0.5)
        },
        p99_us: if total.is_empty() {
            0
        } else {
            total.value_at_quantile(0.99)
        },
        lag_p50_us: if lag.is_empty() {
            0
        } else {
            lag.value_at_quantile(0.5)
        },
        lag_p99_us: if lag.is_empty() {
            0
        } else {
            lag.value_at_quantile(0.99)
        },
        scenarios: w
            .scenarios
            .iter()
            .zip(&s.scenarios)
            .map(|(sc, st)| {
                let l = Latency::of(&st.total);
                IntervalScenario {
                    name: sc.name.clone(),
                    calls: st.calls,
                    errors: st.errors,
                    p50_us: l.p50_us,
                    p90_us: l.p90_us,
                    p95_us: l.p95_us,
                    p99_us: l.p99_us,
                    max_us: l.max_us,
                    mean_us: l.mean_us,
                }
            })
            .collect(),
    }
}

/// The outcome of the checks on a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// False when the driver could not hold the load or the run was interrupted.
    pub valid: bool,
    pub invalid_reasons: Vec<String>,
    pub thresholds: Vec<ThresholdResult>,
    /// 0 pass, 1 threshold breached, 3 invalid run.
    pub exit_code: u8,
}

/// One `--threshold` checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    /// The measured value, in the threshold's unit (ms, %, /s).
    pub actual: f64,
    pub limit: f64,
    pub unit: String,
    pub passed: bool,
    /// Why the threshold could not be measured (then it did not pass),
    /// e.g. a latency threshold over a scenario with no successful call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Information about the workload that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// Everything a stress run produced (`--out results.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressResults {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub dbload_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Length of the measured window, seconds.
    pub measured_secs: f64,
    /// Ended by Ctrl-C (the results are partial).
    pub interrupted: bool,
    pub config: StressConfig,
    pub workload: WorkloadInfo,
    pub server: ServerInfo,
    /// Latest complete row of `dbload_datasets`, if the table exists.
    pub dataset: Option<serde_json::Value>,
    pub totals: Totals,
    pub scenarios: Vec<ScenarioResult>,
    pub intervals: Vec<IntervalSample>,
    /// Top statements by server execution time during the run
    /// (`pg_stat_statements` delta); None when the extension is unavailable.
    pub server_statements: Option<Vec<ServerStatement>>,
    pub verdict: Verdict,
    /// What load shapes and multi-step modes add to a run's results
    /// (`stages`, `soak`, `sweep`, `capacity`: `capacity::model`), carried
    /// as top-level fields without the engine knowing them.
    #[serde(flatten)]
    pub extensions: Extensions,
}

/// Top-level fields of a results file that other engines add, in the
/// order they were added (and read back in the file's order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extensions(Vec<(String, serde_json::Value)>);

impl Extensions {
    /// The field `key`, read as a `T` (None when absent).
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| T::deserialize(v).map_err(|e| format!("{key}: {e}")))
            .transpose()
    }

    /// Set (or replace) the field `key`.
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), String> {
        let v = serde_json::to_value(value).map_err(|e| format!("{key}: {e}"))?;
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key.to_string(), v)),
        }
        Ok(())
    }
}

impl Serialize for Extensions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Extensions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the other top-level fields of a results file")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Extensions, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, serde_json::Value>()? {
                    v.push(entry);
                }
                Ok(Extensions(v))
            }
        }
        d.deserialize_map(Visit)
    }
}

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
            .push("interrupted (Ctrl-C): the results are partial".into());
    }
    if cfg.target_qps().is_some() {
        let dropped_frac = ratio(out.dropped, out.scheduled);
        if dropped_frac > 0.01 {
            verdict.invalid_reasons.push(format!(
                "{} of {} arrivals ({:.1} %) were dropped: every in-flight slot was busy (raise --max-inflight, or the server/pool cannot keep up)",
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
        verdict,
        extensions: Extensions::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::stats::new_hist;

    #[test]
    fn a_worker_panic_makes_the_run_invalid_with_its_message() {
        let w = crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
        let cfg = StressConfig {
            load: crate::stress::Load::closed(1),
            duration: std::time::Duration::from_secs(1),
            warmup: std::time::Duration::ZERO,
            pool: 1,
            seed: 1,
            drain_timeout: std::time::Duration::from_secs(1),
            timer_resolution: std::time::Duration::ZERO,
        };
        let out = RunOutcome {
            totals: crate::stress::stats::Stats::new(&[1]),
            intervals: vec![],
            scheduled: 0,
            dropped: 0,
            unfinished: 0,
            interrupted: false,
            measured_secs: 1.0,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            peak_inflight: 1,
            worker_panics: vec!["boom".into()],
            window_calls: vec![],
        };
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
        let w = crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
        let cfg = StressConfig {
            load: crate::stress::Load::closed(1),
            duration: std::time::Duration::from_secs(2),
            warmup: std::time::Duration::ZERO,
            pool: 1,
            seed: 1,
            drain_timeout: std::time::Duration::from_secs(1),
            timer_resolution: std::time::Duration::ZERO,
        };
        let mut totals = crate::stress::stats::Stats::new(&[1]);
        totals.scenarios[0].calls = 150; // 50 of them completed while draining
        let out = RunOutcome {
            totals,
            intervals: vec![],
            scheduled: 0,
            dropped: 0,
            unfinished: 0,
            interrupted: false,
            measured_secs: 2.0,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            peak_inflight: 1,
            worker_panics: vec![],
            window_calls: vec![100],
        };
        let r = build(&w, &cfg, &out, Default::default(), None, None);
        assert_eq!((r.totals.calls, r.totals.rate), (150, 50.0));
        assert_eq!((r.scenarios[0].calls, r.scenarios[0].rate), (150, 50.0));
    }

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = new_hist();
        for v in [1u64, 10, 100, 1000, 123_456] {
            h.record(v).unwrap();
        }
        let back = decode_hist(&encode_hist(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.max(), h.max());
    }
}
