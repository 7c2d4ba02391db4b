//! `dbload merge`: the results files of the N workers of one segmented run
//! (`dbload stress --segment K/N`) become one ordinary `dbload.stress/1`
//! results file, exactly: histograms are added (totals, per scenario, per
//! statement, per interval on the common measured-window axis), counters
//! summed, rates recomputed from the sums over the merged window; no
//! percentile is ever averaged. Files that are not the segments of one run
//! are refused (`check`); `--allow-partial` merges what is there and says
//! so. Each worker's own view (lag, drops, clock offset, driver CPU,
//! validity) is kept in the `merge` extension; the merged run is invalid
//! when any worker's was. Plain data in, plain results out: reading files
//! and printing are the caller's.
//!
//! pg_stat_statements deltas are not summed: every worker saw the whole
//! server, so the merged file keeps those of the worker with the widest
//! measured window and says so in `server_statements_note`.

mod check;
mod combine;
mod hist;
mod intervals;
mod model;

pub use check::{Coverage, IGNORED_CONFIG_FIELDS};
pub use model::{EXTENSION, Input, MergeError, MergeInfo, MergeOptions, WorkerInfo};

use crate::stress::results::{Extensions, Verdict};
use crate::stress::{StressResults, Threshold};

fn worker_info(i: &Input) -> WorkerInfo {
    let r = &i.results;
    let seg = r.segment.clone().expect("checked");
    WorkerInfo {
        file: i.file.clone(),
        index: seg.index,
        lag_p99_us: r.totals.latency.lag.p99_us,
        scheduled: r.totals.scheduled,
        dropped: r.totals.dropped,
        clock_offset_us: seg.clock_offset_us,
        driver_cpu_secs: seg.driver_cpu_secs,
        valid: r.verdict.valid,
        invalid_reasons: r.verdict.invalid_reasons.clone(),
    }
}

/// Merge the segments `inputs` into one run's results, with `thresholds`
/// evaluated on the merged result as `dbload stress` evaluates them.
pub fn merge(
    mut inputs: Vec<Input>,
    opts: &MergeOptions,
    thresholds: &[Threshold],
) -> Result<StressResults, MergeError> {
    let cov = check::check(&inputs, opts)?;
    inputs.sort_by_key(|i| i.results.segment.as_ref().map(|s| s.index));
    let first = &inputs[0].results;
    let window = inputs
        .iter()
        .map(|i| i.results.measured_secs)
        .fold(0.0, f64::max);
    let target_rate = first.config.target_qps();
    let scale: Vec<f64> = inputs
        .iter()
        .map(|i| match (target_rate, i.results.totals.target_rate) {
            (Some(all), Some(own)) if own > 0.0 => all / own,
            _ => 1.0,
        })
        .collect();
    let intervals = intervals::merge(&inputs, &scale)?;
    let peak = intervals.iter().map(|i| i.inflight).max().unwrap_or(0);
    let totals = combine::totals(&inputs, window, target_rate, peak)?;
    let scenarios = combine::scenarios(&inputs, window, &intervals)?;

    // The server's statements: every worker saw all of them.
    // (the first of equals: inputs are in segment order)
    let widest = inputs
        .iter()
        .filter(|i| i.results.server_statements.is_some())
        .fold(None::<&Input>, |best, i| match best {
            Some(b) if b.results.measured_secs >= i.results.measured_secs => Some(b),
            _ => Some(i),
        });
    let (server_statements, note) = match widest {
        Some(w) => (
            w.results.server_statements.clone(),
            Some(format!(
                "pg_stat_statements deltas of worker {} ({}), the widest measured window: every worker saw the whole server, so they are not summed",
                w.results.segment.as_ref().map_or(0, |s| s.index),
                w.file
            )),
        ),
        None => (
            None,
            Some("no worker could read pg_stat_statements".to_string()),
        ),
    };

    let workers: Vec<WorkerInfo> = inputs.iter().map(worker_info).collect();
    let mut reasons = Vec::new();
    if !cov.missing.is_empty() {
        reasons.push(format!(
            "partial merge (--allow-partial): segment(s) {} (0-based) of {} missing; the merged run carries only part of the load",
            check::join(&cov.missing),
            cov.count
        ));
    }
    for w in workers.iter().filter(|w| !w.valid) {
        for r in &w.invalid_reasons {
            reasons.push(format!(
                "worker {}/{} ({}) is invalid: {r}",
                w.index, cov.count, w.file
            ));
        }
    }
    let info = MergeInfo {
        segments: cov.count,
        run_id: cov.run_id,
        partial: !cov.missing.is_empty(),
        missing: cov.missing,
        workers,
    };
    let mut extensions = Extensions::default();
    extensions
        .set(EXTENSION, &info)
        .map_err(|e| MergeError(format!("merge extension: {e}")))?;
    let mut r = StressResults {
        schema: first.schema.clone(),
        dbload_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: inputs
            .iter()
            .map(|i| i.results.started_at)
            .min()
            .expect("one input"),
        finished_at: inputs
            .iter()
            .map(|i| i.results.finished_at)
            .max()
            .expect("one input"),
        measured_secs: window,
        interrupted: inputs.iter().any(|i| i.results.interrupted),
        config: first.config.clone(),
        workload: first.workload.clone(),
        server: first.server.clone(),
        dataset: first.dataset.clone(),
        totals,
        scenarios,
        intervals,
        server_statements,
        server_statements_note: note,
        verdict: Verdict {
            valid: reasons.is_empty(),
            exit_code: if reasons.is_empty() { 0 } else { 3 },
            invalid_reasons: reasons,
            thresholds: vec![],
        },
        segment: None,
        extensions,
    };
    crate::stress::error_budget(&mut r, thresholds);
    crate::stress::threshold::apply(thresholds, &mut r);
    Ok(r)
}

/// The `merge` extension of a results file, when it is a merged one.
pub fn info(r: &StressResults) -> Option<MergeInfo> {
    r.extensions.get(EXTENSION).ok().flatten()
}
