//! The server side of a run: PostgreSQL version and the settings that
//! matter for load, and `pg_stat_statements` snapshots taken before and
//! after the run, diffed into the top statements by server time. (The
//! dataset fingerprint is `seed::fingerprint`.)

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

/// Settings reported with every run.
pub const SETTINGS: &[&str] = &[
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "max_connections",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_level",
    "random_page_cost",
    "jit",
    "max_parallel_workers_per_gather",
    "default_transaction_isolation",
    "shared_preload_libraries",
];

/// The server a run targeted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `SELECT version()`.
    pub version: String,
    /// `server_version_num`.
    pub version_num: i32,
    /// Key settings by name (value with unit, as `SHOW` prints it).
    pub settings: BTreeMap<String, String>,
}

/// Version and key settings.
pub async fn server_info(c: &Client) -> Result<ServerInfo, tokio_postgres::Error> {
    let version: String = c.query_one("SELECT version()", &[]).await?.get(0);
    let num: String = c
        .query_one("SELECT current_setting('server_version_num')", &[])
        .await?
        .get(0);
    let names: Vec<String> = SETTINGS.iter().map(|s| s.to_string()).collect();
    let rows = c
        .query(
            "SELECT name, CASE WHEN unit IS NULL THEN setting ELSE current_setting(name) END \
             FROM pg_settings WHERE name = ANY($1) ORDER BY name",
            &[&names],
        )
        .await?;
    Ok(ServerInfo {
        version,
        version_num: num.parse().unwrap_or(0),
        settings: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    })
}

/// One statement's counters in `pg_stat_statements`.
#[derive(Debug, Clone)]
pub struct PgssEntry {
    pub query: String,
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
}

/// A snapshot of `pg_stat_statements` for the current database, keyed by
/// (userid, queryid).
pub type PgssSnapshot = HashMap<(u32, i64), PgssEntry>;

/// Snapshot the current database's statements; None when the extension is
/// not installed (or not readable).
pub async fn pgss_snapshot(c: &Client) -> Option<PgssSnapshot> {
    let rows = c
        .query(
            "SELECT userid, queryid, query, calls, total_exec_time, rows FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND queryid IS NOT NULL",
            &[],
        )
        .await
        .ok()?;
    Some(
        rows.iter()
            .map(|r| {
                (
                    (r.get::<_, u32>(0), r.get::<_, i64>(1)),
                    PgssEntry {
                        query: r.get(2),
                        calls: r.get(3),
                        total_ms: r.get(4),
                        rows: r.get(5),
                    },
                )
            })
            .collect(),
    )
}

/// A statement's server-side work during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatement {
    pub query: String,
    pub calls: i64,
    /// Server execution time during the run, ms.
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: i64,
}

/// The `top` statements by execution time added between two snapshots.
pub fn pgss_delta(before: &PgssSnapshot, after: &PgssSnapshot, top: usize) -> Vec<ServerStatement> {
    let mut v: Vec<ServerStatement> = after
        .iter()
        .filter_map(|(k, a)| {
            let (calls0, ms0, rows0) = before
                .get(k)
                .map(|b| (b.calls, b.total_ms, b.rows))
                .unwrap_or((0, 0.0, 0));
            let calls = a.calls - calls0;
            if calls <= 0 {
                return None;
            }
            let total_ms = a.total_ms - ms0;
            Some(ServerStatement {
                query: a.query.clone(),
                calls,
                total_ms: (total_ms * 1000.0).round() / 1000.0,
                mean_ms: (total_ms / calls as f64 * 1000.0).round() / 1000.0,
                rows: a.rows - rows0,
            })
        })
        // dbload's own bookkeeping (this view, server samplers) is not the workload.
        .filter(|s| {
            !s.query.contains("pg_stat_statements")
                && !s.query.starts_with(crate::db::OWN_QUERY_MARK)
        })
        .collect();
    v.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    v.truncate(top);
    v
}
