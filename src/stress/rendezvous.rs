//! Starting the workers of a segmented run together without a coordinator
//! (`--rendezvous`): once its connections are open and prepared (the
//! session's run calls [`meet`] then), each worker registers in `dbload_rendezvous`, a small
//! table dbload creates in the target database (nothing else is written
//! there before the start). When all N segments of the run id are present,
//! the first worker to see it sets the start instant, [`LEAD`] ahead on the
//! **server's** clock, on every row of the run under the run's advisory
//! lock; every worker reads that same instant.
//!
//! Rules:
//! - a row is `(run_id, segment)`; a second live worker for the same
//!   segment is refused ([`Error::Duplicate`]);
//! - a waiting worker refreshes its row's `seen_at` every [`POLL`]; only rows
//!   refreshed within [`LIVE`] count toward the start; rows not
//!   refreshed for [`STALE`] (a worker that died) and rows whose start has
//!   passed (an earlier run that reused the id) are deleted when a worker
//!   registers, so stale rows never count toward a new run;
//! - a worker that waits longer than its timeout marks its row `gave_up`
//!   (no longer counted, so a late worker cannot start a partial run with
//!   it; deleted by the next registration) and fails naming the segments
//!   that never arrived ([`Error::Missing`]) — unless the start was agreed
//!   meanwhile, which it then keeps;
//! - the connection's lock, statement and idle-in-transaction timeouts bound
//!   every step, so a frozen worker cannot hold the others.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_postgres::Client;

use super::segment::Segment;

/// How far ahead of the moment all are present the start is set.
pub const LEAD: Duration = Duration::from_secs(3);
/// How often a waiting worker looks (and refreshes its row).
pub const POLL: Duration = Duration::from_millis(100);
/// A row not refreshed for this long belongs to a worker that is gone.
pub const STALE: Duration = Duration::from_secs(10);
/// Only rows refreshed this recently count toward the start (a worker
/// killed while waiting stops counting within a second).
pub const LIVE: Duration = Duration::from_secs(1);
/// Bounds on the rendezvous connection: no lock wait, statement or
/// abandoned transaction (a frozen worker's) holds the others for long.
const BOUNDS: &str = "SET lock_timeout = '5s'; SET statement_timeout = '10s'; \
                      SET idle_in_transaction_session_timeout = '10s'";
/// Rows of any run not refreshed for this long are cleared away.
const FORGET: &str = "1 day";

/// The table, created if missing.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS dbload_rendezvous (
    run_id        text        NOT NULL,
    segment       integer     NOT NULL,
    segments      integer     NOT NULL,
    token         uuid        NOT NULL,
    worker        text        NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seen_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    start_at      timestamptz,
    gave_up       boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, segment)
)";

/// Why the workers did not meet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "rendezvous of run {run_id}: after {waited:.0} s, segment(s) {} of {count} never arrived \
         (present: {}); giving up",
        list(missing),
        if present.is_empty() { "none".to_string() } else { list(present) }
    )]
    Missing {
        run_id: String,
        count: u32,
        missing: Vec<u32>,
        present: Vec<u32>,
        waited: f64,
    },
    #[error(
        "rendezvous of run {run_id}: segment {segment} is already registered by {worker} (seen \
         {seen_secs:.1} s ago); each segment K/N runs once (is the same --segment given twice?)"
    )]
    Duplicate {
        run_id: String,
        segment: u32,
        worker: String,
        seen_secs: f64,
    },
    #[error(
        "rendezvous of run {run_id}: segment {segment} registered as one of {theirs}, this worker \
         as one of {ours}: every worker of a run must give the same N"
    )]
    Mismatch {
        run_id: String,
        segment: u32,
        theirs: u32,
        ours: u32,
    },
    #[error("rendezvous of run {run_id}: this worker's registration was removed by another worker")]
    Lost { run_id: String },
    #[error("rendezvous: stopped (Ctrl-C, SIGTERM or SIGHUP) while waiting for the other workers")]
    Interrupted,
    #[error("rendezvous in dbload_rendezvous: {0}")]
    Db(#[from] tokio_postgres::Error),
}

