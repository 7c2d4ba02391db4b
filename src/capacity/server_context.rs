//! What the server did during one step, so a failed step says why:
//! `pg_stat_database` deltas for the target database (commits, rollbacks,
//! blocks hit/read, temp files, deadlocks) and wait events of its active
//! backends, sampled from `pg_stat_activity` a few times a second on a
//! separate connection while the step runs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_postgres::Client;

/// `pg_stat_database` counters of the current database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DbCounters {
    pub commits: i64,
    pub rollbacks: i64,
    pub blks_hit: i64,
    pub blks_read: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
    pub deadlocks: i64,
}

/// Read the counters (None when the view cannot be read).
pub async fn db_counters(c: &Client) -> Option<DbCounters> {
    // A fresh snapshot: statistics are otherwise cached for the transaction.
    let mark = crate::db::OWN_QUERY_MARK;
    let _ = c
        .simple_query(&format!("{mark} SELECT pg_stat_clear_snapshot()"))
        .await;
    let r = c
        .query_one(
            &format!(
                "{mark} SELECT xact_commit, xact_rollback, blks_hit, blks_read, temp_files, \
                 temp_bytes, deadlocks FROM pg_stat_database WHERE datname = current_database()"
            ),
            &[],
        )
        .await
        .ok()?;
    Some(DbCounters {
        commits: r.get(0),
        rollbacks: r.get(1),
        blks_hit: r.get(2),
        blks_read: r.get(3),
        temp_files: r.get(4),
        temp_bytes: r.get(5),
        deadlocks: r.get(6),
    })
}

/// The change of the counters over a step.
pub fn delta(a: &DbCounters, b: &DbCounters) -> DbCounters {
    DbCounters {
        commits: b.commits - a.commits,
        rollbacks: b.rollbacks - a.rollbacks,
        blks_hit: b.blks_hit - a.blks_hit,
        blks_read: b.blks_read - a.blks_read,
        temp_files: b.temp_files - a.temp_files,
        temp_bytes: b.temp_bytes - a.temp_bytes,
        deadlocks: b.deadlocks - a.deadlocks,
    }
}

/// One wait event's share of the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitShare {
    /// `Type:Event`, or `CPU` for an active backend not waiting.
    pub event: String,
    /// Mean number of the target's active backends in this state per sample.
    pub mean_backends: f64,
}

/// What the server did during a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerContext {
    /// `pg_stat_database` deltas (None when unreadable).
    pub db: Option<DbCounters>,
    /// Buffer cache hit ratio over the step (hit / (hit + read)).
    pub cache_hit_ratio: Option<f64>,
    /// `pg_stat_activity` samples taken.
    pub samples: u32,
    /// Mean number of active backends of the target database per sample.
    pub mean_active: f64,
    /// Wait events by share, most frequent first (at most 6).
    pub waits: Vec<WaitShare>,
}

/// Samples wait events until stopped; returns (samples, counts by event).
async fn sample_waits(
    c: Client,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> (u32, BTreeMap<String, u64>) {
    let mut n = 0u32;
    let mut counts = BTreeMap::new();
    let q = format!(
        "{} SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*) \
         FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' \
         AND pid <> pg_backend_pid() AND backend_type = 'client backend' GROUP BY 1",
        crate::db::OWN_QUERY_MARK
    );
    let Ok(stmt) = c.prepare(&q).await else {
        return (0, counts);
    };
    loop {
        if *stop.borrow() {
            break;
        }
        if let Ok(rows) = c.query(&stmt, &[]).await {
            n += 1;
            for r in rows {
                *counts.entry(r.get::<_, String>(0)).or_insert(0) += r.get::<_, i64>(1) as u64;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
    (n, counts)
}

/// A running sampler plus the counters read at the start of the step.
pub struct Sampler {
    before: Option<DbCounters>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<(u32, BTreeMap<String, u64>)>>,
}

impl Sampler {
    /// Read the counters on `admin` and start sampling waits on `sampler`
    /// (a second connection; None: no wait sampling).
    pub async fn start(admin: &Client, sampler: Option<Client>) -> Sampler {
        let before = db_counters(admin).await;
        let (tx, rx) = watch::channel(false);
        let task = sampler.map(|c| tokio::spawn(sample_waits(c, Duration::from_millis(250), rx)));
        Sampler {
            before,
            stop: tx,
            task,
        }
    }

    /// Stop sampling and build the step's context.
    pub async fn finish(self, admin: &Client) -> ServerContext {
        let _ = self.stop.send(true);
        let (samples, counts) = match self.task {
            Some(t) => t.await.unwrap_or_default(),
            None => (0, BTreeMap::new()),
        };
        let after = db_counters(admin).await;
        let db = match (self.before, after) {
            (Some(a), Some(b)) => Some(delta(&a, &b)),
            _ => None,
        };
        summarise(db, samples, &counts)
    }
}

/// Build the context from counter deltas and wait counts.
pub fn summarise(
    db: Option<DbCounters>,
    samples: u32,
    counts: &BTreeMap<String, u64>,
) -> ServerContext {
    let per = |n: u64| {
        if samples == 0 {
            0.0
        } else {
            (n as f64 / samples as f64 * 100.0).round() / 100.0
        }
    };
    let mut waits: Vec<WaitShare> = counts
        .iter()
        .map(|(e, n)| WaitShare {
            event: e.clone(),
            mean_backends: per(*n),
        })
        .collect();
    waits.sort_by(|a, b| b.mean_backends.total_cmp(&a.mean_backends));
    waits.truncate(6);
    ServerContext {
        cache_hit_ratio: db.and_then(|d| {
            let t = d.blks_hit + d.blks_read;
            (t > 0).then(|| (d.blks_hit as f64 / t as f64 * 10000.0).round() / 10000.0)
        }),
        db,
        samples,
        mean_active: per(counts.values().sum()),
        waits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_waits_and_deltas() {
        let a = DbCounters {
            commits: 10,
            blks_hit: 90,
            blks_read: 0,
            ..Default::default()
        };
        let b = DbCounters {
            commits: 110,
            blks_hit: 180,
            blks_read: 10,
            deadlocks: 1,
            ..Default::default()
        };
        let d = delta(&a, &b);
        assert_eq!((d.commits, d.blks_read, d.deadlocks), (100, 10, 1));
        let mut counts = BTreeMap::new();
        counts.insert("CPU".to_string(), 30);
        counts.insert("Lock:transactionid".to_string(), 10);
        let c = summarise(Some(d), 10, &counts);
        assert_eq!(c.mean_active, 4.0);
        assert_eq!(c.waits[0].event, "CPU");
        assert_eq!(c.waits[1].mean_backends, 1.0);
        assert_eq!(c.cache_hit_ratio, Some(0.9));
    }
}
