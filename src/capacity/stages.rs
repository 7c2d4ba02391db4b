//! Load shapes over time: the `--stages` parser (`30s:1000,2m:10000,30s:0`,
//! each stage ramps linearly from the previous stage's rate to its own over
//! its duration, starting from 0), the `--profile` shapes parameterised by a
//! target rate (spike, stress, soak), turned into the piecewise-linear
//! [`RateProfile`] the open model's schedule follows (the rate maths live
//! with the schedule in `stress::profile`), and per-stage results cut from a
//! run's one-second intervals.

use serde::{Deserialize, Serialize};

use super::model::{StageResult, StageWindow};
use crate::stress::config::parse_duration;
use crate::stress::results::IntervalSample;
use crate::stress::{ClientRamp, ClientStep, RateProfile};

/// One stage: reach `to` (rate, or clients in the closed model) linearly
/// over `secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub secs: f64,
    pub to: f64,
}

/// A named shape (`--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The target rate, an instant jump to 10× for a fifth of the run, back.
    Spike,
    /// The target rate for half the run, then a step to 150 %.
    Stress,
    /// The target rate for the whole (long) run; memory and drift reported.
    Soak,
    /// Find the highest rate meeting the SLO (same as `--find-max`).
    Breakpoint,
}

impl Profile {
    pub fn parse(s: &str) -> Result<Profile, String> {
        match s.trim() {
            "spike" => Ok(Profile::Spike),
            "stress" => Ok(Profile::Stress),
            "soak" => Ok(Profile::Soak),
            "breakpoint" => Ok(Profile::Breakpoint),
            other => Err(format!(
                "unknown profile {other:?} (spike, stress, soak, breakpoint)"
            )),
        }
    }
}

/// Parse `--stages`: comma-separated `DURATION:TARGET`. Errors name the bad token.
pub fn parse_stages(spec: &str) -> Result<Vec<Stage>, String> {
    let mut stages = Vec::new();
    for (i, tok) in spec.split(',').enumerate() {
        let tok = tok.trim();
        let n = i + 1;
        if tok.is_empty() {
            return Err(format!(
                "stage {n} is empty (expected DURATION:TARGET, e.g. 30s:1000)"
            ));
        }
        let Some((d, r)) = tok.split_once(':') else {
            return Err(format!(
                "stage {n} {tok:?}: expected DURATION:TARGET, e.g. 30s:1000"
            ));
        };
        let secs = parse_duration(d)
            .map_err(|e| format!("stage {n} {tok:?}: {e}"))?
            .as_secs_f64();
        let to = r
            .trim()
            .trim_end_matches("/s")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("stage {n} {tok:?}: cannot read the target {:?}", r.trim()))?;
        stages.push(Stage { secs, to });
    }
    if stages.iter().map(|s| s.secs).sum::<f64>() <= 0.0 {
        return Err(format!("stages {spec:?}: the total duration is 0"));
    }
    if stages.iter().all(|s| s.to == 0.0) {
        return Err(format!("stages {spec:?}: every target is 0"));
    }
    Ok(stages)
}

/// The stages of a profile at `target` over `total` seconds.
pub fn profile_stages(p: Profile, target: f64, total: f64) -> Vec<Stage> {
    match p {
        Profile::Spike => vec![
            Stage {
                secs: 0.0,
                to: target,
            },
            Stage {
                secs: 0.4 * total,
                to: target,
            },
            Stage {
                secs: 0.0,
                to: 10.0 * target,
            },
            Stage {
                secs: 0.2 * total,
                to: 10.0 * target,
            },
            Stage {
                secs: 0.0,
                to: target,
            },
            Stage {
                secs: 0.4 * total,
                to: target,
            },
        ],
        Profile::Stress => vec![
            Stage {
                secs: 0.0,
                to: target,
            },
            Stage {
                secs: 0.5 * total,
                to: target,
            },
            Stage {
                secs: 0.0,
                to: 1.5 * target,
            },
            Stage {
                secs: 0.5 * total,
                to: 1.5 * target,
            },
        ],
        Profile::Soak | Profile::Breakpoint => vec![
            Stage {
                secs: 0.0,
                to: target,
            },
            Stage {
                secs: total,
                to: target,
            },
        ],
    }
}

