//! Executing one scenario on one pooled connection: draw its parameters,
//! run its statements (prepared once per connection through the pool's
//! statement cache), bind result columns to variables, wrap it in a
//! transaction when asked. Buffers live in the worker's [`WorkerCtx`].

use std::time::Instant;

use futures_util::{TryStreamExt, pin_mut};
use rand::rngs::SmallRng;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::connect::Wire;
use super::stats::ErrorClass;
use crate::workload::model::RunData;
use crate::workload::value::{self, Value};
use crate::workload::{Prepared, Scenario};

/// A worker's reusable state: RNG, variable slots, statement timings.
pub struct WorkerCtx {
    pub rng: SmallRng,
    pub slots: Vec<Value>,
    /// Execution time of each statement of the last scenario, µs.
    pub stmt_us: Vec<u64>,
    /// Statements of the last scenario that completed (`stmt_us[..ran]`).
    pub ran: usize,
    /// The last scenario may have left its connection inside a transaction
    /// (its ROLLBACK failed): the caller must discard the connection
    /// ([`discard`]) rather than return it to the pool.
    pub discard: bool,
    /// When the last scenario's last reply reached the machine (or it
    /// failed): the end of its execution.
    pub finished: Instant,
    /// Statements a connection's cache holds once all of the workload's are
    /// prepared (as the pool's warm-up leaves them).
    statements: usize,
}

impl WorkerCtx {
    pub fn new(rng: SmallRng, prepared: &Prepared) -> Self {
        let w = &prepared.workload;
        let max_stmts = w
            .scenarios
            .iter()
            .map(|s| s.statements.len())
            .max()
            .unwrap_or(0);
        WorkerCtx {
            rng,
            slots: vec![Value::Null; w.max_slots.max(1)],
            stmt_us: vec![0; max_stmts],
            ran: 0,
            discard: false,
            finished: Instant::now(),
            statements: {
                let mut sql: Vec<&str> = w
                    .scenarios
                    .iter()
                    .flat_map(|s| s.statements.iter().map(|st| st.sql.as_str()))
                    .collect();
                sql.sort_unstable();
                sql.dedup();
                sql.len()
                    + if w.scenarios.iter().any(|s| s.transaction) {
                        3
                    } else {
                        0
                    }
            },
        }
    }
}

/// How a scenario ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A `@bind` statement returned no row; the rest was skipped.
    NoRows,
}

/// A failed scenario: which statement (None: BEGIN/COMMIT) and the class.
#[derive(Debug, Clone, Copy)]
pub struct ExecError {
    pub statement: Option<usize>,
    pub class: ErrorClass,
}

/// The error class of a driver error: SQLSTATE class, `08` for a lost
/// connection, `CL` for client-side failures.
pub fn classify(e: &tokio_postgres::Error) -> ErrorClass {
    if let Some(code) = e.code() {
        let b = code.code().as_bytes();
        if b.len() >= 2 {
            return [b[0], b[1]];
        }
    }
    if e.is_closed() {
        return *b"08";
    }
    // A refused or reset connection: an I/O error somewhere in the chain.
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return *b"08";
        }
        cause = c.source();
    }
    let s = e.to_string();
    if s.contains("connect") || s.contains("closed") || s.contains("io error") {
        *b"08"
    } else {
        *b"CL"
    }
}

/// The class of a failure to get a pooled connection: the server's SQLSTATE
/// when it refused one (e.g. 53300 too many connections), else 08.
pub fn pool_class(e: &deadpool_postgres::PoolError) -> ErrorClass {
    match e {
        deadpool_postgres::PoolError::Backend(e) => classify(e),
        _ => *b"08",
    }
}

/// Every statement of a workload prepared on one connection (closed-model
/// workers keep their connection and skip the pool's cache look-ups).
pub struct ConnStatements {
    /// `[scenario][statement]`.
    pub statements: Vec<Vec<Statement>>,
    pub begin: Statement,
    pub commit: Statement,
    pub rollback: Statement,
}

/// Prepare all statements of `prepared` on `client`.
pub async fn prepare_all(
    client: &deadpool_postgres::Client,
    prepared: &Prepared,
) -> Result<ConnStatements, tokio_postgres::Error> {
    let mut statements = Vec::new();
    for sc in &prepared.workload.scenarios {
        let mut v = Vec::new();
        for st in &sc.statements {
            v.push(client.prepare_cached(&st.sql).await?);
        }
        statements.push(v);
    }
    Ok(ConnStatements {
        statements,
        begin: client.prepare_cached("BEGIN").await?,
        commit: client.prepare_cached("COMMIT").await?,
        rollback: client.prepare_cached("ROLLBACK").await?,
    })
}

#[derive(Clone, Copy)]
enum Tx {
    Begin,
    Commit,
    Rollback,
}

