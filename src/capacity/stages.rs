//! Load shapes over time: the `--stages` parser (`30s:1000,2m:10000,30s:0`,
//! each stage ramps linearly from the previous stage's rate to its own over
//! its duration, starting from 0), the `--profile` shapes parameterised by a
//! target rate (spike, stress, soak), the piecewise-linear rate function the
//! open model's schedule follows, and per-stage results cut from a run's
//! one-second intervals.

use serde::{Deserialize, Serialize};

use crate::stress::results::IntervalSample;

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

/// Parse a duration: `90s`, `2m`, `1h`, `500ms`, or plain seconds.
pub fn parse_secs(s: &str) -> Option<f64> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v * mult)
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
        let secs = parse_secs(d)
            .ok_or_else(|| format!("stage {n} {tok:?}: cannot read the duration {:?}", d.trim()))?;
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

/// The `[t, rate]` points of stages starting from rate 0 at t = 0.
pub fn points(stages: &[Stage]) -> Vec<[f64; 2]> {
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

/// Rate at `t` of a piecewise-linear profile.
pub fn rate_at(points: &[[f64; 2]], t: f64) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    if t < first[0] {
        return first[1];
    }
    if t >= last[0] {
        return last[1];
    }
    // The last segment starting at or before t (so an instant step at t
    // already has its new rate).
    let i = points.partition_point(|p| p[0] <= t);
    let (a, b) = (points[i - 1], points[i]);
    if b[0] <= a[0] {
        return b[1];
    }
    a[1] + (b[1] - a[1]) * (t - a[0]) / (b[0] - a[0])
}

/// Integral of the rate from `t` over `x` seconds inside one linear piece
/// (rate `r` at `t`, slope `a`) is `r x + a x² / 2`: the `x` where it
/// reaches `e`, in a form that is stable for a ≈ 0.
fn solve(r: f64, a: f64, e: f64) -> f64 {
    let d = (r * r + 2.0 * a * e).max(0.0);
    let denom = r + d.sqrt();
    if denom <= 0.0 {
        f64::INFINITY
    } else {
        2.0 * e / denom
    }
}

/// The time after `t` at which the rate's integral from `t` reaches `e`.
pub fn time_after(points: &[[f64; 2]], t: f64, e: f64) -> f64 {
    let mut t = t;
    let mut e = e;
    // Segments [p_i, p_{i+1}] from t on, then the constant tail.
    let mut i = points.partition_point(|p| p[0] <= t);
    loop {
        if i >= points.len() {
            let r = points.last().map(|p| p[1]).unwrap_or(0.0);
            return if r > 0.0 { t + e / r } else { f64::INFINITY };
        }
        let end = points[i][0];
        let r0 = rate_at(points, t);
        let r1 = points[i][1];
        let len = end - t;
        if len > 0.0 {
            let area = (r0 + r1) / 2.0 * len;
            if area >= e {
                let a = (r1 - r0) / len;
                return (t + solve(r0, a, e)).min(end);
            }
            e -= area;
        }
        t = end;
        i += 1;
    }
}

/// The mean rate of a piecewise-linear profile over `[0, secs]`.
pub fn mean_rate(points: &[[f64; 2]], secs: f64) -> f64 {
    if secs <= 0.0 {
        return rate_at(points, 0.0);
    }
    // Integrate piece by piece over the breakpoints inside the window.
    let mut ts: Vec<f64> = points
        .iter()
        .map(|p| p[0])
        .filter(|t| *t > 0.0 && *t < secs)
        .collect();
    ts.insert(0, 0.0);
    ts.push(secs);
    let mut area = 0.0;
    for w in ts.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b > a {
            // The rate just after a and just before b (instant steps).
            let ra = rate_at(points, a);
            let rb = rate_at(points, b - 1e-9 * (b - a).max(1.0));
            area += (ra + rb) / 2.0 * (b - a);
        }
    }
    area / secs
}

/// A stage as run: its window (seconds since measuring began) and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageWindow {
    /// 1-based stage number as given.
    pub stage: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub from: f64,
    pub to: f64,
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