/// The rate profile of stages (targets are rates), from rate 0 at t = 0.
pub fn profile(stages: &[Stage]) -> RateProfile {
    RateProfile::Stages {
        points: points(stages),
    }
}

/// The `[t, rate]` points of stages starting from rate 0 at t = 0.
fn points(stages: &[Stage]) -> Vec<[f64; 2]> {
    let mut v = vec![[0.0, 0.0]];
    let mut t = 0.0;
    for s in stages {
        t += s.secs;
        v.push([t, s.to]);
    }
    v
}

/// Total duration of stages, seconds.
pub fn total_secs(stages: &[Stage]) -> f64 {
    stages.iter().map(|s| s.secs).sum()
}

/// Longest step of a client ramp, seconds: a ramp of `--client-stages`
/// is a staircase of whole clients, one step per this long at most.
pub const RAMP_STEP_SECS: f64 = 2.0;

/// The closed-model client ramp of stages whose targets are client counts
/// (from 0): each ramp becomes steps of at most [`RAMP_STEP_SECS`].
pub fn client_ramp(stages: &[Stage]) -> ClientRamp {
    let mut steps = Vec::new();
    let mut from = 0.0;
    for s in stages {
        if s.secs > 0.0 {
            let n = if (s.to - from).abs() < 1e-9 {
                1
            } else {
                (s.secs / RAMP_STEP_SECS).ceil().max(1.0) as usize
            };
            for k in 0..n {
                let c = from + (s.to - from) * (k as f64 + 0.5) / n as f64;
                steps.push(ClientStep {
                    secs: s.secs / n as f64,
                    clients: c.round().max(0.0) as usize,
                });
            }
        }
        from = s.to;
    }
    ClientRamp { steps }
}

/// The windows of stages with a duration (instant steps have none).
pub fn windows(stages: &[Stage]) -> Vec<StageWindow> {
    let mut v = Vec::new();
    let mut t = 0.0;
    let mut from = 0.0;
    for (i, s) in stages.iter().enumerate() {
        if s.secs > 0.0 {
            v.push(StageWindow {
                stage: i + 1,
                start_s: t,
                end_s: t + s.secs,
                from,
                to: s.to,
            });
        }
        t += s.secs;
        from = s.to;
    }
    v
}

