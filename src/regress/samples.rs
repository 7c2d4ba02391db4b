//! The per-interval samples a verdict is drawn from: one value of a metric
//! (`rate`, `p50`, `p95`, `p99`) per full interval of a run's measured
//! window, for one scenario or all (`*`). Tonight's comparison and the
//! history's noise estimate read the same samples.

use crate::stress::StressResults;
use crate::stress::results::IntervalSample;

/// Intervals that count: full-length ones inside the measured window (not
/// the drain after it).
fn measured(r: &StressResults) -> impl Iterator<Item = &IntervalSample> {
    let end = r.measured_secs + 1e-6;
    r.intervals
        .iter()
        .filter(move |i| i.secs >= 0.5 && i.t <= end + 0.5)
}

/// Per-interval samples of one metric (`scenario` `*` = all scenarios).
/// Intervals where the scenario completed nothing carry no latency sample.
pub fn samples(r: &StressResults, scenario: &str, metric: &str) -> Vec<f64> {
    measured(r)
        .filter_map(|i| {
            if scenario == "*" {
                let done = i.calls + i.errors;
                return match metric {
                    "rate" => Some(i.calls as f64 / i.secs),
                    "p50" if done > 0 => Some(i.p50_us as f64 / 1000.0),
                    "p99" if done > 0 => Some(i.p99_us as f64 / 1000.0),
                    _ => None,
                };
            }
            let s = i.scenarios.iter().find(|s| s.name == scenario)?;
            match metric {
                "rate" => Some(s.calls as f64 / i.secs),
                _ if s.calls + s.errors == 0 => None,
                "p50" => Some(s.p50_us as f64 / 1000.0),
                "p95" => Some(s.p95_us as f64 / 1000.0),
                "p99" => Some(s.p99_us as f64 / 1000.0),
                _ => None,
            }
        })
        .collect()
}
