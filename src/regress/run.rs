//! Run one run of a suite through the stress engine, as `dbload stress`
//! would: check the workload against the database, snapshot the server
//! (version, settings, dataset fingerprint, `pg_stat_statements`), run,
//! build the `dbload.stress/1` results and check the run's thresholds.

use std::sync::Arc;

use super::suite::RunSpec;
use crate::db::Target;
use crate::stress::{self, Hooks, IntervalHook, StressResults, server, threshold};

/// Why a run could not be made (a usage, input or connection problem).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("run {run:?}: {message}")]
    Setup { run: String, message: String },
}

fn setup(run: &str, e: impl std::fmt::Display) -> RunError {
    RunError::Setup {
        run: run.to_string(),
        message: e.to_string(),
    }
}

/// The dataset fingerprint of the target (None when not a dbload dataset).
pub async fn dataset_of(target: &Target) -> Result<Option<serde_json::Value>, RunError> {
    let c = crate::db::connect(target)
        .await
        .map_err(|e| setup("(fingerprint)", e))?;
    Ok(crate::seed::fingerprint_json(&c).await)
}

/// Run `spec` against `target` on the current runtime. `stop` ends the run
/// early (Ctrl-C): the results are then marked interrupted (an invalid run).
pub async fn run_one(
    target: &Target,
    spec: &RunSpec,
    stop: tokio::sync::watch::Receiver<bool>,
    on_interval: Option<IntervalHook>,
) -> Result<StressResults, RunError> {
    let name = spec.name.as_str();
    let admin = crate::db::connect(target)
        .await
        .map_err(|e| setup(name, e))?;
    let prepared = Arc::new(
        crate::workload::prepare(&admin, spec.workload.clone())
            .await
            .map_err(|e| {
                setup(
                    name,
                    format!("workload {} does not fit {target}: {e}", spec.workload.path),
                )
            })?,
    );
    let server_info = server::server_info(&admin)
        .await
        .map_err(|e| setup(name, e))?;
    let dataset = crate::seed::fingerprint_json(&admin).await;
    let before = server::pgss_snapshot(&admin).await;
    let pool = crate::db::pool(target, spec.config.pool).map_err(|e| setup(name, e))?;
    crate::db::connect::check_pool(target, &pool)
        .await
        .map_err(|e| setup(name, e))?;
    let outcome = stress::run(
        pool,
        prepared.clone(),
        &spec.config,
        Hooks { on_interval, stop },
    )
    .await
    .map_err(|e| setup(name, e))?;
    let after = server::pgss_snapshot(&admin).await;
    let top = match (&before, &after) {
        (Some(b), Some(a)) => Some(server::pgss_delta(b, a, 10)),
        _ => None,
    };
    let mut results = stress::results::build(
        &prepared.workload,
        &spec.config,
        &outcome,
        server_info,
        dataset,
        top,
    );
    threshold::apply(&spec.thresholds, &mut results);
    Ok(results)
}
