//! The per-interval series of a merged run: each worker's intervals put on
//! the common measured-window axis (`t`, seconds since measuring began,
//! rounded to the nearest second: the workers' collectors tick once a
//! second from a shared start, a few milliseconds apart) and added —
//! counters summed, histograms added, percentiles read from the sum.

use std::collections::BTreeMap;

use super::hist::Sum;
use super::model::{Input, MergeError};
use crate::stress::results::{IntervalSample, IntervalScenario, encode_opt};

fn q(h: &hdrhistogram::Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// One worker's samples in one second of the merged axis.
type Bucket<'a> = Vec<(usize, &'a IntervalSample)>;

/// The merged intervals. `target_scale[i]` turns worker i's target rate
/// into the whole run's (1 when the worker already records the whole).
/// Samples are grouped first and added one second at a time, so a long
/// run holds only one second's histograms.
pub fn merge(inputs: &[Input], target_scale: &[f64]) -> Result<Vec<IntervalSample>, MergeError> {
    let names: Vec<&str> = inputs[0]
        .results
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let mut buckets: BTreeMap<i64, Bucket<'_>> = BTreeMap::new();
    for (w, i) in inputs.iter().enumerate() {
        for iv in &i.results.intervals {
            buckets
                .entry(iv.t.round() as i64)
                .or_default()
                .push((w, iv));
        }
    }
    buckets
        .into_values()
        .map(|b| one(inputs, target_scale, &names, &b))
        .collect()
}

/// One second: the workers' samples `b` added.
fn one(
    inputs: &[Input],
    target_scale: &[f64],
    names: &[&str],
    b: &Bucket<'_>,
) -> Result<IntervalSample, MergeError> {
    let mut secs = vec![0.0; inputs.len()];
    let mut inflight = vec![0i64; inputs.len()];
    let (mut t, mut calls, mut errors, mut dropped) = (0.0f64, 0, 0, 0);
    let mut target_rate = None;
    let (mut total, mut lag) = (Sum::default(), Sum::default());
    let mut scen: Vec<(u64, u64, Sum)> = names.iter().map(|_| (0, 0, Sum::default())).collect();
    for (w, iv) in b {
        let file = &inputs[*w].file;
        let what = format!("the interval ending at {} s", iv.t);
        t = t.max(iv.t);
        secs[*w] += iv.secs;
        inflight[*w] = iv.inflight;
        target_rate = target_rate.or(iv.target_rate.map(|r| r * target_scale[*w]));
        calls += iv.calls;
        errors += iv.errors;
        dropped += iv.dropped;
        total.add(iv.histogram.as_deref(), iv.calls, file, &what)?;
        lag.add(iv.lag_histogram.as_deref(), 0, file, &what)?;
        for (k, name) in names.iter().enumerate() {
            let Some(s) = iv.scenarios.get(k).filter(|s| s.name == *name) else {
                return Err(MergeError(format!(
                    "{file}: {what} has no scenario {name:?} at position {}",
                    k + 1
                )));
            };
            let acc = &mut scen[k];
            acc.0 += s.calls;
            acc.1 += s.errors;
            acc.2.add(
                s.histogram.as_deref(),
                s.calls,
                file,
                &format!("{what}, scenario {name}"),
            )?;
        }
    }
    // Workers ran side by side: the second lasted as long as the longest.
    let secs = secs.iter().copied().fold(0.0, f64::max);
    Ok(IntervalSample {
        t: (t * 1000.0).round() / 1000.0,
        secs: (secs * 1000.0).round() / 1000.0,
        target_rate,
        rate: crate::stress::results::per_second(calls + errors, secs),
        calls,
        errors,
        dropped,
        inflight: inflight.iter().sum(),
        p50_us: q(&total.0, 0.5),
        p99_us: q(&total.0, 0.99),
        lag_p50_us: q(&lag.0, 0.5),
        lag_p99_us: q(&lag.0, 0.99),
        scenarios: names
            .iter()
            .zip(&scen)
            .map(|(name, (calls, errors, h))| IntervalScenario::of(name, *calls, *errors, &h.0))
            .collect(),
        histogram: encode_opt(&total.0),
        lag_histogram: encode_opt(&lag.0),
    })
}
