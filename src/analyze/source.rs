//! Where statements come from: `pg_stat_statements` (current database only,
//! ranked by total execution time) or SQL text (a file or stdin) split into
//! statements with their line numbers kept for diagnostics.

use tokio_postgres::Client;

/// One statement of the workload.
#[derive(Debug, Clone)]
pub struct WorkloadStatement {
    /// `file:line`, `stdin:line` or `queryid <n>`.
    pub location: String,
    pub query: String,
    /// Executions recorded (1 for statements from a file).
    pub calls: u64,
    pub total_ms: f64,
    pub mean_ms: f64,
    /// Rows returned or affected over all calls (0 when unknown: files).
    pub rows: u64,
}

/// Why the workload could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "pg_stat_statements is not available in database \"{0}\": run CREATE EXTENSION pg_stat_statements \
         (the library must be in shared_preload_libraries), or pass --from-file"
    )]
    NoPgss(String),
    #[error("pg_stat_statements needs PostgreSQL 13 or newer (server_version_num {0})")]
    TooOld(i32),
    #[error("reading pg_stat_statements: {0}")]
    Query(#[from] tokio_postgres::Error),
}

/// Filters for `pg_stat_statements`.
#[derive(Debug, Clone, Copy)]
pub struct PgssFilter {
    pub min_calls: u64,
    pub min_mean_ms: f64,
    pub top: usize,
}

/// Utility statements (DDL, COPY, ANALYZE, transaction control…): nothing
/// an index serves, and what migrations and the seed send; left out.
const UTILITY: &str = "^\\s*(CREATE|ALTER|DROP|COPY|ANALYZE|VACUUM|TRUNCATE|CLUSTER|REINDEX|\
    REFRESH|COMMENT|GRANT|REVOKE|LOCK|BEGIN|START|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|SET|\
    RESET|SHOW|DISCARD|DEALLOCATE|CHECKPOINT|LISTEN|NOTIFY|UNLISTEN)\\M";

/// The current database's name when `pg_stat_statements` can be read there.
async fn pgss_available(c: &Client) -> Result<String, SourceError> {
    let row = c
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_database()::text, \
             EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')",
            &[],
        )
        .await?;
    let version: i32 = row.get(0);
    let db: String = row.get(1);
    if version < 130000 {
        return Err(SourceError::TooOld(version));
    }
    if !row.get::<_, bool>(2) {
        return Err(SourceError::NoPgss(db));
    }
    Ok(db)
}

/// Forget the current database's `pg_stat_statements` entries (and only
/// its own): a clean observation window. Returns the database's name.
pub async fn reset_pgss(c: &Client) -> Result<String, SourceError> {
    let db = pgss_available(c).await?;
    c.batch_execute(
        "SELECT pg_stat_statements_reset(0, \
         (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
    )
    .await?;
    Ok(db)
}

/// Read the statements of the current database from `pg_stat_statements`,
/// grouped by query text (several users/top-level flags give several
/// rows), ranked by total execution time. dbload's own statements (HypoPG
/// calls, its what-if prepared statement, its bookkeeping tables, and what
/// it marks `/* dbload */`: the seed's DDL, COPY and ANALYZE, the stress
/// model's start-up queries) and utility statements (migrations' DDL) are
/// left out, and typed-literal placeholders (`interval $2`) are made plannable.
pub async fn from_pgss(
    c: &Client,
    filter: PgssFilter,
) -> Result<Vec<WorkloadStatement>, SourceError> {
    pgss_available(c).await?;
    let rows = c
        .query(
            "SELECT min(queryid)::text, query, sum(calls)::bigint, sum(total_exec_time)::float8, \
               sum(rows)::bigint \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND query NOT LIKE '%hypopg%' AND query NOT LIKE '%dbload_whatif%' \
               AND query NOT LIKE '/* dbload */%' \
               AND query !~* $4 \
               AND query !~ '\\m(dbload_migrations|dbload_datasets|dbload_seed_ddl)\\M' \
             GROUP BY query \
             HAVING sum(calls)::bigint >= $1::bigint \
               AND sum(total_exec_time)::float8 / greatest(sum(calls), 1)::float8 >= $2::float8 \
             ORDER BY sum(total_exec_time) DESC \
             LIMIT $3::bigint",
            &[
                &(filter.min_calls as i64),
                &filter.min_mean_ms,
                &(filter.top as i64),
                &UTILITY,
            ],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let calls = r.get::<_, i64>(2).max(0) as u64;
            let total: f64 = r.get(3);
            WorkloadStatement {
                location: format!("queryid {}", r.get::<_, String>(0)),
                query: super::normalize::cast_typed_placeholders(r.get(1)),
                calls,
                total_ms: total,
                mean_ms: if calls > 0 { total / calls as f64 } else { 0.0 },
                rows: r.get::<_, i64>(4).max(0) as u64,
            }
        })
        .collect())
}

