//! What the glue of every `dbload stress` mode shares when it drives the
//! stress engine: the flags as engine [`Settings`] (checked by the engine,
//! errors named by flag), thresholds checked against the workload's
//! scenarios, a [`Session`] opened on the target (refusing to let the
//! built-in workload write into a database dbload did not seed), and the
//! results file. (Stop signals: [`super::signals`].)

use std::path::Path;

use crate::cli::{ArrivalArg, ConnArgs, StressArgs};
use crate::stress::{
    Arrival, ConfigError, Session, Settings, StressConfig, StressResults, Threshold, threshold,
};
use crate::workload::Workload;

use super::shapes::Shape;

/// The run the flags ask for, before defaults: `shape` (from
/// [`super::shapes::shape`]) replaces `--qps`/`--clients` and `--duration`.
pub fn settings(args: &StressArgs, shape: Option<&Shape>) -> Settings {
    let mut s = Settings {
        qps: args.qps,
        clients: args.clients,
        arrival: Some(match args.arrival {
            ArrivalArg::Poisson => Arrival::Poisson,
            ArrivalArg::Uniform => Arrival::Uniform,
        }),
        max_inflight: args.max_inflight,
        pool: args.pool.as_ref().and_then(|p| p.0.first().copied()),
        duration: args.duration,
        warmup: args.warmup,
        drain_timeout: args.drain_timeout,
        timer_resolution: args.timer_resolution,
        seed: args.seed,
        think: args.think_time,
        ..Settings::default()
    };
    if let Some(sh) = shape {
        // The stages are the whole run: no separate warm-up.
        s.duration = Some(sh.duration);
        s.warmup = Some(std::time::Duration::ZERO);
        s.profile = sh.profile.clone();
        s.ramp = sh.ramp.clone();
        if sh.ramp.is_some() {
            s.qps = None;
        }
    }
    s
}

/// A config error as the command line says it (`--qps 0: must be …`).
pub fn flag_error(e: ConfigError) -> anyhow::Error {
    anyhow::anyhow!(e.as_flag())
}

/// The checked config of a single run of the flags.
pub fn config(args: &StressArgs, shape: Option<&Shape>) -> anyhow::Result<StressConfig> {
    StressConfig::from_settings(&settings(args, shape)).map_err(flag_error)
}

/// Parse threshold expressions given with `flag`, naming only scenarios
/// that `workload` has.
pub fn thresholds(
    exprs: &[String],
    flag: &str,
    workload: &Workload,
) -> anyhow::Result<Vec<Threshold>> {
    let names: Vec<String> = workload.scenarios.iter().map(|s| s.name.clone()).collect();
    thresholds_for(exprs, flag, &names)
}

/// [`thresholds`] against a list of scenario names (`dbload merge` has
/// results, not a workload).
pub fn thresholds_for(
    exprs: &[String],
    flag: &str,
    names: &[String],
) -> anyhow::Result<Vec<Threshold>> {
    let parsed: Vec<Threshold> = exprs
        .iter()
        .map(|t| threshold::parse(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .collect::<Result<_, _>>()?;
    threshold::check_names(&parsed, names).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    Ok(parsed)
}

/// The embedded default workload writes (INSERT INTO appointments,
/// invoices, invoice_items, prescriptions, user_sessions; UPDATE users):
/// run it only on a database dbload seeded, unless --force.
async fn require_dataset(target: &crate::db::Target) -> anyhow::Result<()> {
    let c = crate::db::connect(target).await?;
    let seeded = crate::seed::fingerprint(&c)
        .await
        .map_err(|e| anyhow::anyhow!("reading dbload_datasets on {target}: {e}"))?
        .is_some();
    if !seeded {
        anyhow::bail!(
            "{target} is not a complete dbload dataset (no complete row in dbload_datasets); \
             the default workload would INSERT into appointments, invoices, invoice_items, \
             prescriptions and user_sessions and UPDATE users there. Run `dbload seed` first, \
             give your own --workload FILE, or pass --force to write to it anyway"
        );
    }
    Ok(())
}

/// The target of the flags, the workload checked against it, on the asked
/// driver threads.
pub async fn open(
    conn: &ConnArgs,
    args: &StressArgs,
    workload: Workload,
) -> anyhow::Result<Session> {
    if let Some(p) = &args.out {
        // Checked before the run, not found unwritable after it.
        super::paths::writable_file(p, "--out")?;
    }
    let target = super::resolve_target(conn).await?;
    if args.workload.is_none() && !args.force {
        require_dataset(&target).await?;
    }
    Session::open(&target, workload)
        .await?
        .with_threads(args.threads)
        .map_err(flag_error)
}

/// Write `results` to `--out` (when given).
/// On stderr: why a run is invalid and which thresholds it breached.
pub fn print_verdict(results: &StressResults) {
    for r in &results.verdict.invalid_reasons {
        super::say::note(format_args!("dbload: invalid run: {r}"));
    }
    for t in results.verdict.thresholds.iter().filter(|t| !t.passed) {
        match &t.note {
            Some(n) => {
                super::say::note(format_args!("dbload: threshold breached: {} ({n})", t.expr))
            }
            None => super::say::note(format_args!(
                "dbload: threshold breached: {} (actual {} {})",
                t.expr, t.actual, t.unit
            )),
        }
    }
}

pub fn write_results(out: Option<&Path>, results: &StressResults) -> anyhow::Result<()> {
    if let Some(path) = out {
        let json = serde_json::to_string_pretty(results)?;
        std::fs::write(path, json + "\n")
            .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?;
    }
    Ok(())
}
