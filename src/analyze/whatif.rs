//! What-if planning: the planner's cost of a statement on a generic plan,
//! without and with hypothetical indexes (HypoPG).
//!
//! A generic plan is what a normalised `$n` statement runs with: PostgreSQL
//! 16+ has `EXPLAIN (GENERIC_PLAN)`; older servers get `PREPARE` +
//! `plan_cache_mode = force_generic_plan` + `EXPLAIN EXECUTE stmt(NULL, …)`
//! inside a transaction that is rolled back. Nothing is ever executed.

use tokio_postgres::{Client, SimpleQueryMessage};

use super::candidates::Candidate;
use super::catalog::Catalog;
use super::names::RelName;
use super::source::split_sql;

/// Name of the prepared statement used on servers older than 16.
pub const STMT: &str = "dbload_whatif";
/// Name of the index `--verify-build` builds (and rolls back).
const BUILD_NAME: &str = "dbload_verify_build";
/// Lock wait allowed to a verify build (it takes a SHARE lock on the table).
pub const BUILD_LOCK_TIMEOUT: &str = "2s";
/// Longest a verify build (and its EXPLAIN) may run.
pub const BUILD_TIMEOUT: &str = "60s";

/// A plan: its total cost and the JSON text (to look for index names).
#[derive(Debug, Clone)]
pub struct Plan {
    pub cost: f64,
    pub json: String,
}

impl Plan {
    /// Whether a node of the plan scans the index named `name`: compared
    /// with the nodes' "Index Name", not searched in the JSON text, where a
    /// `"` in the name is escaped.
    pub fn uses_index(&self, name: &str) -> bool {
        fn walk(node: &serde_json::Value, name: &str) -> bool {
            node.get("Index Name").and_then(|n| n.as_str()) == Some(name)
                || node
                    .get("Plans")
                    .and_then(|p| p.as_array())
                    .is_some_and(|children| children.iter().any(|c| walk(c, name)))
        }
        let tree: serde_json::Value = serde_json::from_str(&self.json).unwrap_or_default();
        tree.as_array()
            .into_iter()
            .flatten()
            .filter_map(|root| root.get("Plan"))
            .any(|p| walk(p, name))
    }
}

/// Explain `sql` (with `params` `$n` placeholders) as a generic plan.
/// Errors carry the server's message. The text must be one statement: it is
/// sent with the extended protocol (which refuses several), or, for
/// `GENERIC_PLAN`, only after the splitter found exactly one.
pub async fn explain(
    c: &Client,
    sql: &str,
    params: usize,
    server_version: i32,
) -> Result<Plan, String> {
    explain_impl(c, sql, params, server_version, false).await
}

/// [`explain`] inside a transaction the caller opened (and rolls back):
/// no BEGIN/ROLLBACK of its own. On servers older than 16 the caller must
/// `DEALLOCATE` [`STMT`] after its rollback, as PREPARE is not transactional.
pub async fn explain_in_tx(
    c: &Client,
    sql: &str,
    params: usize,
    server_version: i32,
) -> Result<Plan, String> {
    explain_impl(c, sql, params, server_version, true).await
}

async fn explain_impl(
    c: &Client,
    sql: &str,
    params: usize,
    server_version: i32,
    in_tx: bool,
) -> Result<Plan, String> {
    if split_sql(sql, "").len() != 1 {
        return Err("the text holds more than one statement".into());
    }
    let v: serde_json::Value = if params == 0 {
        json_row(c, &format!("EXPLAIN (FORMAT JSON) {sql}")).await?
    } else if server_version >= 160000 {
        let text = simple_text(c, &format!("EXPLAIN (GENERIC_PLAN, FORMAT JSON) {sql}")).await?;
        serde_json::from_str(&text).map_err(|e| format!("unreadable EXPLAIN output: {e}"))?
    } else {
        let nulls = vec!["NULL"; params].join(", ");
        let r = async {
            c.batch_execute(if in_tx {
                "SET LOCAL plan_cache_mode = force_generic_plan"
            } else {
                "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"
            })
            .await
            .map_err(server_message)?;
            c.execute(&format!("PREPARE {STMT} AS {sql}"), &[])
                .await
                .map_err(server_message)?;
            json_row(c, &format!("EXPLAIN (FORMAT JSON) EXECUTE {STMT}({nulls})")).await
        }
        .await;
        // PREPARE is not transactional: deallocate whatever happened.
        if !in_tx {
            let _ = c.batch_execute("ROLLBACK").await;
        }
        let _ = c.batch_execute(&format!("DEALLOCATE {STMT}")).await;
        r?
    };
    let cost = v[0]["Plan"]["Total Cost"]
        .as_f64()
        .ok_or_else(|| "EXPLAIN output without a total cost".to_string())?;
    Ok(Plan {
        cost,
        json: v.to_string(),
    })
}

/// The single json value an `EXPLAIN (FORMAT JSON)` returns (extended protocol).
async fn json_row(c: &Client, sql: &str) -> Result<serde_json::Value, String> {
    let rows = c.query(sql, &[]).await.map_err(server_message)?;
    rows.first()
        .and_then(|r| r.try_get::<_, serde_json::Value>(0).ok())
        .ok_or_else(|| "EXPLAIN returned no plan".to_string())
}

