//! The stress engine: drive a prepared workload against a database in an
//! open model (`--qps`: a schedule of intended start times, latency measured
//! from the intended start) or a closed model (`--clients`: back-to-back
//! loops), collect per-interval and whole-run statistics, and build the
//! versioned results struct. No CLI or terminal code here: renderers live in
//! `report/`.

pub mod driver;
pub mod executor;
pub mod lane;
pub mod results;
pub mod schedule;
pub mod server;
mod shard;
pub mod stats;
pub mod threshold;
pub mod timer;

use std::time::Duration;

pub use driver::{Hooks, IntervalHook, RunOutcome, StressError, run, run_sharded};
pub use results::StressResults;
pub use schedule::{Arrival, RateProfile};
pub use threshold::Threshold;

/// How load is offered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Load {
    /// Open model: arrivals on a schedule, whatever the server does.
    Open {
        /// The target arrival rate profile.
        profile: RateProfile,
        arrival: Arrival,
        /// Scenarios in flight at most; arrivals beyond are dropped (counted).
        max_inflight: usize,
    },
    /// Closed model: `clients` loops, each starting when the previous ended.
    Closed { clients: usize },
}

impl Load {
    /// Worker tasks the load needs: clients, or in-flight slots.
    pub fn workers(&self) -> usize {
        match self {
            Load::Open { max_inflight, .. } => (*max_inflight).max(1),
            Load::Closed { clients } => (*clients).max(1),
        }
    }
}

/// Connections of each driver thread: `pool` split as evenly as it goes
/// over `threads` threads, none with fewer than one connection or worker
/// (so there may be fewer threads than asked for).
pub fn shard_sizes(pool: usize, threads: usize, workers: usize) -> Vec<usize> {
    let pool = pool.max(1);
    let n = threads.min(pool).min(workers.max(1)).max(1);
    (0..n)
        .map(|s| pool / n + usize::from(s < pool % n))
        .collect()
}

/// A validated plan for one stress run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StressConfig {
    #[serde(flatten)]
    pub load: Load,
    /// Measured time (after the warm-up).
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Time run before measuring; its statistics are discarded.
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// Connections in the pool.
    pub pool: usize,
    /// Seed of every random choice (arrivals, scenario mix, parameters).
    pub seed: u64,
    /// How long in-flight work may finish after the end before it is abandoned.
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// Open model: the timer wakes at most once per this long (0: at each
    /// intended start, to the kernel timer's precision); arrivals due within
    /// one period start together. See [`timer`].
    #[serde(default, with = "secs")]
    pub timer_resolution: Duration,
}

impl StressConfig {
    /// The configured target rate (open model; the mean rate of stages).
    pub fn target_qps(&self) -> Option<f64> {
        match &self.load {
            Load::Open { profile, .. } => {
                Some(profile.mean_rate((self.warmup + self.duration).as_secs_f64()))
            }
            Load::Closed { .. } => None,
        }
    }
}

/// Durations as seconds (f64) in JSON.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(v.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::shard_sizes;

    #[test]
    fn connections_split_evenly_over_driver_threads() {
        assert_eq!(shard_sizes(16, 2, 16), vec![8, 8]);
        assert_eq!(shard_sizes(17, 2, 64), vec![9, 8]);
        assert_eq!(shard_sizes(16, 1, 16), vec![16]);
        // Never a thread without a connection or a worker.
        assert_eq!(shard_sizes(1, 4, 10), vec![1]);
        assert_eq!(shard_sizes(8, 4, 2), vec![4, 4]);
        assert_eq!(shard_sizes(0, 0, 0), vec![1]);
        let s = shard_sizes(100, 3, 1000);
        assert_eq!(s.iter().sum::<usize>(), 100);
    }
}
