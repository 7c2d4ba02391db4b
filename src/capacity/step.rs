//! One measured step of a search or sweep: run the stress engine with a
//! given rate (open model) or client count (closed model) on a given pool,
//! record the driver's and host's CPU and the server context around it,
//! check the SLO, and — when the step fails — say whether the database or
//! the driver was the limit, with the evidence.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::model::{Limit, StepResult};
use super::procstat::{CpuMark, CpuUse};
use super::server_context::{Sampler, ServerContext};
use crate::stress::results::{StressResults, ThresholdResult};
use crate::stress::{Hooks, Load, Session, StressConfig, StressError, Threshold};

pub use super::limit::{
    DRIVER_CPU_SHARE, DRIVER_LAG_P99_US, DRIVER_STARVED_SHARE, HOST_BUSY, HOST_STARVED,
};

/// Everything the steps of a search or sweep share.
pub struct StepEnv<'a> {
    /// The workload checked against the target; runs every step.
    pub session: &'a Session,
    pub slos: &'a [Threshold],
    pub stop: watch::Receiver<bool>,
    /// Steps run so far: each step's seed is offset by it, so a step does
    /// not repeat the previous step's generated values (unique keys).
    pub counter: AtomicU64,
}

impl<'a> StepEnv<'a> {
    pub fn new(session: &'a Session, slos: &'a [Threshold], stop: watch::Receiver<bool>) -> Self {
        StepEnv {
            session,
            slos,
            stop,
            counter: AtomicU64::new(0),
        }
    }
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// Judge a step from its results: SLO, validity, limit and evidence.
pub fn judge(
    r: &StressResults,
    slos: &[Threshold],
    cpu: CpuUse,
    server: ServerContext,
) -> StepResult {
    let t = &r.totals;
    let l = &t.latency;
    let slo: Vec<ThresholdResult> = slos.iter().map(|s| s.evaluate(r)).collect();
    let valid = r.verdict.valid;
    let passed = valid && slo.iter().all(|s| s.passed);
    let (target_qps, clients) = match &r.config.load {
        Load::Open { .. } => (t.target_rate, None),
        Load::Closed { clients, .. } => (None, Some(*clients)),
    };
    let mut evidence = Vec::new();
    let mut limit = None;
    if !passed {
        for s in slo.iter().filter(|s| !s.passed) {
            evidence.push(format!("SLO {} broken: {} {}", s.expr, s.actual, s.unit));
        }
        evidence.extend(r.verdict.invalid_reasons.iter().cloned());
        // The driver is the limit when it used (nearly) all the CPUs, or
        // when arrivals started late by a good part of the latency; late
        // but starved by the server's backends, the database is.
        let super::limit::DriverSigns {
            busy: driver_cpu,
            late,
            starved,
        } = super::limit::driver_signs(r, &cpu);
        if late && starved && !driver_cpu {
            limit = Some(Limit::Database);
            evidence.push(format!(
                "database saturated the host CPU: schedule lag p99 {} while the driver used only {:.2} of {} cores and the host was {:.0} % busy — the server's backends starved the driver; pool wait p99 {}, execution p99 {}",
                ms(l.lag.p99_us),
                cpu.driver_cores.unwrap_or(0.0),
                cpu.cpus,
                cpu.host_busy.unwrap_or(0.0) * 100.0,
                ms(l.pool_wait.p99_us),
                ms(l.exec.p99_us)
            ));
        } else if late || driver_cpu {
            limit = Some(Limit::Driver);
            evidence.push(format!(
                "driver saturated: schedule lag p50 {} p99 {}{}",
                ms(l.lag.p50_us),
                ms(l.lag.p99_us),
                cpu.driver_cores
                    .map(|c| format!(", driver CPU {c:.2} of {} cores", cpu.cpus))
                    .unwrap_or_default()
            ));
        } else {
            limit = Some(Limit::Database);
            evidence.push(format!(
                "database saturated: pool wait p99 {} ({} connections), execution p99 {}, {:.1} active backends; schedule lag p99 {} (the driver kept up)",
                ms(l.pool_wait.p99_us),
                r.config.pool,
                ms(l.exec.p99_us),
                server.mean_active,
                ms(l.lag.p99_us)
            ));
        }
    }
    if let Some(h) = cpu.host_busy.filter(|h| *h >= HOST_BUSY) {
        evidence.push(format!(
            "host CPU {:.0} % busy{}: CPU-bound (driver and server share {} cores)",
            h * 100.0,
            cpu.driver_cores
                .map(|c| format!(" (driver {c:.2} cores)"))
                .unwrap_or_default(),
            cpu.cpus
        ));
    }
    if let Some(w) = server
        .waits
        .iter()
        .find(|w| w.event != "CPU" && w.mean_backends >= 0.5)
    {
        evidence.push(format!(
            "server waits: {} ({:.1} backends on average)",
            w.event, w.mean_backends
        ));
    }
    if let Some(d) = server.db.filter(|d| d.deadlocks > 0 || d.temp_files > 0) {
        evidence.push(format!(
            "server: {} deadlocks, {} temp files",
            d.deadlocks, d.temp_files
        ));
    }
    StepResult {
        pool: r.config.pool,
        target_qps,
        clients,
        measured_secs: r.measured_secs,
        qps: (t.rate * 10.0).round() / 10.0,
        calls: t.calls,
        errors: t.errors,
        error_rate: t.error_rate,
        scheduled: t.scheduled,
        dropped: t.dropped,
        p50_us: l.total.p50_us,
        p90_us: l.total.p90_us,
        p99_us: l.total.p99_us,
        max_us: l.total.max_us,
        mean_us: l.total.mean_us,
        lag_p99_us: l.lag.p99_us,
        pool_wait_p50_us: l.pool_wait.p50_us,
        pool_wait_p99_us: l.pool_wait.p99_us,
        exec_p50_us: l.exec.p50_us,
        exec_p99_us: l.exec.p99_us,
        cpu,
        server,
        slo,
        valid,
        invalid_reasons: r.verdict.invalid_reasons.clone(),
        passed,
        limit,
        evidence,
    }
}

/// Await `run` (a run on `session`) with the driver's and host's CPU and
/// the server's context (counters, wait events on a connection of its own)
/// recorded around it.
pub async fn observed<T>(
    session: &Session,
    run: impl std::future::Future<Output = T>,
) -> (T, CpuUse, ServerContext) {
    let sampler_conn = crate::db::connect(session.target()).await.ok();
    // The admin connection is taken only around the run, never across it.
    let sampler = Sampler::start(&*session.admin().await, sampler_conn).await;
    let mark = CpuMark::now();
    let out = run.await;
    let cpu = mark.since();
    let server = sampler.finish(&*session.admin().await).await;
    (out, cpu, server)
}

/// Run one step on `cfg` (its pool, rate or clients); returns its
/// judgement and the full results.
pub async fn run(
    env: &StepEnv<'_>,
    cfg: &StressConfig,
) -> Result<(StepResult, StressResults), StressError> {
    let k = env.counter.fetch_add(1, Ordering::Relaxed);
    let cfg = &StressConfig {
        seed: cfg.seed.wrapping_add(k.wrapping_mul(0x9E37_79B9)),
        ..cfg.clone()
    };
    let (out, cpu, server) = observed(
        env.session,
        env.session.run(cfg, &[], Hooks::stop_on(env.stop.clone())),
    )
    .await;
    let r = out?;
    Ok((judge(&r, env.slos, cpu, server), r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::limit::tests::{cpu, fixture};
    use crate::stress::threshold;

    #[test]
    fn tells_the_database_from_the_driver() {
        let slo = vec![threshold::parse("p99<50ms").unwrap()];
        let mut r = fixture();
        let s = judge(&r, &slo, cpu(0.1, 0.5), ServerContext::default());
        assert!(s.passed && s.limit.is_none(), "{s:?}");

        // Queueing for connections, arrivals on time: the database.
        r.totals.latency.total.p99_us = 400_000;
        r.totals.latency.pool_wait.p99_us = 390_000;
        let s = judge(&r, &slo, cpu(0.1, 0.6), ServerContext::default());
        assert_eq!(s.limit, Some(Limit::Database));
        assert!(
            s.evidence
                .iter()
                .any(|e| e.starts_with("SLO p99<50ms broken"))
        );

        // Arrivals started late while the host had CPU to spare: the driver.
        r.totals.latency.pool_wait.p99_us = 1_000;
        r.totals.latency.lag.p99_us = 300_000;
        let s = judge(&r, &slo, cpu(0.9, 0.7), ServerContext::default());
        assert_eq!(s.limit, Some(Limit::Driver));
        // Late, but the host was saturated by others and the driver used
        // little: the server starved the driver.
        let s = judge(&r, &slo, cpu(0.1, 0.99), ServerContext::default());
        assert_eq!(s.limit, Some(Limit::Database));
        assert!(
            s.evidence.iter().any(|e| e.contains("starved")),
            "{:?}",
            s.evidence
        );
        // The driver using (nearly) every CPU is the driver's limit.
        let s = judge(&r, &slo, cpu(1.9, 1.0), ServerContext::default());
        assert_eq!(s.limit, Some(Limit::Driver));
    }
}
