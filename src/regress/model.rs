//! The results of a regress run as a plain, versioned serde struct
//! (`"schema": "dbload.regress/1"`): each run's full stress results, what
//! differs from its baseline run, a verdict per scenario × metric, and the
//! overall verdict with its exit code. A regress results file is also what
//! `--baseline` reads and `--update-baseline` writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::compare::{Better, Verdict};
use crate::stress::StressResults;

/// The schema identifier written into every regress results file.
pub const SCHEMA: &str = "dbload.regress/1";

/// Which suite ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub name: String,
    /// The suite file as given on the command line.
    pub path: String,
    /// The seed scale the suite expects, if it says.
    pub scale: Option<f64>,
}

/// The baseline a run was compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineInfo {
    pub path: String,
    /// When the baseline's first run started.
    pub started_at: Option<DateTime<Utc>>,
}

/// One way a run's environment differs from its baseline run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `dataset`, `workload` or `server`.
    pub kind: String,
    /// The field that differs, e.g. `scale`, `sha256`, `work_mem`.
    pub field: String,
    pub baseline: String,
    pub current: String,
}

/// The verdict on one metric of one scenario (or of all scenarios: `*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// Scenario name, or `*` for the totals.
    pub scenario: String,
    /// `rate`, `p50`, `p95` or `p99`.
    pub metric: String,
    /// `/s` or `ms`.
    pub unit: String,
    pub better: Better,
    pub verdict: Verdict,
    /// Median of the baseline's per-interval samples, in `unit`.
    pub baseline: Option<f64>,
    /// Median of the current run's per-interval samples, in `unit`.
    pub current: Option<f64>,
    /// Relative change of the median, positive = worse.
    pub change: Option<f64>,
    /// 95 % bootstrap interval of `change`.
    pub interval: Option<(f64, f64)>,
    pub baseline_samples: usize,
    pub current_samples: usize,
    /// The tolerance this metric was judged with (the tail tolerance for
    /// p95/p99); absent in files written before it was recorded.
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// The run-to-run spread from the history that widened `tolerance`
    /// (absent when the configured tolerance applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Spread>,
}

/// One run of the suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run's name in the suite.
    pub name: String,
    /// Whether the run was compared with a baseline run.
    pub compared: bool,
    /// Why not, when it was not (no baseline, environments differ…).
    pub note: Option<String>,
    /// What differs from the baseline run (empty when nothing does).
    pub mismatches: Vec<Mismatch>,
    /// Verdicts per scenario × metric (empty when not compared).
    pub metrics: Vec<MetricVerdict>,
    /// The stress results of this run (`dbload.stress/1`).
    pub results: StressResults,
}

impl RunReport {
    pub fn count(&self, v: Verdict) -> usize {
        self.metrics.iter().filter(|m| m.verdict == v).count()
    }
}

/// The overall outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// 0 pass, 1 regression or threshold breach, 2 environments differ
    /// (comparison refused), 3 invalid run.
    pub exit_code: u8,
    pub regressed: usize,
    pub improved: usize,
    pub unchanged: usize,
    pub inconclusive: usize,
    pub thresholds_breached: usize,
    pub invalid_runs: usize,
    /// Runs not compared because their environment differs from the baseline's.
    pub refused: usize,
    /// One line for humans.
    pub summary: String,
}

/// Everything a regress run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressResults {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub dbload_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub suite: SuiteInfo,
    /// Relative change treated as noise (0.10 = 10 %) for throughput and p50.
    pub tolerance: f64,
    /// Relative change treated as noise for p95/p99 (absent in files written
    /// before tail percentiles had their own tolerance: then `tolerance`).
    #[serde(default)]
    pub tail_tolerance: Option<f64>,
    /// Environment differences were allowed (`--allow-mismatch`).
    pub allow_mismatch: bool,
    pub baseline: Option<BaselineInfo>,
    pub runs: Vec<RunReport>,
    pub outcome: Outcome,
}

/// Aggregate the verdicts of all runs into the outcome and exit code.
/// Precedence: an invalid run (3) over refused comparisons (2) over
/// regressions and threshold breaches (1).
pub fn outcome(runs: &[RunReport]) -> Outcome {
    let mut o = Outcome::default();
    for r in runs {
        o.regressed += r.count(Verdict::Regressed);
        o.improved += r.count(Verdict::Improved);
        o.unchanged += r.count(Verdict::Unchanged);
        o.inconclusive += r.count(Verdict::Inconclusive);
        o.thresholds_breached += r
            .results
            .verdict
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .count();
        if !r.results.verdict.valid {
            o.invalid_runs += 1;
        }
        if !r.mismatches.is_empty() && !r.compared {
            o.refused += 1;
        }
    }
    o.exit_code = if o.invalid_runs > 0 {
        3
    } else if o.refused > 0 {
        2
    } else if o.regressed > 0 || o.thresholds_breached > 0 {
        1
    } else {
        0
    };
    o.summary = match o.exit_code {
        3 => format!(
            "INVALID: {} run(s) could not hold the load or were interrupted",
            o.invalid_runs
        ),
        2 => format!(
            "NOT COMPARED: {} run(s) differ from the baseline's environment",
            o.refused
        ),
        1 => format!(
            "FAIL: {} regressed metric(s), {} threshold(s) breached",
            o.regressed, o.thresholds_breached
        ),
        _ => format!(
            "PASS: {} unchanged, {} improved, {} inconclusive, no regression",
            o.unchanged, o.improved, o.inconclusive
        ),
    };
    o
}

/// A results file of either kind.
#[derive(Debug, Clone)]
pub enum ResultsFile {
    Stress(Box<StressResults>),
    Regress(Box<RegressResults>),
}

/// Read a `dbload.stress/1` or `dbload.regress/1` file, streamed (see
/// [`crate::input::json`]): memory follows what it holds, not its size.
pub fn read_results(path: &std::path::Path) -> Result<ResultsFile, String> {
    crate::input::json::read_tagged(path, crate::input::RESULTS).map_err(|e| e.to_string())
}

impl crate::input::json::Tagged for ResultsFile {
    const TAG: &'static str = "schema";
    const KNOWN: &'static [&'static str] = &[crate::stress::results::SCHEMA, SCHEMA];
    fn from_tagged<'de, D: serde::Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        if tag == SCHEMA {
            Ok(ResultsFile::Regress(Box::new(RegressResults::deserialize(
                d,
            )?)))
        } else {
            Ok(ResultsFile::Stress(Box::new(StressResults::deserialize(
                d,
            )?)))
        }
    }
}

impl ResultsFile {
    /// The runs it holds, by name (a stress file is one run named after its workload).
    pub fn runs(&self) -> Vec<(String, &StressResults)> {
        match self {
            ResultsFile::Stress(s) => vec![(s.workload.name.clone(), s.as_ref())],
            ResultsFile::Regress(r) => r
                .runs
                .iter()
                .map(|x| (x.name.clone(), &x.results))
                .collect(),
        }
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        match self {
            ResultsFile::Stress(s) => s.started_at,
            ResultsFile::Regress(r) => r.started_at,
        }
    }
}

/// One metric's run-to-run spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Robust relative standard deviation of the runs' medians.
    pub rel_sd: f64,
    /// Past runs it was estimated from.
    pub runs: usize,
}
