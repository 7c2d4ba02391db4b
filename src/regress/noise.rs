//! Between-run noise, learnt from the history (`--history DIR`).
//!
//! The bootstrap in [`super::compare`] sees only the noise *within* a run.
//! Between two nights the whole run drifts too (other tenants of the
//! machine, cache state, autovacuum), and that drift is what makes identical
//! reruns look like regressions. With enough valid past runs of the same
//! suite run, each metric's run-to-run spread is estimated robustly (1.4826
//! × the median absolute deviation of the runs' medians, relative to their
//! median) and the tolerance of that metric becomes at least
//! `Z × √2 × spread`: the difference of two independent runs has √2 times
//! one run's spread, and Z = 2 covers about 95 % of such differences. The
//! configured tolerance stays the floor, so history only ever widens it.

use std::collections::HashMap;
use std::path::Path;

use super::compare::{Verdict, median};
use super::environment;
use super::model::{ResultsFile, Spread, read_results};
use super::samples::samples;
use crate::stress::{StressConfig, StressResults};

/// Fewest past valid runs from which a spread is estimated.
pub const MIN_RUNS: usize = 5;
/// Most recent runs used (older nights may predate a change of machine).
pub const MAX_RUNS: usize = 30;
/// Two-sided z of the widened tolerance (about 95 %).
pub const Z: f64 = 2.0;

/// Spreads per (suite run, scenario or `*`, metric).
#[derive(Debug, Clone, Default)]
pub struct Noise {
    spreads: HashMap<(String, String, String), Spread>,
}

impl Noise {
    /// Estimate from past runs, oldest first: `(run name, results)`.
    /// Invalid runs are left out; the latest [`MAX_RUNS`] of each count.
    pub fn from_runs<'a>(runs: impl IntoIterator<Item = (&'a str, &'a StressResults)>) -> Noise {
        let mut values: HashMap<(String, String, String), Vec<f64>> = HashMap::new();
        for (name, r) in runs {
            if !r.verdict.valid {
                continue;
            }
            let scenarios = std::iter::once("*").chain(r.scenarios.iter().map(|s| s.name.as_str()));
            for sc in scenarios {
                for metric in ["rate", "p50", "p95", "p99"] {
                    let v = median(&samples(r, sc, metric));
                    if v.is_finite() && v > 0.0 {
                        values
                            .entry((name.to_string(), sc.to_string(), metric.to_string()))
                            .or_default()
                            .push(v);
                    }
                }
            }
        }
        let spreads = values
            .into_iter()
            .filter_map(|(k, v)| {
                let v = &v[v.len().saturating_sub(MAX_RUNS)..];
                spread(v).map(|s| (k, s))
            })
            .collect();
        Noise { spreads }
    }

    /// The spread of one metric, if the history had enough runs.
    pub fn get(&self, run: &str, scenario: &str, metric: &str) -> Option<Spread> {
        self.spreads
            .get(&(run.to_string(), scenario.to_string(), metric.to_string()))
            .copied()
    }

    /// The tolerance to judge a metric with: `base`, widened to
    /// `Z × √2 × spread` when the history knows a larger run-to-run spread
    /// (then also returned).
    pub fn tolerance(
        &self,
        base: f64,
        run: &str,
        scenario: &str,
        metric: &str,
    ) -> (f64, Option<Spread>) {
        match self.get(run, scenario, metric) {
            Some(s) if Z * std::f64::consts::SQRT_2 * s.rel_sd > base => {
                (Z * std::f64::consts::SQRT_2 * s.rel_sd, Some(s))
            }
            _ => (base, None),
        }
    }

    /// Whether no metric has a spread (too little history).
    pub fn is_empty(&self) -> bool {
        self.spreads.is_empty()
    }
}

/// Robust relative spread of `v` (None with fewer than [`MIN_RUNS`]).
fn spread(v: &[f64]) -> Option<Spread> {
    if v.len() < MIN_RUNS {
        return None;
    }
    let m = median(v);
    if !(m.is_finite() && m > 0.0) {
        return None;
    }
    let dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    Some(Spread {
        rel_sd: 1.4826 * median(&dev) / m,
        runs: v.len(),
    })
}

