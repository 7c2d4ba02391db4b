//! The collector of a running load: once per interval (a second) it swaps
//! every statistics shard for an empty one and merges what the workers
//! recorded into one [`IntervalSample`] and the whole-run totals; it ends
//! the run when asked to stop (Ctrl-C), closes the measured window at the
//! planned end, and waits for the workers to drain (up to the drain
//! timeout). It runs on the caller's task; the workers run on their own
//! driver threads and share only the shards and the end of the run with it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::observer::{IntervalView, Observer, PoolUse};
use super::profile::RateProfile;
use super::results::{IntervalSample, interval_sample};
use super::schedule::Schedule;
use super::stats::Stats;
use super::worker::{Deadline, Shared, statement_counts};
use crate::workload::Prepared;

/// A callback receiving each interval's sample.
pub type IntervalHook = Box<dyn FnMut(&IntervalSample) + Send>;

/// Callbacks from a running engine.
pub struct Hooks {
    /// Called once per interval with its sample.
    pub on_interval: Option<IntervalHook>,
    /// Becomes `true` to end the run early (Ctrl-C).
    pub stop: watch::Receiver<bool>,
}

impl Hooks {
    /// No callback; the run ends early when `stop` becomes true.
    pub fn stop_on(stop: watch::Receiver<bool>) -> Hooks {
        Hooks {
            on_interval: None,
            stop,
        }
    }
}

/// How the end of a run is brought forward: every party that must know.
pub(super) struct Ender {
    /// The closed model's deadline.
    pub deadline: Arc<Deadline>,
    /// The open model's schedule.
    pub schedule: Option<Arc<Schedule>>,
    /// Tells sleeping workers.
    pub stop: watch::Sender<bool>,
}

impl Ender {
    fn stop_at(&self, now: Instant) {
        self.deadline.set(now);
        if let Some(s) = &self.schedule {
            s.end_at(now);
        }
        let _ = self.stop.send(true);
    }
}

/// When the run's phases end.
pub(super) struct Timing {
    pub start: Instant,
    pub warmup_end: Instant,
    /// The planned end of the measured window.
    pub end: Instant,
    pub drain_timeout: Duration,
    /// The open model's target rate (for the samples).
    pub profile: Option<RateProfile>,
    /// An arrival nobody started within this long of its intended start is
    /// dropped (open model).
    pub grace: Duration,
}

/// Who watches the run's intervals, and the pools whose use they see.
pub(super) struct Watch {
    pub observer: Option<Arc<dyn Observer>>,
    pub pools: Vec<deadpool_postgres::Pool>,
}

impl Watch {
    fn pool_use(&self) -> PoolUse {
        self.pools.iter().fold(PoolUse::default(), |u, p| {
            let s = p.status();
            PoolUse {
                max: u.max + s.max_size,
                open: u.open + s.size,
                in_use: u.in_use + s.size.saturating_sub(s.available),
                waiting: u.waiting + s.waiting,
            }
        })
    }
}

/// How the collection ended.
pub(super) struct Ended {
    /// The end of the measured window (earlier than planned when stopped).
    pub end: Instant,
    pub interrupted: bool,
}

/// What the collector has gathered.
pub(super) struct Collector {
    sh: Arc<Shared>,
    prepared: Arc<Prepared>,
    /// Empty shards to swap in.
    spares: Vec<Stats>,
    /// Since the last sample.
    acc: Stats,
    pub totals: Stats,
    pub intervals: Vec<IntervalSample>,
    /// Highest in-flight count at an interval's end.
    pub peak_inflight: i64,
    /// Successful calls per scenario completed within the measured window.
    pub window_calls: Option<Vec<u64>>,
    last_tick: Instant,
    watch: Watch,
}

impl Collector {
    pub fn new(
        sh: Arc<Shared>,
        prepared: Arc<Prepared>,
        start: Instant,
        watch: Watch,
    ) -> Collector {
        let counts = statement_counts(&prepared);
        Collector {
            spares: (0..sh.shards.len()).map(|_| Stats::new(&counts)).collect(),
            acc: Stats::new(&counts),
            totals: Stats::new(&counts),
            intervals: Vec::new(),
            peak_inflight: 0,
            window_calls: None,
            last_tick: start,
            sh,
            prepared,
            watch,
        }
    }

