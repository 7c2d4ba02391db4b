//! `dbload_datasets`: what dbload created, and the dataset fingerprint that
//! stress and regress reports embed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

/// One `dbload seed` run, as recorded in `dbload_datasets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Row id in `dbload_datasets`.
    pub id: i64,
    /// The `--seed` the data was generated from.
    pub seed: i64,
    /// The `--scale` (1.0 = 10,000 clinics, 100,000 users, 1,000,000 pets).
    pub scale: f64,
    /// Version of the dbload binary that seeded.
    pub dbload_version: String,
    /// Schema version (latest migration) at seed time.
    pub schema_version: i32,
    /// Rows per table, e.g. `{"clinics": 10000, …}`.
    pub row_counts: BTreeMap<String, i64>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished (None while running or if it failed).
    pub finished_at: Option<DateTime<Utc>>,
    /// True once every table was loaded, constrained and analyzed.
    pub complete: bool,
}

const COLUMNS: &str = "id, seed, scale, dbload_version, schema_version, row_counts, started_at, finished_at, complete";

fn from_row(r: &tokio_postgres::Row) -> Result<DatasetInfo, tokio_postgres::Error> {
    let counts: serde_json::Value = r.try_get(5)?;
    let row_counts = counts
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(DatasetInfo {
        id: r.try_get(0)?,
        seed: r.try_get(1)?,
        scale: r.try_get(2)?,
        dbload_version: r.try_get(3)?,
        schema_version: r.try_get(4)?,
        row_counts,
        started_at: r.try_get(6)?,
        finished_at: r.try_get(7)?,
        complete: r.try_get(8)?,
    })
}

/// The dataset fingerprint: the latest `dbload_datasets` row, provided it is
/// complete. `None` when the database was never seeded by dbload, or when
/// the latest seed is still running or failed (its data is not a dataset).
pub async fn fingerprint(client: &Client) -> Result<Option<DatasetInfo>, tokio_postgres::Error> {
    Ok(latest(client).await?.filter(|d| d.complete))
}

/// [`fingerprint`] as JSON, for embedding in results files; a read error
/// is logged and gives `None` (a report is still worth writing without it).
pub async fn fingerprint_json(client: &Client) -> Option<serde_json::Value> {
    match fingerprint(client).await {
        Ok(d) => d.and_then(|d| serde_json::to_value(d).ok()),
        Err(e) => {
            tracing::warn!("could not read the dataset fingerprint (dbload_datasets): {e}");
            None
        }
    }
}

/// The latest `dbload_datasets` row, complete or not.
pub async fn latest(client: &Client) -> Result<Option<DatasetInfo>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('dbload_datasets') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM dbload_datasets ORDER BY id DESC LIMIT 1"),
            &[],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Record the start of a run (complete = false); returns its id.
pub(crate) async fn start(
    client: &Client,
    seed: i64,
    scale: f64,
    schema_version: i32,
    planned: &BTreeMap<String, i64>,
) -> Result<i64, tokio_postgres::Error> {
    let counts = serde_json::to_value(planned).expect("counts serialize");
    Ok(client
        .query_one(
            "INSERT INTO dbload_datasets (seed, scale, dbload_version, schema_version, row_counts)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &seed,
                &scale,
                &env!("CARGO_PKG_VERSION"),
                &schema_version,
                &counts,
            ],
        )
        .await?
        .get(0))
}

/// Mark run `id` complete with the loaded row counts.
pub(crate) async fn finish(
    client: &Client,
    id: i64,
    counts: &BTreeMap<String, i64>,
) -> Result<(), tokio_postgres::Error> {
    let counts = serde_json::to_value(counts).expect("counts serialize");
    client
        .execute(
            "UPDATE dbload_datasets SET row_counts = $2, finished_at = clock_timestamp(), complete = true
             WHERE id = $1",
            &[&id, &counts],
        )
        .await?;
    Ok(())
}
