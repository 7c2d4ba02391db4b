//! Running the load: worker tasks (open or closed model), the per-second
//! collector that swaps the workers' statistics shards, warm-up, the end of
//! the run (drain, Ctrl-C), and the raw [`RunOutcome`].
//!
//! Hot loop per scenario execution: claim an arrival (open model: a short
//! lock on the schedule), sleep until its intended start, take a pooled
//! connection (closed model: hold the client's [`Lane`], shared with the
//! lane's other clients unless the scenario is a transaction), run, then
//! record into the worker's shard under a short lock. Nothing is allocated
//! for the statistics and nothing is sent over a channel per query.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::executor::{ExecError, Outcome, WorkerCtx, discard, pool_class, run_scenario};
use super::lane::{Lane, lane_of};
use super::results::{IntervalSample, interval_sample};
use super::schedule::{ArrivalGen, Schedule};
use super::stats::Stats;
use super::timer::HrTimer;
use super::{Load, StressConfig};
use crate::workload::Prepared;

/// An arrival no worker could take within this long after its intended
/// start found every in-flight slot busy: it is counted as dropped. (With
/// a `--timer-resolution`, workers wake only on its grid, so the grace is
/// that much longer.)
pub const DROP_GRACE: Duration = Duration::from_millis(10);

/// Statistics shards per CPU: workers share a few, each under its own mutex
/// (held for a few histogram updates), so locks are rarely contended.
const SHARDS_PER_CPU: usize = 2;

/// Failures that stop a run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum StressError {
    #[error("could not open the pool's connections: {0}")]
    Pool(String),
    #[error("preparing statement {statement} on a pooled connection: {message}")]
    Prepare { statement: String, message: String },
    #[error("warm-up, duration and drain timeout together are too long")]
    TooLong,
}

/// A callback receiving each interval's sample.
pub type IntervalHook = Box<dyn FnMut(&IntervalSample) + Send>;

/// Callbacks from a running engine.
pub struct Hooks {
    /// Called once per interval with its sample.
    pub on_interval: Option<IntervalHook>,
    /// Becomes `true` to end the run early (Ctrl-C).
    pub stop: watch::Receiver<bool>,
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
}

/// The message of a worker task that ended with a panic (None: cancelled).
pub(super) fn panic_message(e: tokio::task::JoinError) -> Option<String> {
    let p = e.try_into_panic().ok()?;
    Some(if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    })
}

/// State every worker of a run shares, whatever its driver thread.
pub(super) struct Shared {
    prepared: Arc<Prepared>,
    /// Panic messages of workers on other driver threads, as they happen
    /// (this thread's come from its JoinSet).
    pub(super) panics: Mutex<Vec<String>>,
    shards: Vec<Mutex<Stats>>,
    inflight: AtomicI64,
    cum_weights: Vec<f64>,
    seed: u64,
}

impl Shared {
    fn pick(&self, rng: &mut SmallRng) -> usize {
        let total = *self.cum_weights.last().unwrap();
        let x = rng.random::<f64>() * total;
        self.cum_weights
            .partition_point(|c| *c <= x)
            .min(self.cum_weights.len() - 1)
    }