async fn simple_text(c: &Client, sql: &str) -> Result<String, String> {
    let msgs = c.simple_query(sql).await.map_err(server_message)?;
    let mut out = String::new();
    for m in msgs {
        if let SimpleQueryMessage::Row(r) = m {
            out.push_str(r.get(0).unwrap_or_default());
            out.push('\n');
        }
    }
    Ok(out)
}

/// The server's message for an error (with SQLSTATE), else the error text.
pub fn server_message(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A hypothetical index that exists in this session.
pub struct Hypo {
    pub oid: u32,
    pub name: String,
}

/// Create a hypothetical index for `cand` on `table`.
pub async fn create_hypo(c: &Client, cand: &Candidate, table: &RelName) -> Result<Hypo, String> {
    let row = c
        .query_one(
            "SELECT indexrelid::oid, indexname::text FROM hypopg_create_index($1)",
            &[&cand.hypo_ddl(table)],
        )
        .await
        .map_err(server_message)?;
    Ok(Hypo {
        oid: row.get(0),
        name: row.get(1),
    })
}

/// HypoPG's size estimate of `cand` (created, measured, dropped).
pub async fn hypo_size(c: &Client, cand: &Candidate) -> Option<i64> {
    let h = create_hypo(c, cand, &cand.table).await.ok()?;
    let size = c
        .query_one("SELECT hypopg_relation_size($1)::int8", &[&h.oid])
        .await
        .ok()
        .map(|r| r.get::<_, i64>(0));
    drop_hypo(c, &h).await;
    size
}

/// Drop one hypothetical index.
pub async fn drop_hypo(c: &Client, h: &Hypo) {
    let _ = c.execute("SELECT hypopg_drop_index($1)", &[&h.oid]).await;
}

/// Drop every hypothetical index of this session (between batches).
pub async fn reset(c: &Client) {
    let _ = c.batch_execute("SELECT hypopg_reset()").await;
}

/// The result of trying one candidate on one statement.
#[derive(Debug, Clone)]
pub struct Trial {
    pub candidate: Candidate,
    pub cost_after: f64,
    /// The planner chose the hypothetical index.
    pub used: bool,
}

/// Try each candidate alone on a statement: create it, explain, drop it.
pub async fn try_candidates(
    c: &Client,
    cat: &Catalog,
    sql: &str,
    params: usize,
    cands: &[Candidate],
) -> Result<Vec<Trial>, String> {
    let mut out = Vec::new();
    for cand in cands {
        let h = create_hypo(c, cand, &cand.table).await?;
        let plan = explain(c, sql, params, cat.server_version).await;
        drop_hypo(c, &h).await;
        let plan = plan?;
        out.push(Trial {
            candidate: cand.clone(),
            cost_after: plan.cost,
            used: plan.uses_index(&h.name),
        });
    }
    Ok(out)
}

/// Verify a candidate HypoPG cannot simulate (GIN) by building it for real
/// inside a transaction that is rolled back, with `extensions` created in
/// the same transaction (rolled back too), and explaining `sql` with it.
/// `CREATE INDEX` (not concurrently) holds a SHARE lock on the table until
/// the rollback: reads go on, writes wait (bounded by [`BUILD_TIMEOUT`]).
/// Returns the trial, the build time in milliseconds and the index size.
pub async fn build_trial(
    c: &Client,
    cat: &Catalog,
    sql: &str,
    params: usize,
    cand: &Candidate,
    extensions: &[&str],
) -> Result<(Trial, u128, Option<i64>), String> {
    let started = std::time::Instant::now();
    let r = async {
        c.batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{BUILD_LOCK_TIMEOUT}'; \
             SET LOCAL statement_timeout = '{BUILD_TIMEOUT}'"
        ))
        .await
        .map_err(server_message)?;
        for e in extensions {
            c.batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {e}"))
                .await
                .map_err(server_message)?;
        }
        let ddl = cand.hypo_ddl(&cand.table).replacen(
            "CREATE INDEX ON",
            &format!("CREATE INDEX {BUILD_NAME} ON"),
            1,
        );
        c.batch_execute(&ddl).await.map_err(server_message)?;
        let built = started.elapsed().as_millis();
        let size = c
            .query_one(
                &format!(
                    "SELECT pg_relation_size(oid) FROM pg_class WHERE relname = '{BUILD_NAME}'"
                ),
                &[],
            )
            .await
            .ok()
            .map(|r| r.get::<_, i64>(0));
        explain_in_tx(c, sql, params, cat.server_version)
            .await
            .map(|p| (p, built, size))
    }
    .await;
    let _ = c.batch_execute("ROLLBACK").await;
    if cat.server_version < 160000 {
        let _ = c.batch_execute(&format!("DEALLOCATE {STMT}")).await;
    }
    let (plan, built, size) = r?;
    Ok((
        Trial {
            candidate: cand.clone(),
            cost_after: plan.cost,
            used: plan.json.contains(BUILD_NAME),
        },
        built,
        size,
    ))
}
