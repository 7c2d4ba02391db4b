//! `--metrics-listen ADDR`, `--metrics-linger DUR` and `--pushgateway URL`
//! of `stress` (every mode) and `regress`: the session's live metrics
//! served on `/metrics` while the runs go on, the server's
//! `pg_stat_database` counters read once a second beside them, the endpoint
//! kept up for the linger after the end so the last scrape lands (a stop
//! signal cuts it short), and the final figures pushed to a Pushgateway.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::MetricsArgs;
use crate::db::Target;
use crate::metrics::{Endpoint, LiveMetrics, StageWindows, push};
use crate::stress::Observer;

/// How long the endpoint stays up after the run when not told.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// Live metrics being kept (and served, when asked).
pub struct Live {
    pub metrics: Arc<LiveMetrics>,
    run_id: String,
    endpoint: Option<Endpoint>,
    linger: Duration,
    pushgateway: Option<String>,
    poller: tokio::task::JoinHandle<()>,
}

/// What the metrics describe.
pub struct RunInfo<'a> {
    pub workload: &'a str,
    pub mode: &'a str,
    pub stages: StageWindows,
}

/// Check the flags before anything connects: the Pushgateway URL, the
/// listen address's form.
pub fn check(args: &MetricsArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.pushgateway {
        push::check_url(url)?;
    }
    if let Some(addr) = &args.metrics_listen
        && addr.parse::<std::net::SocketAddr>().is_err()
    {
        anyhow::bail!(
            "--metrics-listen {addr}: expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"
        );
    }
    Ok(())
}

/// Start keeping metrics when the flags ask for them (before any load is
/// sent, so a bad address or URL costs nothing).
pub async fn start(
    args: &MetricsArgs,
    target: &Target,
    info: RunInfo<'_>,
) -> anyhow::Result<Option<Live>> {
    if args.metrics_listen.is_none() && args.pushgateway.is_none() {
        return Ok(None);
    }
    check(args)?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let metrics = Arc::new(LiveMetrics::new(
        &run_id,
        info.workload,
        info.mode,
        info.stages,
    ));
    let endpoint = match &args.metrics_listen {
        Some(addr) => {
            let e = Endpoint::start(addr, metrics.clone())?;
            super::say::note(format_args!(
                "dbload: metrics at http://{}/metrics (run_id {run_id})",
                e.addr
            ));
            Some(e)
        }
        None => None,
    };
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
        run_id,
        endpoint,
        linger: args.metrics_linger.unwrap_or(DEFAULT_LINGER),
        pushgateway: args.pushgateway.clone(),
        poller,
    }))
}

/// Start keeping metrics for the runs of `session` (a stress mode): the
/// session comes back watched by them when the flags ask for metrics.
pub async fn watch(
    args: &MetricsArgs,
    session: crate::stress::Session,
    mode: &str,
    stages: StageWindows,
) -> anyhow::Result<(crate::stress::Session, Option<Live>)> {
    let info = RunInfo {
        workload: &session.prepared().workload.name,
        mode,
        stages,
    };
    let live = start(args, session.target(), info).await?;
    Ok(match &live {
        Some(l) => (session.with_observer(l.observer()), live),
        None => (session, live),
    })
}

impl Live {
    /// What the session's runs report to.
    pub fn observer(&self) -> Arc<dyn Observer> {
        self.metrics.clone()
    }

    /// Push the final figures (when asked), keep serving for the linger
    /// (a stop signal ends it early), then stop.
    pub async fn finish(self) {
        self.poller.abort();
        if let Some(url) = self.pushgateway.clone() {
            let text = crate::metrics::text::from_openmetrics(&self.metrics.encode());
            let run_id = self.run_id.clone();
            let pushed =
                tokio::task::spawn_blocking(move || push::push(&url, &run_id, &text)).await;
            match pushed {
                Ok(Ok(())) => super::say::note(format_args!(
                    "dbload: pushed the final metrics to {}",
                    push::endpoint(self.pushgateway.as_deref().unwrap_or(""), &self.run_id)
                )),
                Ok(Err(e)) => eprintln!("dbload: the metrics were not pushed: {e}"),
                Err(e) => eprintln!("dbload: the metrics were not pushed: {e}"),
            }
        }
        if let Some(endpoint) = self.endpoint {
            // A stop signal (already received, or during the linger) ends it.
            let stop = super::signals::stop_flag("ending the metrics linger");
            if let Ok(mut stop) = stop
                && !self.linger.is_zero()
                && !*stop.borrow()
            {
                super::say::note(format_args!(
                    "dbload: metrics stay at http://{}/metrics for {:?}",
                    endpoint.addr, self.linger
                ));
                tokio::select! {
                    _ = tokio::time::sleep(self.linger) => {}
                    _ = stop.wait_for(|v| *v) => {}
                }
            }
            drop(endpoint);
        }
    }
}
