//! Breakpoint search (`--find-max`): open-model steps at rising rates
//! (×`growth` from the start rate) until a step fails the SLO or the driver
//! cannot hold the rate, then bisection between the last passing and the
//! first failing rate until they are within `tolerance`. The result is the
//! highest rate that met the SLO, what limited the next one (database or
//! driver), and the evidence of every step.

use serde::{Deserialize, Serialize};

use super::step::{self, Limit, StepEnv, StepResult};
use crate::stress::results::StressResults;
use crate::stress::{Load, RateProfile, StressConfig, StressError};

/// How to search.
#[derive(Debug, Clone)]
pub struct Search {
    /// First rate tried.
    pub start_qps: f64,
    /// Factor between rising steps (> 1).
    pub growth: f64,
    /// Stop bisecting when (fail − pass) / pass is below this.
    pub tolerance: f64,
    /// Steps at most (rising and bisecting).
    pub max_steps: usize,
    /// A step's configuration; its rate is replaced per step.
    pub template: StressConfig,
}

/// The outcome of a search on one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakpoint {
    pub pool: usize,
    /// Closed-model throughput with one client per connection, measured
    /// to choose the start rate when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_qps: Option<f64>,
    /// Highest target rate that met the SLO (None: not even the first).
    pub max_qps: Option<f64>,
    /// Successful scenarios per second achieved at that rate.
    pub achieved_qps: Option<f64>,
    /// Lowest target rate that failed (None: no failure within the steps).
    pub failed_qps: Option<f64>,
    /// What limited the failing step.
    pub limit: Option<Limit>,
    /// One sentence for humans.
    pub verdict: String,
    /// Every step in the order run.
    pub steps: Vec<StepResult>,
    pub interrupted: bool,
}

impl Breakpoint {
    /// The step that met the SLO at the highest rate.
    pub fn best_step(&self) -> Option<&StepResult> {
        self.steps.iter().filter(|s| s.passed).max_by(|a, b| {
            a.target_qps
                .unwrap_or(0.0)
                .total_cmp(&b.target_qps.unwrap_or(0.0))
        })
    }
}

fn at_rate(t: &StressConfig, qps: f64) -> StressConfig {
    let mut c = t.clone();
    if let Load::Open { profile, .. } = &mut c.load {
        *profile = RateProfile::Constant { qps };
    }
    c
}

fn round(q: f64) -> f64 {
    if q >= 100.0 {
        q.round()
    } else {
        (q * 10.0).round() / 10.0
    }
}

/// Search on `env`'s pool; `on_step` sees each step as it ends. Returns
/// the breakpoint and the results of its best step (or of the first step
/// when none passed).
pub async fn search(
    env: &StepEnv<'_>,
    s: &Search,
    on_step: &mut (dyn FnMut(&StepResult) + Send),
) -> Result<(Breakpoint, Option<StressResults>), StressError> {
    let mut steps: Vec<StepResult> = Vec::new();
    let mut best: Option<StressResults> = None;
    let mut first: Option<StressResults> = None;
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    let mut interrupted = false;
    let mut rate = round(s.start_qps);
    while steps.len() < s.max_steps {
        if *env.stop.borrow() {
            interrupted = true;
            break;
        }
        let (st, r) = step::run(env, &at_rate(&s.template, rate)).await?;
        on_step(&st);
        if r.interrupted {
            interrupted = true;
            steps.push(st);
            break;
        }
        let passed = st.passed;
        steps.push(st);
        if first.is_none() {
            first = Some(r.clone());
        }
        if passed {
            lo = Some(rate);
            best = Some(r);
        } else {
            hi = Some(rate);
        }
        rate = match (lo, hi) {
            (Some(l), None) => round(l * s.growth),
            (Some(l), Some(h)) if (h - l) / l > s.tolerance => round((l + h) / 2.0),
            _ => break,
        };
        if Some(rate) == lo || Some(rate) == hi {
            break;
        }
    }
    let pool = s.template.pool;
    let limit = hi.and_then(|h| {
        steps
            .iter()
            .find(|x| x.target_qps == Some(h))
            .and_then(|x| x.limit)
    });
    let max_step = lo.and_then(|l| steps.iter().find(|x| x.passed && x.target_qps == Some(l)));
    let verdict = match (lo, hi) {
        (None, Some(h)) => {
            let why = steps
                .first()
                .map(|x| x.evidence.join("; "))
                .unwrap_or_default();
            format!(
                "the first step ({}/s) already fails the SLO, so no rate was found to meet it — try a lower --qps; {why}",
                h
            )
        }
        (Some(l), Some(h)) => format!(
            "{}/s meets the SLO, {}/s does not: {}",
            l,
            h,
            match limit {
                Some(Limit::Driver) =>
                    "the driver saturated (it could not start arrivals on time), so the database's limit may be higher",
                _ => "the database saturated",
            }
        ),
        (Some(l), None) => format!(
            "{l}/s meets the SLO; no failing rate within {} steps (raise the step count or the start rate)",
            s.max_steps
        ),
        (None, None) => "no step completed".to_string(),
    };
    let verdict = if interrupted {
        format!("interrupted: {verdict}")
    } else {
        verdict
    };
    Ok((
        Breakpoint {
            pool,
            probe_qps: None,
            max_qps: lo,
            achieved_qps: max_step.map(|x| x.qps),
            failed_qps: hi,
            limit,
            verdict,
            steps,
            interrupted,
        },
        best.or(first),
    ))
}