    /// Swap every shard for an empty one and merge what it held.
    fn swap_shards(&mut self) {
        for (shard, spare) in self.sh.shards.iter().zip(self.spares.iter_mut()) {
            std::mem::swap(&mut *shard.lock().unwrap(), spare);
            self.acc.merge(spare);
            spare.reset();
        }
    }

    /// At the end of the measured window: what completed within it.
    fn close_window(&mut self) {
        self.swap_shards();
        self.window_calls = Some(
            self.totals
                .scenarios
                .iter()
                .zip(&self.acc.scenarios)
                .map(|(t, a)| t.calls + a.calls)
                .collect(),
        );
    }

    /// One interval boundary at `now`: a sample of what was recorded since
    /// the last one (after the warm-up; during it, or within 50 ms after
    /// it, the statistics keep accumulating into the first sample).
    fn interval(
        &mut self,
        t: &Timing,
        now: Instant,
        end: Instant,
        last: bool,
        hooks: &mut Hooks,
        schedule: Option<&Schedule>,
    ) {
        // Arrivals already overdue count as dropped now, while a stall
        // lasts, not when a worker frees up after it.
        if let Some(s) = schedule
            && let Some(before) = now.checked_sub(t.grace)
        {
            self.acc.dropped +=
                s.drop_due_before(Some(before), (t.warmup_end - t.start).as_secs_f64());
        }
        self.swap_shards();
        let inflight = self.sh.inflight.load(Ordering::Relaxed);
        self.peak_inflight = self.peak_inflight.max(inflight);
        if !(now > t.warmup_end + Duration::from_millis(50) || last) {
            return;
        }
        let t_end = (now - t.start).as_secs_f64();
        let mid = ((self.last_tick - t.start).as_secs_f64() + t_end) / 2.0;
        let target = t
            .profile
            .as_ref()
            .map(|p| p.rate_at(mid))
            .filter(|_| now <= end + Duration::from_millis(100));
        let sample = interval_sample(
            &self.prepared.workload,
            &self.acc,
            t_end - (t.warmup_end - t.start).as_secs_f64(),
            (now - self.last_tick.max(t.warmup_end)).as_secs_f64(),
            target,
            inflight,
        );
        if let Some(f) = hooks.on_interval.as_mut() {
            f(&sample);
        }
        if let Some(o) = &self.watch.observer {
            o.interval(&IntervalView {
                sample: &sample,
                stats: &self.acc,
                workload: &self.prepared.workload,
                pool: self.watch.pool_use(),
            });
        }
        self.intervals.push(sample);
        self.totals.merge(&self.acc);
        self.acc.reset();
        self.last_tick = now;
    }

    /// Collect until every worker has ended after the end of the run (or
    /// the drain timeout passed). `drivers` ends when the driver threads'
    /// workers have; `ender` brings the end forward when `hooks.stop` asks.
    pub async fn run(
        &mut self,
        t: &Timing,
        hooks: &mut Hooks,
        drivers: &mut JoinSet<()>,
        ender: &Ender,
    ) -> Ended {
        let mut end = t.end;
        let mut interrupted = false;
        let mut stop_live = true;
        let mut tick = t.start + Duration::from_secs(1);
        let mut drain_deadline: Option<Instant> = None;
        loop {
            let ended = Instant::now() >= end;
            let wait_until = match (ended, drain_deadline) {
                (true, Some(d)) => tick.min(d),
                (true, None) => tick,
                (false, _) => tick.min(end),
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wait_until.into()) => {}
                r = hooks.stop.wait_for(|v| *v), if !interrupted && stop_live => {
                    if r.is_err() {
                        stop_live = false; // nobody can ask to stop any more
                    } else {
                        interrupted = true;
                        let now = Instant::now();
                        end = end.min(now);
                        ender.stop_at(end);
                    }
                }
                Some(_) = drivers.join_next(), if ended || interrupted => {}
            }
            let now = Instant::now();
            if now >= end && drain_deadline.is_none() {
                drain_deadline = Some(now + t.drain_timeout);
            }
            if now >= end && self.window_calls.is_none() {
                self.close_window();
            }
            let finished = (now >= end || interrupted) && drivers.is_empty();
            let timed_out = drain_deadline.is_some_and(|d| now >= d);
            if now >= tick || finished || timed_out {
                let sched = ender.schedule.as_deref();
                self.interval(t, now, end, finished || timed_out, hooks, sched);
                while tick <= now {
                    tick += Duration::from_secs(1);
                }
            }
            if finished || timed_out {
                return Ended { end, interrupted };
            }
        }
    }
}
