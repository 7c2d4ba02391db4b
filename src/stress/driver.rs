//! Running the load of one configuration: start the driver threads (each a
//! [`super::shard`] with its own event loop, pool and workers), launch them
//! together once every pool is warm, let the [`Collector`] gather the
//! intervals until the end (drain, stop), then tear down and return the
//! raw [`RunOutcome`]. Callers go through [`super::Session`].
//!
//! A worker of a segmented run ([`Placement`]) runs its share of the
//! configuration: its workers carry global ids (local `j` → `j·N + K`, so
//! a client ramp counts global clients and no two workers' random streams
//! are the same) and the schedule keeps only its arrivals. With an agreed
//! start instant, the run's time zero is that instant (the driver waits
//! for it once the pools are warm).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::collector::{Collector, Ender, Hooks, Timing, Watch};
use super::observer::Observer;
use super::outcome::{RunOutcome, StressError, TimerUse};
use super::schedule::{ArrivalGen, Schedule};
use super::segment::Segment;
use super::shard::{self, Abort, Remote};
use super::timer::Grid;
use super::worker::{DROP_GRACE, Deadline, Launch, Pace, Shared};
use super::{Load, StressConfig};
use crate::workload::Prepared;

/// Instant + Duration panics on overflow: refuse absurd lengths up front.
fn check_length(cfg: &StressConfig) -> Result<(), StressError> {
    cfg.warmup
        .checked_add(cfg.duration)
        .and_then(|d| d.checked_add(cfg.drain_timeout))
        .and_then(|d| d.checked_add(Duration::from_secs(60)))
        .and_then(|d| Instant::now().checked_add(d))
        .map(|_| ())
        .ok_or(StressError::TooLong)
}

/// Start one driver thread per pool, workers dealt round-robin, and wait
/// until every pool is warm (dropping the others when one fails).
fn start_shards(
    pools: Vec<Pool>,
    workers: usize,
    prepared: &Arc<Prepared>,
    segment: Option<Segment>,
) -> Result<Vec<Remote>, StressError> {
    let n = pools.len().max(1);
    pools
        .into_iter()
        .enumerate()
        .map(|(s, pool)| {
            let ids = (s..workers)
                .step_by(n)
                .map(|j| segment.map_or(j, |g| g.global(j)))
                .collect();
            shard::spawn(pool, ids, prepared.clone())
                .map_err(|e| StressError::Pool(format!("starting a driver thread: {e}")))
        })
        .collect()
}

/// How the run is paced from `start`: the schedule (open model) or the
/// deadline and ramp (closed model), and what brings its end forward.
fn pace(
    cfg: &StressConfig,
    segment: Option<Segment>,
    start: Instant,
) -> (Pace, Ender, watch::Receiver<bool>) {
    let warmup_end = start + cfg.warmup;
    let deadline = Arc::new(Deadline::new(start, warmup_end + cfg.duration));
    let (stop, stop_rx) = watch::channel(false);
    let (pace, schedule) = match &cfg.load {
        Load::Open {
            profile, arrival, ..
        } => {
            let mut arrivals = ArrivalGen::new(*arrival, profile.clone(), cfg.seed);
            if let Some(seg) = segment {
                arrivals = arrivals.segment(seg);
            }
            let s = Arc::new(Schedule::new(start, arrivals, cfg.warmup + cfg.duration));
            let pace = Pace::Open {
                sched: s.clone(),
                warmup: cfg.warmup.as_secs_f64(),
                grid: Grid::of(cfg.timer_resolution),
            };
            (pace, Some(s))
        }
        Load::Closed { ramp, think, .. } => {
            let pace = Pace::Closed {
                warmup_end,
                end: deadline.clone(),
                ramp: ramp.clone().map(|r| (r, start)),
                think: *think,
            };
            (pace, None)
        }
    };
    let ender = Ender {
        deadline,
        schedule,
        stop,
    };
    (pace, ender, stop_rx)
}