/// The noise of suite `suite` in history directory `dir`, from the past
/// runs comparable with this night's `current` runs: same suite, same run
/// name, same environment (dataset, workload, server — what a baseline
/// must match too) and the same load configuration (seed aside), and not
/// themselves judged regressed. Other files and runs are skipped; a missing
/// directory is no history.
pub fn load(
    dir: &Path,
    suite: &str,
    current: &[(String, StressResults)],
) -> std::io::Result<Noise> {
    if !dir.exists() {
        return Ok(Noise::default());
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match read_results(&p) {
            Ok(ResultsFile::Regress(r)) if r.suite.name == suite => files.push(r),
            Ok(_) => {}
            Err(e) => tracing::warn!("history: skipping {e}"),
        }
    }
    files.sort_by_key(|r| r.started_at);
    let comparable = |name: &str, past: &StressResults| {
        current.iter().any(|(n, cur)| {
            n == name
                && environment::mismatches(past, cur).is_empty()
                && StressConfig {
                    seed: 0,
                    ..past.config.clone()
                } == StressConfig {
                    seed: 0,
                    ..cur.config.clone()
                }
        })
    };
    Ok(Noise::from_runs(
        files
            .iter()
            .flat_map(|f| f.runs.iter())
            // A night judged regressed is a change, not noise.
            .filter(|x| x.count(Verdict::Regressed) == 0)
            .map(|x| (x.name.as_str(), &x.results))
            .filter(|(n, r)| comparable(n, r)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regress::assess::tests::synthetic;

    #[test]
    fn spread_is_robust_and_needs_enough_runs() {
        assert_eq!(spread(&[1.0, 1.1, 0.9, 1.0]), None);
        let s = spread(&[1.0, 1.1, 0.9, 1.0, 1.05]).unwrap();
        assert_eq!(s.runs, 5);
        // Median 1.0, absolute deviations 0, .1, .1, 0, .05 → MAD .05.
        assert!((s.rel_sd - 1.4826 * 0.05).abs() < 1e-9, "{s:?}");
        // One wild night does not blow the estimate up.
        let wild = spread(&[1.0, 1.1, 0.9, 1.0, 1.05, 9.0]).unwrap();
        assert!(wild.rel_sd < 0.15, "{wild:?}");
    }

    #[test]
    fn runs_that_drift_widen_the_tolerance_and_steady_ones_do_not() {
        // Nights whose latency level moves by up to ±10 %.
        let drifting: Vec<StressResults> = [1.0, 1.1, 0.92, 1.06, 0.95, 1.08, 0.9]
            .iter()
            .enumerate()
            .map(|(k, f)| synthetic(20, *f, k as u64))
            .collect();
        let noise = Noise::from_runs(drifting.iter().map(|r| ("steady", r)));
        let (tol, why) = noise.tolerance(0.10, "steady", "dashboard_schedule", "p50");
        let s = why.expect("widened");
        assert_eq!(s.runs, 7);
        assert!(tol > 0.2 && tol < 0.6, "{tol} from {s:?}");
        // Throughput did not move: its tolerance stays the configured one.
        assert_eq!(noise.tolerance(0.10, "steady", "*", "rate"), (0.10, None));
        // Another run name has no history.
        assert_eq!(noise.tolerance(0.10, "other", "*", "p50"), (0.10, None));

        let steady: Vec<StressResults> = (0..6).map(|k| synthetic(20, 1.0, k)).collect();
        let noise = Noise::from_runs(steady.iter().map(|r| ("steady", r)));
        assert!(!noise.is_empty());
        assert_eq!(noise.tolerance(0.10, "steady", "*", "p99"), (0.10, None));
    }

    #[test]
    fn invalid_runs_are_left_out() {
        let mut runs: Vec<StressResults> = (0..5).map(|k| synthetic(20, 1.0, k)).collect();
        runs[0].verdict.valid = false;
        let noise = Noise::from_runs(runs.iter().map(|r| ("steady", r)));
        assert!(noise.is_empty(), "4 valid runs are too few");
    }

    #[test]
    fn a_shift_within_the_nights_drift_is_not_a_regression() {
        use crate::regress::assess::{AssessSettings, Baseline, assess};
        use crate::regress::compare::{CompareSettings, Verdict};
        let base = synthetic(20, 1.0, 1);
        let slower = synthetic(20, 1.25, 2);
        let judge = |noise: Noise| {
            let b = Baseline {
                path: "b.json".into(),
                runs: vec![("steady".into(), &base)],
            };
            let r = assess(
                crate::regress::model::SuiteInfo {
                    name: "t".into(),
                    path: "t.toml".into(),
                    scale: None,
                },
                vec![("steady".into(), slower.clone())],
                Some(&b),
                &AssessSettings {
                    compare: CompareSettings::default(),
                    allow_mismatch: false,
                    noise,
                },
            );
            r.runs[0]
                .metrics
                .iter()
                .find(|m| m.scenario == "dashboard_schedule" && m.metric == "p50")
                .cloned()
                .unwrap()
        };
        let plain = judge(Noise::default());
        assert_eq!(plain.verdict, Verdict::Regressed, "{plain:?}");
        assert_eq!(plain.noise, None);
        // The same +25 % after nights that drifted ±10 %: not called a regression.
        let nights: Vec<StressResults> = [1.0, 1.1, 0.92, 1.06, 0.95, 1.08, 0.9]
            .iter()
            .enumerate()
            .map(|(k, f)| synthetic(20, *f, k as u64))
            .collect();
        let noisy = judge(Noise::from_runs(nights.iter().map(|r| ("steady", r))));
        assert_ne!(noisy.verdict, Verdict::Regressed, "{noisy:?}");
        assert!(
            noisy.noise.is_some() && noisy.tolerance.unwrap() > 0.25,
            "{noisy:?}"
        );
    }

    #[test]
    fn only_comparable_past_runs_of_the_suite_count() {
        use crate::regress::assess::{AssessSettings, assess};
        let dir = tempfile::tempdir().unwrap();
        let settings = AssessSettings {
            compare: Default::default(),
            allow_mismatch: false,
            noise: Noise::default(),
        };
        for (k, f) in [1.0, 1.1, 0.92, 1.06, 0.95, 1.08].iter().enumerate() {
            let mut r = synthetic(20, *f, k as u64);
            r.started_at += chrono::Duration::days(k as i64);
            let night = assess(
                crate::regress::model::SuiteInfo {
                    name: "nightly".into(),
                    path: "n.toml".into(),
                    scale: None,
                },
                vec![("steady".into(), r)],
                None,
                &settings,
            );
            crate::regress::history::save(dir.path(), &night).unwrap();
        }
        // A seventh night, judged regressed against a baseline: not noise.
        let base = synthetic(20, 1.0, 7);
        let mut slow = synthetic(20, 2.0, 8);
        slow.started_at += chrono::Duration::days(7);
        let regressed = assess(
            crate::regress::model::SuiteInfo {
                name: "nightly".into(),
                path: "n.toml".into(),
                scale: None,
            },
            vec![("steady".into(), slow)],
            Some(&crate::regress::assess::Baseline {
                path: "b.json".into(),
                runs: vec![("steady".into(), &base)],
            }),
            &settings,
        );
        assert!(regressed.runs[0].count(Verdict::Regressed) > 0);
        crate::regress::history::save(dir.path(), &regressed).unwrap();
        let tonight = vec![("steady".to_string(), synthetic(20, 1.0, 9))];
        let n = load(dir.path(), "nightly", &tonight).unwrap();
        assert_eq!(n.get("steady", "*", "p50").map(|s| s.runs), Some(6));
        // Another suite's history, or tonight on a different pool or
        // workload: nothing comparable.
        assert!(load(dir.path(), "other", &tonight).unwrap().is_empty());
        let mut bigger_pool = tonight.clone();
        bigger_pool[0].1.config.pool += 1;
        assert!(
            load(dir.path(), "nightly", &bigger_pool)
                .unwrap()
                .is_empty()
        );
        let mut other_workload = tonight.clone();
        other_workload[0].1.workload.sha256 = "changed".into();
        assert!(
            load(dir.path(), "nightly", &other_workload)
                .unwrap()
                .is_empty()
        );
        // A different seed is still the same load.
        let mut reseeded = tonight;
        reseeded[0].1.config.seed += 1;
        assert!(!load(dir.path(), "nightly", &reseeded).unwrap().is_empty());
        // No directory, no history.
        assert!(
            load(&dir.path().join("none"), "nightly", &reseeded)
                .unwrap()
                .is_empty()
        );
    }
}
