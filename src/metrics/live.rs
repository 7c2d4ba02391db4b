//! The metrics of a running session, registered with `prometheus-client`
//! and fed once per interval by the stress engine's collector (as an
//! [`Observer`]): latency histograms and their parts per scenario and per
//! statement, counters of arrivals, completions and failures by SQLSTATE
//! class, gauges of the target rate, in-flight work, the pools and the
//! driver process, the step and stage, and the server's own
//! `pg_stat_database` counters. Every series carries the run id.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::buckets::HdrBuckets;
use crate::capacity::procstat;
use crate::capacity::server_context::DbCounters;
use crate::stress::{IntervalView, Load, Observer, StressConfig};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScenarioLabel {
    scenario: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatementLabels {
    scenario: String,
    statement: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    scenario: String,
    sqlstate_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    workload: String,
    mode: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;
type F64Counter = Counter<f64, AtomicU64>;

/// The stages of a staged run: (start, end) seconds since measuring began.
pub type StageWindows = Vec<(f64, f64)>;

/// Every metric of a session.
pub struct LiveMetrics {
    registry: Registry,
    latency: Family<ScenarioLabel, HdrBuckets>,
    lag: Family<ScenarioLabel, HdrBuckets>,
    pool_wait: Family<ScenarioLabel, HdrBuckets>,
    exec: Family<ScenarioLabel, HdrBuckets>,
    statement_exec: Family<StatementLabels, HdrBuckets>,
    completed: Family<ScenarioLabel, Counter>,
    failed: Family<FailureLabels, Counter>,
    statement_errors: Family<StatementLabels, Counter>,
    scheduled: Counter,
    started: Counter,
    dropped: Counter,
    target_rate: F64Gauge,
    clients: Gauge,
    inflight: Gauge,
    pool_max: Gauge,
    pool_open: Gauge,
    pool_in_use: Gauge,
    pool_waiting: Gauge,
    driver_cpu: F64Counter,
    driver_rss: Gauge,
    step: Gauge,
    stage: Gauge,
    intervals: Counter,
    server: [Counter; 6],
    /// Readings the counters were last brought up to.
    last: Mutex<Last>,
    stages: StageWindows,
}

#[derive(Default)]
struct Last {
    cpu_secs: f64,
    server: Option<DbCounters>,
}

impl LiveMetrics {
    /// Metrics for run `run_id` of `workload`; `stages` names the stage
    /// windows of a staged run (empty otherwise).
    pub fn new(run_id: &str, workload: &str, mode: &str, stages: StageWindows) -> LiveMetrics {
        let mut r = Registry::with_prefix_and_labels(
            "dbload",
            [("run_id".into(), run_id.to_string().into())].into_iter(),
        );
        let m = LiveMetrics {
            registry: Registry::default(),
            latency: Family::default(),
            lag: Family::default(),
            pool_wait: Family::default(),
            exec: Family::default(),
            statement_exec: Family::default(),
            completed: Family::default(),
            failed: Family::default(),
            statement_errors: Family::default(),
            scheduled: Counter::default(),
            started: Counter::default(),
            dropped: Counter::default(),
            target_rate: F64Gauge::default(),
            clients: Gauge::default(),
            inflight: Gauge::default(),
            pool_max: Gauge::default(),
            pool_open: Gauge::default(),
            pool_in_use: Gauge::default(),
            pool_waiting: Gauge::default(),
            driver_cpu: F64Counter::default(),
            driver_rss: Gauge::default(),
            step: Gauge::default(),
            stage: Gauge::default(),
            intervals: Counter::default(),
            server: Default::default(),
            last: Mutex::new(Last::default()),
            stages,
        };
        let s = Unit::Seconds;
        r.register(
            "run",
            "The run: workload and mode",
            Info::new(RunLabels {
                workload: workload.to_string(),
                mode: mode.to_string(),
            }),
        );
        r.register_with_unit(
            "scenario_latency",
            "Scenario latency from its intended start (schedule lag + pool wait + execution)",
            s.clone(),
            m.latency.clone(),
        );
        r.register_with_unit(
            "scenario_schedule_lag",
            "From the intended start to the driver starting the scenario (open model)",
            s.clone(),
            m.lag.clone(),
        );
        r.register_with_unit(
            "scenario_pool_wait",
            "Waiting for a pooled connection",
            s.clone(),
            m.pool_wait.clone(),
        );
        r.register_with_unit(
            "scenario_execution",
            "Running the scenario's statements (round trips, BEGIN/COMMIT included)",
            s.clone(),
            m.exec.clone(),
        );
        r.register_with_unit(
            "statement_execution",
            "Execution time of one statement of a scenario",
            s.clone(),
            m.statement_exec.clone(),
        );
        r.register(
            "scenarios_completed",
            "Scenarios that completed successfully",
            m.completed.clone(),
        );
        r.register(
            "scenarios_failed",
            "Scenarios that failed, by SQLSTATE class (08 connection, CL client-side)",
            m.failed.clone(),
        );
        r.register(
            "statement_errors",
            "Statements that failed",
            m.statement_errors.clone(),
        );
        r.register(
            "arrivals_scheduled",
            "Arrivals due (open model) or executions begun (closed model)",
            m.scheduled.clone(),
        );
        r.register(
            "arrivals_started",
            "Arrivals started (open model) or executions started (closed model)",
            m.started.clone(),
        );
        r.register(
            "arrivals_dropped",
            "Arrivals dropped because every in-flight slot was busy",
            m.dropped.clone(),
        );
        r.register(
            "target_arrivals_per_second",
            "The target arrival rate now (open model; 0 for the closed model)",
            m.target_rate.clone(),
        );
        r.register(
            "clients",
            "Closed-model clients of the current run (0 for the open model)",
            m.clients.clone(),
        );
        r.register(
            "scenarios_in_flight",
            "Scenarios in flight at the last interval's end",
            m.inflight.clone(),
        );
        r.register(
            "pool_connections_max",
            "Connections the run's pools may open",
            m.pool_max.clone(),
        );
        r.register(
            "pool_connections_open",
            "Connections open",
            m.pool_open.clone(),
        );
        r.register(
            "pool_connections_in_use",
            "Connections handed out",
            m.pool_in_use.clone(),
        );
        r.register(
            "pool_waiting_tasks",
            "Workers waiting for a connection",
            m.pool_waiting.clone(),
        );
        r.register_with_unit(
            "driver_cpu",
            "CPU time used by the dbload process (user + system)",
            s.clone(),
            m.driver_cpu.clone(),
        );
        r.register_with_unit(
            "driver_resident_memory",
            "Resident memory of the dbload process",
            Unit::Bytes,
            m.driver_rss.clone(),
        );
        r.register(
            "step",
            "Runs started in this session (steps of --find-max, sweeps and --capacity)",
            m.step.clone(),
        );
        r.register(
            "stage",
            "The stage of a staged run now (1-based; 0 outside stages)",
            m.stage.clone(),
        );
        r.register(
            "intervals",
            "Intervals collected (one per second while a run goes on)",
            m.intervals.clone(),
        );
        for (i, (name, help)) in [
            (
                "server_commits",
                "Transactions committed in the target database (pg_stat_database)",
            ),
            (
                "server_rollbacks",
                "Transactions rolled back in the target database",
            ),
            ("server_blocks_hit", "Buffer hits in the target database"),
            (
                "server_blocks_read",
                "Blocks read from disk or the OS cache in the target database",
            ),
            (
                "server_temp",
                "Temporary file bytes written in the target database",
            ),
            (
                "server_deadlocks",
                "Deadlocks detected in the target database",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            if name == "server_temp" {
                r.register_with_unit(name, help, Unit::Bytes, m.server[i].clone());
            } else {
                r.register(name, help, m.server[i].clone());
            }
        }
        LiveMetrics { registry: r, ..m }
    }

    /// The exposition (OpenMetrics text).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Bring the server-side counters up to `now` (read from
    /// `pg_stat_database`; the first reading is the zero point).
    pub fn server_counters(&self, now: DbCounters) {
        let mut last = self.last.lock().unwrap();
        if let Some(prev) = last.server {
            let d = crate::capacity::server_context::delta(&prev, &now);
            let up = |c: &Counter, v: i64| {
                c.inc_by(v.max(0) as u64);
            };
            up(&self.server[0], d.commits);
            up(&self.server[1], d.rollbacks);
            up(&self.server[2], d.blks_hit);
            up(&self.server[3], d.blks_read);
            up(&self.server[4], d.temp_bytes);
            up(&self.server[5], d.deadlocks);
        }
        last.server = Some(now);
    }

    /// The driver process's CPU time and memory now.
    fn driver(&self) {
        if let Some(cpu) = procstat::process_cpu_secs() {
            let mut last = self.last.lock().unwrap();
            if cpu > last.cpu_secs {
                self.driver_cpu.inc_by(cpu - last.cpu_secs);
                last.cpu_secs = cpu;
            }
        }
        if let Some(k) = procstat::rss_kib() {
            self.driver_rss.set((k * 1024) as i64);
        }
    }
}

impl Observer for LiveMetrics {
    fn run_started(&self, cfg: &StressConfig) {
        self.step.inc();
        match &cfg.load {
            Load::Open { profile, .. } => {
                self.target_rate.set(profile.rate_at(0.0));
                self.clients.set(0);
            }
            Load::Closed { clients, .. } => {
                self.target_rate.set(0.0);
                self.clients.set(*clients as i64);
            }
        }
        self.driver();
    }

    fn interval(&self, v: &IntervalView<'_>) {
        let s = v.stats;
        for (sc, st) in v.workload.scenarios.iter().zip(&s.scenarios) {
            let label = ScenarioLabel {
                scenario: sc.name.clone(),
            };
            self.latency.get_or_create(&label).add(&st.total);
            self.lag.get_or_create(&label).add(&st.lag);
            self.pool_wait.get_or_create(&label).add(&st.pool_wait);
            self.exec.get_or_create(&label).add(&st.exec);
            self.completed.get_or_create(&label).inc_by(st.calls);
            for (class, n) in &st.error_classes {
                self.failed
                    .get_or_create(&FailureLabels {
                        scenario: sc.name.clone(),
                        sqlstate_class: String::from_utf8_lossy(class).into_owned(),
                    })
                    .inc_by(*n);
            }
            for (d, x) in sc.statements.iter().zip(&st.statements) {
                let l = StatementLabels {
                    scenario: sc.name.clone(),
                    statement: d.name.clone(),
                };
                self.statement_exec.get_or_create(&l).add(&x.exec);
                if x.errors > 0 {
                    self.statement_errors.get_or_create(&l).inc_by(x.errors);
                }
            }
        }
        self.scheduled.inc_by(s.started + s.dropped);
        self.started.inc_by(s.started);
        self.dropped.inc_by(s.dropped);
        if let Some(rate) = v.sample.target_rate {
            self.target_rate.set(rate);
        }
        self.inflight.set(v.sample.inflight);
        self.pool_max.set(v.pool.max as i64);
        self.pool_open.set(v.pool.open as i64);
        self.pool_in_use.set(v.pool.in_use as i64);
        self.pool_waiting.set(v.pool.waiting as i64);
        let mid = v.sample.t - v.sample.secs / 2.0;
        let stage = self
            .stages
            .iter()
            .position(|(a, b)| mid >= *a && mid < *b)
            .map_or(0, |i| i + 1);
        self.stage.set(stage as i64);
        self.intervals.inc();
        self.driver();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family_with_its_unit_and_the_run_id() {
        let m = LiveMetrics::new("r1", "vetclinic", "open", vec![(0.0, 10.0)]);
        let w = crate::workload::parse("t.sql", "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
        let mut stats = crate::stress::stats::Stats::new(&[1]);
        stats.scenarios[0].total.record(1500).unwrap();
        stats.scenarios[0].calls = 1;
        stats.scenarios[0].error(*b"40", Some(0));
        stats.started = 2;
        let sample = crate::stress::results::interval_sample(&w, &stats, 1.0, 1.0, Some(5.0), 1);
        m.interval(&IntervalView {
            sample: &sample,
            stats: &stats,
            workload: &w,
            pool: Default::default(),
        });
        m.server_counters(DbCounters::default());
        m.server_counters(DbCounters {
            commits: 5,
            ..Default::default()
        });
        let text = m.encode();
        for line in [
            "# TYPE dbload_scenario_latency_seconds histogram",
            "# UNIT dbload_scenario_latency_seconds seconds",
            "dbload_scenario_latency_seconds_bucket{run_id=\"r1\",le=\"0.0016\",scenario=\"one\"} 1",
            "dbload_scenario_latency_seconds_count{run_id=\"r1\",scenario=\"one\"} 1",
            "dbload_scenarios_failed_total{run_id=\"r1\",scenario=\"one\",sqlstate_class=\"40\"} 1",
            "dbload_arrivals_started_total{run_id=\"r1\"} 2",
            "dbload_target_arrivals_per_second{run_id=\"r1\"} 5.0",
            "dbload_stage{run_id=\"r1\"} 1",
            "# TYPE dbload_arrivals_dropped counter",
            "dbload_arrivals_dropped_total{run_id=\"r1\"} 0",
            "dbload_server_commits_total{run_id=\"r1\"} 5",
            "dbload_run_info{run_id=\"r1\",workload=\"vetclinic\",mode=\"open\"} 1",
            "# TYPE dbload_driver_resident_memory_bytes gauge",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
