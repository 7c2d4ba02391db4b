//! `--threshold` expressions: `[SCENARIO:]METRIC OP VALUE[UNIT]`, e.g.
//! `p99<50ms`, `error_rate<1%`, `checkout:p95<=100ms`, `rate>=900`.
//! Metrics: p50 p90 p95 p99 p99.9 max mean (latency from the intended start;
//! units us, ms, s; a bare number is ms), error_rate (% or a fraction),
//! rate (successful executions per second).

use super::results::{Parts, StressResults, ThresholdResult};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency quantile (0.5 … 0.999), or max (1.0), in ms.
    Quantile(f64),
    Mean,
    ErrorRate,
    Rate,
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub expr: String,
    pub scenario: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// In ms for latency, % for error_rate, /s for rate.
    pub limit: f64,
}

fn parse_latency(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("us").or_else(|| v.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.trim().parse::<f64>().ok().map(|x| x * mult)
}

/// Parse one expression; the error names the bad part.
pub fn parse(expr: &str) -> Result<Threshold, String> {
    let e = expr.trim();
    let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let Some((pos, op, oplen)) = ops
        .iter()
        .filter_map(|(s, o)| e.find(s).map(|p| (p, *o, s.len())))
        .min_by_key(|(p, _, l)| (*p, usize::MAX - l))
    else {
        return Err(format!(
            "threshold {expr:?}: no comparison (<, <=, >, >=); e.g. 'p99<50ms'"
        ));
    };
    let lhs = e[..pos].trim();
    let rhs = e[pos + oplen..].trim();
    let (scenario, metric_s) = match lhs.split_once(':') {
        Some((s, m)) => (Some(s.trim().to_string()), m.trim()),
        None => (None, lhs),
    };
    if scenario.as_deref() == Some("") {
        return Err(format!(
            "threshold {expr:?}: empty scenario name before ':'"
        ));
    }
    let metric = match metric_s {
        "p50" => Metric::Quantile(0.5),
        "p90" => Metric::Quantile(0.9),
        "p95" => Metric::Quantile(0.95),
        "p99" => Metric::Quantile(0.99),
        "p99.9" | "p999" => Metric::Quantile(0.999),
        "max" => Metric::Quantile(1.0),
        "mean" | "avg" => Metric::Mean,
        "error_rate" | "errors" => Metric::ErrorRate,
        "rate" | "qps" => Metric::Rate,
        other => {
            return Err(format!(
                "threshold {expr:?}: unknown metric {other:?} (p50, p90, p95, p99, p99.9, max, mean, error_rate, rate)"
            ));
        }
    };
    let limit = match metric {
        Metric::Quantile(_) | Metric::Mean => parse_latency(rhs),
        Metric::ErrorRate => match rhs.strip_suffix('%') {
            Some(n) => n.trim().parse::<f64>().ok(),
            None => rhs.parse::<f64>().ok().map(|f| f * 100.0),
        },
        Metric::Rate => rhs.trim_end_matches("/s").trim().parse::<f64>().ok(),
    }
    .filter(|v| v.is_finite() && *v >= 0.0)
    .ok_or_else(|| format!("threshold {expr:?}: cannot read the value {rhs:?}"))?;
    Ok(Threshold {
        expr: e.to_string(),
        scenario,
        metric,
        op,
        limit,
    })
}

fn latency_ms(p: &Parts, m: Metric) -> f64 {
    let l = &p.total;
    let us = match m {
        Metric::Quantile(q) if q >= 1.0 => l.max_us as f64,
        Metric::Quantile(q) if q >= 0.999 => l.p999_us as f64,
        Metric::Quantile(q) if q >= 0.99 => l.p99_us as f64,
        Metric::Quantile(q) if q >= 0.95 => l.p95_us as f64,
        Metric::Quantile(q) if q >= 0.9 => l.p90_us as f64,
        Metric::Quantile(_) => l.p50_us as f64,
        _ => l.mean_us,
    };
    us / 1000.0
}

impl Threshold {
    /// Check against results; the scenario must exist (see [`check_names`]).
    pub fn evaluate(&self, r: &StressResults) -> ThresholdResult {
        let (parts, error_rate, rate) = match &self.scenario {
            Some(name) => match r.scenarios.iter().find(|s| &s.name == name) {
                Some(s) => (&s.latency, s.error_rate, s.rate),
                None => (&r.totals.latency, f64::NAN, f64::NAN),
            },
            None => (&r.totals.latency, r.totals.error_rate, r.totals.rate),
        };
        let (actual, unit) = match self.metric {
            Metric::ErrorRate => (error_rate * 100.0, "%"),
            Metric::Rate => (rate, "/s"),
            m => (latency_ms(parts, m), "ms"),
        };
        // Latency is measured on successful calls only: with none, there is
        // no data, and a latency threshold must not pass by default.
        let note = (matches!(self.metric, Metric::Quantile(_) | Metric::Mean)
            && parts.total.count == 0)
            .then(|| "no data: no successful call to measure latency on".to_string());
        let passed = note.is_none()
            && match self.op {
                Op::Lt => actual < self.limit,
                Op::Le => actual <= self.limit,
                Op::Gt => actual > self.limit,
                Op::Ge => actual >= self.limit,
            };
        ThresholdResult {
            expr: self.expr.clone(),
            actual: (actual * 1000.0).round() / 1000.0,
            limit: self.limit,
            unit: unit.to_string(),
            passed,
            note,
        }
    }
}

/// Every scenario named by a threshold must exist in the workload.
pub fn check_names(ts: &[Threshold], scenarios: &[String]) -> Result<(), String> {
    for t in ts {
        if let Some(s) = &t.scenario
            && !scenarios.contains(s)
        {
            return Err(format!(
                "threshold {:?}: no scenario {s:?} in the workload (scenarios: {})",
                t.expr,
                scenarios.join(", ")
            ));
        }
    }
    Ok(())
}

/// Evaluate all thresholds into the verdict; a breach makes the exit code 1
/// unless the run is already invalid (3).
pub fn apply(ts: &[Threshold], r: &mut StressResults) {
    let results: Vec<ThresholdResult> = ts.iter().map(|t| t.evaluate(r)).collect();
    let breached = results.iter().any(|t| !t.passed);
    r.verdict.thresholds = results;
    if r.verdict.valid && breached {
        r.verdict.exit_code = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_thresholds() {
        let t = parse("p99<50ms").unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit, t.scenario),
            (Metric::Quantile(0.99), Op::Lt, 50.0, None)
        );
        let t = parse("checkout:p95 <= 0.1s").unwrap();
        assert_eq!(t.scenario.as_deref(), Some("checkout"));
        assert_eq!((t.op, t.limit), (Op::Le, 100.0));
        let t = parse("error_rate<1%").unwrap();
        assert_eq!((t.metric, t.limit), (Metric::ErrorRate, 1.0));
        let t = parse("error_rate<0.001").unwrap();
        assert!((t.limit - 0.1).abs() < 1e-12);
        let t = parse("p99.9<250us").unwrap();
        assert_eq!((t.metric, t.limit), (Metric::Quantile(0.999), 0.25));
        let t = parse("rate>=900").unwrap();
        assert_eq!((t.metric, t.op, t.limit), (Metric::Rate, Op::Ge, 900.0));
        let t = parse("max>2").unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit),
            (Metric::Quantile(1.0), Op::Gt, 2.0)
        );
    }

    #[test]
    fn bad_thresholds_name_the_bad_part() {
        assert!(parse("p99 50ms").unwrap_err().contains("no comparison"));
        assert!(
            parse("p98<5ms")
                .unwrap_err()
                .contains("unknown metric \"p98\"")
        );
        assert!(
            parse("p99<fast")
                .unwrap_err()
                .contains("cannot read the value \"fast\"")
        );
        assert!(parse(":p99<5ms").unwrap_err().contains("empty scenario"));
        let t = vec![parse("nope:p99<5ms").unwrap()];
        assert!(
            check_names(&t, &["a".into()])
                .unwrap_err()
                .contains("no scenario \"nope\"")
        );
    }
}
