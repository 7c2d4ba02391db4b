//! Glue for the multi-step modes of `dbload stress`: `--find-max` (and
//! `--profile breakpoint`), `--pool` lists and ranges, and `--capacity`.
//! Flags → SLOs and step templates; one session on the target (as for a
//! single run) runs every step, each on its own driver threads, with one
//! progress line per step on stderr; the results of the representative
//! step carry the `sweep` or `capacity` report.

use std::process::ExitCode;
use std::time::Duration;

use super::engine;
use crate::capacity::breakpoint::Search;
use crate::capacity::concurrency;
use crate::capacity::model::{CapacityReport, Shaped, StepResult, Sweep};
use crate::capacity::stages::Profile;
use crate::capacity::step::StepEnv;
use crate::capacity::sweep::{self, Mode};
use crate::cli::{ConnArgs, StressArgs, StressFormat};
use crate::report;
use crate::stress::results::StressResults;
use crate::stress::{Settings, StressConfig};

/// The SLO used when none is given.
pub const DEFAULT_SLO: [&str; 2] = ["p99<100ms", "error_rate<1%"];
/// Rising steps multiply the rate by this.
pub const GROWTH: f64 = 1.5;
/// Bisection stops when the passing and failing rates are this close.
pub const TOLERANCE: f64 = 0.05;
/// Steps per breakpoint search at most.
pub const MAX_STEPS: usize = 12;

/// Whether the flags ask for a multi-step mode.
pub fn wanted(args: &StressArgs) -> anyhow::Result<bool> {
    Ok(args.find_max
        || args.capacity
        || super::shapes::profile_arg(args)? == Some(Profile::Breakpoint)
        || args.pool.as_ref().is_some_and(|p| p.0.len() > 1))
}

enum Job {
    Sweep(Vec<usize>, Mode),
    Capacity {
        template: StressConfig,
        levels: Option<Vec<usize>>,
        max_clients: usize,
        target: Option<f64>,
    },
}

enum Done {
    Sweep(Box<Sweep>, Option<StressResults>),
    Capacity(Box<CapacityReport>, Option<StressResults>),
}

/// A step of `--step-duration` with the flags' other settings (`base`
/// gives the load): the warm-up at most a fifth of the step, the drain
/// timeout at most the step (and at least 2 s).
fn step_template(args: &StressArgs, base: Settings) -> anyhow::Result<StressConfig> {
    let step = args.step_duration;
    let mut s = Settings {
        duration: Some(step),
        ..base
    };
    let cfg = StressConfig::from_settings(&s).map_err(engine::flag_error)?;
    s.warmup = Some(cfg.warmup.min(step / 5));
    s.drain_timeout = Some(cfg.drain_timeout.min(step.max(Duration::from_secs(2))));
    s.seed = Some(cfg.seed);
    StressConfig::from_settings(&s).map_err(engine::flag_error)
}

fn job(args: &StressArgs) -> anyhow::Result<Job> {
    if args.step_duration.is_zero() {
        anyhow::bail!("--step-duration must be more than 0");
    }
    if let Some(t) = args.target_qps
        && !(t > 0.0 && t.is_finite())
    {
        anyhow::bail!("--target-qps {t}: must be a positive number");
    }
    let flags = engine::settings(args, None);
    let closed_probe = || Settings {
        qps: None,
        clients: Some(1),
        pool: Some(1),
        ..flags.clone()
    };
    if args.capacity {
        if args.max_clients == 0 {
            anyhow::bail!("--max-clients must be at least 1");
        }
        return Ok(Job::Capacity {
            template: step_template(args, closed_probe())?,
            levels: args.pool.as_ref().map(|p| p.0.clone()),
            max_clients: args.max_clients,
            target: args.target_qps,
        });
    }
    let find_max = args.find_max || super::shapes::profile_arg(args)? == Some(Profile::Breakpoint);
    if find_max {
        // Without --qps the search starts from a closed-model probe; the
        // template's rate is replaced at every step.
        let template = step_template(
            args,
            Settings {
                qps: Some(args.qps.unwrap_or(1.0)),
                ..flags.clone()
            },
        )?;
        let pools = match &args.pool {
            Some(p) => p.0.clone(),
            None => vec![template.pool],
        };
        let probe = step_template(args, closed_probe())?;
        return Ok(Job::Sweep(
            pools,
            Mode::FindMax {
                search: Search {
                    start_qps: args.qps.unwrap_or(1.0),
                    growth: GROWTH,
                    tolerance: TOLERANCE,
                    max_steps: MAX_STEPS,
                    template,
                },
                start_qps: args.qps,
                probe,
            },
        ));
    }
    let cfg = engine::config(args, super::shapes::shape(args)?.as_ref())?;
    let pools = args.pool.as_ref().map(|p| p.0.clone()).unwrap_or_default();
    Ok(Job::Sweep(pools, Mode::Rate { cfg }))
}

