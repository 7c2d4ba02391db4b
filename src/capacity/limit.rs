//! What limited a run, in one line, with advice that fits it: the verdict
//! that ends a plain `dbload stress` summary. Reads the same evidence a
//! search step is judged on (`step::judge`): the latency split
//! (schedule lag, pool wait, execution), the driver's and host's CPU
//! ([`super::procstat`]) and the server's active backends and wait events
//! ([`super::server_context`]). The thresholds of those signs live here;
//! `step` uses them too.

use serde::{Deserialize, Serialize};

use super::procstat::CpuUse;
use super::server_context::ServerContext;
use crate::stress::results::StressResults;

/// Schedule lag p99 (µs) above which the driver did not start work on time.
pub const DRIVER_LAG_P99_US: u64 = 5_000;
/// Share of the CPUs the driver may use before it counts as saturated.
pub const DRIVER_CPU_SHARE: f64 = 0.9;
/// Host CPU busy share from which a late driver counts as starved by others.
pub const HOST_STARVED: f64 = 0.95;
/// A driver using less than this share of the CPUs is not its own limit.
pub const DRIVER_STARVED_SHARE: f64 = 0.25;
/// Host CPU busy share from which a CPU-bound hint is given.
pub const HOST_BUSY: f64 = 0.9;

/// Who set the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limiter {
    /// The server (its CPU, locks, I/O): more connections would queue there.
    Database,
    /// dbload itself could not start work on time.
    Generator,
    /// Arrivals queued for a connection while the server had headroom.
    Pool,
    /// Closed model: the clients, each waiting for its previous query.
    Clients,
    /// The target rate was held with time to spare.
    Headroom,
}

/// The verdict on a run (results field `limit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLimit {
    pub limiter: Limiter,
    /// "the database is the limit (…)".
    pub verdict: String,
    /// What to try next, fitting the verdict.
    pub advice: String,
}

/// Whether the driver kept up, from the latency split and CPU readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriverSigns {
    /// The driver used (nearly) every CPU.
    pub busy: bool,
    /// Open model: arrivals started late by a good part of the latency.
    pub late: bool,
    /// The host's CPUs were busy with other processes (the server) while
    /// the driver itself used little: it was starved, not slow.
    pub starved: bool,
}

