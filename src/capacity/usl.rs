//! Universal Scalability Law fit: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
//!
//! λ is the throughput of one client (ideal linear slope), σ contention
//! (serialisation), κ coherency (crosstalk). The fit starts from Gunther's
//! linearisation (N/C(N) − 1 = σ(N−1) + κN(N−1) with C = X/λ) and refines all
//! three parameters by Nelder–Mead on the squared error of X itself, with
//! σ, κ ≥ 0. Pure and dependency-free; tested on synthetic curves.

use serde::{Deserialize, Serialize};

/// A fitted USL model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Usl {
    /// Throughput per unit of concurrency at N = 1 (ops/s).
    pub lambda: f64,
    /// Contention coefficient σ.
    pub sigma: f64,
    /// Coherency coefficient κ.
    pub kappa: f64,
    /// Coefficient of determination of the fit on X (1 = perfect).
    pub r_squared: f64,
}

/// Why a fit could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("need at least 3 points with distinct concurrency to fit the USL, got {0}")]
    TooFewPoints(usize),
    #[error("concurrency and throughput must be positive and finite (point {0})")]
    BadPoint(usize),
}

impl Usl {
    /// Predicted throughput at concurrency `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// Concurrency of peak throughput, `sqrt((1 − σ) / κ)`; `None` when κ is
    /// zero (throughput only levels off) or σ ≥ 1.
    pub fn peak_concurrency(&self) -> Option<f64> {
        (self.kappa > 1e-12 && self.sigma < 1.0).then(|| ((1.0 - self.sigma) / self.kappa).sqrt())
    }

    /// Throughput at the peak concurrency, or the asymptote λ/σ when κ = 0.
    pub fn peak_throughput(&self) -> Option<f64> {
        match self.peak_concurrency() {
            Some(n) => Some(self.throughput(n)),
            None => (self.sigma > 1e-12).then(|| self.lambda / self.sigma),
        }
    }
}

/// Fit the USL to (concurrency, throughput) points.
pub fn fit(points: &[(f64, f64)]) -> Result<Usl, FitError> {
    for (i, &(n, x)) in points.iter().enumerate() {
        if !(n.is_finite() && x.is_finite() && n > 0.0 && x > 0.0) {
            return Err(FitError::BadPoint(i));
        }
    }
    let mut ns: Vec<f64> = points.iter().map(|p| p.0).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < 3 {
        return Err(FitError::TooFewPoints(ns.len()));
    }
    let sse = |p: &[f64; 3]| -> f64 {
        let m = Usl {
            lambda: p[0],
            sigma: p[1].max(0.0),
            kappa: p[2].max(0.0),
            r_squared: 0.0,
        };
        let penalty = if p[0] <= 0.0 || p[1] < 0.0 || p[2] < 0.0 {
            1e30
        } else {
            0.0
        };
        points
            .iter()
            .map(|&(n, x)| (x - m.throughput(n)).powi(2))
            .sum::<f64>()
            + penalty
    };
    // λ from the smallest concurrency measured; σ, κ from the linearisation.
    let (n0, x0) = points
        .iter()
        .copied()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((1.0, 1.0));
    let lambda0 = x0 / n0;
    let (sigma0, kappa0) = linearised(points, lambda0);
    let best = nelder_mead(sse, [lambda0, sigma0.max(1e-6), kappa0.max(1e-9)], 4000);
    let model = Usl {
        lambda: best[0],
        sigma: best[1].max(0.0),
        kappa: best[2].max(0.0),
        r_squared: 0.0,
    };
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|&(n, x)| (x - model.throughput(n)).powi(2))
        .sum();
    let r_squared = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Ok(Usl { r_squared, ..model })
}

/// Least squares without intercept of y = σ·a + κ·b, with
/// y = λN/X − 1, a = N − 1, b = N(N − 1).
fn linearised(points: &[(f64, f64)], lambda: f64) -> (f64, f64) {
    let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, x) in points {
        let y = lambda * n / x - 1.0;
        let a = n - 1.0;
        let b = n * (n - 1.0);
        saa += a * a;
        sab += a * b;
        sbb += b * b;
        say += a * y;
        sby += b * y;
    }
    let det = saa * sbb - sab * sab;
    if det.abs() < 1e-12 {
        return (0.0, 0.0);
    }
    ((say * sbb - sby * sab) / det, (saa * sby - sab * say) / det)
}

