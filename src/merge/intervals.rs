//! The per-interval series of a merged run: each worker's intervals put on
//! the common measured-window axis (`t`, seconds since measuring began,
//! rounded to the nearest second: the workers' collectors tick once a
//! second from a shared start, a few milliseconds apart) and added —
//! counters summed, histograms added, percentiles read from the sum.

use std::collections::BTreeMap;

use super::hist::Sum;
use super::model::{Input, MergeError};
use crate::stress::results::{IntervalSample, IntervalScenario, Latency, encode_opt};

/// One second of the merged axis being filled.
struct Bucket {
    t: f64,
    /// Seconds each worker's samples in this bucket covered.
    secs: Vec<f64>,
    /// Each worker's in-flight count at its last sample in the bucket.
    inflight: Vec<i64>,
    target_rate: Option<f64>,
    calls: u64,
    errors: u64,
    dropped: u64,
    total: Sum,
    lag: Sum,
    scenarios: Vec<(u64, u64, Sum)>,
}

fn q(h: &hdrhistogram::Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// The merged intervals. `target_scale[i]` turns worker i's target rate
/// into the whole run's (1 when the worker already records the whole).
pub fn merge(inputs: &[Input], target_scale: &[f64]) -> Result<Vec<IntervalSample>, MergeError> {
    let names: Vec<String> = inputs[0]
        .results
        .scenarios
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let n = inputs.len();
    let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
    for (w, (i, scale)) in inputs.iter().zip(target_scale).enumerate() {
        for iv in &i.results.intervals {
            let b = buckets
                .entry(iv.t.round() as i64)
                .or_insert_with(|| Bucket {
                    t: iv.t,
                    secs: vec![0.0; n],
                    inflight: vec![0; n],
                    target_rate: None,
                    calls: 0,
                    errors: 0,
                    dropped: 0,
                    total: Sum::default(),
                    lag: Sum::default(),
                    scenarios: names.iter().map(|_| (0, 0, Sum::default())).collect(),
                });
            let what = format!("the interval ending at {} s", iv.t);
            b.t = b.t.max(iv.t);
            b.secs[w] += iv.secs;
            b.inflight[w] = iv.inflight;
            b.target_rate = b.target_rate.or(iv.target_rate.map(|r| r * scale));
            b.calls += iv.calls;
            b.errors += iv.errors;
            b.dropped += iv.dropped;
            b.total
                .add(iv.histogram.as_deref(), iv.calls, &i.file, &what)?;
            b.lag.add(iv.lag_histogram.as_deref(), 0, &i.file, &what)?;
            for (k, name) in names.iter().enumerate() {
                let Some(s) = iv.scenarios.get(k).filter(|s| &s.name == name) else {
                    return Err(MergeError(format!(
                        "{}: {what} has no scenario {name:?} at position {}",
                        i.file,
                        k + 1
                    )));
                };
                let acc = &mut b.scenarios[k];
                acc.0 += s.calls;
                acc.1 += s.errors;
                acc.2.add(
                    s.histogram.as_deref(),
                    s.calls,
                    &i.file,
                    &format!("{what}, scenario {name}"),
                )?;
            }
        }
    }
    Ok(buckets
        .into_values()
        .map(|b| {
            let secs = b.secs.iter().copied().fold(0.0, f64::max);
            IntervalSample {
                t: (b.t * 1000.0).round() / 1000.0,
                secs: (secs * 1000.0).round() / 1000.0,
                target_rate: b.target_rate,
                rate: if secs > 0.0 {
                    (b.calls + b.errors) as f64 / secs
                } else {
                    0.0
                },
                calls: b.calls,
                errors: b.errors,
                dropped: b.dropped,
                inflight: b.inflight.iter().sum(),
                p50_us: q(&b.total.0, 0.5),
                p99_us: q(&b.total.0, 0.99),
                lag_p50_us: q(&b.lag.0, 0.5),
                lag_p99_us: q(&b.lag.0, 0.99),
                scenarios: names
                    .iter()
                    .zip(&b.scenarios)
                    .map(|(name, (calls, errors, h))| {
                        let l = Latency::of(&h.0);
                        IntervalScenario {
                            name: name.clone(),
                            calls: *calls,
                            errors: *errors,
                            p50_us: l.p50_us,
                            p90_us: l.p90_us,
                            p95_us: l.p95_us,
                            p99_us: l.p99_us,
                            max_us: l.max_us,
                            mean_us: l.mean_us,
                            histogram: encode_opt(&h.0),
                        }
                    })
                    .collect(),
                histogram: encode_opt(&b.total.0),
                lag_histogram: encode_opt(&b.lag.0),
            }
        })
        .collect())
}
