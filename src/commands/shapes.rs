//! Glue for staged runs (`--stages`, `--profile spike|stress|soak`,
//! `--client-stages`): the flags → a piecewise-linear [`RateProfile`] (or
//! client-count stages for the closed model) and its stage windows, the
//! driver memory samples a soak needs, and the per-stage results attached
//! to a finished run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capacity::stages::{self, Profile, Stage, StageWindow};
use crate::capacity::{closed_stages, procstat, soak};
use crate::cli::StressArgs;
use crate::stress::results::StressResults;
use crate::stress::{Hooks, RateProfile, RunOutcome, StressConfig, StressError};

/// A staged open-model run.
#[derive(Debug, Clone)]
pub struct Shape {
    pub profile: RateProfile,
    /// The whole run (no separate warm-up: the stages are the run).
    pub duration: Duration,
    pub windows: Vec<StageWindow>,
    pub soak: bool,
    /// `--client-stages`: the stages are client counts (closed model).
    pub client_stages: Option<Vec<Stage>>,
    /// Most clients at any time (closed model).
    pub clients: usize,
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
            profile: RateProfile::Stages {
                points: stages::points(&list),
            },
            duration: Duration::from_secs_f64(stages::total_secs(&list)),
            windows: stages::windows(&list),
            soak: false,
            clients: closed_stages::max_clients(&list),
            client_stages: Some(list),
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
        client_stages: None,
        clients: 0,
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

/// Run `--client-stages` on the engine's runtime, one line per sub-step on stderr.
pub async fn run_client_stages(
    pool: deadpool_postgres::Pool,
    prepared: Arc<crate::workload::Prepared>,
    cfg: &StressConfig,
    list: &[Stage],
    hooks: Hooks,
) -> Result<RunOutcome, StressError> {
    closed_stages::run(pool, prepared, cfg, list, hooks.stop, &mut |t, s| {
        eprintln!("{t:>6.1}s  {} clients for {:.1}s", s.clients, s.secs)
    })
    .await
}
