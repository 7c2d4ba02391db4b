//! The whole-run parts of a merged file: totals, scenarios and their
//! statements, from the workers' counters (summed) and histograms (added);
//! rates are recomputed from the summed calls over the merged window.

use std::collections::BTreeMap;

use super::hist::Sum;
use super::model::{Input, MergeError};
use crate::stress::results::{
    Histograms, IntervalSample, Latency, Parts, ScenarioResult, StatementResult, Totals,
    encode_hist, encode_opt,
};

/// The four latency parts being summed.
#[derive(Default)]
struct PartSums {
    total: Sum,
    lag: Sum,
    pool_wait: Sum,
    exec: Sum,
}

impl PartSums {
    fn add(&mut self, h: &Histograms, p: &Parts, file: &str, what: &str) -> Result<(), MergeError> {
        self.total.add(
            Some(&h.total),
            p.total.count,
            file,
            &format!("{what} total"),
        )?;
        self.lag
            .add(Some(&h.lag), p.lag.count, file, &format!("{what} lag"))?;
        self.pool_wait.add(
            Some(&h.pool_wait),
            p.pool_wait.count,
            file,
            &format!("{what} pool wait"),
        )?;
        self.exec
            .add(Some(&h.exec), p.exec.count, file, &format!("{what} exec"))
    }

    fn finish(&self) -> (Parts, Histograms) {
        let parts = Parts {
            total: Latency::of(&self.total.0),
            lag: Latency::of(&self.lag.0),
            pool_wait: Latency::of(&self.pool_wait.0),
            exec: Latency::of(&self.exec.0),
        };
        let h = Histograms {
            total: encode_hist(&self.total.0),
            lag: encode_hist(&self.lag.0),
            pool_wait: encode_hist(&self.pool_wait.0),
            exec: encode_hist(&self.exec.0),
        };
        (parts, h)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Successful calls completed within a worker's measured window (its rate
/// is those over its window).
fn window_calls(rate: f64, secs: f64) -> f64 {
    (rate * secs).round()
}

/// The merged totals over a window of `window_secs`; `target_rate` is the
/// whole run's, `peak_inflight` from the merged intervals.
pub fn totals(
    inputs: &[Input],
    window_secs: f64,
    target_rate: Option<f64>,
    peak_inflight: i64,
) -> Result<Totals, MergeError> {
    let mut sums = PartSums::default();
    let sum = |f: fn(&Totals) -> u64| inputs.iter().map(|i| f(&i.results.totals)).sum::<u64>();
    for i in inputs {
        let t = &i.results.totals;
        sums.add(&t.histograms, &t.latency, &i.file, "totals")?;
    }
    let (calls, errors) = (sum(|t| t.calls), sum(|t| t.errors));
    let in_window: f64 = inputs
        .iter()
        .map(|i| window_calls(i.results.totals.rate, i.results.measured_secs))
        .sum();
    let (latency, histograms) = sums.finish();
    Ok(Totals {
        calls,
        errors,
        error_rate: ratio(errors, calls + errors),
        rate: in_window / window_secs.max(1e-9),
        target_rate,
        scheduled: sum(|t| t.scheduled),
        started: sum(|t| t.started),
        dropped: sum(|t| t.dropped),
        unfinished: sum(|t| t.unfinished),
        peak_inflight,
        latency,
        histograms,
    })
}

/// The merged scenarios (in the workload's order: the workers ran the same
/// file), over a window of `window_secs`; `intervals` are the merged ones
/// (for each scenario's error window).
pub fn scenarios(
    inputs: &[Input],
    window_secs: f64,
    intervals: &[IntervalSample],
) -> Result<Vec<ScenarioResult>, MergeError> {
    let first = &inputs[0].results;
    let all_done: u64 = inputs
        .iter()
        .map(|i| i.results.totals.calls + i.results.totals.errors)
        .sum();
    let mut out = Vec::with_capacity(first.scenarios.len());
    for (k, proto) in first.scenarios.iter().enumerate() {
        let mut sums = PartSums::default();
        let mut m = proto.clone();
        m.calls = 0;
        m.errors = 0;
        m.no_rows = 0;
        m.errors_by_class = BTreeMap::new();
        let mut in_window = 0.0;
        let mut stmt_sums: Vec<Sum> = proto.statements.iter().map(|_| Sum::default()).collect();
        for st in &mut m.statements {
            st.calls = 0;
            st.errors = 0;
        }
        for i in inputs {
            let s = i
                .results
                .scenarios
                .get(k)
                .filter(|s| s.name == proto.name && s.statements.len() == proto.statements.len())
                .ok_or_else(|| {
                    MergeError(format!(
                        "{}: its scenarios differ from {}'s (no scenario {:?} at position {})",
                        i.file,
                        inputs[0].file,
                        proto.name,
                        k + 1
                    ))
                })?;
            m.calls += s.calls;
            m.errors += s.errors;
            m.no_rows += s.no_rows;
            for (c, n) in &s.errors_by_class {
                *m.errors_by_class.entry(c.clone()).or_default() += n;
            }
            in_window += window_calls(s.rate, i.results.measured_secs);
            sums.add(
                &s.histograms,
                &s.latency,
                &i.file,
                &format!("scenario {}", s.name),
            )?;
            for ((acc, st), sum) in m
                .statements
                .iter_mut()
                .zip(&s.statements)
                .zip(&mut stmt_sums)
            {
                acc.calls += st.calls;
                acc.errors += st.errors;
                sum.add(
                    st.exec_histogram.as_deref(),
                    st.exec.count,
                    &i.file,
                    &format!("statement {} ({})", st.name, st.location),
                )?;
            }
        }
        for (st, sum) in m.statements.iter_mut().zip(&stmt_sums) {
            *st = StatementResult {
                exec: Latency::of(&sum.0),
                exec_histogram: encode_opt(&sum.0),
                ..st.clone()
            };
        }
        m.share = ratio(m.calls + m.errors, all_done);
        m.rate = in_window / window_secs.max(1e-9);
        m.error_rate = ratio(m.errors, m.calls + m.errors);
        let with_errors: Vec<f64> = intervals
            .iter()
            .filter(|iv| iv.scenarios.get(k).is_some_and(|s| s.errors > 0))
            .map(|iv| iv.t)
            .collect();
        m.error_window = with_errors
            .first()
            .map(|f| (*f, *with_errors.last().unwrap()));
        (m.latency, m.histograms) = sums.finish();
        out.push(m);
    }
    Ok(out)
}
