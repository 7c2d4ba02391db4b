//! Glue for staged runs (`--stages`, `--profile spike|stress|soak`,
//! `--client-stages`): the flags → a piecewise-linear [`RateProfile`] (or a
//! closed-model [`ClientRamp`]) and its stage windows, the driver memory
//! samples a soak needs, and the per-stage results attached to a finished
//! run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capacity::model::{Shaped, StageWindow};
use crate::capacity::stages::{self, Profile};
use crate::capacity::{procstat, soak};
use crate::cli::StressArgs;
use crate::stress::config::DEFAULT_DURATION;
use crate::stress::{ClientRamp, RateProfile, StressResults};

/// A staged run: the stages are the whole run.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Open model: the rate over time.
    pub profile: Option<RateProfile>,
    /// `--client-stages`: the closed model's clients over time.
    pub ramp: Option<ClientRamp>,
    pub duration: Duration,
    pub windows: Vec<StageWindow>,
    pub soak: bool,
}

/// The `--profile` named, if any.
pub fn profile_arg(args: &StressArgs) -> anyhow::Result<Option<Profile>> {
    args.profile
        .as_deref()
        .map(|p| Profile::parse(p).map_err(|e| anyhow::anyhow!("--profile: {e}")))
        .transpose()
}

/// The staged shape of a single run, or None for a constant rate (and for
/// `--profile breakpoint`, which is a search, not a shape).
pub fn shape(args: &StressArgs) -> anyhow::Result<Option<Shape>> {
    if let Some(spec) = &args.client_stages {
        let list =
            stages::parse_stages(spec).map_err(|e| anyhow::anyhow!("--client-stages: {e}"))?;
        return Ok(Some(Shape {
            profile: None,
            ramp: Some(stages::client_ramp(&list)),
            duration: Duration::from_secs_f64(stages::total_secs(&list)),
            windows: stages::windows(&list),
            soak: false,
        }));
    }
    let (list, soak) = match (&args.stages, profile_arg(args)?) {
        (Some(spec), _) => (
            stages::parse_stages(spec).map_err(|e| anyhow::anyhow!("--stages: {e}"))?,
            false,
        ),
        (None, Some(Profile::Breakpoint)) | (None, None) => return Ok(None),
        (None, Some(p)) => {
            let q = args.qps.unwrap_or(0.0);
            if !(q > 0.0 && q.is_finite()) {
                anyhow::bail!("--profile {p:?} needs a positive --qps (its target rate)");
            }
            let secs = args.duration.unwrap_or(DEFAULT_DURATION).as_secs_f64();
            (stages::profile_stages(p, q, secs), p == Profile::Soak)
        }
    };
    Ok(Some(Shape {
        profile: Some(stages::profile(&list)),
        ramp: None,
        duration: Duration::from_secs_f64(stages::total_secs(&list)),
        windows: stages::windows(&list),
        soak,
    }))
}

/// Driver memory samples (KiB), one per interval.
pub type RssSamples = Arc<Mutex<Vec<u64>>>;

/// Record the driver's RSS now (called from the interval hook).
pub fn sample_rss(into: &RssSamples) {
    if let Some(k) = procstat::rss_kib() {
        into.lock().unwrap().push(k);
    }
}

/// Attach per-stage results (and the soak report) to a finished run.
pub fn attach(results: &mut StressResults, shape: &Shape, rss: &RssSamples) -> anyhow::Result<()> {
    let shaped = Shaped {
        stages: Some(stages::stage_results(&shape.windows, &results.intervals)),
        soak: shape
            .soak
            .then(|| soak::report(&results.intervals, &rss.lock().unwrap())),
        ..Shaped::default()
    };
    shaped.attach(results).map_err(anyhow::Error::msg)
}

/// The steps of a client ramp as lines for stderr.
pub fn ramp_lines(ramp: &ClientRamp) -> Vec<String> {
    let mut t = 0.0;
    ramp.steps
        .iter()
        .map(|s| {
            let line = format!("{t:>6.1}s  {} clients for {:.1}s", s.clients, s.secs);
            t += s.secs;
            line
        })
        .collect()
}