/// Cut a run's intervals into stages.
pub fn stage_results(ws: &[StageWindow], intervals: &[IntervalSample]) -> Vec<StageResult> {
    ws.iter()
        .map(|w| {
            let ivs: Vec<&IntervalSample> = intervals
                .iter()
                .filter(|iv| {
                    let mid = iv.t - iv.secs / 2.0;
                    mid >= w.start_s && mid < w.end_s
                })
                .collect();
            let secs: f64 = ivs.iter().map(|i| i.secs).sum();
            let calls: u64 = ivs.iter().map(|i| i.calls).sum();
            let errors: u64 = ivs.iter().map(|i| i.errors).sum();
            let mut p50s: Vec<u64> = ivs
                .iter()
                .filter(|i| i.calls > 0)
                .map(|i| i.p50_us)
                .collect();
            p50s.sort_unstable();
            StageResult {
                window: w.clone(),
                target_mean: (w.from + w.to) / 2.0,
                achieved_rate: crate::stress::results::per_second(calls + errors, secs),
                calls,
                errors,
                error_rate: if calls + errors > 0 {
                    errors as f64 / (calls + errors) as f64
                } else {
                    0.0
                },
                dropped: ivs.iter().map(|i| i.dropped).sum(),
                p50_us: p50s.get(p50s.len() / 2).copied().unwrap_or(0),
                p99_worst_us: ivs.iter().map(|i| i.p99_us).max().unwrap_or(0),
                lag_p99_worst_us: ivs.iter().map(|i| i.lag_p99_us).max().unwrap_or(0),
                inflight_max: ivs.iter().map(|i| i.inflight).max().unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages() {
        let s = parse_stages("30s:1000, 2m:10000,30s:0").unwrap();
        assert_eq!(
            s,
            vec![
                Stage {
                    secs: 30.0,
                    to: 1000.0
                },
                Stage {
                    secs: 120.0,
                    to: 10000.0
                },
                Stage {
                    secs: 30.0,
                    to: 0.0
                },
            ]
        );
        assert_eq!(
            parse_stages("500ms:5/s").unwrap()[0],
            Stage { secs: 0.5, to: 5.0 }
        );
        assert_eq!(total_secs(&s), 180.0);
        // (15000 + 660000 + 150000) / 180
        assert!((profile(&s).mean_rate(180.0) - 825_000.0 / 180.0).abs() < 0.01);
        let sp = profile(&profile_stages(Profile::Spike, 100.0, 10.0));
        assert!((sp.mean_rate(10.0) - 280.0).abs() < 0.01);
    }

    #[test]
    fn bad_stages_name_the_token() {
        let e = parse_stages("30s:1000,2x:5").unwrap_err();
        assert!(
            e.contains("stage 2 \"2x:5\"") && e.contains("duration \"2x\""),
            "{e}"
        );
        let e = parse_stages("30s:1000,10s:fast").unwrap_err();
        assert!(e.contains("target \"fast\""), "{e}");
        let e = parse_stages("30s").unwrap_err();
        assert!(
            e.contains("stage 1 \"30s\"") && e.contains("DURATION:TARGET"),
            "{e}"
        );
        let e = parse_stages("30s:10,,5s:1").unwrap_err();
        assert!(e.contains("stage 2 is empty"), "{e}");
        assert!(
            parse_stages("10s:-5")
                .unwrap_err()
                .contains("target \"-5\"")
        );
        assert!(
            parse_stages("0s:5")
                .unwrap_err()
                .contains("total duration is 0")
        );
        assert!(
            parse_stages("5s:0")
                .unwrap_err()
                .contains("every target is 0")
        );
        assert!(Profile::parse("burst").unwrap_err().contains("\"burst\""));
    }

    #[test]
    fn profiles_step_at_the_right_times() {
        let rate = |p: Profile, t: f64| profile(&profile_stages(p, 100.0, 10.0)).rate_at(t);
        assert_eq!(rate(Profile::Spike, 1.0), 100.0);
        assert_eq!(rate(Profile::Spike, 4.0), 1000.0);
        assert_eq!(rate(Profile::Spike, 6.0), 100.0);
        assert_eq!(rate(Profile::Stress, 4.9), 100.0);
        assert_eq!(rate(Profile::Stress, 5.0), 150.0);
        let ramp = profile(&parse_stages("10s:100,20s:300,10s:0").unwrap());
        assert!((ramp.rate_at(20.0) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn client_ramps_become_staircases_of_whole_clients() {
        let step = |secs, clients| ClientStep { secs, clients };
        let r = client_ramp(&parse_stages("4s:8,6s:8,2s:0").unwrap());
        assert_eq!(
            r.steps,
            vec![step(2.0, 2), step(2.0, 6), step(6.0, 8), step(2.0, 4)]
        );
        assert_eq!(r.max_clients(), 8);
        let r = client_ramp(&parse_stages("0s:3,3s:3").unwrap());
        assert_eq!(r.steps, vec![step(3.0, 3)]);
        assert_eq!(r.secs(), 3.0);
    }

    #[test]
    fn stage_windows_skip_instant_steps_and_cut_intervals() {
        let w = windows(&profile_stages(Profile::Spike, 10.0, 10.0));
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[1].start_s, w[1].end_s, w[1].from, w[1].to),
            (4.0, 6.0, 100.0, 100.0)
        );
        let iv = |t: f64, calls: u64, p99: u64| IntervalSample {
            t,
            secs: 1.0,
            target_rate: None,
            rate: calls as f64,
            calls,
            errors: 0,
            dropped: 0,
            inflight: 1,
            p50_us: p99 / 2,
            p99_us: p99,
            lag_p50_us: 0,
            lag_p99_us: 0,
            scenarios: vec![],
            histogram: None,
            lag_histogram: None,
        };
        let ivs: Vec<IntervalSample> = (1..=10)
            .map(|s| {
                if (5..=6).contains(&s) {
                    iv(s as f64, 100, 9000)
                } else {
                    iv(s as f64, 10, 1000)
                }
            })
            .collect();
        let r = stage_results(&w, &ivs);
        assert_eq!(r[0].calls, 40);
        assert_eq!(r[1].calls, 200);
        assert_eq!(r[1].p99_worst_us, 9000);
        assert!((r[1].achieved_rate - 100.0).abs() < 1e-9);
        assert_eq!(r[2].p99_worst_us, 1000);
    }
}
