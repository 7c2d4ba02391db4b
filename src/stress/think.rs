//! Think time of the closed model (`--think-time`): a pause between one
//! client's scenarios, as a user reads a page before the next click. It is
//! not part of any latency. Written as `500ms` (constant), `exp:500ms`
//! (exponential with that mean: memoryless users) or
//! `uniform:200ms..800ms` (evenly between two durations), parsed by
//! `config::parse_think_time`.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::SmallRng;

/// A think-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum ThinkTime {
    /// Always `secs`.
    Constant { secs: f64 },
    /// Exponential with mean `mean_secs`.
    Exp { mean_secs: f64 },
    /// Evenly between `lo_secs` and `hi_secs`.
    Uniform { lo_secs: f64, hi_secs: f64 },
}

/// The longest exponential draw, in means (keeps one unlucky draw from
/// parking a client for the rest of the run).
const EXP_CAP: f64 = 20.0;

impl ThinkTime {
    /// One pause.
    pub fn draw(&self, rng: &mut SmallRng) -> Duration {
        let secs = match *self {
            ThinkTime::Constant { secs } => secs,
            ThinkTime::Exp { mean_secs } => {
                let u: f64 = rng.random::<f64>();
                (-(1.0 - u).ln()).min(EXP_CAP) * mean_secs
            }
            ThinkTime::Uniform { lo_secs, hi_secs } if hi_secs > lo_secs => {
                rng.random_range(lo_secs..hi_secs)
            }
            ThinkTime::Uniform { lo_secs, .. } => lo_secs,
        };
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The mean pause, seconds.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            ThinkTime::Constant { secs } => secs,
            ThinkTime::Exp { mean_secs } => mean_secs,
            ThinkTime::Uniform { lo_secs, hi_secs } => (lo_secs + hi_secs) / 2.0,
        }
    }
}

impl std::fmt::Display for ThinkTime {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let ms = |s: f64| format!("{}ms", (s * 1e6).round() / 1e3);
        match *self {
            ThinkTime::Constant { secs } => write!(f, "{}", ms(secs)),
            ThinkTime::Exp { mean_secs } => write!(f, "exp:{}", ms(mean_secs)),
            ThinkTime::Uniform { lo_secs, hi_secs } => {
                write!(f, "uniform:{}..{}", ms(lo_secs), ms(hi_secs))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_follow_the_distribution() {
        let mut rng = SmallRng::seed_from_u64(3);
        let n = 20_000;
        for (t, lo, hi) in [
            (ThinkTime::Constant { secs: 0.3 }, 0.3, 0.3),
            (ThinkTime::Exp { mean_secs: 0.3 }, 0.0, 0.3 * EXP_CAP),
            (
                ThinkTime::Uniform {
                    lo_secs: 0.2,
                    hi_secs: 0.4,
                },
                0.2,
                0.4,
            ),
        ] {
            let draws: Vec<f64> = (0..n).map(|_| t.draw(&mut rng).as_secs_f64()).collect();
            assert!(
                draws.iter().all(|d| *d >= lo - 1e-9 && *d <= hi + 1e-9),
                "{t}"
            );
            let mean = draws.iter().sum::<f64>() / n as f64;
            assert!((mean - t.mean_secs()).abs() < 0.01, "{t}: mean {mean}");
        }
    }
}
