//! Latency histograms for Prometheus, filled from the run's own HDR
//! histograms: log-spaced buckets from 100 µs to 30 s (three per doubling,
//! rounded to three significant digits), so `histogram_quantile` over them
//! lands within one bucket (26 %) of the true quantile. The collector adds
//! each interval's merged histogram once per interval; nothing is observed
//! per query.

use std::sync::{Arc, Mutex, OnceLock};

use hdrhistogram::Histogram;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Lowest and highest finite bucket bounds, seconds.
const LOWEST: f64 = 1e-4;
const HIGHEST: f64 = 30.0;
/// Buckets per doubling.
const PER_DOUBLING: i32 = 3;

/// The finite upper bounds, seconds, ascending.
pub fn bounds() -> &'static [f64] {
    static B: OnceLock<Vec<f64>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        let mut k = 0;
        loop {
            let b = round3(LOWEST * 2f64.powf(k as f64 / PER_DOUBLING as f64));
            if b > HIGHEST * 1.0001 {
                break;
            }
            v.push(b);
            k += 1;
        }
        if v.last().is_some_and(|l| *l < HIGHEST) {
            v.push(HIGHEST);
        }
        v
    })
}

/// `x` rounded to three significant digits.
fn round3(x: f64) -> f64 {
    let e = x.log10().floor() as i32 - 2;
    let m = 10f64.powi(e);
    ((x / m).round() * m * 1e9).round() / 1e9
}

#[derive(Debug, Default)]
struct State {
    /// Per bucket (the bounds, then +Inf), not cumulative.
    counts: Vec<u64>,
    count: u64,
    /// Seconds.
    sum: f64,
}

/// A Prometheus histogram that takes whole HDR histograms (µs).
#[derive(Debug, Clone, Default)]
pub struct HdrBuckets {
    state: Arc<Mutex<State>>,
}

impl HdrBuckets {
    /// Add every value of `h` (microseconds).
    pub fn add(&self, h: &Histogram<u64>) {
        if h.is_empty() {
            return;
        }
        let b = bounds();
        let mut s = self.state.lock().unwrap();
        if s.counts.is_empty() {
            s.counts = vec![0; b.len() + 1];
        }
        // Recorded values ascending; walk the bounds alongside.
        let mut i = 0;
        for v in h.iter_recorded() {
            let secs = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
            while i < b.len() && secs > b[i] {
                i += 1;
            }
            s.counts[i] += v.count_at_value();
        }
        s.count += h.len();
        s.sum += h.mean() * h.len() as f64 / 1e6;
    }
}

impl TypedMetric for HdrBuckets {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for HdrBuckets {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let s = self.state.lock().unwrap();
        let b = bounds();
        let buckets: Vec<(f64, u64)> = b
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .enumerate()
            .map(|(i, le)| (le, s.counts.get(i).copied().unwrap_or(0)))
            .collect();
        encoder.encode_histogram::<NoLabelSet>(s.sum, s.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_log_spaced_from_100us_to_30s() {
        let b = bounds();
        assert_eq!(b[0], 0.0001);
        assert_eq!(*b.last().unwrap(), 30.0);
        assert!(b.contains(&0.0002) && b.contains(&0.001) || b.contains(&0.00101));
        for w in b.windows(2) {
            let r = w[1] / w[0];
            assert!(r > 1.1 && r < 1.35, "{w:?}");
        }
        assert!((50..=60).contains(&b.len()), "{}", b.len());
    }

    #[test]
    fn hdr_values_land_in_their_buckets() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).unwrap();
        for us in [50u64, 100, 150, 1000, 1_000_000, 40_000_000] {
            h.record(us).unwrap();
        }
        let m = HdrBuckets::default();
        m.add(&h);
        m.add(&h);
        let s = m.state.lock().unwrap();
        assert_eq!(s.count, 12);
        let b = bounds();
        let at = |secs: f64| b.iter().position(|x| secs <= *x).unwrap_or(b.len());
        for us in [50u64, 100, 150, 1000, 1_000_000, 40_000_000] {
            let i = at(h.highest_equivalent(us) as f64 / 1e6);
            assert!(s.counts[i] >= 2, "{us} µs → bucket {i}: {:?}", s.counts);
        }
        assert_eq!(s.counts.iter().sum::<u64>(), 12);
        assert_eq!(s.counts[b.len()], 2, "40 s is above the last bound");
        assert!((s.sum - 2.0 * h.mean() * 6.0 / 1e6).abs() < 1e-9);
    }
}
