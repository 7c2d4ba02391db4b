//! From runs to verdicts: pick each scenario's per-interval samples
//! (throughput and latency percentiles), compare them with the baseline run
//! of the same name ([`super::compare`]), unless the environments differ, and
//! assemble the `dbload.regress/1` results with the overall outcome.

use chrono::Utc;

use super::compare::{self, Better, CompareSettings, Verdict};
use super::environment;
use super::model::{self, BaselineInfo, MetricVerdict, RegressResults, RunReport, SuiteInfo};
use super::noise::Noise;
use super::samples::samples;
use crate::stress::StressResults;

/// Metrics compared per scenario: name, unit, direction.
pub const SCENARIO_METRICS: &[(&str, &str, Better)] = &[
    ("rate", "/s", Better::Higher),
    ("p50", "ms", Better::Lower),
    ("p95", "ms", Better::Lower),
    ("p99", "ms", Better::Lower),
];

/// Metrics compared for all scenarios together (`*`): the intervals carry
/// the overall p50 and p99.
pub const TOTAL_METRICS: &[(&str, &str, Better)] = &[
    ("rate", "/s", Better::Higher),
    ("p50", "ms", Better::Lower),
    ("p99", "ms", Better::Lower),
];

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Compare every metric of every scenario of suite run `run`'s `current`
/// results with `baseline`; `noise` (from the history) may widen each
/// metric's tolerance.
pub fn compare_runs(
    run: &str,
    baseline: &StressResults,
    current: &StressResults,
    s: &CompareSettings,
    noise: &Noise,
) -> Vec<MetricVerdict> {
    let mut out = Vec::new();
    let mut one = |scenario: &str, (metric, unit, better): (&str, &str, Better)| {
        let (tolerance, spread) = noise.tolerance(s.tolerance_for(metric), run, scenario, metric);
        let c = compare::compare(
            &samples(baseline, scenario, metric),
            &samples(current, scenario, metric),
            better,
            &CompareSettings { tolerance, ..*s },
        );
        out.push(MetricVerdict {
            scenario: scenario.to_string(),
            metric: metric.to_string(),
            unit: unit.to_string(),
            better,
            verdict: c.verdict,
            baseline: finite(c.baseline_median),
            current: finite(c.current_median),
            change: finite(c.change),
            interval: (c.interval.0.is_finite() && c.interval.1.is_finite()).then_some(c.interval),
            baseline_samples: c.baseline_samples,
            current_samples: c.current_samples,
            tolerance: Some(tolerance),
            noise: spread,
        });
    };
    for m in TOTAL_METRICS {
        one("*", *m);
    }
    for sc in &current.scenarios {
        for m in SCENARIO_METRICS {
            one(&sc.name, *m);
        }
    }
    out
}

/// How runs are judged.
#[derive(Debug, Clone)]
pub struct AssessSettings {
    pub compare: CompareSettings,
    /// Compare even when environments differ (the differences are still listed).
    pub allow_mismatch: bool,
    /// Run-to-run noise from the history (empty: the tolerances as configured).
    pub noise: Noise,
}

/// A baseline: named runs from a results file.
pub struct Baseline<'a> {
    pub path: String,
    pub runs: Vec<(String, &'a StressResults)>,
}

