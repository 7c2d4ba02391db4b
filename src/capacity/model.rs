//! What capacity adds to a run's results: per-stage results and the soak
//! report of shaped runs, the sweep of `--find-max` and `--pool` lists
//! (breakpoints, steps and the recommended pool), and the `--capacity`
//! report. Plain serde types; they reach a results file as top-level
//! fields through the stress results' extensions ([`Shaped`]), so the
//! stress engine carries them without knowing them. Renderers read them
//! with [`Shaped::of`].

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::procstat::CpuUse;
use super::server_context::ServerContext;
use super::usl::Usl;
use crate::stress::StressResults;
use crate::stress::results::ThresholdResult;

/// Everything capacity may add to one run's results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shaped {
    /// Per-stage results of a staged run (`--stages`, `--profile`,
    /// `--client-stages`).
    pub stages: Option<Vec<StageResult>>,
    /// `--profile soak`: driver memory and drift from the start to the end.
    pub soak: Option<SoakReport>,
    /// `--find-max` and `--pool` lists: the breakpoint search or rate run
    /// per pool size, every step's evidence, and the recommended pool. The
    /// run's own fields then describe the representative step.
    pub sweep: Option<Sweep>,
    /// `--capacity`: the closed-model concurrency sweep, USL fit and plan.
    pub capacity: Option<CapacityReport>,
}

impl Shaped {
    /// What capacity added to `r` (nothing for a plain run). An error
    /// names the field that does not read.
    pub fn of(r: &StressResults) -> Result<Shaped, String> {
        let x = &r.extensions;
        Ok(Shaped {
            stages: x.get("stages")?,
            soak: x.get("soak")?,
            sweep: x.get("sweep")?,
            capacity: x.get("capacity")?,
        })
    }

    /// Add these to `r`'s results (in this order in the file).
    pub fn attach(&self, r: &mut StressResults) -> Result<(), String> {
        let x = &mut r.extensions;
        if let Some(v) = &self.stages {
            x.set("stages", v)?;
        }
        if let Some(v) = &self.soak {
            x.set("soak", v)?;
        }
        if let Some(v) = &self.sweep {
            x.set("sweep", v)?;
        }
        if let Some(v) = &self.capacity {
            x.set("capacity", v)?;
        }
        Ok(())
    }
}

/// A stage as run: its window (seconds since measuring began) and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageWindow {
    /// 1-based stage number as given.
    pub stage: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub from: f64,
    pub to: f64,
}

/// One stage's results, from the run's one-second intervals whose middle
/// falls in the stage. Percentiles are of the per-second values (the median
/// of the seconds' p50s, the worst second's p99), not of the whole stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    #[serde(flatten)]
    pub window: StageWindow,
    /// Mean target rate (open model) or clients (closed) over the stage.
    pub target_mean: f64,
    /// Completed executions (calls + errors) per second.
    pub achieved_rate: f64,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub dropped: u64,
    /// Median over the stage's seconds of the per-second p50, µs.
    pub p50_us: u64,
    /// Worst per-second p99 of the stage, µs.
    pub p99_worst_us: u64,
    /// Worst per-second schedule-lag p99, µs.
    pub lag_p99_worst_us: u64,
    /// Highest in-flight count at a second's end.
    pub inflight_max: i64,
}

/// Memory and drift over a long run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SoakReport {
    /// Driver resident memory at the first and last interval, and the highest, KiB.
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    pub rss_max_kib: u64,
    /// rss_end − rss_start, KiB (negative: shrank).
    pub rss_growth_kib: i64,
    /// Intervals averaged at each end (a tenth of the run, at least one).
    pub window_intervals: usize,
    /// Mean per-second p50 and p99 (µs) and rate over the first and last windows.
    pub first: DriftWindow,
    pub last: DriftWindow,
    /// Change of the mean p99 from the first to the last window, percent.
    pub p99_drift_pct: f64,
    /// Change of the rate from the first to the last window, percent.
    pub rate_drift_pct: f64,
}

