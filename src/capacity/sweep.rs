//! Pool-size sweep (`--pool 4,8,16,32`): the same shape per pool size —
//! one step at the target rate, or with `--find-max` a breakpoint search
//! per pool — and the recommendation: the smallest pool within a few
//! percent of the best, with the reason.

use super::breakpoint::{self, Search};
use super::model::{PoolRun, Recommendation, StepResult, Sweep};
use super::step::{self, StepEnv};
use crate::stress::results::StressResults;
use crate::stress::{Load, StressConfig, StressError};

/// Pools within this share of the best count as equally good.
pub const WITHIN: f64 = 0.05;

/// Pick the smallest pool within [`WITHIN`] of the best: the highest
/// max-QPS under the SLO (find-max), or the lowest p99 at the target rate
/// among pools that met the SLO.
pub fn recommend(pools: &[PoolRun]) -> Recommendation {
    let find_max = pools.iter().any(|p| p.breakpoint.is_some());
    if find_max {
        let scored: Vec<(usize, f64)> = pools
            .iter()
            .filter_map(|p| Some((p.pool, p.breakpoint.as_ref()?.max_qps?)))
            .collect();
        let Some(&(best_pool, best)) = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return Recommendation {
                pool: None,
                reason: "no pool size met the SLO even at its first step".into(),
            };
        };
        let (pool, q) = scored
            .iter()
            .filter(|(_, q)| *q >= best * (1.0 - WITHIN))
            .min_by_key(|(p, _)| *p)
            .copied()
            .unwrap();
        let reason = if pool == best_pool {
            format!("pool {pool} sustains the most under the SLO ({q}/s)")
        } else {
            format!(
                "pool {pool} sustains {q}/s under the SLO, within {:.0} % of the best ({best}/s at pool {best_pool}); more connections add little but server load",
                WITHIN * 100.0
            )
        };
        return Recommendation {
            pool: Some(pool),
            reason,
        };
    }
    let passing: Vec<(usize, u64)> = pools
        .iter()
        .filter_map(|p| {
            p.step
                .as_ref()
                .filter(|s| s.passed)
                .map(|s| (p.pool, s.p99_us))
        })
        .collect();
    let Some(&(best_pool, best)) = passing.iter().min_by_key(|x| x.1) else {
        return Recommendation {
            pool: None,
            reason: "no pool size met the SLO at the target rate".into(),
        };
    };
    let limit = (best as f64 * (1.0 + WITHIN)).max(best as f64 + 200.0);
    let (pool, p99) = passing
        .iter()
        .filter(|(_, p)| (*p as f64) <= limit)
        .min_by_key(|(p, _)| *p)
        .copied()
        .unwrap();
    let reason = if pool == best_pool {
        format!(
            "pool {pool} has the lowest p99 at the target rate ({:.2} ms) and meets the SLO",
            p99 as f64 / 1000.0
        )
    } else {
        format!(
            "pool {pool} meets the SLO with p99 {:.2} ms, within {:.0} % of the best ({:.2} ms at pool {best_pool})",
            p99 as f64 / 1000.0,
            WITHIN * 100.0,
            best as f64 / 1000.0
        )
    };
    Recommendation {
        pool: Some(pool),
        reason,
    }
}

/// What to run per pool size.
#[derive(Debug, Clone)]
pub enum Mode {
    /// A breakpoint search; without a start rate, a closed-model probe
    /// (`probe`, one client per connection) measures the throughput and the
    /// search starts at half of it.
    FindMax {
        search: Search,
        start_qps: Option<f64>,
        probe: StressConfig,
    },
    /// One run of the configured shape.
    Rate { cfg: StressConfig },
}

