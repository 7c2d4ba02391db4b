//! Watching runs as they go: an [`Observer`] given to a [`super::Session`]
//! hears each run start and, once per interval, sees the interval's merged
//! statistics — the same histograms and counters the results are summed
//! from — so a live view (the Prometheus endpoint) adds up to exactly what
//! the results file says. Called from the collector, never from the hot
//! loop. Observers compose ([`Both`]): a session may feed live metrics and
//! an HdrHistogram log at once.

use super::StressConfig;
use super::results::IntervalSample;
use super::stats::Stats;
use crate::workload::Workload;

/// The connections of a run's pools at an interval's end (all driver
/// threads together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections the pools may open.
    pub max: usize,
    /// Connections open.
    pub open: usize,
    /// Connections handed out.
    pub in_use: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}

/// One interval of a running load.
pub struct IntervalView<'a> {
    /// The interval's summary (as the results file has it).
    pub sample: &'a IntervalSample,
    /// What the workers recorded in the interval: per scenario (in the
    /// workload's order) histograms in µs and counters.
    pub stats: &'a Stats,
    pub workload: &'a Workload,
    pub pool: PoolUse,
}

/// Hears the runs of a session.
pub trait Observer: Send + Sync {
    /// A run of `cfg` is about to start (its pools are warm).
    fn run_started(&self, _cfg: &StressConfig) {}
    /// An interval ended.
    fn interval(&self, view: &IntervalView<'_>);
}

/// Two observers, each hearing everything (in order).
pub struct Both(
    pub std::sync::Arc<dyn Observer>,
    pub std::sync::Arc<dyn Observer>,
);

impl Observer for Both {
    fn run_started(&self, cfg: &StressConfig) {
        self.0.run_started(cfg);
        self.1.run_started(cfg);
    }
    fn interval(&self, view: &IntervalView<'_>) {
        self.0.interval(view);
        self.1.interval(view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Count(AtomicUsize, AtomicUsize);
    impl Observer for Count {
        fn run_started(&self, _: &StressConfig) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn interval(&self, _: &IntervalView<'_>) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn both_observers_hear_everything() {
        let (a, b) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let both = Both(a.clone(), b.clone());
        let w = crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
        let stats = Stats::new(&[1]);
        let sample = super::super::results::interval_sample(&w, &stats, 1.0, 1.0, None, 0);
        let cfg = StressConfig::from_settings(&crate::stress::Settings {
            clients: Some(1),
            ..Default::default()
        })
        .unwrap();
        both.run_started(&cfg);
        for _ in 0..2 {
            both.interval(&IntervalView {
                sample: &sample,
                stats: &stats,
                workload: &w,
                pool: PoolUse::default(),
            });
        }
        for o in [&a, &b] {
            assert_eq!(o.0.load(Ordering::Relaxed), 1);
            assert_eq!(o.1.load(Ordering::Relaxed), 2);
        }
    }
}