/// Means over a few intervals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftWindow {
    pub p50_us: f64,
    pub p99_us: f64,
    pub rate: f64,
}

/// One pool size's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolRun {
    pub pool: usize,
    /// `--find-max`: the pool's breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakpoint: Option<Breakpoint>,
    /// Without `--find-max`: the step at the target rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepResult>,
}

impl PoolRun {
    /// The step that represents this pool: its best passing step (find-max)
    /// or its only step.
    pub fn representative(&self) -> Option<&StepResult> {
        match (&self.breakpoint, &self.step) {
            (Some(b), _) => b.best_step().or(b.steps.first()),
            (None, s) => s.as_ref(),
        }
    }
}

/// The pool to use and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// None when no pool met the SLO.
    pub pool: Option<usize>,
    pub reason: String,
}

/// A breakpoint search or a rate run over one or more pool sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// `find_max` or `rate`.
    pub mode: String,
    /// The SLO expressions every step was checked against.
    pub slo: Vec<String>,
    /// The rate of `rate` sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_qps: Option<f64>,
    pub pools: Vec<PoolRun>,
    pub recommendation: Recommendation,
}

/// The outcome of a search on one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakpoint {
    pub pool: usize,
    /// Closed-model throughput with one client per connection, measured
    /// to choose the start rate when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_qps: Option<f64>,
    /// Highest target rate that met the SLO (None: not even the first).
    pub max_qps: Option<f64>,
    /// Successful scenarios per second achieved at that rate.
    pub achieved_qps: Option<f64>,
    /// Lowest target rate that failed (None: no failure within the steps).
    pub failed_qps: Option<f64>,
    /// What limited the failing step.
    pub limit: Option<Limit>,
    /// One sentence for humans.
    pub verdict: String,
    /// Every step in the order run.
    pub steps: Vec<StepResult>,
    pub interrupted: bool,
}

impl Breakpoint {
    /// The step that met the SLO at the highest rate.
    pub fn best_step(&self) -> Option<&StepResult> {
        self.steps.iter().filter(|s| s.passed).max_by(|a, b| {
            a.target_qps
                .unwrap_or(0.0)
                .total_cmp(&b.target_qps.unwrap_or(0.0))
        })
    }
}

/// What limited a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// The database (or the pool in front of it) could not serve the load
    /// within the SLO; the driver started every arrival on time.
    Database,
    /// The driver could not start arrivals on time (schedule lag, CPU).
    Driver,
}

/// One step's figures and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub pool: usize,
    /// Open model: the target rate of the step.
    pub target_qps: Option<f64>,
    /// Closed model: the number of clients.
    pub clients: Option<usize>,
    pub measured_secs: f64,
    /// Successful scenarios per second.
    pub qps: f64,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub scheduled: u64,
    pub dropped: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    pub lag_p99_us: u64,
    pub pool_wait_p50_us: u64,
    pub pool_wait_p99_us: u64,
    pub exec_p50_us: u64,
    pub exec_p99_us: u64,
    pub cpu: CpuUse,
    pub server: ServerContext,
    /// Each SLO checked on the step.
    pub slo: Vec<ThresholdResult>,
    /// The run was valid (the driver held the rate, nothing dropped or unfinished).
    pub valid: bool,
    pub invalid_reasons: Vec<String>,
    /// Valid and every SLO met.
    pub passed: bool,
    /// Failed steps: what the limit was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// Why the step failed / what the server was doing, for humans.
    pub evidence: Vec<String>,
}

/// The model and the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub slo: Vec<String>,
    /// One closed-model step per concurrency.
    pub steps: Vec<StepResult>,
    /// The USL fitted to (clients, QPS); None when it could not be fitted.
    pub usl: Option<Usl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usl_error: Option<String>,
    /// Concurrency and throughput of the model's peak; without a peak in
    /// reach (κ ≈ 0), no concurrency and the asymptote λ/σ.
    pub peak_clients: Option<f64>,
    pub peak_qps: Option<f64>,
    pub plan: Plan,
    pub interrupted: bool,
}