/// Judge the runs of a suite against an optional baseline.
pub fn assess(
    suite: SuiteInfo,
    runs: Vec<(String, StressResults)>,
    baseline: Option<&Baseline<'_>>,
    s: &AssessSettings,
) -> RegressResults {
    let started_at = runs
        .iter()
        .map(|(_, r)| r.started_at)
        .min()
        .unwrap_or_else(Utc::now);
    let finished_at = runs
        .iter()
        .map(|(_, r)| r.finished_at)
        .max()
        .unwrap_or_else(Utc::now);
    let reports = runs
        .into_iter()
        .map(|(name, results)| {
            let Some(b) = baseline else {
                return RunReport {
                    name,
                    compared: false,
                    note: Some("no baseline given".into()),
                    mismatches: vec![],
                    metrics: vec![],
                    results,
                };
            };
            // A stress file as baseline holds one run: it stands for any run name.
            let base = b
                .runs
                .iter()
                .find(|(n, _)| *n == name)
                .or(if b.runs.len() == 1 { b.runs.first() } else { None });
            let Some((_, base)) = base else {
                return RunReport {
                    note: Some(format!("no run named {name:?} in the baseline {}", b.path)),
                    name,
                    compared: false,
                    mismatches: vec![],
                    metrics: vec![],
                    results,
                };
            };
            let mismatches = environment::mismatches(base, &results);
            let refuse = !mismatches.is_empty() && !s.allow_mismatch;
            let note = if refuse {
                Some(format!(
                    "not compared, the environment differs from the baseline's (--allow-mismatch compares anyway): {}",
                    environment::describe(&mismatches)
                ))
            } else if !mismatches.is_empty() {
                Some(format!(
                    "compared although the environment differs (--allow-mismatch): {}",
                    environment::describe(&mismatches)
                ))
            } else if !base.verdict.valid {
                Some("the baseline run itself was invalid".into())
            } else {
                None
            };
            let metrics = if refuse {
                vec![]
            } else {
                compare_runs(&name, base, &results, &s.compare, &s.noise)
            };
            RunReport {
                name,
                compared: !refuse,
                note,
                mismatches,
                metrics,
                results,
            }
        })
        .collect::<Vec<_>>();
    let outcome = model::outcome(&reports);
    RegressResults {
        schema: model::SCHEMA.to_string(),
        dbload_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        finished_at,
        suite,
        tolerance: s.compare.tolerance,
        tail_tolerance: Some(s.compare.tail_tolerance),
        allow_mismatch: s.allow_mismatch,
        baseline: baseline.map(|b| BaselineInfo {
            path: b.path.clone(),
            started_at: b.runs.iter().map(|(_, r)| r.started_at).min(),
        }),
        runs: reports,
        outcome,
    }
}

