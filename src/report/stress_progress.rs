//! The live progress line `dbload stress` prints on stderr each second,
//! or every `-P/--progress-interval` ([`Window`]).

use super::{rate, us};
use crate::stress::results::IntervalSample;

/// `  12s  target 500/s  achieved 498/s  p50 1.21ms  p99 4.50ms  errors 0  dropped 0  in-flight 3  lag p50 420µs p99 1.10ms`
/// ("achieved" counts successful scenarios only; failures are "errors").
pub fn line(s: &IntervalSample, target_qps: Option<f64>) -> String {
    let target = match (s.target_rate, target_qps) {
        (Some(t), _) => format!("target {:>8}  ", rate(t)),
        (None, Some(_)) => "draining          ".to_string(),
        (None, None) => String::new(),
    };
    let lag = if target_qps.is_some() {
        format!("  lag p50 {} p99 {}", us(s.lag_p50_us), us(s.lag_p99_us))
    } else {
        String::new()
    };
    format!(
        "{:>6.1}s  {target}achieved {:>8}  p50 {:>8}  p99 {:>8}  errors {}  dropped {}  in-flight {}{lag}",
        s.t,
        rate(if s.secs > 0.0 {
            s.calls as f64 / s.secs
        } else {
            0.0
        }),
        us(s.p50_us),
        us(s.p99_us),
        s.errors,
        s.dropped,
        s.inflight
    )
}

/// Per-second samples gathered into one every `every` (`-P`): the window's
/// counts and rate, the median of its seconds' p50s and its worst second's
/// p99 (per-second samples carry percentiles, not histograms).
pub struct Window {
    every: f64,
    seconds: Vec<IntervalSample>,
}

impl Window {
    pub fn new(every: std::time::Duration) -> Window {
        Window {
            every: every.as_secs_f64(),
            seconds: Vec::new(),
        }
    }

    /// Add a second; the merged window once it spans `every`.
    pub fn push(&mut self, s: &IntervalSample) -> Option<IntervalSample> {
        self.seconds.push(s.clone());
        let secs: f64 = self.seconds.iter().map(|x| x.secs).sum();
        if secs + 1e-6 < self.every {
            return None;
        }
        let w = std::mem::take(&mut self.seconds);
        let last = w.last()?;
        let sum = |f: fn(&IntervalSample) -> u64| w.iter().map(f).sum::<u64>();
        let mut p50: Vec<u64> = w.iter().map(|x| x.p50_us).collect();
        p50.sort_unstable();
        let max = |f: fn(&IntervalSample) -> u64| w.iter().map(f).max().unwrap_or(0);
        let (calls, errors) = (sum(|x| x.calls), sum(|x| x.errors));
        Some(IntervalSample {
            t: last.t,
            secs,
            target_rate: last.target_rate,
            rate: crate::stress::results::per_second(calls + errors, secs),
            calls,
            errors,
            dropped: sum(|x| x.dropped),
            inflight: last.inflight,
            p50_us: p50[p50.len() / 2],
            p99_us: max(|x| x.p99_us),
            lag_p50_us: max(|x| x.lag_p50_us),
            lag_p99_us: max(|x| x.lag_p99_us),
            scenarios: Vec::new(),
            histogram: None,
            lag_histogram: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: f64, calls: u64, p50: u64, p99: u64) -> IntervalSample {
        IntervalSample {
            t,
            secs: 1.0,
            target_rate: Some(100.0),
            rate: calls as f64,
            calls,
            errors: 0,
            dropped: 0,
            inflight: 1,
            p50_us: p50,
            p99_us: p99,
            lag_p50_us: 10,
            lag_p99_us: 20,
            scenarios: Vec::new(),
            histogram: None,
            lag_histogram: None,
        }
    }

    #[test]
    fn a_window_merges_its_seconds() {
        let mut w = Window::new(std::time::Duration::from_secs(3));
        assert!(w.push(&second(1.0, 100, 900, 2_000)).is_none());
        assert!(w.push(&second(2.0, 90, 1_000, 9_000)).is_none());
        let m = w.push(&second(3.0, 110, 1_100, 3_000)).unwrap();
        assert_eq!((m.t, m.secs, m.calls), (3.0, 3.0, 300));
        assert!((m.rate - 100.0).abs() < 1e-9);
        assert_eq!((m.p50_us, m.p99_us), (1_000, 9_000));
        assert!(
            w.push(&second(4.0, 100, 900, 2_000)).is_none(),
            "a new window"
        );
    }
}