    fn ctx(&self, id: usize) -> WorkerCtx {
        let seed = self
            .seed
            .wrapping_add((id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        WorkerCtx::new(SmallRng::seed_from_u64(seed), &self.prepared)
    }

    /// Take a connection and run scenario `idx`: (pool wait µs, exec µs, result).
    async fn execute(
        &self,
        pool: &Pool,
        idx: usize,
        ctx: &mut WorkerCtx,
    ) -> (u64, u64, Result<Outcome, ExecError>) {
        let t0 = Instant::now();
        let client = match pool.get().await {
            Ok(c) => c,
            Err(e) => {
                ctx.ran = 0;
                let waited = t0.elapsed().as_micros() as u64;
                return (
                    waited,
                    0,
                    Err(ExecError {
                        statement: None,
                        class: pool_class(&e),
                    }),
                );
            }
        };
        let t1 = Instant::now();
        let r = run_scenario(&client, &self.prepared, idx, ctx, None).await;
        let t2 = Instant::now();
        if ctx.discard {
            discard(client);
        }
        (
            (t1 - t0).as_micros() as u64,
            (t2 - t1).as_micros() as u64,
            r,
        )
    }
}

/// Record one execution into a shard. `lag_us` is None in the closed model.
#[allow(clippy::too_many_arguments)]
fn record(
    shard: &Mutex<Stats>,
    idx: usize,
    intended: Instant,
    lag_us: Option<u64>,
    pool_us: u64,
    exec_us: u64,
    res: &Result<Outcome, ExecError>,
    ctx: &WorkerCtx,
) {
    let total_us = intended.elapsed().as_micros() as u64;
    let mut g = shard.lock().unwrap();
    g.started += 1;
    let s = &mut g.scenarios[idx];
    if let Some(l) = lag_us {
        s.lag.saturating_record(l.max(1));
    }
    s.pool_wait.saturating_record(pool_us.max(1));
    match res {
        Ok(o) => {
            s.calls += 1;
            if *o == Outcome::NoRows {
                s.no_rows += 1;
            }
            s.total.saturating_record(total_us.max(1));
            s.exec.saturating_record(exec_us.max(1));
            for (st, us) in s.statements.iter_mut().zip(&ctx.stmt_us[..ctx.ran]) {
                st.calls += 1;
                st.exec.saturating_record((*us).max(1));
            }
        }
        Err(e) => {
            for (st, us) in s.statements.iter_mut().zip(&ctx.stmt_us[..ctx.ran]) {
                st.calls += 1;
                st.exec.saturating_record((*us).max(1));
            }
            s.error(e.class, e.statement);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn open_worker(
    sh: Arc<Shared>,
    pool: Pool,
    sched: Arc<Schedule>,
    timer: Arc<HrTimer>,
    id: usize,
    warmup: f64,
    grace: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let shard = &sh.shards[id % sh.shards.len()];
    let mut ctx = sh.ctx(id);
    loop {
        if *stop.borrow() {
            return;
        }
        let Some(claim) = sched.claim(warmup) else {
            return;
        };
        if Instant::now() > claim.at + grace {
            if claim.measured {
                shard.lock().unwrap().dropped += 1;
            }
            continue;
        }
        tokio::select! {
            _ = timer.sleep_until(claim.at) => {}
            _ = stop.wait_for(|v| *v) => {
                sched.unclaim(&claim);
                return;
            }
        }
        let started = Instant::now();
        sh.inflight.fetch_add(1, Ordering::Relaxed);
        let idx = sh.pick(&mut ctx.rng);
        let (pool_us, exec_us, res) = sh.execute(&pool, idx, &mut ctx).await;
        sh.inflight.fetch_sub(1, Ordering::Relaxed);
        if claim.measured {
            let lag = started.saturating_duration_since(claim.at).as_micros() as u64;
            record(
                shard,
                idx,
                claim.at,
                Some(lag),
                pool_us,
                exec_us,
                &res,
                &ctx,
            );
        }
    }
}

/// The end of a closed-model run, which Ctrl-C may bring forward: an
/// instant stored as nanoseconds since `base`, read by every client before
/// each scenario without taking a lock.
pub(super) struct Deadline {
    base: Instant,
    nanos: AtomicU64,
}

impl Deadline {
    fn new(base: Instant, at: Instant) -> Deadline {
        let d = Deadline {
            base,
            nanos: AtomicU64::new(0),
        };
        d.set(at);
        d
    }
    fn set(&self, at: Instant) {
        let n = at.saturating_duration_since(self.base).as_nanos();
        self.nanos
            .store(n.min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
    fn passed(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.base).as_nanos()
            >= self.nanos.load(Ordering::Relaxed) as u128
    }
}

async fn closed_worker(
    sh: Arc<Shared>,
    pool: Pool,
    lane: Arc<Lane>,
    id: usize,
    warmup_end: Instant,
    end: Arc<Deadline>,
    stop: watch::Receiver<bool>,
) {
    let shard = &sh.shards[id % sh.shards.len()];
    let mut ctx = sh.ctx(id);
    loop {
        let now = Instant::now();
        if *stop.borrow() || end.passed(now) {
            return;
        }
        sh.inflight.fetch_add(1, Ordering::Relaxed);
        let idx = sh.pick(&mut ctx.rng);
        // A transaction has the lane's connection to itself; other
        // scenarios share it with the lane's other clients (pipelined).
        let exclusive = sh.prepared.workload.scenarios[idx].transaction;
        let mut held = lane.acquire(exclusive, &pool, &sh.prepared).await;
        let pool_us = now.elapsed().as_micros() as u64;
        // The connection used, and whether it was closed afterwards.
        let mut used = None;
        let (exec_us, res) = match &held {
            Ok(g) => {
                let c = g.conn();
                let t1 = Instant::now();
                let r =
                    run_scenario(&c.client, &sh.prepared, idx, &mut ctx, Some(&c.statements)).await;
                used = Some((c.generation(), c.client.is_closed()));
                (t1.elapsed().as_micros() as u64, r)
            }
            Err(class) => {
                // The real SQLSTATE class of the failed checkout or prepare.
                ctx.ran = 0;
                (
                    0,
                    Err(ExecError {
                        statement: None,
                        class: *class,
                    }),
                )
            }
        };
        // A connection left in an unknown transaction state is closed before
        // any other client of the lane can get at it.
        let closed_here = ctx.discard && held.as_mut().is_ok_and(|g| g.discard());
        drop(held);
        sh.inflight.fetch_sub(1, Ordering::Relaxed);
        if now >= warmup_end {
            record(shard, idx, now, None, pool_us, exec_us, &res, &ctx);
        }
        let lost = used.is_none_or(|(_, closed)| closed);
        if let Some((generation, _)) = used {
            if ctx.discard && !closed_here {
                lane.drop_conn(generation, true).await;
            } else if let Err(e) = &res
                && (lost || e.class == *b"08" || e.class == *b"57")
            {
                // Back to the pool, which replaces a dead connection.
                lane.drop_conn(generation, false).await;
            }
        }
        if let Err(e) = &res
            && (lost || e.class == *b"08")
        {
            // Server unreachable, or no usable connection: do not spin.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Open all pool connections and prepare every statement on each, so the
/// run measures execution, not connection set-up or parsing.
/// A pool error with the server's message and SQLSTATE when it has one
/// (`PoolError`'s own text says only "db error").
fn pool_message(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(pe) => match pe.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => pe.to_string(),
        },
        _ => e.to_string(),
    }
}

pub(super) async fn warm_pool(
    pool: &Pool,
    prepared: &Prepared,
    size: usize,
) -> Result<(), StressError> {
    let mut held = Vec::with_capacity(size);
    for _ in 0..size {
        let c = pool
            .get()
            .await
            .map_err(|e| StressError::Pool(pool_message(&e)))?;
        for sc in &prepared.workload.scenarios {
            for st in &sc.statements {
                c.prepare_cached(&st.sql)
                    .await
                    .map_err(|e| StressError::Prepare {
                        statement: st.name.clone(),
                        message: e.to_string(),
                    })?;
            }
            if sc.transaction {
                for s in ["BEGIN", "COMMIT", "ROLLBACK"] {
                    c.prepare_cached(s)
                        .await
                        .map_err(|e| StressError::Pool(e.to_string()))?;
                }
            }
        }
        held.push(c);
    }
    Ok(())
}

/// When a shard's workers start and stop.
#[derive(Clone)]
pub(super) enum Pace {
    /// Claim arrivals from the shared schedule.
    Open {
        sched: Arc<Schedule>,
        warmup: f64,
        resolution: Duration,
    },
    /// Loop until the shared deadline.
    Closed {
        warmup_end: Instant,
        end: Arc<Deadline>,
    },
}

/// What a shard needs to start its workers (cheap clones).
#[derive(Clone)]
pub(super) struct Launch {
    pub(super) sh: Arc<Shared>,
    pace: Pace,
    stop: watch::Receiver<bool>,
}

/// Spawn workers `ids` on the current runtime with connections from `pool`
/// (of `size`).
pub(super) fn spawn_workers(
    set: &mut JoinSet<()>,
    l: &Launch,
    pool: &Pool,
    size: usize,
    ids: &[usize],
) {
    match &l.pace {
        Pace::Open {
            sched,
            warmup,
            resolution,
        } => {
            // The timer serves this runtime's workers from its event loop.
            let timer = Arc::new(HrTimer::start(ids.len(), *resolution));
            for &id in ids {
                let w = open_worker(
                    l.sh.clone(),
                    pool.clone(),
                    sched.clone(),
                    timer.clone(),
                    id,
                    *warmup,
                    DROP_GRACE + *resolution,
                    l.stop.clone(),
                );
                set.spawn(w);
            }
        }
        Pace::Closed { warmup_end, end } => {
            // One lane per pooled connection, at most one per client.
            let lanes: Vec<Arc<Lane>> = (0..ids.len().min(size).max(1))
                .map(|_| Arc::new(Lane::default()))
                .collect();
            for (k, &id) in ids.iter().enumerate() {
                let w = closed_worker(
                    l.sh.clone(),
                    pool.clone(),
                    lanes[lane_of(k, lanes.len())].clone(),
                    id,
                    *warmup_end,
                    end.clone(),
                    l.stop.clone(),
                );
                set.spawn(w);
            }
        }
    }
}

/// Run the load described by `cfg` with `prepared` against `pool` (of
/// `cfg.pool` connections), on the current runtime.
pub async fn run(
    pool: Pool,
    prepared: Arc<Prepared>,
    cfg: &StressConfig,
    hooks: Hooks,
) -> Result<RunOutcome, StressError> {
    run_sharded(vec![pool], prepared, cfg, hooks).await
}

/// [`run`] on several driver threads: the workers are split evenly over
/// `pools`; those of the first pool run on the current runtime, each other
/// pool gets a thread with a single-threaded runtime of its own that owns
/// its connections and workers (see [`super::shard`]), so no query crosses
/// threads. The pools' sizes add up to `cfg.pool`.
pub async fn run_sharded(
    pools: Vec<Pool>,
    prepared: Arc<Prepared>,
    cfg: &StressConfig,
    mut hooks: Hooks,
) -> Result<RunOutcome, StressError> {
    // Instant + Duration panics on overflow: refuse absurd lengths up front.
    if cfg
        .warmup
        .checked_add(cfg.duration)
        .and_then(|d| d.checked_add(cfg.drain_timeout))
        .and_then(|d| d.checked_add(Duration::from_secs(60)))
        .and_then(|d| Instant::now().checked_add(d))
        .is_none()
    {
        return Err(StressError::TooLong);
    }
    let counts: Vec<usize> = prepared
        .workload
        .scenarios
        .iter()
        .map(|s| s.statements.len())
        .collect();
    let mut cum = 0.0;
    let cum_weights = prepared
        .workload
        .scenarios
        .iter()
        .map(|s| {
            cum += s.weight;
            cum
        })
        .collect();
    let workers = cfg.load.workers();
    let cpus = crate::sys::cpus();
    let nshards = workers.clamp(1, (SHARDS_PER_CPU * cpus).max(2));
    let sh = Arc::new(Shared {
        prepared: prepared.clone(),
        panics: Mutex::new(Vec::new()),
        shards: (0..nshards)
            .map(|_| Mutex::new(Stats::new(&counts)))
            .collect(),
        inflight: AtomicI64::new(0),
        cum_weights,
        seed: cfg.seed,
    });

    // Every pool warmed (the others on their own threads) before the start.
    let nthreads = pools.len().max(1);
    let ids_of = |s: usize| (s..workers).step_by(nthreads).collect::<Vec<_>>();
    let sizes: Vec<usize> = pools.iter().map(|p| p.status().max_size).collect();
    let mut remotes = Vec::new();
    for (s, pool) in pools.iter().enumerate().skip(1) {
        let r = super::shard::spawn(pool.clone(), sizes[s], ids_of(s), prepared.clone())
            .map_err(|e| StressError::Pool(format!("starting a driver thread: {e}")))?;
        remotes.push(r);
    }
    let mut failed = warm_pool(&pools[0], &prepared, sizes[0]).await.err();
    for r in &mut remotes {
        if let Err(e) = r.ready().await {
            failed.get_or_insert(e);
        }
    }
    if let Some(e) = failed {
        return Err(e); // dropping `remotes` ends their threads
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let started_at = Utc::now();
    let start = Instant::now();
    let warmup = cfg.warmup.as_secs_f64();
    let warmup_end = start + cfg.warmup;
    let end_planned = warmup_end + cfg.duration;
    let closed_end = Arc::new(Deadline::new(start, end_planned));
    let mut sched = None;
    let pace = match &cfg.load {
        Load::Open {
            profile, arrival, ..
        } => {
            let arrivals = ArrivalGen::new(*arrival, profile.clone(), cfg.seed);
            let s = Arc::new(Schedule::new(start, arrivals, cfg.warmup + cfg.duration));
            sched = Some(s.clone());
            Pace::Open {
                sched: s,
                warmup,
                resolution: cfg.timer_resolution,
            }
        }
        Load::Closed { .. } => Pace::Closed {
            warmup_end,
            end: closed_end.clone(),
        },
    };
    let launch = Launch {
        sh: sh.clone(),
        pace,
        stop: stop_rx.clone(),
    };
    let mut set = JoinSet::new();
    spawn_workers(&mut set, &launch, &pools[0], sizes[0], &ids_of(0));
    let mut aborts = Vec::new();
    for r in remotes {
        let (abort, done) = r.launch(launch.clone());
        aborts.push(abort);
        // Ends when every worker of that thread has; gives their panics.
        set.spawn(done);
    }
    drop(launch);

    // Collector: one snapshot per second.
    let mut spares: Vec<Stats> = (0..nshards).map(|_| Stats::new(&counts)).collect();
    let mut acc = Stats::new(&counts);
    let mut totals = Stats::new(&counts);
    let mut intervals = Vec::new();
    let mut interrupted = false;
    let mut end = end_planned;
    let mut peak_inflight = 0;
    let mut last_tick = start;
    let mut tick = start + Duration::from_secs(1);
    let mut drain_deadline: Option<Instant> = None;
    let mut stop_live = true;
    let mut worker_panics = Vec::new();
    let mut window_calls: Option<Vec<u64>> = None;
    loop {
        let ended = Instant::now() >= end;
        let wait_until = if ended {
            tick.min(drain_deadline.unwrap_or(tick))
        } else {
            tick.min(end)
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
                    closed_end.set(end);
                    if let Some(s) = &sched { s.end_at(now); }
                    let _ = stop_tx.send(true);
                }
            }
            Some(r) = set.join_next(), if ended || interrupted => {
                if let Err(e) = r {
                    worker_panics.extend(panic_message(e));
                }
            }
        }
        let now = Instant::now();
        if now >= end && drain_deadline.is_none() {
            drain_deadline = Some(now.max(end) + cfg.drain_timeout);
        }
        if now >= end && window_calls.is_none() {
            // What completed within the measured window, before the drain.
            for (shard, spare) in sh.shards.iter().zip(spares.iter_mut()) {
                std::mem::swap(&mut *shard.lock().unwrap(), spare);
                acc.merge(spare);
                spare.reset();
            }
            window_calls = Some(
                totals
                    .scenarios
                    .iter()
                    .zip(&acc.scenarios)
                    .map(|(t, a)| t.calls + a.calls)
                    .collect(),
            );
        }
        let finished = (now >= end || interrupted) && set.is_empty();
        let timed_out = drain_deadline.is_some_and(|d| now >= d);
        if now >= tick || finished || timed_out {
            for (shard, spare) in sh.shards.iter().zip(spares.iter_mut()) {
                std::mem::swap(&mut *shard.lock().unwrap(), spare);
                acc.merge(spare);
                spare.reset();
            }
            let inflight = sh.inflight.load(Ordering::Relaxed);
            peak_inflight = peak_inflight.max(inflight);
            let t_end = (now - start).as_secs_f64();
            let emit = now > warmup_end + Duration::from_millis(50) || finished || timed_out;
            if emit {
                let target = match &cfg.load {
                    Load::Open { profile, .. } => {
                        Some(profile.rate_at(((last_tick - start).as_secs_f64() + t_end) / 2.0))
                    }
                    Load::Closed { .. } => None,
                };
                let sample = interval_sample(
                    &prepared.workload,
                    &acc,
                    t_end - warmup,
                    (now - last_tick.max(warmup_end)).as_secs_f64(),
                    target.filter(|_| now <= end + Duration::from_millis(100)),
                    inflight,
                );
                if let Some(f) = hooks.on_interval.as_mut() {
                    f(&sample);
                }
                intervals.push(sample);
            }
            if emit {
                // Otherwise keep accumulating into the first measured interval.
                totals.merge(&acc);
                acc.reset();
                last_tick = now;
            }
            while tick <= now {
                tick += Duration::from_secs(1);
            }
        }
        if finished {
            break;
        }
        if timed_out {
            break;
        }
    }
    worker_panics.append(&mut sh.panics.lock().unwrap());
    // A panicked worker never gave back its in-flight slot.
    let unfinished = (sh.inflight.load(Ordering::Relaxed).max(0) as u64)
        .saturating_sub(worker_panics.len() as u64);
    set.abort_all();
    for a in aborts {
        a.abort();
    }
    let mut dropped = totals.dropped;
    let mut scheduled = totals.started + totals.dropped;
    if let Some(s) = &sched {
        dropped += s.drain_unclaimed(warmup);
        scheduled = s.scheduled();
    }
    let measured_secs = (end.max(warmup_end) - warmup_end).as_secs_f64();
    let window_calls =
        window_calls.unwrap_or_else(|| totals.scenarios.iter().map(|s| s.calls).collect());
    Ok(RunOutcome {
        totals,
        intervals,
        scheduled,
        dropped,
        unfinished,
        interrupted,
        measured_secs,
        started_at,
        finished_at: Utc::now(),
        peak_inflight,
        worker_panics,
        window_calls,
    })
}

#[cfg(test)]
mod panic_tests {
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
            load: Load::Closed { clients: 1 },
            duration: Duration::MAX,
            warmup: Duration::ZERO,
            pool: 0,
            seed: 1,
            drain_timeout: Duration::from_secs(1),
            timer_resolution: Duration::ZERO,
        };
        let pool = crate::db::pool(
            &crate::db::Target::parse("postgres://x@127.0.0.1:1/none").unwrap(),
            1,
        )
        .unwrap();
        let (_tx, stop) = watch::channel(false);
        let r = run(
            pool,
            prepared,
            &cfg,
            Hooks {
                on_interval: None,
                stop,
            },
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
        assert_eq!(panic_message(e).as_deref(), Some("worker blew up"));
        set.spawn(std::future::pending::<()>());
        set.abort_all();
        let e = set.join_next().await.unwrap().unwrap_err();
        assert_eq!(panic_message(e), None, "a cancelled task is not a panic");
    }
}
