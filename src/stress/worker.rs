//! The workers of a run and what they share: open-model workers claim
//! arrivals from the schedule and sleep until their intended start;
//! closed-model clients loop on their [`Lane`] until the deadline (following
//! a client ramp when there is one). Each execution is recorded into a
//! statistics shard under a short lock; nothing is allocated for the
//! statistics and nothing is sent over a channel per query. Also the pool
//! warm-up that runs before the start.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::StressConfig;
use super::executor::{ExecError, Outcome, WorkerCtx, discard, pool_class, run_scenario};
use super::lane::{Lane, lane_of};
use super::outcome::StressError;
use super::profile::ClientRamp;
use super::schedule::Schedule;
use super::stats::Stats;
use super::think::ThinkTime;
use super::timer::{self, Grid, HrTimer};
use crate::workload::Prepared;

/// An arrival no worker could take within this long after its intended
/// start found every in-flight slot busy: it is counted as dropped. (With
/// a timer grid, workers wake only on its grid points, so the grace is
/// the grid's longest period longer.)
pub const DROP_GRACE: Duration = Duration::from_millis(10);

/// Statistics shards per CPU: workers share a few, each under its own mutex
/// (held for a few histogram updates), so locks are rarely contended.
const SHARDS_PER_CPU: usize = 2;

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
    /// Panic messages of workers, as they happen (from every driver thread).
    pub(super) panics: Mutex<Vec<String>>,
    /// Statistics shards, swapped out by the collector once per interval.
    pub(super) shards: Vec<Mutex<Stats>>,
    /// Scenarios in flight now.
    pub(super) inflight: AtomicI64,
    /// What the open model's timers did (one per driver thread).
    pub(super) timer: Arc<timer::Counters>,
    /// Segments of the run (1 for a whole run): worker ids are global
    /// (`j·N + K`), the statistics shard is chosen from the local `j`.
    segments: usize,
    cum_weights: Vec<f64>,
    seed: u64,
}

impl Shared {
    /// The statistics shard of worker `id`: round-robin over this
    /// process's workers (a segment's ids step by N, which would otherwise
    /// pile them onto a few shards).
    fn shard_of(&self, id: usize) -> &Mutex<Stats> {
        &self.shards[(id / self.segments) % self.shards.len()]
    }
}

impl Shared {
    /// The shared state of a run of `cfg` with `prepared`.
    pub(super) fn new(prepared: Arc<Prepared>, cfg: &StressConfig, segments: usize) -> Shared {
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
        let cpus = crate::sys::cpus();
        let nshards = cfg.load.workers().clamp(1, (SHARDS_PER_CPU * cpus).max(2));
        let counts = statement_counts(&prepared);
        Shared {
            panics: Mutex::new(Vec::new()),
            shards: (0..nshards)
                .map(|_| Mutex::new(Stats::new(&counts)))
                .collect(),
            inflight: AtomicI64::new(0),
            timer: Arc::default(),
            segments: segments.max(1),
            cum_weights,
            seed: cfg.seed,
            prepared,
        }
    }

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

