//! `--metrics-listen ADDR` and `--metrics-linger DUR` of `stress` (every
//! mode) and `regress`: the session's live metrics served on `/metrics`
//! while the runs go on, the server's `pg_stat_database` counters read once
//! a second beside them, and the endpoint kept up for the linger after the
//! end so the last scrape lands (Ctrl-C cuts the linger short).

use std::sync::Arc;
use std::time::Duration;

use crate::db::Target;
use crate::metrics::{Endpoint, LiveMetrics, StageWindows};

/// How long the endpoint stays up after the run when not told.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// Live metrics being served.
pub struct Live {
    pub metrics: Arc<LiveMetrics>,
    endpoint: Endpoint,
    linger: Duration,
    poller: tokio::task::JoinHandle<()>,
}

/// What the metrics describe.
pub struct RunInfo<'a> {
    pub workload: &'a str,
    pub mode: &'a str,
    pub stages: StageWindows,
}

/// Start serving when `listen` is given (before any load is sent).
pub async fn start(
    listen: Option<&str>,
    linger: Option<Duration>,
    target: &Target,
    info: RunInfo<'_>,
) -> anyhow::Result<Option<Live>> {
    let Some(addr) = listen else {
        return Ok(None);
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    let metrics = Arc::new(LiveMetrics::new(
        &run_id,
        info.workload,
        info.mode,
        info.stages,
    ));
    let endpoint = Endpoint::start(addr, metrics.clone())?;
    eprintln!(
        "dbload: metrics at http://{}/metrics (run_id {run_id})",
        endpoint.addr
    );
    let conn = crate::db::connect(target).await?;
    let m = metrics.clone();
    let poller = tokio::spawn(async move {
        loop {
            if let Some(c) = crate::capacity::server_context::db_counters(&conn).await {
                m.server_counters(c);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(Some(Live {
        metrics,
        endpoint,
        linger: linger.unwrap_or(DEFAULT_LINGER),
        poller,
    }))
}

impl Live {
    /// Keep serving for the linger (Ctrl-C ends it early), then stop.
    pub async fn finish(self) {
        if !self.linger.is_zero() {
            eprintln!(
                "dbload: metrics stay at http://{}/metrics for {:?}",
                self.endpoint.addr, self.linger
            );
            tokio::select! {
                _ = tokio::time::sleep(self.linger) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        self.poller.abort();
        drop(self.endpoint);
    }
}
