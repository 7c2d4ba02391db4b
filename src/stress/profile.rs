//! How much load over time: the open model's target rate ([`RateProfile`]:
//! constant, or piecewise linear through `[t, rate]` points, with the
//! maths the schedule needs — the rate at an instant, its mean, and the
//! time at which its integral reaches a given amount) and the closed
//! model's client count over time ([`ClientRamp`]: whole clients in steps).
//! Load shapes (`--stages`, `--profile`) are built into these by
//! `capacity::stages`; the engine only follows them.

/// Target arrival rate as a function of time since the start.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RateProfile {
    Constant {
        qps: f64,
    },
    /// Piecewise linear through `points` `[t_secs, rate]` (non-decreasing
    /// t; two points at the same t make an instant step); before the first
    /// point the first rate holds, after the last point the last rate.
    Stages {
        points: Vec<[f64; 2]>,
    },
}

impl RateProfile {
    /// Arrivals per second at `t` seconds after the start.
    pub fn rate_at(&self, t: f64) -> f64 {
        match self {
            RateProfile::Constant { qps } => *qps,
            RateProfile::Stages { points } => rate_at(points, t),
        }
    }

    /// The highest rate of the profile.
    pub fn peak_rate(&self) -> f64 {
        match self {
            RateProfile::Constant { qps } => *qps,
            RateProfile::Stages { points } => points.iter().map(|p| p[1]).fold(0.0, f64::max),
        }
    }

    /// The mean rate over a run of `secs` seconds.
    pub fn mean_rate(&self, secs: f64) -> f64 {
        match self {
            RateProfile::Constant { qps } => *qps,
            RateProfile::Stages { points } => mean_rate(points, secs),
        }
    }

    /// The profile with every rate multiplied by `f` (one segment's share).
    pub fn scaled(&self, f: f64) -> RateProfile {
        match self {
            RateProfile::Constant { qps } => RateProfile::Constant { qps: qps * f },
            RateProfile::Stages { points } => RateProfile::Stages {
                points: points.iter().map(|p| [p[0], p[1] * f]).collect(),
            },
        }
    }

    /// The time after `t` at which the integral of the rate from `t` reaches
    /// `e` (infinite when the rate stays 0).
    pub fn time_after(&self, t: f64, e: f64) -> f64 {
        match self {
            RateProfile::Constant { qps } if *qps > 0.0 => t + e / qps,
            RateProfile::Constant { .. } => f64::INFINITY,
            RateProfile::Stages { points } => time_after(points, t, e),
        }
    }
}

/// One step of a closed-model ramp: `clients` clients for `secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientStep {
    pub secs: f64,
    pub clients: usize,
}

/// The closed model's client count over time (`--client-stages`): whole
/// clients in steps, from the start. After the last step the run ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientRamp {
    pub steps: Vec<ClientStep>,
}

impl ClientRamp {
    /// Clients active at `t` seconds after the start, and when that count
    /// next changes (None: it holds to the end).
    pub fn at(&self, t: f64) -> (usize, Option<f64>) {
        let mut end = 0.0;
        for (i, s) in self.steps.iter().enumerate() {
            end += s.secs;
            if t < end {
                // The next step with another count.
                let mut next = end;
                for n in &self.steps[i + 1..] {
                    if n.clients != s.clients {
                        return (s.clients, Some(next));
                    }
                    next += n.secs;
                }
                return (s.clients, None);
            }
        }
        (self.steps.last().map_or(0, |s| s.clients), None)
    }

    /// Most clients at any time.
    pub fn max_clients(&self) -> usize {
        self.steps.iter().map(|s| s.clients).max().unwrap_or(0)
    }

    /// Total length, seconds.
    pub fn secs(&self) -> f64 {
        self.steps.iter().map(|s| s.secs).sum()
    }
}

/// Rate at `t` of a piecewise-linear profile.
fn rate_at(points: &[[f64; 2]], t: f64) -> f64 {
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
fn time_after(points: &[[f64; 2]], t: f64, e: f64) -> f64 {
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
fn mean_rate(points: &[[f64; 2]], secs: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::schedule::{Arrival, ArrivalGen};

    /// 0 → 100 over 10 s, → 300 over 20 s, → 0 over 10 s.
    fn ramp() -> Vec<[f64; 2]> {
        vec![[0.0, 0.0], [10.0, 100.0], [30.0, 300.0], [40.0, 0.0]]
    }

    /// Spike at 100/s over 10 s: 100 for 4 s, 1000 for 2 s, 100 for 4 s.
    fn spike() -> Vec<[f64; 2]> {
        vec![
            [0.0, 0.0],
            [0.0, 100.0],
            [4.0, 100.0],
            [4.0, 1000.0],
            [6.0, 1000.0],
            [6.0, 100.0],
            [10.0, 100.0],
        ]
    }

    #[test]
    fn ramp_values_at_given_times() {
        let p = ramp();
        assert_eq!(rate_at(&p, 0.0), 0.0);
        assert!((rate_at(&p, 5.0) - 50.0).abs() < 1e-9);
        assert!((rate_at(&p, 10.0) - 100.0).abs() < 1e-9);
        assert!((rate_at(&p, 20.0) - 200.0).abs() < 1e-9);
        assert!((rate_at(&p, 35.0) - 150.0).abs() < 1e-9);
        assert_eq!(rate_at(&p, 40.0), 0.0);
        assert_eq!(rate_at(&p, 99.0), 0.0);
        // Instant steps: the new rate holds from the step on.
        let sp = spike();
        assert_eq!(rate_at(&sp, 1.0), 100.0);
        assert_eq!(rate_at(&sp, 4.0), 1000.0);
        assert_eq!(rate_at(&sp, 5.9), 1000.0);
        assert_eq!(rate_at(&sp, 6.0), 100.0);
        assert!((mean_rate(&sp, 10.0) - 280.0).abs() < 0.01);
        // (500 + 4000 + 1500) / 40
        assert!((mean_rate(&p, 40.0) - 150.0).abs() < 0.01);
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
        let profile = RateProfile::Stages {
            points: vec![[0.0, 0.0], [10.0, 1000.0], [20.0, 1000.0], [30.0, 0.0]],
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
    fn a_client_ramp_gives_the_count_and_its_next_change() {
        let r = ClientRamp {
            steps: vec![
                ClientStep {
                    secs: 2.0,
                    clients: 2,
                },
                ClientStep {
                    secs: 2.0,
                    clients: 6,
                },
                ClientStep {
                    secs: 1.0,
                    clients: 6,
                },
                ClientStep {
                    secs: 2.0,
                    clients: 0,
                },
            ],
        };
        assert_eq!(r.at(0.0), (2, Some(2.0)));
        assert_eq!(r.at(1.99), (2, Some(2.0)));
        assert_eq!(r.at(2.0), (6, Some(5.0)));
        assert_eq!(r.at(4.5), (6, Some(5.0)));
        assert_eq!(r.at(5.5), (0, None));
        assert_eq!(r.at(99.0), (0, None));
        assert_eq!((r.max_clients(), r.secs()), (6, 7.0));
    }
}