fn list(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// One worker's request to meet the others of its run.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub run_id: String,
    pub segment: Segment,
    /// Give up after this long.
    pub timeout: Duration,
    /// Who this worker is, for the others' messages (host and process).
    pub worker: String,
}

/// The key of the run's advisory lock.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('dbload_rendezvous:' || $1, 0))";

/// Register, wait for the others, and return the agreed start (server time).
pub async fn meet(
    c: &mut Client,
    m: &Meeting,
    mut stop: watch::Receiver<bool>,
) -> Result<DateTime<Utc>, Error> {
    let token = uuid::Uuid::new_v4();
    c.batch_execute(BOUNDS).await?;
    register(c, m, token).await?;
    let began = Instant::now();
    loop {
        if let Some(at) = poll(c, m, token).await? {
            return Ok(at);
        }
        if began.elapsed() >= m.timeout {
            // The start may have been agreed since the last look: then go.
            return give_up(c, m, token, began.elapsed()).await?;
        }
        let stopped = tokio::select! {
            _ = tokio::time::sleep(POLL) => false,
            _ = stop.wait_for(|v| *v) => true,
        };
        if stopped {
            let _ = leave(c, m, token).await;
            return Err(Error::Interrupted);
        }
    }
}

async fn register(c: &mut Client, m: &Meeting, token: uuid::Uuid) -> Result<(), Error> {
    // Creating the table is serialised too: concurrent CREATE TABLE IF NOT
    // EXISTS may otherwise fail on the catalog's unique index.
    let tx = c.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('dbload_rendezvous', 0))",
        &[],
    )
    .await?;
    tx.batch_execute(CREATE).await?;
    tx.commit().await?;

    let tx = c.transaction().await?;
    tx.execute(LOCK, &[&m.run_id]).await?;
    tx.execute(
        &format!(
            "DELETE FROM dbload_rendezvous WHERE seen_at < clock_timestamp() - interval '{FORGET}'"
        ),
        &[],
    )
    .await?;
    // Rows of an earlier run with this id: gone quiet, or already started.
    tx.execute(
        "DELETE FROM dbload_rendezvous WHERE run_id = $1
           AND (seen_at < clock_timestamp() - $2::float8 * interval '1 second'
                OR start_at < clock_timestamp() OR gave_up)",
        &[&m.run_id, &STALE.as_secs_f64()],
    )
    .await?;
    let rows = tx
        .query(
            "SELECT segment, segments, worker,
                    extract(epoch FROM clock_timestamp() - seen_at)::float8
               FROM dbload_rendezvous WHERE run_id = $1",
            &[&m.run_id],
        )
        .await?;
    let ours = m.segment.count as i32;
    for r in &rows {
        let (segment, segments): (i32, i32) = (r.get(0), r.get(1));
        if segment == m.segment.index as i32 {
            return Err(Error::Duplicate {
                run_id: m.run_id.clone(),
                segment: segment as u32,
                worker: r.get(2),
                seen_secs: r.get(3),
            });
        }
        if segments != ours {
            return Err(Error::Mismatch {
                run_id: m.run_id.clone(),
                segment: segment as u32,
                theirs: segments as u32,
                ours: m.segment.count,
            });
        }
    }
    tx.execute(
        "INSERT INTO dbload_rendezvous (run_id, segment, segments, token, worker)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &m.run_id,
            &(m.segment.index as i32),
            &ours,
            &token,
            &m.worker,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refresh this worker's row; the agreed start once every segment is
/// present (set here by the first worker to see them all). The common
/// look is one statement without the run's lock; the lock is taken only to
/// set the start, so many workers polling do not queue behind each other.
async fn poll(
    c: &mut Client,
    m: &Meeting,
    token: uuid::Uuid,
) -> Result<Option<DateTime<Utc>>, Error> {
    let mine = c
        .query_opt(
            "UPDATE dbload_rendezvous SET seen_at = clock_timestamp()
              WHERE run_id = $1 AND segment = $2 AND token = $3
          RETURNING start_at,
                    (SELECT count(*) FROM dbload_rendezvous
                      WHERE run_id = $1 AND NOT gave_up
                        AND seen_at >= clock_timestamp() - $4::float8 * interval '1 second')",
            &[
                &m.run_id,
                &(m.segment.index as i32),
                &token,
                &LIVE.as_secs_f64(),
            ],
        )
        .await?;
    let Some(mine) = mine else {
        return Err(Error::Lost {
            run_id: m.run_id.clone(),
        });
    };
    if let Some(at) = mine.get::<_, Option<DateTime<Utc>>>(0) {
        return Ok(Some(at));
    }
    if mine.get::<_, i64>(1) < i64::from(m.segment.count) {
        return Ok(None);
    }
    // All present: under the run's lock, count again (a worker may have
    // given up meanwhile) and set one instant for every row, unless another
    // worker just did.
    let tx = c.transaction().await?;
    tx.execute(LOCK, &[&m.run_id]).await?;
    let row = tx
        .query_one(
            "SELECT (SELECT max(start_at) FROM dbload_rendezvous WHERE run_id = $1),
                    (SELECT count(*) FROM dbload_rendezvous
                      WHERE run_id = $1 AND NOT gave_up
                        AND seen_at >= clock_timestamp() - $2::float8 * interval '1 second'),
                    clock_timestamp() + $3::float8 * interval '1 second'",
            &[&m.run_id, &LIVE.as_secs_f64(), &LEAD.as_secs_f64()],
        )
        .await?;
    if let Some(at) = row.get::<_, Option<DateTime<Utc>>>(0) {
        tx.commit().await?;
        return Ok(Some(at));
    }
    if row.get::<_, i64>(1) < i64::from(m.segment.count) {
        tx.commit().await?;
        return Ok(None);
    }
    let at: DateTime<Utc> = row.get(2);
    tx.execute(
        "UPDATE dbload_rendezvous SET start_at = $2 WHERE run_id = $1",
        &[&m.run_id, &at],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(at))
}

/// Mark this worker's row given up and say who is missing (every segment
/// that registered, live or given up, arrived) — unless the start was
/// agreed meanwhile (under the same lock that sets it): then the agreed
/// start, so that no worker starts without this one.
async fn give_up(
    c: &mut Client,
    m: &Meeting,
    token: uuid::Uuid,
    waited: Duration,
) -> Result<Result<DateTime<Utc>, Error>, Error> {
    let tx = c.transaction().await?;
    tx.execute(LOCK, &[&m.run_id]).await?;
    let agreed: Option<DateTime<Utc>> = tx
        .query_one(
            "SELECT max(start_at) FROM dbload_rendezvous WHERE run_id = $1",
            &[&m.run_id],
        )
        .await?
        .get(0);
    if let Some(at) = agreed {
        tx.commit().await?;
        return Ok(Ok(at));
    }
    let present: Vec<u32> = tx
        .query(
            "SELECT segment FROM dbload_rendezvous WHERE run_id = $1
                AND seen_at >= clock_timestamp() - $2::float8 * interval '1 second'
              ORDER BY segment",
            &[&m.run_id, &STALE.as_secs_f64()],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, i32>(0) as u32)
        .collect();
    tx.execute(
        "UPDATE dbload_rendezvous SET gave_up = true
          WHERE run_id = $1 AND segment = $2 AND token = $3",
        &[&m.run_id, &(m.segment.index as i32), &token],
    )
    .await?;
    tx.commit().await?;
    Ok(Err(Error::Missing {
        run_id: m.run_id.clone(),
        count: m.segment.count,
        missing: (0..m.segment.count)
            .filter(|k| !present.contains(k))
            .collect(),
        present,
        waited: waited.as_secs_f64(),
    }))
}

async fn leave(c: &Client, m: &Meeting, token: uuid::Uuid) -> Result<(), Error> {
    c.execute(
        "DELETE FROM dbload_rendezvous WHERE run_id = $1 AND segment = $2 AND token = $3",
        &[&m.run_id, &(m.segment.index as i32), &token],
    )
    .await?;
    Ok(())
}
