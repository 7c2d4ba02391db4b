//! The open model's arrival schedule: intended start times drawn from a
//! Poisson process (exponential gaps) or evenly spaced, at a rate given by a
//! [`RateProfile`] (constant, or piecewise-linear stages). Gaps are drawn in
//! "rate time" (the integral of the rate), so a ramp's arrivals follow the
//! ramp exactly. Workers claim the
//! next arrival under a short lock — nothing is queued or sent per arrival,
//! so an overloaded driver shows up as lag or dropped arrivals, never as
//! silently missing ones.
//!
//! A segmented run (`--segment K/N`) draws the ONE global schedule of the
//! run's seed and keeps arrival `i` (0-based, in schedule order) when
//! `i mod N == K` ([`ArrivalGen::segment`]): the N workers' arrivals are
//! exactly the one-process schedule, stages and spikes aligned.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::profile::RateProfile;
use super::segment::Segment;

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Exponential gaps (memoryless arrivals, like independent users).
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// A deterministic sequence of arrival times (seconds from the start).
#[derive(Debug, Clone)]
pub struct ArrivalGen {
    arrival: Arrival,
    profile: RateProfile,
    rng: SmallRng,
    next: f64,
    /// Keep only this segment's arrivals (None: all).
    segment: Option<Segment>,
    /// Global index of the arrival at `next`.
    index: u64,
}

impl ArrivalGen {
    pub fn new(arrival: Arrival, profile: RateProfile, seed: u64) -> Self {
        let mut g = ArrivalGen {
            arrival,
            profile,
            rng: SmallRng::seed_from_u64(seed),
            next: 0.0,
            segment: None,
            index: 0,
        };
        // The first arrival is one gap after the start, like every other.
        g.next = g.next_after(0.0);
        g
    }

    /// Only the arrivals of segment `seg` of the global schedule: arrival
    /// `i` when `i mod N == K`.
    pub fn segment(mut self, seg: Segment) -> Self {
        self.segment = Some(seg);
        self.skip_others();
        self
    }

    /// Move on to the next arrival this generator keeps.
    fn skip_others(&mut self) {
        if let Some(seg) = self.segment {
            while !seg.owns(self.index) && self.next.is_finite() {
                self.next = self.next_after(self.next);
                self.index += 1;
            }
        }
    }

    /// The arrival after one at `t`: one unit (uniform) or an Exp(1) draw
    /// (Poisson) of integrated rate later.
    fn next_after(&mut self, t: f64) -> f64 {
        let e = match self.arrival {
            Arrival::Uniform => 1.0,
            Arrival::Poisson => {
                let u: f64 = self.rng.random::<f64>();
                -(1.0 - u).ln()
            }
        };
        self.profile.time_after(t, e)
    }

    /// The time of the next arrival, without consuming it.
    pub fn peek(&self) -> f64 {
        self.next
    }

    /// Consume the next arrival and return its time.
    pub fn advance(&mut self) -> f64 {
        let t = self.next;
        self.next = self.next_after(t);
        self.index += 1;
        self.skip_others();
        t
    }
}

/// The shared schedule of one run.
#[derive(Debug)]
pub struct Schedule {
    pub start: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    arrivals: ArrivalGen,
    /// No arrival at or after this time (seconds from start) is handed out.
    end: f64,
    /// Arrivals handed out, by whether they fall in the measured window.
    claimed_measured: u64,
}

/// One claimed arrival.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// The intended start.
    pub at: Instant,
    /// Whether it falls after the warm-up (its statistics count).
    pub measured: bool,
}

impl Schedule {
    pub fn new(start: Instant, arrivals: ArrivalGen, end: Duration) -> Self {
        Schedule {
            start,
            inner: Mutex::new(Inner {
                arrivals,
                end: end.as_secs_f64(),
                claimed_measured: 0,
            }),
        }
    }

    /// Claim the next arrival, or None once the schedule has ended.
    pub fn claim(&self, warmup: f64) -> Option<Claim> {
        let mut g = self.inner.lock().unwrap();
        if g.arrivals.peek() >= g.end {
            return None;
        }
        let t = g.arrivals.advance();
        let measured = t >= warmup;
        if measured {
            g.claimed_measured += 1;
        }
        Some(Claim {
            at: self.start + Duration::from_secs_f64(t),
            measured,
        })
    }

    /// End the schedule early (Ctrl-C): arrivals after `at` are not handed out.
    pub fn end_at(&self, at: Instant) {
        let mut g = self.inner.lock().unwrap();
        let t = at.saturating_duration_since(self.start).as_secs_f64();
        if t < g.end {
            g.end = t;
        }
    }

    /// Arrivals due before the end that nobody claimed (all slots busy to the
    /// end): consumed here and returned, to be counted as dropped.
    pub fn drain_unclaimed(&self, warmup: f64) -> u64 {
        self.drop_due_before(None, warmup)
    }