/// The driver's signs in `r` (judged over `cpu`).
pub fn driver_signs(r: &StressResults, cpu: &CpuUse) -> DriverSigns {
    let l = &r.totals.latency;
    let busy = cpu
        .driver_cores
        .is_some_and(|c| c >= DRIVER_CPU_SHARE * cpu.cpus as f64);
    // A lag that is small next to the pool wait only reflects a busy host.
    let late = r.totals.target_rate.is_some()
        && (l.lag.p50_us > 1000
            || (l.lag.p99_us > DRIVER_LAG_P99_US && 4 * l.lag.p99_us > l.total.p99_us));
    let starved = match (cpu.host_busy, cpu.driver_cores) {
        (Some(h), Some(d)) => h >= HOST_STARVED && d < DRIVER_STARVED_SHARE * cpu.cpus as f64,
        _ => false,
    };
    DriverSigns {
        busy,
        late,
        starved,
    }
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// The server's waits other than CPU worth naming (≥ 0.1 backends).
fn waits(server: &ServerContext) -> Vec<String> {
    server
        .waits
        .iter()
        .filter(|w| w.event != "CPU" && w.mean_backends >= 0.1)
        .take(3)
        .map(|w| format!("{} {:.1}", w.event, w.mean_backends))
        .collect()
}

/// What limited the run `r`, observed over `cpu` and `server`.
pub fn of(r: &StressResults, cpu: &CpuUse, server: &ServerContext) -> RunLimit {
    let l = &r.totals.latency;
    let t = &r.totals;
    let pool = r.config.pool;
    let signs = driver_signs(r, cpu);
    let driver_cpu = cpu
        .driver_cores
        .map(|c| {
            format!(
                "driver CPU {:.0} % of {} cores",
                c / cpu.cpus.max(1) as f64 * 100.0,
                cpu.cpus
            )
        })
        .unwrap_or_else(|| "driver CPU unknown".into());
    let host = cpu
        .host_busy
        .map(|h| format!("host CPU {:.0} % busy", h * 100.0))
        .unwrap_or_else(|| "host CPU unknown".into());
    let named_waits = waits(server);
    let top_waits = if named_waits.is_empty() {
        String::new()
    } else {
        format!(", top wait events {}", named_waits.join(", "))
    };
    let server_busy = cpu.host_busy.is_some_and(|h| h >= HOST_BUSY)
        || server
            .waits
            .iter()
            .any(|w| w.event != "CPU" && w.mean_backends >= 0.5);
    let limit = |limiter, verdict: String, advice: &str| RunLimit {
        limiter,
        verdict,
        advice: advice.to_string(),
    };

    let open = t.target_rate.is_some();
    let dropped = t.scheduled > 0 && t.dropped as f64 > 0.01 * t.scheduled as f64;
    // The open model held its rate: every arrival started, on time at the
    // median (a late p99 alone is a busy host's hiccups, not a limit).
    let held =
        open && !dropped && t.started as f64 >= 0.99 * t.scheduled as f64 && l.lag.p50_us <= 1000;
    let late = signs.late && !held;
    if late && signs.starved && !signs.busy && server.mean_active >= 0.5 {
        return limit(
            Limiter::Database,
            format!(
                "the database is the limit (its backends kept the host's CPUs busy: {host}, {driver_cpu}; schedule lag p99 {}, {:.1} active backends{top_waits})",
                ms(l.lag.p99_us),
                server.mean_active
            ),
            "dbload and the server share this machine's CPUs: run dbload elsewhere for the server's own limit, or make the statements cheaper (`dbload analyze`)",
        );
    }
    if late && signs.starved && !signs.busy {
        return limit(
            Limiter::Generator,
            format!(
                "the generator is the limit (starved of CPU by other processes: {host}, {driver_cpu}, schedule lag p50 {} p99 {}; the server was idle, {:.1} active backends)",
                ms(l.lag.p50_us),
                ms(l.lag.p99_us),
                server.mean_active
            ),
            "the host is busy with other work: measure on a quieter machine",
        );
    }
    if late || signs.busy {
        return limit(
            Limiter::Generator,
            format!(
                "the generator is the limit (schedule lag p50 {} p99 {}, {driver_cpu})",
                ms(l.lag.p50_us),
                ms(l.lag.p99_us)
            ),
            "the database's limit was not reached: give dbload more driver threads (--threads) or CPUs, or run it on another machine",
        );
    }
    // Queueing for a connection dominates the latency.
    let queued = l.pool_wait.p99_us > 1000 && l.pool_wait.p99_us > l.exec.p99_us;
    if queued && !server_busy {
        return limit(
            Limiter::Pool,
            format!(
                "the pool is the limit (pool wait p99 {} > execution p99 {} on {pool} connections; the server had headroom: {host}, {:.1} active backends{top_waits})",
                ms(l.pool_wait.p99_us),
                ms(l.exec.p99_us),
                server.mean_active
            ),
            "a larger --pool should help (`--pool 4,8,16 --find-max` finds the size); --max-inflight would only queue longer",
        );
    }
    if queued || (open && dropped) || (!open && server_busy) {
        return limit(
            Limiter::Database,
            format!(
                "the database is the limit (pool wait p99 {}, execution p99 {} on {pool} connections, {:.1} active backends, {host}{top_waits})",
                ms(l.pool_wait.p99_us),
                ms(l.exec.p99_us),
                server.mean_active
            ),
            "more connections would queue in the server instead: make the slow statements cheaper (`dbload analyze` proposes indexes), or lower the rate",
        );
    }
    if !open {
        return limit(
            Limiter::Clients,
            format!(
                "the clients are the limit ({} clients, each waiting for its previous query: execution p99 {}; the server had headroom: {host}, {:.1} active backends)",
                match &r.config.load {
                    crate::stress::Load::Closed { clients, .. } => *clients,
                    _ => 0,
                },
                ms(l.exec.p99_us),
                server.mean_active
            ),
            "more --clients (and --pool) would push further; `--capacity` sweeps the client count",
        );
    }
    limit(
        Limiter::Headroom,
        format!(
            "held the target with headroom (p99 {}; pool wait p99 {}, schedule lag p99 {}, {driver_cpu}, {host})",
            ms(l.total.p99_us),
            ms(l.pool_wait.p99_us),
            ms(l.lag.p99_us)
        ),
        "`--find-max` finds the highest rate that still meets an SLO",
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capacity::server_context::WaitShare;

    /// A stored open-model run (shared with the step tests).
    pub(crate) fn fixture() -> StressResults {
        serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap()
    }

    /// CPU readings on a 2-CPU host.
    pub(crate) fn cpu(driver: f64, host: f64) -> CpuUse {
        CpuUse {
            driver_cores: Some(driver),
            host_busy: Some(host),
            cpus: 2,
        }
    }

    fn waiting(event: &str, n: f64) -> ServerContext {
        ServerContext {
            mean_active: n,
            waits: vec![WaitShare {
                event: event.into(),
                mean_backends: n,
            }],
            ..ServerContext::default()
        }
    }

    fn quiet(r: &mut StressResults) {
        let l = &mut r.totals.latency;
        l.lag.p50_us = 100;
        l.lag.p99_us = 300;
        l.pool_wait.p99_us = 200;
        l.exec.p99_us = 2_000;
        l.total.p99_us = 2_500;
        r.totals.dropped = 0;
    }

    #[test]
    fn names_what_limited_an_open_run_with_fitting_advice() {
        let mut r = fixture();
        assert!(r.totals.target_rate.is_some(), "an open-model fixture");
        quiet(&mut r);
        let v = of(&r, &cpu(0.2, 0.4), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Headroom, "{v:?}");
        assert!(v.verdict.starts_with("held the target with headroom"));

        // Queued for connections, the server idle: the pool.
        r.totals.latency.pool_wait.p99_us = 80_000;
        r.totals.latency.total.p99_us = 85_000;
        let v = of(&r, &cpu(0.2, 0.4), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Pool, "{v:?}");
        assert!(v.advice.contains("--pool") && !v.advice.starts_with("raise --max-inflight"));

        // Queued, and the backends wait on locks: the database.
        let v = of(&r, &cpu(0.2, 0.4), &waiting("Lock:transactionid", 3.0));
        assert_eq!(v.limiter, Limiter::Database, "{v:?}");
        assert!(
            v.verdict.contains("Lock:transactionid 3.0"),
            "{}",
            v.verdict
        );
        assert!(!v.advice.contains("--max-inflight"), "{}", v.advice);

        // Arrivals started late while dbload used every CPU: the generator.
        r.totals.latency.lag.p50_us = 20_000;
        let v = of(&r, &cpu(1.95, 1.0), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Generator, "{v:?}");
        assert!(
            v.verdict.contains("driver CPU 98 % of 2 cores"),
            "{}",
            v.verdict
        );
        // Late, but starved by the server's busy backends: the database;
        // by other processes while the server idled: not the database.
        let v = of(&r, &cpu(0.1, 0.99), &waiting("CPU", 2.0));
        assert_eq!(v.limiter, Limiter::Database, "{v:?}");
        let v = of(&r, &cpu(0.1, 0.99), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Generator, "{v:?}");
        assert!(v.verdict.contains("other processes"), "{}", v.verdict);

        // A held rate with a late p99 only (a busy host's hiccups): headroom.
        quiet(&mut r);
        r.totals.latency.lag.p99_us = 11_000;
        r.totals.latency.total.p99_us = 11_000;
        let v = of(&r, &cpu(0.02, 1.0), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Headroom, "{v:?}");
    }

    #[test]
    fn a_closed_run_is_limited_by_its_clients_or_the_database() {
        let mut r = fixture();
        quiet(&mut r);
        r.totals.target_rate = None;
        r.config.load = crate::stress::Load::closed(4);
        let v = of(&r, &cpu(0.2, 0.3), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Clients, "{v:?}");
        assert!(v.verdict.contains("4 clients"), "{}", v.verdict);
        let v = of(&r, &cpu(0.2, 0.97), &ServerContext::default());
        assert_eq!(v.limiter, Limiter::Database, "{v:?}");
    }
}
