//! What one run of the driver gives back: the raw [`RunOutcome`] (merged
//! statistics, intervals, counts), or the [`StressError`] that kept it
//! from starting.

use chrono::{DateTime, Utc};

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::results::IntervalSample;
use super::stats::Stats;
use super::timer::{Counters, Grid};

/// Failures that stop a run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum StressError {
    #[error("could not open the pool's connections: {0}")]
    Pool(String),
    #[error("preparing statement {statement} on a pooled connection: {message}")]
    Prepare { statement: String, message: String },
    #[error("warm-up, duration and drain timeout together are too long")]
    TooLong,
    #[error("stopped (Ctrl-C, SIGTERM or SIGHUP) while waiting for the agreed start")]
    Interrupted,
    /// The workers of a segmented run did not agree a start.
    #[error("{0}")]
    Rendezvous(String),
}

/// What a run produced, before it is summarised into results.
#[derive(Debug)]
pub struct RunOutcome {
    /// Whole-run statistics (measured window, plus completions while draining).
    pub totals: Stats,
    /// One sample per interval after the warm-up.
    pub intervals: Vec<IntervalSample>,
    /// Measured arrivals the schedule produced (open model).
    pub scheduled: u64,
    /// Measured arrivals dropped (no free in-flight slot).
    pub dropped: u64,
    /// Executions still running when the drain timeout ended the run.
    pub unfinished: u64,
    /// Ended by Ctrl-C.
    pub interrupted: bool,
    /// Length of the measured window actually run, seconds.
    pub measured_secs: f64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Highest number of scenarios in flight seen at an interval boundary.
    pub peak_inflight: i64,
    /// Panic messages of worker tasks that died (the run is invalid).
    pub worker_panics: Vec<String>,
    /// Successful calls per scenario completed by the end of the measured
    /// window (`totals` also counts those completed while draining): the
    /// rate is these over `measured_secs`.
    pub window_calls: Vec<u64>,
    /// What the open model's timer did (None in the closed model).
    pub timer: Option<TimerUse>,
}

/// What the open model's timer did over a run (warm-up included), written
/// to the results as `driver_timer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerUse {
    /// `adaptive` (the default), `precise` (`--timer-resolution 0`) or
    /// `fixed` (`--timer-resolution` above 0).
    pub grid: String,
    /// Kernel timer expirations that woke at least one worker.
    pub wakeups: u64,
    /// Workers they woke (those whose start was already due when they
    /// claimed it did not sleep).
    pub woken: u64,
    /// `woken / wakeups`.
    pub per_wakeup: f64,
    /// The longest period the grid used, µs (0: precise throughout): the
    /// most schedule lag the timer added to an arrival.
    pub max_period_us: f64,
    /// Connections woken at grid points to read a reply that had arrived
    /// (replies read on the grid rather than each waking the driver).
    #[serde(default)]
    pub grid_reads: u64,
    /// Times replies went back to being read at once because arrivals
    /// found no idle connection.
    #[serde(default)]
    pub short_of_connections: u64,
}

impl TimerUse {
    /// Read the counters of a run's timers.
    pub fn of(grid: Grid, c: &Counters) -> TimerUse {
        let wakeups = c.wakeups.load(Ordering::Relaxed);
        let woken = c.woken.load(Ordering::Relaxed);
        TimerUse {
            grid: grid.name().to_string(),
            wakeups,
            woken,
            per_wakeup: if wakeups == 0 {
                0.0
            } else {
                woken as f64 / wakeups as f64
            },
            max_period_us: c.max_period_ns.load(Ordering::Relaxed) as f64 / 1e3,
            grid_reads: c.reads.load(Ordering::Relaxed),
            short_of_connections: c.short.load(Ordering::Relaxed),
        }
    }
}
