//! Reads that must never write: start-up queries whose text comes from a
//! user's file (workload `@sample`s) or that only look (the dataset model)
//! run in a `READ ONLY` transaction that is always rolled back, so a
//! data-modifying statement fails with SQLSTATE 25006 instead of changing
//! anything, and nothing a function call does survives. Both carry
//! [`super::OWN_QUERY_MARK`], like every query dbload sends for itself.

use tokio_postgres::{Client, Error};

/// Run `f` inside `BEGIN READ ONLY … ROLLBACK` on `client` (which must not
/// already be in a transaction). The rollback is sent whatever `f` returns;
/// its own failure (a dead connection) is left to the next query to report.
pub async fn read_only<T>(
    client: &Client,
    f: impl AsyncFnOnce(&Client) -> Result<T, Error>,
) -> Result<T, Error> {
    client
        .batch_execute("/* dbload */ BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let out = f(client).await;
    let _ = client.batch_execute("/* dbload */ ROLLBACK").await;
    out
}