async fn simple(
    client: &deadpool_postgres::Client,
    wire: &Wire,
    cached: Option<&ConnStatements>,
    tx: Tx,
) -> Result<(), tokio_postgres::Error> {
    // BEGIN's reply is waited for; COMMIT's or ROLLBACK's ends the scenario.
    wire.trip(!matches!(tx, Tx::Begin));
    let st = match (cached, tx) {
        (Some(c), Tx::Begin) => c.begin.clone(),
        (Some(c), Tx::Commit) => c.commit.clone(),
        (Some(c), Tx::Rollback) => c.rollback.clone(),
        (None, Tx::Begin) => client.prepare_cached("BEGIN").await?,
        (None, Tx::Commit) => client.prepare_cached("COMMIT").await?,
        (None, Tx::Rollback) => client.prepare_cached("ROLLBACK").await?,
    };
    client
        .execute_raw(&st, std::iter::empty::<&(dyn ToSql + Sync)>())
        .await?;
    Ok(())
}

/// Run scenario `idx` once on `client`, with its statements from `cached`
/// when given, else from the pool's per-connection statement cache.
pub async fn run_scenario(
    client: &deadpool_postgres::Client,
    prepared: &Prepared,
    idx: usize,
    ctx: &mut WorkerCtx,
    cached: Option<&ConnStatements>,
) -> Result<Outcome, ExecError> {
    let sc: &Scenario = &prepared.workload.scenarios[idx];
    let start = Instant::now();
    // On a connection that has not prepared everything yet (opened during
    // the run), a statement may first need its Parse round trip: read every
    // reply of the scenario at once.
    let wire = Wire::of(client, client.statement_cache.size() >= ctx.statements);
    let res = scenario(client, &wire, prepared, sc, idx, ctx, cached).await;
    ctx.finished = wire.arrived(start);
    res
}

async fn scenario(
    client: &deadpool_postgres::Client,
    wire: &Wire,
    prepared: &Prepared,
    sc: &Scenario,
    idx: usize,
    ctx: &mut WorkerCtx,
    cached: Option<&ConnStatements>,
) -> Result<Outcome, ExecError> {
    let data: &RunData = &prepared.data;
    ctx.discard = false;
    for p in &sc.params {
        p.generator
            .eval(&mut ctx.rng, data, &mut ctx.slots, &p.slots);
    }
    let wrap = |statement: Option<usize>| {
        move |e: tokio_postgres::Error| ExecError {
            statement,
            class: classify(&e),
        }
    };
    if sc.transaction {
        simple(client, wire, cached, Tx::Begin)
            .await
            .map_err(wrap(None))?;
    }
    let res = run_statements(client, wire, prepared, idx, ctx, cached).await;
    if sc.transaction {
        let ended = match res {
            Ok(Outcome::Done) => match simple(client, wire, cached, Tx::Commit).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    // A failed COMMIT may leave the transaction open (e.g. the
                    // COMMIT never ran): make sure it is over.
                    if simple(client, wire, cached, Tx::Rollback).await.is_err() {
                        ctx.discard = true;
                    }
                    Err(e)
                }
            },
            _ => {
                if simple(client, wire, cached, Tx::Rollback).await.is_err() {
                    ctx.discard = true;
                }
                Ok(())
            }
        };
        ended.map_err(wrap(None))?;
    }
    res
}

/// Close a pooled connection instead of returning it to the pool (which,
/// with fast recycling, would hand it out again still inside a transaction).
pub fn discard(client: deadpool_postgres::Client) {
    drop(deadpool_postgres::Object::take(client));
}

async fn run_statements(
    client: &deadpool_postgres::Client,
    wire: &Wire,
    prepared: &Prepared,
    idx: usize,
    ctx: &mut WorkerCtx,
    cached: Option<&ConnStatements>,
) -> Result<Outcome, ExecError> {
    let sc = &prepared.workload.scenarios[idx];
    ctx.ran = 0;
    for (i, st) in sc.statements.iter().enumerate() {
        let wrap = |e: tokio_postgres::Error| ExecError {
            statement: Some(i),
            class: classify(&e),
        };
        // The reply of the last statement outside a transaction ends it.
        wire.trip(!sc.transaction && i + 1 == sc.statements.len());
        let t0 = Instant::now();
        let stmt = match cached {
            Some(c) => c.statements[idx][i].clone(),
            None => client.prepare_cached(&st.sql).await.map_err(wrap)?,
        };
        let slots = &ctx.slots;
        let params = st.params.iter().map(|s| &slots[*s] as &(dyn ToSql + Sync));
        if st.binds.is_empty() {
            client.execute_raw(&stmt, params).await.map_err(wrap)?;
        } else {
            let rows = client.query_raw(&stmt, params).await.map_err(wrap)?;
            pin_mut!(rows);
            let first = rows.try_next().await.map_err(wrap)?;
            let Some(row) = first else {
                ctx.stmt_us[i] = since(wire, t0);
                ctx.ran = i + 1;
                return Ok(Outcome::NoRows);
            };
            while rows.try_next().await.map_err(wrap)?.is_some() {}
            let cols = &prepared.bind_columns[idx][i];
            for ((_, slot), col) in st.binds.iter().zip(cols) {
                ctx.slots[*slot] = value::from_row(&row, *col).map_err(wrap)?;
            }
        }
        ctx.stmt_us[i] = since(wire, t0);
        ctx.ran = i + 1;
    }
    Ok(Outcome::Done)
}

/// µs from `t0` until the reply of the request sent then arrived.
fn since(wire: &Wire, t0: Instant) -> u64 {
    wire.arrived(t0).saturating_duration_since(t0).as_micros() as u64
}
