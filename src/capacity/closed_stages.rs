//! The closed-model equivalent of stages (`--client-stages`): the number of
//! clients follows the stages, ramping linearly in sub-steps of at most
//! [`SUB_STEP_SECS`] (clients are whole, so a ramp is a staircase). Each
//! sub-step is one closed-model run of the stress engine on the same pool;
//! their outcomes are merged into one [`RunOutcome`] whose intervals are on
//! the run's own clock, so per-stage results cut them like open-model stages.
//! Between sub-steps the clients finish their current scenario, so the
//! concurrency dips for a moment at each boundary.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;

use super::stages::Stage;
use crate::stress::stats::Stats;
use crate::stress::{self, Hooks, Load, RunOutcome, StressConfig, StressError};
use crate::workload::Prepared;

/// Longest sub-step of a ramp, seconds.
pub const SUB_STEP_SECS: f64 = 2.0;

/// One sub-step: `secs` seconds at `clients` clients (0: idle).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubStep {
    pub secs: f64,
    pub clients: usize,
}

/// Split stages (targets are client counts, from 0) into sub-steps.
pub fn sub_steps(stages: &[Stage]) -> Vec<SubStep> {
    let mut v = Vec::new();
    let mut from = 0.0;
    for s in stages {
        if s.secs > 0.0 {
            let n = if (s.to - from).abs() < 1e-9 {
                1
            } else {
                (s.secs / SUB_STEP_SECS).ceil().max(1.0) as usize
            };
            for k in 0..n {
                let c = from + (s.to - from) * (k as f64 + 0.5) / n as f64;
                v.push(SubStep {
                    secs: s.secs / n as f64,
                    clients: c.round().max(0.0) as usize,
                });
            }
        }
        from = s.to;
    }
    v
}

/// Most clients of any sub-step (the pool size to use).
pub fn max_clients(stages: &[Stage]) -> usize {
    sub_steps(stages)
        .iter()
        .map(|s| s.clients)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// Run the sub-steps on `pool`; `base` gives the seed, drain timeout and
/// pool size. `on_sub_step` sees (time since the start, sub-step) as each
/// one starts.
pub async fn run(
    pool: Pool,
    prepared: Arc<Prepared>,
    base: &StressConfig,
    stages: &[Stage],
    stop: watch::Receiver<bool>,
    on_sub_step: &mut (dyn FnMut(f64, &SubStep) + Send),
) -> Result<RunOutcome, StressError> {
    let counts: Vec<usize> = prepared
        .workload
        .scenarios
        .iter()
        .map(|s| s.statements.len())
        .collect();
    let mut totals = Stats::new(&counts);
    let mut intervals = Vec::new();
    let (mut scheduled, mut dropped, mut unfinished) = (0, 0, 0);
    let mut measured_secs = 0.0;
    let mut peak_inflight = 0;
    let mut worker_panics: Vec<String> = Vec::new();
    let mut window_calls: Vec<u64> = Vec::new();
    let mut interrupted = false;
    let started_at = chrono::Utc::now();
    for (k, sub) in sub_steps(stages).into_iter().enumerate() {
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        on_sub_step(measured_secs, &sub);
        if sub.clients == 0 {
            tokio::time::sleep(Duration::from_secs_f64(sub.secs)).await;
            measured_secs += sub.secs;
            continue;
        }
        let cfg = StressConfig {
            load: Load::Closed {
                clients: sub.clients,
            },
            duration: Duration::from_secs_f64(sub.secs),
            warmup: Duration::ZERO,
            seed: base.seed.wrapping_add(k as u64),
            ..base.clone()
        };
        let out = stress::run(
            pool.clone(),
            prepared.clone(),
            &cfg,
            Hooks {
                on_interval: None,
                stop: stop.clone(),
            },
        )
        .await?;
        totals.merge(&out.totals);
        worker_panics.extend(out.worker_panics);
        if window_calls.len() < out.window_calls.len() {
            window_calls.resize(out.window_calls.len(), 0);
        }
        for (sum, n) in window_calls.iter_mut().zip(&out.window_calls) {
            *sum += n;
        }
        for mut iv in out.intervals {
            iv.t = ((iv.t + measured_secs) * 1000.0).round() / 1000.0;
            iv.target_rate = None;
            intervals.push(iv);
        }
        scheduled += out.scheduled;
        dropped += out.dropped;
        unfinished += out.unfinished;
        peak_inflight = peak_inflight.max(out.peak_inflight);
        measured_secs += out.measured_secs;
        if out.interrupted {
            interrupted = true;
            break;
        }
    }
    Ok(RunOutcome {
        totals,
        intervals,
        scheduled,
        dropped,
        unfinished,
        interrupted,
        measured_secs,
        started_at,
        finished_at: chrono::Utc::now(),
        peak_inflight,
        worker_panics,
        window_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::stages::parse_stages;

    #[test]
    fn ramps_become_staircases_of_whole_clients() {
        let s = sub_steps(&parse_stages("4s:8,6s:8,2s:0").unwrap());
        assert_eq!(
            s,
            vec![
                SubStep {
                    secs: 2.0,
                    clients: 2
                },
                SubStep {
                    secs: 2.0,
                    clients: 6
                },
                SubStep {
                    secs: 6.0,
                    clients: 8
                },
                SubStep {
                    secs: 2.0,
                    clients: 4
                },
            ]
        );
        assert_eq!(max_clients(&parse_stages("4s:8,6s:8,2s:0").unwrap()), 8);
        let s = sub_steps(&parse_stages("0s:3,3s:3").unwrap());
        assert_eq!(
            s,
            vec![SubStep {
                secs: 3.0,
                clients: 3
            }]
        );
        assert_eq!(s.iter().map(|x| x.secs).sum::<f64>(), 3.0);
    }
}
