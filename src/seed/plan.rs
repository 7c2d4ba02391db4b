//! Validated seed settings: everything about `--scale`, `--seed`, `--jobs`
//! that can be checked before touching a database.

use super::model::Model;

/// The seed used when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 42;
/// The largest `--scale` accepted (100 million clinics' worth of ids is
/// beyond any disk; the disk check usually stops far earlier).
pub const MAX_SCALE: f64 = 1000.0;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("--scale must be a positive number, got {0}")]
    ScaleNotPositive(f64),
    #[error(
        "--scale {0} is absurd: at most {MAX_SCALE} is accepted (scale 1 is about 1.4 GB on disk)"
    )]
    ScaleTooLarge(f64),
    #[error("--jobs must be at least 1")]
    Jobs,
    #[error("--seed must be between 0 and {max}, got {0}", max = i64::MAX)]
    Seed(u64),
}

/// Settings for one `dbload seed` run.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// 1.0 = 10,000 clinics, 100,000 users, 1,000,000 pets.
    pub scale: f64,
    /// Seed of every generated value; same seed and scale, same data.
    pub seed: u64,
    /// Generator threads and concurrent connections.
    pub jobs: usize,
    /// Replace tables of our names that dbload did not create.
    pub force: bool,
}

impl SeedPlan {
    pub fn new(scale: f64, seed: u64, jobs: usize, force: bool) -> Result<SeedPlan, PlanError> {
        if scale.is_nan() || scale <= 0.0 {
            return Err(PlanError::ScaleNotPositive(scale));
        }
        if scale > MAX_SCALE {
            return Err(PlanError::ScaleTooLarge(scale));
        }
        if jobs == 0 {
            return Err(PlanError::Jobs);
        }
        if seed > i64::MAX as u64 {
            return Err(PlanError::Seed(seed));
        }
        Ok(SeedPlan {
            scale,
            seed,
            jobs,
            force,
        })
    }

    pub fn model(&self) -> Model {
        Model::new(self.scale)
    }

    /// Disk the server needs during the load: the data and indexes, plus as
    /// much again of write-ahead log before checkpoints recycle it.
    pub fn disk_needed(&self) -> u64 {
        self.model().estimated_bytes() * 2
    }
}

/// `1.7 GB`-style sizes for messages.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_scales_name_the_flag() {
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            let e = SeedPlan::new(s, 1, 1, false).unwrap_err().to_string();
            assert!(e.starts_with("--scale"), "{e}");
        }
        assert!(SeedPlan::new(0.001, 1, 0, false).is_err());
        assert!(SeedPlan::new(0.001, u64::MAX, 1, false).is_err());
        assert!(SeedPlan::new(10.0, 1, 4, false).is_ok());
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_700_000_000), "1.7 GB");
    }
}
