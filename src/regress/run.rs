//! Run one run of a suite through the stress engine's one entry, as
//! `dbload stress` would: a [`Session`] checks the workload against the
//! database and snapshots the server (version, settings, dataset
//! fingerprint, `pg_stat_statements`), then runs the suite's config on the
//! asked driver threads and returns the `dbload.stress/1` results with the
//! run's thresholds checked.

use super::suite::RunSpec;
use crate::db::Target;
use std::sync::Arc;

use crate::stress::{Hooks, IntervalHook, Observer, Session, StressResults};

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

/// Run `spec` against `target` on `threads` driver threads (None: the
/// engine's default), watched by `observer` (live metrics) if any. `stop`
/// ends the run early (a stop signal): the results are
/// then marked interrupted (an invalid run).
pub async fn run_one(
    target: &Target,
    spec: &RunSpec,
    threads: Option<usize>,
    observer: Option<Arc<dyn Observer>>,
    stop: tokio::sync::watch::Receiver<bool>,
    on_interval: Option<IntervalHook>,
) -> Result<StressResults, RunError> {
    let name = spec.name.as_str();
    let mut session = Session::open(target, spec.workload.clone())
        .await
        .map_err(|e| setup(name, e))?
        .with_threads(threads)
        .map_err(|e| setup(name, e.as_flag()))?;
    if let Some(o) = observer {
        session = session.with_observer(o);
    }
    session
        .run(&spec.config, &spec.thresholds, Hooks { on_interval, stop })
        .await
        .map_err(|e| setup(name, e))
}
