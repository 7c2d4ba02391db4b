//! The live progress line `dbload stress` prints on stderr each second.

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
