//! The soak profile's report: the driver's resident memory over the run
//! (sampled once per interval) and the drift of latency and throughput
//! between the first and the last tenth of the run — a leak or a slowly
//! degrading server shows up here, not in the whole-run percentiles.

use super::model::{DriftWindow, SoakReport};
use crate::stress::results::IntervalSample;

fn window(ivs: &[IntervalSample]) -> DriftWindow {
    let n = ivs.len().max(1) as f64;
    DriftWindow {
        p50_us: ivs.iter().map(|i| i.p50_us as f64).sum::<f64>() / n,
        p99_us: ivs.iter().map(|i| i.p99_us as f64).sum::<f64>() / n,
        rate: ivs.iter().map(|i| i.rate).sum::<f64>() / n,
    }
}

fn pct(a: f64, b: f64) -> f64 {
    if a > 0.0 {
        ((b - a) / a * 1000.0).round() / 10.0
    } else {
        0.0
    }
}

/// Build the report from the measured intervals (the last one, a partial
/// drain interval, is left out) and the RSS samples (KiB, one per interval).
pub fn report(intervals: &[IntervalSample], rss: &[u64]) -> SoakReport {
    let ivs: Vec<IntervalSample> = intervals
        .iter()
        .filter(|i| i.target_rate.is_some() && i.secs >= 0.5)
        .cloned()
        .collect();
    let k = (ivs.len() / 10).max(1).min(ivs.len());
    let first = window(&ivs[..k]);
    let last = window(&ivs[ivs.len() - k..]);
    let start = rss.first().copied().unwrap_or(0);
    let end = rss.last().copied().unwrap_or(0);
    SoakReport {
        rss_start_kib: start,
        rss_end_kib: end,
        rss_max_kib: rss.iter().copied().max().unwrap_or(0),
        rss_growth_kib: end as i64 - start as i64,
        window_intervals: k,
        p99_drift_pct: pct(first.p99_us, last.p99_us),
        rate_drift_pct: pct(first.rate, last.rate),
        first,
        last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_compares_the_first_and_last_tenth() {
        let ivs: Vec<IntervalSample> = (1..=20)
            .map(|s| IntervalSample {
                t: s as f64,
                secs: 1.0,
                target_rate: Some(100.0),
                rate: 100.0,
                calls: 100,
                errors: 0,
                dropped: 0,
                inflight: 0,
                p50_us: 500,
                p99_us: if s > 18 { 2000 } else { 1000 },
                lag_p50_us: 0,
                lag_p99_us: 0,
                scenarios: vec![],
                histogram: None,
                lag_histogram: None,
            })
            .collect();
        let r = report(&ivs, &[1000, 1100, 1050]);
        assert_eq!(r.window_intervals, 2);
        assert_eq!(r.first.p99_us, 1000.0);
        assert_eq!(r.last.p99_us, 2000.0);
        assert_eq!(r.p99_drift_pct, 100.0);
        assert_eq!(r.rate_drift_pct, 0.0);
        assert_eq!((r.rss_growth_kib, r.rss_max_kib), (50, 1100));
        assert_eq!(report(&[], &[]).window_intervals, 0);
    }
}
