//! Glue for staged runs (`--stages`, `--profile spike|stress|soak`): the
//! flags → a piecewise-linear [`RateProfile`] and its stage windows, the
//! driver memory samples a soak needs, and the per-stage results attached
//! to a finished run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capacity::stages::{self, Profile, StageWindow};
use crate::capacity::{procstat, soak};
use crate::cli::StressArgs;
use crate::stress::RateProfile;
use crate::stress::results::StressResults;

/// A staged open-model run.
#[derive(Debug, Clone)]
pub struct Shape {
    pub profile: RateProfile,
    /// The whole run (no separate warm-up: the stages are the run).
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
            if args.duration.is_zero() {
                anyhow::bail!("--duration must be more than 0");
            }
            (
                stages::profile_stages(p, q, args.duration.as_secs_f64()),
                p == Profile::Soak,
            )
        }
    };
    Ok(Some(Shape {
        profile: RateProfile::Stages {
            points: stages::points(&list),
        },
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
pub fn attach(results: &mut StressResults, shape: &Shape, rss: &RssSamples) {
    results.stages = Some(stages::stage_results(&shape.windows, &results.intervals));
    if shape.soak {
        results.soak = Some(soak::report(&results.intervals, &rss.lock().unwrap()));
    }
}