/// The statements a stress run recorded (its top statements by server time,
/// from pg_stat_statements), located as `<origin>#<rank>`.
pub fn from_stress_results(
    results: &crate::stress::results::StressResults,
    origin: &str,
) -> Vec<WorkloadStatement> {
    results
        .server_statements
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| WorkloadStatement {
            location: format!("{origin}#{}", i + 1),
            query: super::normalize::cast_typed_placeholders(&s.query),
            calls: s.calls.max(0) as u64,
            total_ms: s.total_ms,
            mean_ms: s.mean_ms,
            rows: s.rows.max(0) as u64,
        })
        .collect()
}

/// Split SQL text into statements on top-level semicolons, respecting
/// quotes, dollar quotes, comments and parentheses. Each statement keeps
/// `<origin>:<line>` of its first non-blank line.
pub fn split_sql(text: &str, origin: &str) -> Vec<WorkloadStatement> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<WorkloadStatement>, from: usize, to: usize| {
        let piece = &text[from..to];
        let trimmed = strip_leading_noise(piece);
        if trimmed.is_empty() {
            return;
        }
        let offset = from + (piece.len() - trimmed.len());
        let line = text[..offset].matches('\n').count() + 1;
        out.push(WorkloadStatement {
            location: format!("{origin}:{line}"),
            query: trimmed.trim_end().to_string(),
            calls: 1,
            total_ms: 0.0,
            mean_ms: 0.0,
            rows: 0,
        });
    };
    while i < b.len() {
        if let Some(next) = super::lex::skip_opaque(text, i) {
            i = next;
            continue;
        }
        match b[i] {
            b';' => {
                push(&mut out, start, i);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        push(&mut out, start, b.len());
    }
    out
}

/// Drop leading whitespace and comments (they would shift the line number).
fn strip_leading_noise(s: &str) -> &str {
    let mut s = s.trim_start();
    loop {
        if s.starts_with("--") {
            s = s.split_once('\n').map(|x| x.1).unwrap_or("").trim_start();
        } else if s.starts_with("/*") {
            match s.find("*/") {
                Some(p) => s = s[p + 2..].trim_start(),
                None => return "",
            }
        } else {
            return s;
        }
    }
}

/// Seconds `pg_stat_statements` has been counting (since its last reset,
/// PostgreSQL 14+; else since the server started): the window its calls
/// and rows cover.
pub async fn pgss_window_secs(c: &Client) -> Option<f64> {
    let q14 = "SELECT extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_statements_info";
    if let Ok(r) = c.query_one(q14, &[]).await {
        return r.get::<_, Option<f64>>(0);
    }
    c.query_one(
        "SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8",
        &[],
    )
    .await
    .ok()
    .and_then(|r| r.get::<_, Option<f64>>(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_lines_quotes_and_dollar_quotes() {
        let text = "-- header\nSELECT 1;\n\nSELECT ';' AS x,\n  $$a;b$$ FROM t WHERE id = $1;\n/* c; */ SELECT \"a;b\" FROM t\n";
        let v = split_sql(text, "w.sql");
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[0].location, "w.sql:2");
        assert_eq!(v[0].query, "SELECT 1");
        assert_eq!(v[1].location, "w.sql:4");
        assert!(v[1].query.ends_with("id = $1"));
        assert_eq!(v[2].location, "w.sql:6");
        assert_eq!(v[2].query, "SELECT \"a;b\" FROM t");
        assert!(split_sql("  \n-- only a comment\n", "x").is_empty());
        let v = split_sql("SELECT E'a\\';b' FROM t; SELECT 'c\\'; SELECT 2", "x");
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[0].query, "SELECT E'a\\';b' FROM t");
    }
}
