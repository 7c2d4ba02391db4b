//! The capacity plan, pure arithmetic over a closed-model concurrency
//! sweep and its USL fit: today's max sustainable QPS under the SLO, the
//! headroom against a target, the pool size to use, and what 2× the target
//! would need — or that it does not fit, and why.

use serde::{Deserialize, Serialize};

use super::usl::Usl;

/// Pool sizes at or above this share of the best QPS under the SLO are
/// past the knee: the plan picks the smallest.
pub const KNEE: f64 = 0.95;

/// One measured concurrency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub clients: usize,
    /// Successful scenarios per second.
    pub qps: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// The latency SLO's measured value (e.g. the p99), ms.
    pub slo_ms: Option<f64>,
    /// Every SLO met and the run valid.
    pub passed: bool,
}

/// What a growth target needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    pub qps: f64,
    pub fits: bool,
    /// Clients (pool size) that serve it: measured, or predicted by the USL.
    pub clients: Option<usize>,
    /// Predicted latency at that concurrency in the SLO's metric, ms.
    pub predicted_slo_ms: Option<f64>,
    pub reason: String,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Highest measured QPS that met the SLO, and at how many clients.
    pub max_qps: Option<f64>,
    pub max_at_clients: Option<usize>,
    /// The pool size to use: the smallest that reaches [`KNEE`] of `max_qps`.
    pub pool: Option<usize>,
    pub pool_reason: String,
    pub target_qps: Option<f64>,
    /// max_qps / target − 1, percent (negative: short of the target).
    pub headroom_pct: Option<f64>,
    /// 2× the target (or 2× today's max without a target).
    pub double: Option<Growth>,
    /// The plan in sentences.
    pub summary: Vec<String>,
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What serving `need` QPS takes, from measurements first, then the model.
pub fn growth(points: &[Point], usl: Option<&Usl>, need: f64, slo_limit_ms: Option<f64>) -> Growth {
    if let Some(p) = points
        .iter()
        .filter(|p| p.passed && p.qps >= need)
        .min_by_key(|p| p.clients)
    {
        return Growth {
            qps: need,
            fits: true,
            clients: Some(p.clients),
            predicted_slo_ms: p.slo_ms,
            reason: format!(
                "measured: {} client(s) served {}/s within the SLO",
                p.clients,
                r1(p.qps)
            ),
        };
    }
    let Some(m) = usl else {
        return Growth {
            qps: need,
            fits: false,
            clients: None,
            predicted_slo_ms: None,
            reason: "not measured, and no USL model to predict it".into(),
        };
    };
    let peak_n = m.peak_concurrency();
    let peak_x = m.peak_throughput().unwrap_or(f64::INFINITY);
    if peak_x < need {
        return Growth {
            qps: need,
            fits: false,
            clients: None,
            predicted_slo_ms: None,
            reason: format!(
                "does not fit: the USL peak is {}/s{} — adding connections cannot reach {}/s (contention σ = {:.4}, coherency κ = {:.6}); it needs a bigger server, replicas or cheaper queries",
                r1(peak_x),
                peak_n
                    .map(|n| format!(" at about {n:.0} clients"))
                    .unwrap_or_default(),
                r1(need),
                m.sigma,
                m.kappa
            ),
        };
    }
    let limit_n = peak_n.map(|n| n.ceil() as usize).unwrap_or(100_000).max(1);
    let Some(n) = (1..=limit_n).find(|&n| m.throughput(n as f64) >= need) else {
        return Growth {
            qps: need,
            fits: false,
            clients: None,
            predicted_slo_ms: None,
            reason: format!("does not fit: the USL never reaches {}/s", r1(need)),
        };
    };
    let x = m.throughput(n as f64);
    // Little's law: mean latency = N / X; the SLO metric scales with the
    // mean as at the best measured point.
    let mean_ms = n as f64 / x * 1000.0;
    let ratio = points
        .iter()
        .filter(|p| p.passed)
        .max_by(|a, b| a.qps.total_cmp(&b.qps))
        .and_then(|p| Some(p.slo_ms? / p.mean_ms.max(1e-9)));
    let predicted = ratio.map(|r| r1(mean_ms * r));
    let measured_max = points.iter().map(|p| p.clients).max().unwrap_or(0);
    let extrapolated = if n > measured_max {
        format!(" (extrapolated beyond the {measured_max} clients measured)")
    } else {
        String::new()
    };
    match (predicted, slo_limit_ms) {
        (Some(p), Some(l)) if p > l => Growth {
            qps: need,
            fits: false,
            clients: Some(n),
            predicted_slo_ms: Some(p),
            reason: format!(
                "does not fit under the SLO: the USL reaches {}/s at {n} clients{extrapolated}, but the latency would be about {p} ms (limit {l} ms)",
                r1(need)
            ),
        },
        _ => Growth {
            qps: need,
            fits: true,
            clients: Some(n),
            predicted_slo_ms: predicted,
            reason: format!(
                "predicted: {n} clients give {}/s by the USL{extrapolated}{}",
                r1(x),
                predicted
                    .map(|p| format!(", latency about {p} ms"))
                    .unwrap_or_default()
            ),
        },
    }
}