/// Run `mode` for each pool size in turn (a fresh pool each), then
/// recommend one. Also returns the full results of the recommended pool's
/// representative step (or the first pool's when none is recommended).
pub async fn run(
    env: &StepEnv<'_>,
    pools: &[usize],
    mode: &Mode,
    on_step: &mut (dyn FnMut(&StepResult) + Send),
) -> Result<(Sweep, Option<StressResults>), StressError> {
    let mut runs = Vec::new();
    let mut full: Vec<(usize, StressResults)> = Vec::new();
    for &size in pools {
        if *env.stop.borrow() {
            break;
        }
        let res = async {
            match mode {
                Mode::FindMax {
                    search,
                    start_qps,
                    probe,
                } => {
                    let mut probe_qps = None;
                    let mut probe_results = None;
                    let start = match start_qps {
                        Some(q) => *q,
                        None => {
                            let cfg = StressConfig {
                                load: Load::closed(size),
                                pool: size,
                                ..probe.clone()
                            };
                            let (st, r) = step::run(env, &cfg).await?;
                            probe_qps = Some(st.qps);
                            probe_results = Some(r);
                            (st.qps / 2.0).max(1.0)
                        }
                    };
                    let s = Search {
                        start_qps: start,
                        template: StressConfig {
                            pool: size,
                            ..search.template.clone()
                        },
                        ..search.clone()
                    };
                    let (mut b, r) = breakpoint::search(env, &s, on_step).await?;
                    b.probe_qps = probe_qps;
                    Ok::<_, StressError>((
                        PoolRun {
                            pool: size,
                            breakpoint: Some(b),
                            step: None,
                        },
                        // Stopped during the probe: its results are all there is.
                        r.or(probe_results),
                    ))
                }
                Mode::Rate { cfg } => {
                    let cfg = StressConfig {
                        pool: size,
                        ..cfg.clone()
                    };
                    let (st, r) = step::run(env, &cfg).await?;
                    on_step(&st);
                    Ok((
                        PoolRun {
                            pool: size,
                            breakpoint: None,
                            step: Some(st),
                        },
                        Some(r),
                    ))
                }
            }
        }
        .await;
        let (run, r) = res?;
        if let Some(r) = r {
            full.push((size, r));
        }
        runs.push(run);
    }
    let recommendation = recommend(&runs);
    let rep = match recommendation.pool {
        Some(p) => full.iter().position(|(s, _)| *s == p),
        None => (!full.is_empty()).then_some(0),
    };
    let rep = rep.map(|i| full.swap_remove(i).1);
    let (mode_name, target_qps) = match mode {
        Mode::FindMax { .. } => ("find_max", None),
        Mode::Rate { cfg } => ("rate", cfg.target_qps()),
    };
    Ok((
        Sweep {
            mode: mode_name.into(),
            slo: env.slos.iter().map(|s| s.expr.clone()).collect(),
            target_qps,
            pools: runs,
            recommendation,
        },
        rep,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::model::Breakpoint;

    fn bp(pool: usize, max: Option<f64>) -> PoolRun {
        PoolRun {
            pool,
            breakpoint: Some(Breakpoint {
                pool,
                probe_qps: None,
                max_qps: max,
                achieved_qps: max,
                failed_qps: None,
                limit: None,
                verdict: String::new(),
                steps: vec![],
                interrupted: false,
            }),
            step: None,
        }
    }

    #[test]
    fn recommends_the_smallest_pool_near_the_best() {
        let r = recommend(&[
            bp(4, Some(800.0)),
            bp(8, Some(1180.0)),
            bp(16, Some(1200.0)),
            bp(32, Some(1100.0)),
        ]);
        assert_eq!(r.pool, Some(8));
        assert!(
            r.reason.contains("within 5 %") && r.reason.contains("pool 16"),
            "{}",
            r.reason
        );
        let r = recommend(&[bp(4, Some(800.0)), bp(8, Some(1000.0))]);
        assert_eq!(r.pool, Some(8));
        let r = recommend(&[bp(4, None), bp(8, None)]);
        assert_eq!(r.pool, None);
        assert!(r.reason.contains("first step"));
    }
}
