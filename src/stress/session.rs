//! The one way into the stress engine. [`Session::open`] checks a workload
//! against the target (every statement prepares, every sample returns
//! rows) and describes the server (version, settings, dataset fingerprint,
//! `pg_stat_statements` at the start). [`Session::run`] then runs any
//! number of validated [`StressConfig`]s, one after another: each gets
//! fresh pools split over its own driver threads (`--threads`, or the
//! default for its model), and comes back as finished [`StressResults`]
//! with that run's server-side statement deltas and its thresholds
//! checked. A plain run, stages, searches, sweeps, capacity steps and a
//! nightly suite's runs all go through here, so all honour the same
//! threading and the same invariants.

use std::sync::Arc;

use tokio_postgres::Client;

use super::collector::Hooks;
use super::config::{self, ConfigError, StressConfig};
use super::driver;
use super::observer::Observer;
use super::outcome::StressError;
use super::results::StressResults;
use super::server::{self, PgssSnapshot, ServerInfo, ServerStatement};
use super::summary;
use super::threshold::{self, Threshold};
use crate::db::{ConnectError, Target};
use crate::workload::{Prepared, Workload};

/// Statements kept in a run's server-side view (top by execution time).
const TOP_STATEMENTS: usize = 10;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("workload {path} does not fit {target}: {message}")]
    Workload {
        path: String,
        target: String,
        message: String,
    },
    #[error("reading the server's version and settings on {target}: {message}")]
    Server { target: String, message: String },
}

/// A workload checked against a target, ready to run configurations.
pub struct Session {
    target: Target,
    prepared: Arc<Prepared>,
    /// A connection outside the run's pools, for the server-side views
    /// (opened again when the server dropped it).
    admin: tokio::sync::Mutex<Client>,
    server: ServerInfo,
    dataset: Option<serde_json::Value>,
    /// `pg_stat_statements` when the session opened.
    opened: Option<PgssSnapshot>,
    /// Driver threads asked for (None: the default of each run's model).
    threads: Option<usize>,
    /// Sees every run's intervals (live metrics).
    observer: Option<Arc<dyn Observer>>,
}

impl Session {
    /// Check `workload` against `target` and describe the server.
    pub async fn open(target: &Target, workload: Workload) -> Result<Session, SessionError> {
        let admin = crate::db::connect(target).await?;
        let path = workload.path.clone();
        let prepared = crate::workload::prepare(&admin, workload)
            .await
            .map_err(|e| SessionError::Workload {
                path,
                target: target.to_string(),
                message: e.to_string(),
            })?;
        let server = server::server_info(&admin)
            .await
            .map_err(|e| SessionError::Server {
                target: target.to_string(),
                message: e.to_string(),
            })?;
        let dataset = crate::seed::fingerprint_json(&admin).await;
        let opened = server::pgss_snapshot(&admin).await;
        Ok(Session {
            target: target.clone(),
            prepared: Arc::new(prepared),
            admin: tokio::sync::Mutex::new(admin),
            server,
            dataset,
            opened,
            threads: None,
            observer: None,
        })
    }

    /// Run on `threads` driver threads (None: the default of each run's
    /// model, see [`config::default_threads`]).
    pub fn with_threads(mut self, threads: Option<usize>) -> Result<Session, ConfigError> {
        self.threads = threads.map(config::check_threads).transpose()?;
        Ok(self)
    }

    /// Let `observer` watch every run of this session (as well as the
    /// observers given before).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Session {
        self.observer = Some(match self.observer.take() {
            Some(before) => Arc::new(super::observer::Both(before, observer)),
            None => observer,
        });
        self
    }

    /// Driver threads a run of `cfg` gets.
    pub fn threads_for(&self, cfg: &StressConfig) -> usize {
        self.threads
            .unwrap_or_else(|| config::default_threads(&cfg.load))
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The workload as checked against the target, with its start-up data.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// A connection outside the runs' pools (for server-side views),
    /// opened again first if the server dropped it (a restart, a
    /// terminated backend). Do not hold it across [`Session::run`].
    pub async fn admin(&self) -> tokio::sync::MutexGuard<'_, Client> {
        let mut c = self.admin.lock().await;
        if c.is_closed()
            && let Ok(fresh) = crate::db::connect(&self.target).await
        {
            *c = fresh;
        }
        c
    }

    /// When the server last started (None: not readable).
    async fn server_started(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let c = self.admin().await;
        c.query_one("SELECT pg_postmaster_start_time()", &[])
            .await
            .ok()
            .map(|r| r.get(0))
    }

    /// Run `cfg` to its end (or until `hooks.stop`): finished results with
    /// the server described, this run's top statements, `thresholds` checked.
    pub async fn run(
        &self,
        cfg: &StressConfig,
        thresholds: &[Threshold],
        hooks: Hooks,
    ) -> Result<StressResults, StressError> {
        let sizes = super::shard_sizes(cfg.pool, self.threads_for(cfg), cfg.load.workers());
        let pools = sizes
            .iter()
            .map(|n| crate::db::pool(&self.target, *n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StressError::Pool(e.to_string()))?;
        // (Separate statements: each takes the admin connection in turn.)
        let before = server::pgss_snapshot(&*self.admin().await).await;
        let started = self.server_started().await;
        let out = driver::run(
            pools,
            self.prepared.clone(),
            cfg,
            hooks,
            self.observer.clone(),
        )
        .await?;
        let top = self.statements_since(before.as_ref()).await;
        let restarted = match (started, self.server_started().await) {
            (Some(a), Some(b)) => a != b,
            (Some(_), None) => true,
            _ => false,
        };
        let mut r = summary::build(
            &self.prepared.workload,
            cfg,
            &out,
            self.server.clone(),
            self.dataset.clone(),
            top,
        );
        if restarted {
            r.server_statements_note = Some(
                "the server restarted during the run: pg_stat_statements may have been reset, \
                 so the server-side view covers only part of the run"
                    .into(),
            );
        } else if before.is_none() && r.server_statements.is_none() {
            r.server_statements_note =
                Some("pg_stat_statements is not available in this database".into());
        }
        summary::error_budget(&mut r, thresholds);
        threshold::apply(thresholds, &mut r);
        Ok(r)
    }

    /// The top statements by server time since the session opened (for a
    /// mode of several runs); None without `pg_stat_statements`.
    pub async fn statements_since_open(&self) -> Option<Vec<ServerStatement>> {
        self.statements_since(self.opened.as_ref()).await
    }

    async fn statements_since(
        &self,
        before: Option<&PgssSnapshot>,
    ) -> Option<Vec<ServerStatement>> {
        let after = server::pgss_snapshot(&*self.admin().await).await?;
        Some(server::pgss_delta(before?, &after, TOP_STATEMENTS))
    }
}