pub async fn run(conn: &ConnArgs, args: StressArgs) -> anyhow::Result<ExitCode> {
    super::live::check(&args.metrics)?;
    if args.hdr_log.is_some() {
        anyhow::bail!(
            "--hdr-log is for a single run; --find-max, --pool lists and --capacity run many (each step's results file has its histograms)"
        );
    }
    let job = job(&args)?;
    let slo_exprs: Vec<String> = if args.slos.is_empty() {
        let d: Vec<String> = DEFAULT_SLO.iter().map(|s| s.to_string()).collect();
        eprintln!("dbload: no --slo given; using {}", d.join(", "));
        d
    } else {
        args.slos.clone()
    };
    let workload = super::workload::load(args.workload.as_deref(), "--workload")?;
    let slos = engine::thresholds(&slo_exprs, "--slo", &workload)?;
    let thresholds = engine::thresholds(&args.thresholds, "--threshold", &workload)?;
    let session = engine::open(conn, &args, workload).await?;
    let mode = match &job {
        Job::Capacity { .. } => "capacity",
        Job::Sweep(_, Mode::FindMax { .. }) => "find_max",
        Job::Sweep(_, Mode::Rate { .. }) => "pool_sweep",
    };
    let (session, live) = super::live::watch(&args.metrics, session, mode, Vec::new()).await?;
    let target = session.target().clone();
    let name = session.prepared().workload.name.clone();
    let stop = super::signals::stop_flag("finishing the current step and writing partial results")?;
    let list = |pools: &[usize]| {
        pools
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &job {
        Job::Capacity { .. } => eprintln!(
            "dbload: {name} on {target} — closed-model concurrency sweep, {:?} per step",
            args.step_duration
        ),
        Job::Sweep(pools, Mode::FindMax { .. }) => eprintln!(
            "dbload: {name} on {target} — breakpoint search on pool {}, {:?} per step, SLO {}",
            list(pools),
            args.step_duration,
            slo_exprs.join(", ")
        ),
        Job::Sweep(pools, Mode::Rate { cfg }) => eprintln!(
            "dbload: {name} on {target} — the same run on pool {}, {:?} each",
            list(pools),
            cfg.warmup + cfg.duration
        ),
    }
    let env = StepEnv::new(&session, &slos, stop);
    let mut on_step = |s: &StepResult| eprintln!("{}", report::capacity_table::step_line(s));
    let done = match job {
        Job::Sweep(pools, mode) => {
            let (sw, r) = sweep::run(&env, &pools, &mode, &mut on_step).await?;
            Done::Sweep(Box::new(sw), r)
        }
        Job::Capacity {
            template,
            levels,
            max_clients,
            target,
        } => {
            let levels = levels.unwrap_or_else(|| concurrency::levels(max_clients));
            let (c, r) = concurrency::sweep(&env, &template, &levels, target, &mut on_step).await?;
            Done::Capacity(Box::new(c), r)
        }
    };

    // A signal may have ended a step whose own report cannot say so (a
    // pool sweep's steps at a fixed rate; a probe).
    let signalled = super::signals::received();
    let (r, shaped, interrupted, no_result, rendered, md) = match done {
        Done::Sweep(sw, r) => {
            let interrupted = signalled
                || sw
                    .pools
                    .iter()
                    .any(|p| p.breakpoint.as_ref().is_some_and(|b| b.interrupted));
            let no_result = sw.recommendation.pool.is_none();
            let (t, m) = (
                report::capacity_table::render_sweep(&sw),
                report::capacity_markdown::render_sweep(&sw),
            );
            let shaped = Shaped {
                sweep: Some(*sw),
                ..Shaped::default()
            };
            (r, shaped, interrupted, no_result, t, m)
        }
        Done::Capacity(c, r) => {
            let short = c.plan.headroom_pct.is_some_and(|h| h < 0.0);
            let no_result = c.plan.max_qps.is_none() || short;
            let interrupted = signalled || c.interrupted;
            let (t, m) = (
                report::capacity_table::render_capacity(&c),
                report::capacity_markdown::render_capacity(&c),
            );
            let shaped = Shaped {
                capacity: Some(*c),
                ..Shaped::default()
            };
            (r, shaped, interrupted, no_result, t, m)
        }
    };
    let mut results = match r {
        Some(r) => r,
        None if interrupted => {
            eprintln!("dbload: interrupted before any step completed: nothing to report");
            return Ok(ExitCode::from(crate::EXIT_INVALID_RUN));
        }
        None => anyhow::bail!("no step completed"),
    };
    shaped.attach(&mut results).map_err(anyhow::Error::msg)?;
    // The server-side view covers every step.
    results.server_statements = session.statements_since_open().await;
    crate::stress::threshold::apply(&thresholds, &mut results);
    if interrupted {
        results.mark_interrupted();
    } else if no_result || results.verdict.thresholds.iter().any(|t| !t.passed) {
        results.verdict.exit_code = crate::EXIT_FAILED_CHECK;
    } else {
        results.verdict.exit_code = 0;
    }
    engine::write_results(args.out.as_deref(), &results)?;
    match args.format {
        StressFormat::Table => print!("{rendered}"),
        StressFormat::Markdown => print!("{md}"),
        StressFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        StressFormat::Csv => print!("{}", report::csv_summary::stress(&results)),
    }
    if let Some(l) = live {
        l.finish().await;
    }
    Ok(ExitCode::from(results.verdict.exit_code))
}