/// Build the plan.
pub fn plan(
    points: &[Point],
    usl: Option<&Usl>,
    target: Option<f64>,
    slo_limit_ms: Option<f64>,
) -> Plan {
    let best = points
        .iter()
        .filter(|p| p.passed)
        .max_by(|a, b| a.qps.total_cmp(&b.qps));
    let mut summary = Vec::new();
    let (pool, pool_reason) = match best {
        None => (
            None,
            "no concurrency met the SLO, not even 1 client: the SLO is tighter than a single client's latency".to_string(),
        ),
        Some(b) => {
            let p = points
                .iter()
                .filter(|p| p.passed && p.qps >= KNEE * b.qps)
                .min_by_key(|p| p.clients)
                .unwrap_or(b);
            (
                Some(p.clients),
                format!(
                    "{} clients reach {}/s, {:.0} % of the best under the SLO ({}/s at {}); more connections add little",
                    p.clients,
                    r1(p.qps),
                    p.qps / b.qps * 100.0,
                    r1(b.qps),
                    b.clients
                ),
            )
        }
    };
    let max_qps = best.map(|b| r1(b.qps));
    match best {
        Some(b) => summary.push(format!(
            "today's max sustainable throughput under the SLO: {}/s (at {} clients)",
            r1(b.qps),
            b.clients
        )),
        None => summary.push(pool_reason.clone()),
    }
    if let Some(p) = pool {
        summary.push(format!("use a pool of {p}: {pool_reason}"));
    }
    let headroom_pct = match (max_qps, target) {
        (Some(m), Some(t)) if t > 0.0 => Some(r1((m / t - 1.0) * 100.0)),
        _ => None,
    };
    if let (Some(h), Some(t)) = (headroom_pct, target) {
        summary.push(if h >= 0.0 {
            format!("headroom against the target {}/s: {h:+.1} %", r1(t))
        } else {
            format!(
                "SHORT of the target {}/s by {:.1} %: today's server cannot serve it within the SLO",
                r1(t),
                -h
            )
        });
    }
    let base = target.or(max_qps);
    let double = base.map(|b| growth(points, usl, 2.0 * b, slo_limit_ms));
    if let (Some(d), Some(b)) = (&double, base) {
        summary.push(format!(
            "2× {} ({}/s): {}",
            if target.is_some() {
                "the target"
            } else {
                "today's max"
            },
            r1(2.0 * b),
            d.reason
        ));
    }
    Plan {
        max_qps,
        max_at_clients: best.map(|b| b.clients),
        pool,
        pool_reason,
        target_qps: target,
        headroom_pct,
        double,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Usl {
        Usl {
            lambda: 1000.0,
            sigma: 0.05,
            kappa: 0.001,
            r_squared: 1.0,
        }
    }

    /// Points measured exactly on the model, p99 = 3 × mean, SLO p99 < 50 ms.
    fn points(m: &Usl) -> Vec<Point> {
        [1, 2, 4, 8, 16, 32, 64]
            .iter()
            .map(|&n| {
                let x = m.throughput(n as f64);
                let mean = n as f64 / x * 1000.0;
                Point {
                    clients: n,
                    qps: x,
                    mean_ms: mean,
                    slo_ms: Some(3.0 * mean),
                    passed: 3.0 * mean < 50.0,
                }
            })
            .collect()
    }

    #[test]
    fn plan_arithmetic() {
        let m = model();
        let pts = points(&m);
        // X(16) = 16000 / (1 + 0.75 + 0.24) = 8040.2; X(32) = 32000 / 3.542
        // = 9034.4 (mean 3.54 ms, p99 10.6 ms: passes); X(64) = 64000 / 7.182 = 8911.2.
        let p = plan(&pts, Some(&m), Some(4000.0), Some(50.0));
        assert_eq!(p.max_qps, Some(9034.4));
        assert_eq!(p.max_at_clients, Some(32));
        // 95 % of 9034.4 = 8582.7: 16 clients (8040) fall short, 32 is the pool.
        assert_eq!(p.pool, Some(32));
        assert_eq!(p.headroom_pct, Some(125.9)); // 9034.4 / 4000 − 1
        let d = p.double.unwrap();
        // 8000/s: measured at 16 clients (8040/s).
        assert!(d.fits);
        assert_eq!(d.clients, Some(16));
        assert!(d.reason.starts_with("measured"), "{}", d.reason);
        // 2 × 6000 = 12000/s is above the USL peak (√(0.95/0.001) = 30.8 clients, 9038/s).
        let p = plan(&pts, Some(&m), Some(6000.0), Some(50.0));
        let d = p.double.unwrap();
        assert!(!d.fits);
        assert!(
            d.reason.contains("does not fit") && d.reason.contains("9038/s at about 31 clients"),
            "{}",
            d.reason
        );
        // Short of the target.
        let p = plan(&pts, Some(&m), Some(10000.0), Some(50.0));
        assert_eq!(p.headroom_pct, Some(-9.7));
        assert!(p.summary.iter().any(|s| s.starts_with("SHORT")));
    }

    #[test]
    fn growth_predicted_by_the_model_and_limited_by_the_slo() {
        let m = model();
        // Only 1, 2 and 4 clients measured: 7000/s needs the model.
        let pts: Vec<Point> = points(&m).into_iter().take(3).collect();
        let g = growth(&pts, Some(&m), 7000.0, None);
        // X(11) = 11000 / 1.61 = 6832, X(12) = 12000 / 1.682 = 7134.
        assert!(g.fits);
        assert_eq!(g.clients, Some(12));
        assert!(g.reason.contains("extrapolated"), "{}", g.reason);
        // Predicted p99 = 3 × (12 / 7134 s) = 5.05 ms: a 4 ms SLO breaks.
        let g = growth(&pts, Some(&m), 7000.0, Some(4.0));
        assert!(!g.fits);
        assert_eq!(g.predicted_slo_ms, Some(5.0));
        assert!(g.reason.contains("under the SLO"), "{}", g.reason);
    }

    #[test]
    fn nothing_meets_the_slo() {
        let m = model();
        let pts: Vec<Point> = points(&m)
            .into_iter()
            .map(|p| Point { passed: false, ..p })
            .collect();
        let p = plan(&pts, Some(&m), Some(100.0), Some(0.1));
        assert_eq!((p.max_qps, p.pool), (None, None));
        assert!(p.summary[0].contains("not even 1 client"));
    }
}