/// One stage's results, from the run's one-second intervals whose middle
/// falls in the stage. Percentiles are of the per-second values (the median
/// of the seconds' p50s, the worst second's p99), not of the whole stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    #[serde(flatten)]
    pub window: StageWindow,
    /// Mean target rate (open model) or clients (closed) over the stage.
    pub target_mean: f64,
    /// Completed executions (calls + errors) per second.
    pub achieved_rate: f64,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub dropped: u64,
    /// Median over the stage's seconds of the per-second p50, µs.
    pub p50_us: u64,
    /// Worst per-second p99 of the stage, µs.
    pub p99_worst_us: u64,
    /// Worst per-second schedule-lag p99, µs.
    pub lag_p99_worst_us: u64,
    /// Highest in-flight count at a second's end.
    pub inflight_max: i64,
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
                achieved_rate: if secs > 0.0 {
                    (calls + errors) as f64 / secs
                } else {
                    0.0
                },
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
    use crate::stress::schedule::{Arrival, ArrivalGen, RateProfile};

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
        let p = points(&s);
        // (15000 + 660000 + 150000) / 180
        assert!((mean_rate(&p, 180.0) - 825_000.0 / 180.0).abs() < 0.01);
        let sp = points(&profile_stages(Profile::Spike, 100.0, 10.0));
        assert!((mean_rate(&sp, 10.0) - 280.0).abs() < 0.01);
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
    fn ramp_values_at_given_times() {
        let p = points(&parse_stages("10s:100,20s:300,10s:0").unwrap());
        assert_eq!(rate_at(&p, 0.0), 0.0);
        assert!((rate_at(&p, 5.0) - 50.0).abs() < 1e-9);
        assert!((rate_at(&p, 10.0) - 100.0).abs() < 1e-9);
        assert!((rate_at(&p, 20.0) - 200.0).abs() < 1e-9);
        assert!((rate_at(&p, 35.0) - 150.0).abs() < 1e-9);
        assert_eq!(rate_at(&p, 40.0), 0.0);
        assert_eq!(rate_at(&p, 99.0), 0.0);
        // Instant steps: the new rate holds from the step on.
        let sp = points(&profile_stages(Profile::Spike, 100.0, 10.0));
        assert_eq!(rate_at(&sp, 1.0), 100.0);
        assert_eq!(rate_at(&sp, 4.0), 1000.0);
        assert_eq!(rate_at(&sp, 5.9), 1000.0);
        assert_eq!(rate_at(&sp, 6.0), 100.0);
        let st = points(&profile_stages(Profile::Stress, 100.0, 10.0));
        assert_eq!(rate_at(&st, 4.9), 100.0);
        assert_eq!(rate_at(&st, 5.0), 150.0);
    }

    fn arrivals(profile: RateProfile, arrival: Arrival, until: f64) -> Vec<f64> {
        let mut g = ArrivalGen::new(arrival, profile, 11);
        let mut v = Vec::new();
        while g.peek() < until {
            v.push(g.advance());
        }
        v
    }

    #[test]
    fn arrivals_follow_the_integral_of_the_rate() {
        // 0 → 1000/s over 10 s (area 5000), hold 10 s (10000), down to 0 over 10 s (5000).
        let stages = parse_stages("10s:1000,10s:1000,10s:0").unwrap();
        let profile = RateProfile::Stages {
            points: points(&stages),
        };
        let u = arrivals(profile.clone(), Arrival::Uniform, 1e9);
        assert!((u.len() as i64 - 20_000).abs() <= 1, "{}", u.len());
        // Per window: the ramp (100/s²) has 100·1²/2 = 50 arrivals in its first second.
        let first = u.iter().filter(|t| **t < 1.0).count();
        assert!((first as i64 - 50).abs() <= 1, "{first}");
        let mid = u.iter().filter(|t| (12.0..13.0).contains(*t)).count();
        assert!((mid as i64 - 1000).abs() <= 1, "{mid}");
        // Nothing after the last stage's rate reaches 0.
        assert!(u.last().unwrap() <= &30.0);
        let p = arrivals(profile, Arrival::Poisson, 1e9);
        // Poisson(20000): 5 sigma ≈ 710.
        assert!((p.len() as f64 - 20_000.0).abs() < 710.0, "{}", p.len());
        let late = p.iter().filter(|t| **t >= 25.0).count() as f64; // area 1250
        assert!((late - 1250.0).abs() < 180.0, "{late}");
        // The constant profile is unchanged: t + 1/qps.
        let c = arrivals(RateProfile::Constant { qps: 4.0 }, Arrival::Uniform, 1.0);
        assert_eq!(c, vec![0.25, 0.5, 0.75]);
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