/// Count of verdicts of one kind (for summaries).
pub fn count(r: &RegressResults, v: Verdict) -> usize {
    r.runs.iter().map(|x| x.count(v)).sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stress::results::IntervalScenario;

    /// The stored fixture stretched to `n` intervals with latencies × `slow`.
    pub fn synthetic(n: usize, slow: f64, jitter_seed: u64) -> StressResults {
        let mut r: StressResults =
            serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
        let proto = r.intervals[0].clone();
        r.intervals = (0..n)
            .map(|k| {
                let j = 1.0 + 0.03 * (((k as u64 * 7 + jitter_seed * 13) % 11) as f64 / 10.0 - 0.5);
                let mut iv = proto.clone();
                iv.t = (k + 1) as f64;
                iv.secs = 1.0;
                iv.calls = 100;
                iv.errors = 0;
                iv.p50_us = (1000.0 * slow * j) as u64;
                iv.p99_us = (5000.0 * slow * j) as u64;
                iv.scenarios = vec![IntervalScenario {
                    name: "dashboard_schedule".into(),
                    calls: 50,
                    errors: 0,
                    p50_us: (800.0 * slow * j) as u64,
                    p90_us: (1500.0 * slow * j) as u64,
                    p95_us: (2000.0 * slow * j) as u64,
                    p99_us: (4000.0 * slow * j) as u64,
                    max_us: (6000.0 * slow * j) as u64,
                    mean_us: 900.0 * slow * j,
                    histogram: None,
                }];
                iv
            })
            .collect();
        r.measured_secs = n as f64;
        r.scenarios.truncate(1);
        r
    }

    /// A deterministic regress result for renderer snapshots: one run
    /// compared with a baseline, its latency 50 % slower, one threshold
    /// breached, plus a run whose workload differs (not compared).
    pub fn sample() -> RegressResults {
        let base = synthetic(20, 1.0, 1);
        let b = Baseline {
            path: "perf/baseline.json".into(),
            runs: vec![("steady".into(), &base), ("other".into(), &base)],
        };
        let mut cur = synthetic(20, 1.5, 2);
        cur.verdict.thresholds = vec![
            crate::stress::results::ThresholdResult {
                expr: "p99<5ms".into(),
                actual: 6.2,
                limit: 5.0,
                unit: "ms".into(),
                passed: false,
                note: None,
            },
            crate::stress::results::ThresholdResult {
                expr: "error_rate<1%".into(),
                actual: 0.0,
                limit: 1.0,
                unit: "%".into(),
                passed: true,
                note: None,
            },
        ];
        let mut other = synthetic(20, 1.0, 3);
        other.workload.sha256 = "a<b&c".into();
        assess(
            SuiteInfo {
                name: "nightly <&>".into(),
                path: "queries/nightly.toml".into(),
                scale: Some(0.01),
            },
            vec![("steady".into(), cur), ("other".into(), other)],
            Some(&b),
            &settings(false),
        )
    }

    fn suite() -> SuiteInfo {
        SuiteInfo {
            name: "t".into(),
            path: "t.toml".into(),
            scale: None,
        }
    }

    fn settings(allow: bool) -> AssessSettings {
        AssessSettings {
            compare: CompareSettings::default(),
            allow_mismatch: allow,
            noise: Noise::default(),
        }
    }

    #[test]
    fn unchanged_passes_and_slowdown_fails() {
        let base = synthetic(20, 1.0, 1);
        let b = Baseline {
            path: "b.json".into(),
            runs: vec![("steady".into(), &base)],
        };
        let same = assess(
            suite(),
            vec![("steady".into(), synthetic(20, 1.0, 2))],
            Some(&b),
            &settings(false),
        );
        assert_eq!(same.outcome.exit_code, 0, "{:?}", same.outcome);
        assert_eq!(same.outcome.regressed, 0);
        assert_eq!(same.runs[0].metrics.len(), 3 + 4);

        let slow = assess(
            suite(),
            vec![("steady".into(), synthetic(20, 1.5, 2))],
            Some(&b),
            &settings(false),
        );
        assert_eq!(slow.outcome.exit_code, 1, "{:?}", slow.outcome);
        let p95 = slow.runs[0]
            .metrics
            .iter()
            .find(|m| m.scenario == "dashboard_schedule" && m.metric == "p95")
            .unwrap();
        assert_eq!(p95.verdict, Verdict::Regressed);
        assert!((p95.change.unwrap() - 0.5).abs() < 0.05, "{p95:?}");
    }

    #[test]
    fn mismatch_refuses_unless_allowed() {
        let base = synthetic(20, 1.0, 1);
        let b = Baseline {
            path: "b.json".into(),
            runs: vec![("steady".into(), &base)],
        };
        let mut cur = synthetic(20, 1.5, 2);
        cur.workload.sha256 = "changed".into();
        let r = assess(
            suite(),
            vec![("steady".into(), cur.clone())],
            Some(&b),
            &settings(false),
        );
        assert_eq!(r.outcome.exit_code, 2, "{:?}", r.outcome);
        assert!(!r.runs[0].compared);
        assert!(r.runs[0].note.as_ref().unwrap().contains("workload sha256"));
        let r = assess(
            suite(),
            vec![("steady".into(), cur)],
            Some(&b),
            &settings(true),
        );
        assert!(r.runs[0].compared);
        assert_eq!(r.outcome.exit_code, 1);
    }

    #[test]
    fn exit_code_precedence() {
        let base = synthetic(20, 1.0, 1);
        let b = Baseline {
            path: "b.json".into(),
            runs: vec![("steady".into(), &base)],
        };
        // A breached threshold alone fails.
        let mut cur = synthetic(20, 1.0, 2);
        cur.verdict
            .thresholds
            .push(crate::stress::results::ThresholdResult {
                expr: "p99<1ms".into(),
                actual: 5.0,
                limit: 1.0,
                unit: "ms".into(),
                passed: false,
                note: None,
            });
        let r = assess(
            suite(),
            vec![("steady".into(), cur.clone())],
            Some(&b),
            &settings(false),
        );
        assert_eq!((r.outcome.exit_code, r.outcome.thresholds_breached), (1, 1));
        // An invalid run wins over everything.
        cur.verdict.valid = false;
        let r = assess(
            suite(),
            vec![("steady".into(), cur)],
            Some(&b),
            &settings(false),
        );
        assert_eq!(r.outcome.exit_code, 3);
        // No baseline: thresholds only.
        let r = assess(
            suite(),
            vec![("steady".into(), synthetic(5, 1.0, 1))],
            None,
            &settings(false),
        );
        assert_eq!(r.outcome.exit_code, 0);
        assert!(!r.runs[0].compared);
    }
}
