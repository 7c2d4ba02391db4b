//! The stress engine: drive a prepared workload against a database in an
//! open model (`--qps`: a schedule of intended start times, latency measured
//! from the intended start) or a closed model (`--clients`: back-to-back
//! loops), collect per-interval and whole-run statistics, and build the
//! versioned results struct. No CLI or terminal code here: renderers live in
//! `report/`.
//!
//! One way in: a [`Session`] (the workload checked against the target, the
//! server described) runs a validated [`StressConfig`] (made from
//! [`Settings`] by [`StressConfig::from_settings`]) and returns finished
//! [`StressResults`]. Every mode — a plain run, stages, searches, sweeps,
//! capacity steps, a nightly suite's runs — goes through it.

pub mod clock;
pub mod config;
pub mod observer;
pub mod profile;
pub mod rendezvous;
pub mod results;
pub mod schedule;
pub mod segment;
pub mod server;
pub mod session;
pub mod stats;
pub mod think;
pub mod threshold;

mod collector;
mod connect;
mod driver;
mod executor;
mod lane;
mod outcome;
mod poller;
mod shard;
mod socket;
mod summary;
mod timer;
mod worker;

pub use collector::{Hooks, IntervalHook};
pub use config::{ConfigError, Field, Load, Settings, StressConfig};
pub use observer::{IntervalView, Observer, PoolUse};
pub use outcome::StressError;
pub use profile::{ClientRamp, ClientStep, RateProfile};
pub use results::StressResults;
pub use schedule::Arrival;
pub use segment::Segment;
pub use session::{Session, SessionError};
pub use shard::THREAD_NAME as DRIVER_THREAD_NAME;
pub use summary::error_budget;
pub use threshold::Threshold;

/// Connections of each driver thread: `pool` split as evenly as it goes
/// over `threads` threads, none with fewer than one connection or worker
/// (so there may be fewer threads than asked for).
fn shard_sizes(pool: usize, threads: usize, workers: usize) -> Vec<usize> {
    let pool = pool.max(1);
    let n = threads.min(pool).min(workers.max(1)).max(1);
    (0..n)
        .map(|s| pool / n + usize::from(s < pool % n))
        .collect()
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
