//! Ask the server about a candidate's expression keys and predicate before
//! planning with it: build a btree with the same keys and `WHERE` on an
//! empty temporary copy of the table (`CREATE TEMP TABLE … (LIKE t)`),
//! read back how PostgreSQL prints them, and roll the transaction back.
//! This tells an immutable expression (indexable) from one that is not
//! (`timestamptz::date` depends on the TimeZone setting), and gives the
//! canonical text that matches existing indexes' definitions. Nothing
//! persists; the real table is only read (its definition, under an
//! ACCESS SHARE lock for the instant of `LIKE`).

use tokio_postgres::Client;

use super::candidates::{Candidate, Key};
use super::whatif::server_message;

/// SQLSTATE of "functions in index expression must be marked IMMUTABLE".
const INVALID_OBJECT_DEFINITION: &str = "42P17";

/// Why a candidate cannot be an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// A key or the predicate uses a function that is not immutable.
    NotImmutable(String),
    /// Any other refusal (no operator class for the type…): the message.
    Invalid(String),
}

/// Whether `c` needs probing: it has an expression key or a predicate.
pub fn needed(c: &Candidate) -> bool {
    c.predicate.is_some() || c.columns.iter().any(|(k, _)| k.expr.is_some())
}

/// The candidate with its expression keys and predicate as PostgreSQL
/// prints them, or why no index can be built on them.
pub async fn canonical(c: &Client, cand: &Candidate) -> Result<Candidate, ProbeError> {
    // Keys without operator classes: the probe is always a btree (no
    // extension needed); the method and classes are the caller's.
    let keys: Vec<String> = cand.columns.iter().map(|(k, _)| k.base()).collect();
    let mut ddl = format!(
        "CREATE INDEX dbload_probe_idx ON pg_temp.dbload_probe ({})",
        keys.join(", ")
    );
    if let Some(p) = &cand.predicate {
        ddl.push_str(&format!(" WHERE {p}"));
    }
    let result = async {
        c.batch_execute(&format!(
            "BEGIN; CREATE TEMP TABLE dbload_probe (LIKE {}) ON COMMIT DROP",
            cand.table
        ))
        .await
        .map_err(|e| ProbeError::Invalid(server_message(e)))?;
        if let Err(e) = c.batch_execute(&ddl).await {
            let immutable = e
                .as_db_error()
                .is_some_and(|d| d.code().code() == INVALID_OBJECT_DEFINITION);
            let m = server_message(e);
            return Err(if immutable {
                ProbeError::NotImmutable(m)
            } else {
                ProbeError::Invalid(m)
            });
        }
        let row = c
            .query_one(
                "SELECT ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                   FROM generate_series(1, i.indnkeyatts) k ORDER BY k), \
                   pg_get_expr(i.indpred, i.indrelid) \
                 FROM pg_index i WHERE i.indexrelid = 'pg_temp.dbload_probe_idx'::regclass",
                &[],
            )
            .await
            .map_err(|e| ProbeError::Invalid(server_message(e)))?;
        let printed: Vec<String> = row.get(0);
        let predicate: Option<String> = row.get(1);
        Ok((printed, predicate))
    }
    .await;
    let _ = c.batch_execute("ROLLBACK").await;
    let (printed, predicate) = result?;
    let mut out = cand.clone();
    for ((k, _), p) in out.columns.iter_mut().zip(printed) {
        if k.expr.is_some() {
            *k = Key {
                expr: Some(p),
                ..k.clone()
            };
        }
    }
    out.predicate = predicate;
    Ok(out)
}

/// Advice for an expression no index can be built on: compare the column
/// itself with a range (what an index on the column serves).
pub fn rewrite_hint(expr: &str, column: &str, why: &str) -> String {
    format!(
        "{expr} cannot be indexed ({why}); rewrite the predicate as a range on the column \
         itself, e.g. `{column} >= $1::date AND {column} < $1::date + 1` for a \
         timestamptz-to-date cast, which an index on ({column}) serves"
    )
}