/// Minimise `f` from `start` with the Nelder–Mead simplex method.
fn nelder_mead(f: impl Fn(&[f64; 3]) -> f64, start: [f64; 3], max_iter: usize) -> [f64; 3] {
    let mut simplex: Vec<([f64; 3], f64)> = Vec::with_capacity(4);
    simplex.push((start, f(&start)));
    for i in 0..3 {
        let mut p = start;
        p[i] = if p[i].abs() > 1e-12 {
            p[i] * 1.25
        } else {
            1e-4
        };
        simplex.push((p, f(&p)));
    }
    for _ in 0..max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[3].1);
        if (worst - best).abs() <= 1e-12 * (best.abs() + 1e-12) {
            break;
        }
        let mut centroid = [0.0; 3];
        for (p, _) in &simplex[..3] {
            for k in 0..3 {
                centroid[k] += p[k] / 3.0;
            }
        }
        let along = |t: f64| {
            let mut q = [0.0; 3];
            for k in 0..3 {
                q[k] = centroid[k] + t * (simplex[3].0[k] - centroid[k]);
            }
            q
        };
        let r = along(-1.0);
        let fr = f(&r);
        if fr < simplex[0].1 {
            let e = along(-2.0);
            let fe = f(&e);
            simplex[3] = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < simplex[2].1 {
            simplex[3] = (r, fr);
        } else {
            let c = along(0.5);
            let fc = f(&c);
            if fc < simplex[3].1 {
                simplex[3] = (c, fc);
            } else {
                let b = simplex[0].0;
                for s in simplex.iter_mut().skip(1) {
                    for (v, bk) in s.0.iter_mut().zip(b) {
                        *v = bk + 0.5 * (*v - bk);
                    }
                    s.1 = f(&s.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(m: Usl, noise: &[f64]) -> Vec<(f64, f64)> {
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, m.throughput(n) * (1.0 + noise[i % noise.len()])))
            .collect()
    }

    #[test]
    fn recovers_known_parameters() {
        let truth = Usl {
            lambda: 1000.0,
            sigma: 0.05,
            kappa: 0.0008,
            r_squared: 1.0,
        };
        let fit = fit(&synthetic(truth, &[0.0])).unwrap();
        assert!((fit.lambda - 1000.0).abs() / 1000.0 < 0.01, "{fit:?}");
        assert!((fit.sigma - 0.05).abs() < 0.005, "{fit:?}");
        assert!((fit.kappa - 0.0008).abs() < 0.0001, "{fit:?}");
        assert!(fit.r_squared > 0.999);
        let peak = fit.peak_concurrency().unwrap();
        assert!((peak - (0.95f64 / 0.0008).sqrt()).abs() < 2.0, "{peak}");
    }

    #[test]
    fn tolerates_noise() {
        let truth = Usl {
            lambda: 500.0,
            sigma: 0.1,
            kappa: 0.002,
            r_squared: 1.0,
        };
        let fit = fit(&synthetic(truth, &[0.03, -0.02, 0.01, -0.03, 0.02])).unwrap();
        assert!((fit.lambda - 500.0).abs() / 500.0 < 0.08, "{fit:?}");
        assert!((fit.sigma - 0.1).abs() < 0.04, "{fit:?}");
        assert!((fit.kappa - 0.002).abs() < 0.001, "{fit:?}");
        assert!(fit.r_squared > 0.95);
    }

    #[test]
    fn linear_scaling_has_no_peak() {
        let pts: Vec<(f64, f64)> = (1..=6).map(|n| (n as f64, 100.0 * n as f64)).collect();
        let fit = fit(&pts).unwrap();
        assert!(fit.sigma < 1e-3 && fit.kappa < 1e-5, "{fit:?}");
        assert!((fit.lambda - 100.0).abs() < 1.0);
    }

    #[test]
    fn bad_input() {
        assert_eq!(
            fit(&[(1.0, 1.0), (2.0, 2.0)]),
            Err(FitError::TooFewPoints(2))
        );
        assert_eq!(
            fit(&[(1.0, 1.0), (2.0, f64::NAN), (3.0, 3.0)]),
            Err(FitError::BadPoint(1))
        );
    }
}
