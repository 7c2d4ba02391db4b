//! Breakpoint search (`--find-max`): open-model steps at rising rates
//! (×`growth` from the start rate) until a step fails the SLO or the driver
//! cannot hold the rate, then bisection between the last passing and the
//! first failing rate until they are within `tolerance`. The result is the
//! highest rate that met the SLO, what limited the next one (database or
//! driver), and the evidence of every step.

use super::model::{Breakpoint, Limit, StepResult};
use super::step::{self, StepEnv};
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
            // The partial step stands in when nothing else completed.
            first.get_or_insert(r);
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