    /// Arrivals due before `before` (None: the end) that nobody claimed in
    /// time: consumed and returned (the measured ones), to be counted as
    /// dropped in the interval they became overdue, not when a worker
    /// frees up after a stall.
    pub fn drop_due_before(&self, before: Option<Instant>, warmup: f64) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let limit = before.map_or(f64::INFINITY, |b| {
            b.saturating_duration_since(self.start).as_secs_f64()
        });
        let mut n = 0;
        while g.arrivals.peek() < g.end.min(limit) {
            if g.arrivals.advance() >= warmup {
                g.claimed_measured += 1;
                n += 1;
            }
        }
        n
    }

    /// Give back a claimed arrival that will not run because the schedule
    /// was ended early (its intended start is after the new end).
    pub fn unclaim(&self, claim: &Claim) {
        if claim.measured {
            let mut g = self.inner.lock().unwrap();
            g.claimed_measured = g.claimed_measured.saturating_sub(1);
        }
    }

    /// Measured arrivals handed out so far (started + dropped).
    pub fn scheduled(&self) -> u64 {
        self.inner.lock().unwrap().claimed_measured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(arrival: Arrival, qps: f64, secs: f64, seed: u64) -> Vec<f64> {
        let mut g = ArrivalGen::new(arrival, RateProfile::Constant { qps }, seed);
        let mut v = Vec::new();
        while g.peek() < secs {
            v.push(g.advance());
        }
        v
    }

    fn all_before(mut g: ArrivalGen, secs: f64) -> Vec<f64> {
        let mut v = Vec::new();
        while g.peek() < secs {
            v.push(g.advance());
        }
        v
    }

    #[test]
    fn the_segments_arrivals_are_exactly_the_one_process_schedule() {
        let staged = RateProfile::Stages {
            points: vec![
                [0.0, 0.0],
                [2.0, 500.0],
                [3.0, 500.0],
                [3.0, 5000.0],
                [3.5, 5000.0],
                [3.5, 200.0],
                [6.0, 0.0],
            ],
        };
        for (arrival, profile, seed) in [
            (Arrival::Poisson, RateProfile::Constant { qps: 997.0 }, 7),
            (Arrival::Uniform, RateProfile::Constant { qps: 250.0 }, 1),
            (Arrival::Poisson, staged.clone(), 42),
            (Arrival::Uniform, staged, 3),
        ] {
            let one = all_before(ArrivalGen::new(arrival, profile.clone(), seed), 6.0);
            assert!(one.len() > 1000, "{}", one.len());
            for n in [1u32, 2, 3, 7] {
                let parts: Vec<Vec<f64>> = (0..n)
                    .map(|k| {
                        let g = ArrivalGen::new(arrival, profile.clone(), seed)
                            .segment(Segment::new(k, n).unwrap());
                        all_before(g, 6.0)
                    })
                    .collect();
                // Arrival i went to worker i mod N, bit for bit.
                for (i, t) in one.iter().enumerate() {
                    let k = i % n as usize;
                    assert_eq!(
                        parts[k][i / n as usize].to_bits(),
                        t.to_bits(),
                        "N={n} i={i}"
                    );
                }
                assert_eq!(
                    parts.iter().map(Vec::len).sum::<usize>(),
                    one.len(),
                    "N={n}"
                );
                // The union, sorted, is the one-process schedule.
                let mut union: Vec<f64> = parts.concat();
                union.sort_by(f64::total_cmp);
                assert_eq!(union, one, "N={n}");
            }
        }
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced() {
        let t = times(Arrival::Uniform, 100.0, 10.0, 1);
        assert!((999..=1000).contains(&t.len()), "{}", t.len());
        for w in t.windows(2) {
            assert!((w[1] - w[0] - 0.01).abs() < 1e-9);
        }
    }

    #[test]
    fn poisson_arrivals_have_the_rate_and_exponential_gaps() {
        let t = times(Arrival::Poisson, 1000.0, 100.0, 7);
        let n = t.len() as f64;
        // Count ~ Poisson(100000): 5 sigma is ~1600.
        assert!((n - 100_000.0).abs() < 1600.0, "{n}");
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((mean - 0.001).abs() < 0.00003, "mean gap {mean}");
        assert!((cv - 1.0).abs() < 0.03, "coefficient of variation {cv}");
        // Deterministic with a seed.
        assert_eq!(
            times(Arrival::Poisson, 50.0, 5.0, 3),
            times(Arrival::Poisson, 50.0, 5.0, 3)
        );
    }

    #[test]
    fn schedule_stops_at_the_end_and_counts_measured_arrivals() {
        let start = Instant::now();
        let g = ArrivalGen::new(Arrival::Uniform, RateProfile::Constant { qps: 10.0 }, 1);
        let s = Schedule::new(start, g, Duration::from_secs_f64(2.05));
        let mut n = 0;
        let mut measured = 0;
        while let Some(c) = s.claim(0.95) {
            n += 1;
            measured += c.measured as u64;
        }
        assert_eq!(n, 20); // 0.1, 0.2, … 2.0
        assert_eq!(measured, 11); // 1.0 … 2.0
        assert_eq!(s.scheduled(), 11);
    }

    #[test]
    fn overdue_arrivals_are_dropped_up_to_an_instant() {
        let start = Instant::now();
        let g = ArrivalGen::new(Arrival::Uniform, RateProfile::Constant { qps: 10.0 }, 1);
        let s = Schedule::new(start, g, Duration::from_secs_f64(2.05));
        // Due before 0.55 s: 0.1 … 0.5, of which 0.5 is measured.
        let dropped = s.drop_due_before(Some(start + Duration::from_millis(550)), 0.45);
        assert_eq!(dropped, 1);
        assert_eq!(
            s.claim(0.45).unwrap().at,
            start + Duration::from_millis(600)
        );
        // The rest up to the end.
        assert_eq!(s.drain_unclaimed(0.45), 14);
        assert_eq!(s.scheduled(), 16);
    }
}
