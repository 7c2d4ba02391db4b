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
//! threading and the same invariants. A worker of a segmented run
//! ([`Session::with_plan`]) runs its share of each configuration from the
//! agreed start and records its place (`segment`) in the results, whose
//! `config` stays the whole run's.

use std::sync::Arc;

use tokio_postgres::Client;

use super::clock;
use super::collector::Hooks;
use super::config::{self, ConfigError, StressConfig};
use super::driver::{self, Gate, Placement};
use super::observer::Observer;
use super::outcome::StressError;
use super::rendezvous::{self, Meeting};
use super::results::{SegmentInfo, StressResults};
use super::segment::Plan;
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
    /// This process's place in a segmented run.
    plan: Option<Plan>,
    /// Agree the start with the run's other workers (once the connections
    /// are open, before each run).
    meeting: Option<Meeting>,
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
            plan: None,
            meeting: None,
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

    /// Run every configuration as worker `plan.segment` of a segmented
    /// run, from `plan.start_at` (server time) when given.
    pub fn with_plan(mut self, plan: Plan) -> Session {
        self.plan = Some(plan);
        self
    }

    /// Before each run, once its connections are open and prepared, meet
    /// the run's other workers in the target database and start at the
    /// instant agreed there ([`rendezvous::meet`]).
    pub fn with_meeting(mut self, meeting: Meeting) -> Session {
        self.meeting = Some(meeting);
        self
    }

    /// This worker's place in a segmented run, if it is one.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// This machine's clock against the server's (see [`clock::measure`]).
    pub async fn clock_offset(&self) -> Result<clock::Offset, tokio_postgres::Error> {
        clock::measure(&*self.admin().await).await
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
        let whole = cfg;
        let segment = self.plan.as_ref().map(|p| p.segment);
        // A worker runs its share, by the one rule (`for_segment`).
        let local = segment.map(|s| whole.for_segment(s));
        let cfg = local.as_ref().unwrap_or(whole);
        let offset = self
            .plan
            .as_ref()
            .and_then(|p| p.clock_offset_us)
            .unwrap_or(0.0);
        let agreed = Arc::new(std::sync::Mutex::new(None));
        let place = Placement {
            segment,
            start_at: self
                .plan
                .as_ref()
                .and_then(|p| p.start_at.map(|at| clock::local_instant(at, offset))),
            gate: self.meeting.clone().map(|m| {
                let (target, agreed) = (self.target.clone(), agreed.clone());
                Box::new(move |stop: tokio::sync::watch::Receiver<bool>| {
                    let met: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
                        Box::pin(async move {
                            let fail = |e: String| StressError::Rendezvous(e);
                            let mut c = crate::db::connect(&target)
                                .await
                                .map_err(|e| fail(format!("rendezvous on {target}: {e}")))?;
                            let at =
                                rendezvous::meet(&mut c, &m, stop)
                                    .await
                                    .map_err(|e| match e {
                                        rendezvous::Error::Interrupted => StressError::Interrupted,
                                        e => fail(e.to_string()),
                                    })?;
                            *agreed.lock().unwrap() = Some(at);
                            Ok(clock::local_instant(at, offset))
                        });
                    met
                }) as Gate
            }),
        };
        let sizes = super::shard_sizes(cfg.pool, self.threads_for(cfg), cfg.load.workers());
        // The open model's connections read replies on the timer's grid.
        let open = matches!(cfg.load, super::Load::Open { .. });
        let pools = sizes
            .iter()
            .map(|n| match open {
                true => super::connect::pool(&self.target, *n),
                false => crate::db::pool(&self.target, *n),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StressError::Pool(e.to_string()))?;
        // (Separate statements: each takes the admin connection in turn.)
        let before = server::pgss_snapshot(&*self.admin().await).await;
        let started = self.server_started().await;
        let cpu = crate::sys::process_cpu_secs();
        let out = driver::run(
            pools,
            self.prepared.clone(),
            cfg,
            place,
            hooks,
            self.observer.clone(),
        )
        .await?;
        let cpu = cpu.zip(crate::sys::process_cpu_secs()).map(|(a, b)| b - a);
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
        if let (Some(p), Some(seg)) = (&self.plan, segment) {
            // The worker's own target (its share), the whole run's config.
            if let Some(share) = whole.share_rate(seg) {
                r.totals.target_rate =
                    Some(share.mean_rate((whole.warmup + whole.duration).as_secs_f64()));
            }
            r.config = whole.clone();
            r.segment = Some(SegmentInfo {
                index: seg.index,
                count: seg.count,
                run_id: p.run_id.clone(),
                start_at: p.start_at.or(*agreed.lock().unwrap()),
                clock_offset_us: p.clock_offset_us,
                driver_cpu_secs: cpu,
            });
        }
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
