//! The capacity model (`--capacity`): a closed-model concurrency sweep
//! (1, 2, 4, … clients, each on a pool of that size), the USL fitted to
//! its throughput, and the capacity plan built from both.

use super::model::{CapacityReport, StepResult};
use super::plan::{self, Point};
use super::step::{self, StepEnv};
use super::usl;
use crate::stress::results::StressResults;
use crate::stress::{Load, StressConfig, StressError, Threshold};

/// The client counts of a sweep: 1, 2, 4, … up to `max` (and `max` itself).
pub fn levels(max: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut n = 1;
    while n < max {
        v.push(n);
        n *= 2;
    }
    v.push(max.max(1));
    v
}

/// The latency limit of the SLO (ms), the tightest one in ms.
pub fn slo_limit_ms(slos: &[Threshold]) -> Option<f64> {
    use crate::stress::threshold::Metric;
    slos.iter()
        .filter(|t| t.scenario.is_none() && matches!(t.metric, Metric::Quantile(_) | Metric::Mean))
        .map(|t| t.limit)
        .min_by(f64::total_cmp)
}

/// Build the report from measured steps (pure: fit and plan).
pub fn report(
    steps: Vec<StepResult>,
    slos: &[Threshold],
    target: Option<f64>,
    interrupted: bool,
) -> CapacityReport {
    let pts: Vec<(f64, f64)> = steps
        .iter()
        .filter(|s| s.qps > 0.0)
        .filter_map(|s| Some((s.clients? as f64, s.qps)))
        .collect();
    let (model, usl_error) = match usl::fit(&pts) {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let limit = slo_limit_ms(slos);
    let points: Vec<Point> = steps
        .iter()
        .filter_map(|s| {
            Some(Point {
                clients: s.clients?,
                qps: s.qps,
                mean_ms: s.mean_us / 1000.0,
                slo_ms: s.slo.iter().find(|r| r.unit == "ms").map(|r| r.actual),
                passed: s.passed,
            })
        })
        .collect();
    let plan = plan::plan(&points, model.as_ref(), target, limit);
    // A peak far beyond the measured range means κ ≈ 0: throughput only
    // levels off (towards λ/σ) as far as the data tells.
    let max_n = points.iter().map(|p| p.clients).max().unwrap_or(1) as f64;
    let peak = model.as_ref().and_then(|m| match m.peak_concurrency() {
        Some(n) if n <= 100.0 * max_n => Some((Some(n), m.throughput(n))),
        _ => (m.sigma > 1e-12).then(|| (None, m.lambda / m.sigma)),
    });
    CapacityReport {
        slo: slos.iter().map(|s| s.expr.clone()).collect(),
        peak_clients: peak.and_then(|p| p.0).map(|n| (n * 10.0).round() / 10.0),
        peak_qps: peak.map(|p| p.1.round()),
        usl: model,
        usl_error,
        steps,
        plan,
        interrupted,
    }
}

/// Run the sweep over client counts `levels`: `template` gives the step's
/// duration, warm-up and seed. Stops early once throughput has clearly
/// fallen past its peak. Also returns the full results of the step with the
/// highest throughput meeting the SLO (else of the first step).
pub async fn sweep(
    env: &StepEnv<'_>,
    template: &StressConfig,
    levels: &[usize],
    target: Option<f64>,
    on_step: &mut (dyn FnMut(&StepResult) + Send),
) -> Result<(CapacityReport, Option<StressResults>), StressError> {
    let mut steps: Vec<StepResult> = Vec::new();
    let mut best: Option<(f64, StressResults)> = None;
    let mut first: Option<StressResults> = None;
    let mut interrupted = false;
    for &n in levels {
        if *env.stop.borrow() {
            interrupted = true;
            break;
        }
        let cfg = StressConfig {
            load: Load::closed(n),
            pool: n,
            ..template.clone()
        };
        let (st, r) = step::run(env, &cfg).await?;
        on_step(&st);
        interrupted |= r.interrupted;
        let peak = steps.iter().map(|s| s.qps).fold(0.0, f64::max);
        let past_peak = st.qps < 0.7 * peak && steps.len() >= 3;
        if st.passed && best.as_ref().is_none_or(|(q, _)| st.qps > *q) {
            best = Some((st.qps, r));
        } else if first.is_none() {
            first = Some(r);
        }
        steps.push(st);
        if interrupted || past_peak {
            break;
        }
    }
    Ok((
        report(steps, env.slos, target, interrupted),
        best.map(|b| b.1).or(first),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_double_up_to_the_max() {
        assert_eq!(levels(64), vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(levels(12), vec![1, 2, 4, 8, 12]);
        assert_eq!(levels(1), vec![1]);
    }

    #[test]
    fn slo_latency_limit_is_the_tightest() {
        let t = |e: &str| crate::stress::threshold::parse(e).unwrap();
        assert_eq!(
            slo_limit_ms(&[t("p99<50ms"), t("p95<0.02s"), t("error_rate<1%")]),
            Some(20.0)
        );
        assert_eq!(slo_limit_ms(&[t("error_rate<1%")]), None);
    }
}