/// Agrees the start with others once the pools are warm (the rendezvous):
/// given the stop signal, the local instant to start at.
pub(super) type Gate = Box<
    dyn FnOnce(
            watch::Receiver<bool>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Instant, StressError>> + Send>,
        > + Send,
>;

/// Where one run stands in a larger one: its segment (None: the whole run)
/// and its start: a fixed instant, or one agreed through `gate` once the
/// connections are open and prepared (None: as soon as they are).
#[derive(Default)]
pub(super) struct Placement {
    pub segment: Option<Segment>,
    pub start_at: Option<Instant>,
    pub gate: Option<Gate>,
}

/// Run the load of `cfg` (a worker's share when `place` has a segment:
/// [`StressConfig::for_segment`]) with `prepared`, one driver thread per
/// pool (the pools' sizes add up to `cfg.pool`); this task only collects.
pub(super) async fn run(
    pools: Vec<Pool>,
    prepared: Arc<Prepared>,
    cfg: &StressConfig,
    place: Placement,
    mut hooks: Hooks,
    observer: Option<Arc<dyn Observer>>,
) -> Result<RunOutcome, StressError> {
    check_length(cfg)?;
    let watch = Watch {
        observer,
        pools: pools.clone(),
    };
    let segments = place.segment.map_or(1, |g| g.count as usize);
    let sh = Arc::new(Shared::new(prepared.clone(), cfg, segments));
    let mut remotes = start_shards(pools, cfg.load.workers(), &prepared, place.segment)?;
    for r in &mut remotes {
        r.ready().await?; // dropping `remotes` ends the threads
    }
    let agreed = match place.gate {
        Some(gate) => Some(gate(hooks.stop.clone()).await?),
        None => place.start_at,
    };
    let start = match agreed {
        Some(at) => {
            if at < Instant::now() {
                tracing::warn!(
                    "the agreed start passed {:.3} s before the connections were ready: the \
                     first arrivals are late (or dropped)",
                    at.elapsed().as_secs_f64()
                );
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = hooks.stop.wait_for(|v| *v) => return Err(StressError::Interrupted),
            }
            at
        }
        None => Instant::now(),
    };
    // The wall-clock time the driver actually set off (with an agreed
    // start, its lateness shows here).
    let started_at = Utc::now();
    if let Some(o) = &watch.observer {
        // An open-model worker's observers see its own target (its share).
        match (place.segment, &cfg.load) {
            (Some(seg), Load::Open { .. }) => {
                let mut own = cfg.clone();
                if let (Load::Open { profile, .. }, Some(share)) =
                    (&mut own.load, cfg.share_rate(seg))
                {
                    *profile = share;
                }
                o.run_started(&own);
            }
            _ => o.run_started(cfg),
        }
    }
    let (pace, ender, stop_rx) = pace(cfg, place.segment, start);
    let timing = Timing {
        start,
        warmup_end: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
        drain_timeout: cfg.drain_timeout,
        profile: match (&cfg.load, place.segment) {
            (Load::Open { .. }, Some(seg)) => cfg.share_rate(seg),
            (Load::Open { profile, .. }, None) => Some(profile.clone()),
            (Load::Closed { .. }, _) => None,
        },
        grace: DROP_GRACE + Grid::of(cfg.timer_resolution).max_period(),
    };
    let launch = Launch {
        sh: sh.clone(),
        pace,
        stop: stop_rx,
    };
    let mut drivers = JoinSet::new();
    let aborts: Vec<Abort> = remotes
        .into_iter()
        .map(|r| {
            let (abort, done) = r.launch(launch.clone());
            drivers.spawn(done);
            abort
        })
        .collect();
    drop(launch);

    let mut c = Collector::new(sh.clone(), prepared, start, watch);
    let ended = c.run(&timing, &mut hooks, &mut drivers, &ender).await;
    for a in aborts {
        a.abort();
    }
    drivers.abort_all();

    let worker_panics = std::mem::take(&mut *sh.panics.lock().unwrap());
    // A panicked worker never gave back its in-flight slot.
    let unfinished = (sh.inflight.load(Ordering::Relaxed).max(0) as u64)
        .saturating_sub(worker_panics.len() as u64);
    let (mut scheduled, mut dropped) = (c.totals.started + c.totals.dropped, c.totals.dropped);
    if let Some(s) = &ender.schedule {
        dropped += s.drain_unclaimed(cfg.warmup.as_secs_f64());
        scheduled = s.scheduled();
    }
    let measured_secs = (ended.end.max(timing.warmup_end) - timing.warmup_end).as_secs_f64();
    let window_calls = c
        .window_calls
        .take()
        .unwrap_or_else(|| c.totals.scenarios.iter().map(|s| s.calls).collect());
    let timer = match &cfg.load {
        Load::Open { .. } => Some(TimerUse::of(Grid::of(cfg.timer_resolution), &sh.timer)),
        Load::Closed { .. } => None,
    };
    Ok(RunOutcome {
        timer,
        totals: c.totals,
        intervals: c.intervals,
        scheduled,
        dropped,
        unfinished,
        interrupted: ended.interrupted,
        measured_secs,
        started_at,
        finished_at: Utc::now(),
        peak_inflight: c.peak_inflight,
        worker_panics,
        window_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absurd_durations_are_an_error_not_a_panic() {
        let prepared = Arc::new(Prepared {
            workload: crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n")
                .unwrap(),
            data: Default::default(),
            bind_columns: vec![],
        });
        let cfg = StressConfig {
            load: Load::closed(1),
            duration: Duration::MAX,
            warmup: Duration::ZERO,
            pool: 0,
            seed: 1,
            drain_timeout: Duration::from_secs(1),
            timer_resolution: None,
        };
        let pool = crate::db::pool(
            &crate::db::Target::parse("postgres://x@127.0.0.1:1/none").unwrap(),
            1,
        )
        .unwrap();
        let (_tx, stop) = watch::channel(false);
        let r = run(
            vec![pool],
            prepared,
            &cfg,
            Placement::default(),
            Hooks::stop_on(stop),
            None,
        )
        .await;
        assert!(matches!(r, Err(StressError::TooLong)));
    }

    #[test]
    fn the_closed_model_deadline_can_be_brought_forward() {
        let base = Instant::now();
        let d = Deadline::new(base, base + Duration::from_secs(10));
        assert!(!d.passed(base + Duration::from_secs(9)));
        assert!(d.passed(base + Duration::from_secs(10)));
        d.set(base + Duration::from_millis(5));
        assert!(!d.passed(base + Duration::from_millis(4)));
        assert!(d.passed(base + Duration::from_millis(5)));
        // Before the base (cannot happen in a run) counts as not passed.
        let later = Deadline::new(base + Duration::from_secs(1), base + Duration::from_secs(2));
        assert!(!later.passed(base));
    }

    #[tokio::test]
    async fn a_panicked_worker_is_reported_with_its_message() {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("worker blew up") });
        let e = set.join_next().await.unwrap().unwrap_err();
        assert_eq!(
            super::super::worker::panic_message(e).as_deref(),
            Some("worker blew up")
        );
        set.spawn(std::future::pending::<()>());
        set.abort_all();
        let e = set.join_next().await.unwrap().unwrap_err();
        assert_eq!(
            super::super::worker::panic_message(e),
            None,
            "a cancelled task is not a panic"
        );
    }
}