    /// Take a connection and run scenario `idx`: (pool wait µs, exec µs,
    /// result). With none idle, replies wake `timer`'s thread until one is
    /// free (rather than waiting for its grid).
    async fn execute(
        &self,
        pool: &Pool,
        timer: &HrTimer,
        idx: usize,
        ctx: &mut WorkerCtx,
    ) -> (u64, u64, Result<Outcome, ExecError>) {
        let t0 = Instant::now();
        let short = (pool.status().available == 0)
            .then(|| timer.short_of_connections())
            .flatten();
        let got = pool.get().await;
        drop(short);
        let client = match got {
            Ok(c) => c,
            Err(e) => {
                ctx.ran = 0;
                ctx.finished = Instant::now();
                let waited = (ctx.finished - t0).as_micros() as u64;
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
        let t2 = ctx.finished;
        if ctx.discard {
            discard(client);
        }
        (
            (t1 - t0).as_micros() as u64,
            t2.saturating_duration_since(t1).as_micros() as u64,
            r,
        )
    }
}

/// Record one execution into a shard, from its intended start to its end
/// (`ctx.finished`). `lag_us` is None in the closed model.
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
    let total_us = ctx.finished.saturating_duration_since(intended).as_micros() as u64;
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
    let shard = sh.shard_of(id);
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
        let (pool_us, exec_us, res) = sh.execute(&pool, &timer, idx, &mut ctx).await;
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
    pub(super) fn new(base: Instant, at: Instant) -> Deadline {
        let d = Deadline {
            base,
            nanos: AtomicU64::new(0),
        };
        d.set(at);
        d
    }
    pub(super) fn set(&self, at: Instant) {
        let n = at.saturating_duration_since(self.base).as_nanos();
        self.nanos
            .store(n.min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
    /// The instant it stands at now.
    fn at(&self) -> Instant {
        self.base + Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
    pub(super) fn passed(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.base).as_nanos()
            >= self.nanos.load(Ordering::Relaxed) as u128
    }
}

/// Closed model: wait while a client ramp leaves client `id` out (until
/// the count changes, the run ends or it is stopped). False: run now.
async fn idle(
    ramp: &ClientRamp,
    start: Instant,
    id: usize,
    end: &Deadline,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let (clients, next) = ramp.at(Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64());
    if id < clients {
        return false;
    }
    let until = next
        .map(|t| start + Duration::from_secs_f64(t))
        .map_or(end.at(), |t| t.min(end.at()));
    tokio::select! {
        _ = tokio::time::sleep_until(until.into()) => {}
        _ = stop.wait_for(|v| *v) => {}
    }
    true
}

#[allow(clippy::too_many_arguments)]
async fn closed_worker(
    sh: Arc<Shared>,
    pool: Pool,
    lane: Arc<Lane>,
    id: usize,
    ramp: Option<(ClientRamp, Instant)>,
    warmup_end: Instant,
    end: Arc<Deadline>,
    think: Option<ThinkTime>,
    mut stop: watch::Receiver<bool>,
) {
    let shard = sh.shard_of(id);
    let mut ctx = sh.ctx(id);
    let mut backoff = Backoff::default();
    loop {
        if *stop.borrow() || end.passed(Instant::now()) {
            return;
        }
        if let Some((r, start)) = &ramp
            && idle(r, *start, id, &end, &mut stop).await
        {
            continue;
        }
        let now = Instant::now();
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
                let exec = ctx.finished.saturating_duration_since(t1);
                (exec.as_micros() as u64, r)
            }
            Err(class) => {
                // The real SQLSTATE class of the failed checkout or prepare.
                ctx.ran = 0;
                ctx.finished = Instant::now();
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
        match &res {
            // Server unreachable, or no usable connection: back off.
            Err(e) if lost || e.class == *b"08" => {
                let pause = backoff.failed(&mut ctx.rng);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|v| *v) => {}
                }
            }
            Err(_) => {}
            Ok(_) => backoff.reset(),
        }
        if let Some(t) = &think {
            // Thinking, not waiting on the database: no latency counts it.
            let until = (Instant::now() + t.draw(&mut ctx.rng)).min(end.at());
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = stop.wait_for(|v| *v) => {}
            }
        }
    }
}

/// How long a closed-model client waits after a failed connection before
/// trying again: doubling from [`Backoff::FIRST`] up to [`Backoff::MOST`],
/// with jitter so the clients do not return in step; reset by a success.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(20);
    pub const MOST: Duration = Duration::from_secs(1);

    /// One more failure: the pause before the next try (half to all of the
    /// doubled delay).
    pub fn failed(&mut self, rng: &mut SmallRng) -> Duration {
        let full = Self::FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(Self::MOST);
        self.failures = self.failures.saturating_add(1);
        full.mul_f64(0.5 + rng.random::<f64>() / 2.0)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_second_and_resets() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut b = Backoff::default();
        let pauses: Vec<Duration> = (0..10).map(|_| b.failed(&mut rng)).collect();
        for (k, p) in pauses.iter().enumerate() {
            let full = Backoff::FIRST.saturating_mul(1 << k).min(Backoff::MOST);
            assert!(*p >= full / 2 && *p <= full, "{k}: {p:?} vs {full:?}");
        }
        assert!(pauses[9] >= Backoff::MOST / 2);
        b.reset();
        assert!(b.failed(&mut rng) <= Backoff::FIRST);
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
        grid: Grid,
    },
    /// Loop until the shared deadline; with a ramp, client `id` runs
    /// while the ramp has more than `id` clients (from `start`).
    Closed {
        warmup_end: Instant,
        end: Arc<Deadline>,
        ramp: Option<(ClientRamp, Instant)>,
        think: Option<ThinkTime>,
    },
}

/// What a shard needs to start its workers (cheap clones).
#[derive(Clone)]
pub(super) struct Launch {
    pub(super) sh: Arc<Shared>,
    pub(super) pace: Pace,
    pub(super) stop: watch::Receiver<bool>,
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
            grid,
        } => {
            // The timer serves this runtime's workers from its event loop.
            let timer = Arc::new(HrTimer::start(ids.len(), *grid, l.sh.timer.clone()));
            for &id in ids {
                let w = open_worker(
                    l.sh.clone(),
                    pool.clone(),
                    sched.clone(),
                    timer.clone(),
                    id,
                    *warmup,
                    DROP_GRACE + grid.max_period(),
                    l.stop.clone(),
                );
                set.spawn(w);
            }
        }
        Pace::Closed {
            warmup_end,
            end,
            ramp,
            think,
        } => {
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
                    ramp.clone(),
                    *warmup_end,
                    end.clone(),
                    *think,
                    l.stop.clone(),
                );
                set.spawn(w);
            }
        }
    }
}

/// Statements of each scenario (the shape of a [`Stats`]).
pub(super) fn statement_counts(prepared: &Prepared) -> Vec<usize> {
    prepared
        .workload
        .scenarios
        .iter()
        .map(|s| s.statements.len())
        .collect()
}
