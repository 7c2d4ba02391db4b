//! Glue for the multi-step modes of `dbload stress`: `--find-max` (and
//! `--profile breakpoint`), `--pool` lists and ranges, and `--capacity`.
//! Flags → SLOs and step templates; the workload is checked and the server
//! snapshotted as for a single run; the steps run on the engine's own
//! runtime with one progress line per step on stderr; the results of the
//! representative step carry the `sweep` or `capacity` report.

use std::process::ExitCode;
use std::time::Duration;

use crate::capacity::breakpoint::Search;
use crate::capacity::concurrency::{self, CapacityReport, SweepEnv};
use crate::capacity::stages::Profile;
use crate::capacity::step::StepResult;
use crate::capacity::sweep::{self, Mode, Sweep};
use crate::cli::{ArrivalArg, GlobalArgs, StressArgs, StressFormat};
use crate::report;
use crate::stress::results::StressResults;
use crate::stress::{Arrival, Load, RateProfile, StressConfig, Threshold, threshold};

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

fn parse_all(exprs: &[String], flag: &str) -> anyhow::Result<Vec<Threshold>> {
    exprs
        .iter()
        .map(|t| threshold::parse(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .collect()
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

fn step_template(args: &StressArgs, load: Load, pool: usize) -> StressConfig {
    let step = args.step_duration;
    StressConfig {
        load,
        duration: step,
        warmup: args.warmup.min(step / 5),
        pool,
        seed: args.seed.unwrap_or_else(rand::random),
        drain_timeout: args.drain_timeout.min(step.max(Duration::from_secs(2))),
        timer_resolution: args.timer_resolution,
    }
}

fn job(args: &StressArgs) -> anyhow::Result<Job> {
    let cpus = crate::capacity::procstat::cpus();
    if args.step_duration.is_zero() {
        anyhow::bail!("--step-duration must be more than 0");
    }
    if let Some(t) = args.target_qps
        && !(t > 0.0 && t.is_finite())
    {
        anyhow::bail!("--target-qps {t}: must be a positive number");
    }
    if args.capacity {
        if args.max_clients == 0 {
            anyhow::bail!("--max-clients must be at least 1");
        }
        return Ok(Job::Capacity {
            template: step_template(args, Load::Closed { clients: 1 }, 1),
            levels: args.pool.as_ref().map(|p| p.0.clone()),
            max_clients: args.max_clients,
            target: args.target_qps,
        });
    }
    let find_max = args.find_max || super::shapes::profile_arg(args)? == Some(Profile::Breakpoint);
    if find_max {
        if let Some(q) = args.qps
            && !(q > 0.0 && q.is_finite())
        {
            anyhow::bail!("--qps {q}: must be a positive number");
        }
        if args.max_inflight == 0 {
            anyhow::bail!("--max-inflight must be at least 1");
        }
        let pools = match &args.pool {
            Some(p) => p.0.clone(),
            None => vec![(4 * cpus).max(8)],
        };
        let open = Load::Open {
            profile: RateProfile::Constant {
                qps: args.qps.unwrap_or(1.0),
            },
            arrival: match args.arrival {
                ArrivalArg::Poisson => Arrival::Poisson,
                ArrivalArg::Uniform => Arrival::Uniform,
            },
            max_inflight: args.max_inflight,
        };
        let template = step_template(args, open, pools[0]);
        let probe = step_template(args, Load::Closed { clients: 1 }, 1);
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
    let cfg = super::stress::config(args)?;
    let pools = args.pool.as_ref().map(|p| p.0.clone()).unwrap_or_default();
    Ok(Job::Sweep(pools, Mode::Rate { cfg }))
}

pub async fn run(global: &GlobalArgs, args: StressArgs) -> anyhow::Result<ExitCode> {
    let job = job(&args)?;
    let slo_exprs: Vec<String> = if args.slos.is_empty() {
        let d: Vec<String> = DEFAULT_SLO.iter().map(|s| s.to_string()).collect();
        eprintln!("dbload: no --slo given; using {}", d.join(", "));
        d
    } else {
        args.slos.clone()
    };
    let slos = parse_all(&slo_exprs, "--slo")?;
    let thresholds = parse_all(&args.thresholds, "--threshold")?;
    let workload = super::workload::load(args.workload.as_deref(), "--workload")?;
    let names: Vec<String> = workload.scenarios.iter().map(|s| s.name.clone()).collect();
    threshold::check_names(&slos, &names).map_err(|e| anyhow::anyhow!("--slo: {e}"))?;
    threshold::check_names(&thresholds, &names).map_err(|e| anyhow::anyhow!("--threshold: {e}"))?;

    let super::stress::RunContext {
        target,
        prepared,
        admin,
        server_info,
        dataset,
        before,
    } = super::stress::RunContext::open(global, &args, workload).await?;
    let (stop_rx, ctrl_c) = super::stress::stop_on_ctrl_c("finishing the current step");
    match &job {
        Job::Capacity { .. } => eprintln!(
            "dbload: {} on {target} — closed-model concurrency sweep, {:?} per step",
            prepared.workload.name, args.step_duration
        ),
        Job::Sweep(pools, Mode::FindMax { .. }) => eprintln!(
            "dbload: {} on {target} — breakpoint search on pool {}, {:?} per step, SLO {}",
            prepared.workload.name,
            pools
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            args.step_duration,
            slo_exprs.join(", ")
        ),
        Job::Sweep(pools, Mode::Rate { cfg }) => eprintln!(
            "dbload: {} on {target} — the same run on pool {}, {:?} each",
            prepared.workload.name,
            pools
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.warmup + cfg.duration
        ),
    }
    let engine_target = target.clone();
    let engine_prepared = prepared.clone();
    let engine_slos = slos.clone();
    let threads = args.threads.unwrap_or_else(crate::capacity::procstat::cpus);
    let handle = std::thread::Builder::new()
        .name("dbload-capacity".into())
        .spawn(move || -> anyhow::Result<Done> {
            let rt = super::stress::engine_runtime(threads)?;
            rt.block_on(async move {
                let admin = crate::db::connect(&engine_target).await?;
                let env = SweepEnv {
                    target: &engine_target,
                    prepared: engine_prepared,
                    admin: &admin,
                    slos: &engine_slos,
                    stop: stop_rx,
                    counter: Default::default(),
                };
                let mut on_step =
                    |s: &StepResult| eprintln!("{}", report::capacity_table::step_line(s));
                Ok(match job {
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
                        let (c, r) =
                            concurrency::sweep(&env, &template, &levels, target, &mut on_step)
                                .await?;
                        Done::Capacity(Box::new(c), r)
                    }
                })
            })
        })?;
    let done = tokio::task::spawn_blocking(move || {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("the stress engine panicked"))?
    })
    .await??;
    ctrl_c.abort();

    let (mut results, interrupted, no_result, rendered, md) = match done {
        Done::Sweep(sw, r) => {
            let interrupted = sw
                .pools
                .iter()
                .any(|p| p.breakpoint.as_ref().is_some_and(|b| b.interrupted));
            let no_result = sw.recommendation.pool.is_none();
            let (t, m) = (
                report::capacity_table::render_sweep(&sw),
                report::capacity_markdown::render_sweep(&sw),
            );
            let mut r = r.ok_or_else(|| anyhow::anyhow!("no step completed"))?;
            r.sweep = Some(*sw);
            (r, interrupted, no_result, t, m)
        }
        Done::Capacity(c, r) => {
            let short = c.plan.headroom_pct.is_some_and(|h| h < 0.0);
            let no_result = c.plan.max_qps.is_none() || short;
            let interrupted = c.interrupted;
            let (t, m) = (
                report::capacity_table::render_capacity(&c),
                report::capacity_markdown::render_capacity(&c),
            );
            let mut r = r.ok_or_else(|| anyhow::anyhow!("no step completed"))?;
            r.capacity = Some(*c);
            (r, interrupted, no_result, t, m)
        }
    };
    results.server = server_info;
    results.dataset = dataset;
    results.server_statements = super::stress::top_statements(&admin, before.as_ref()).await;
    threshold::apply(&thresholds, &mut results);
    results.verdict.exit_code = if interrupted {
        crate::EXIT_INVALID_RUN
    } else if no_result || results.verdict.thresholds.iter().any(|t| !t.passed) {
        crate::EXIT_FAILED_CHECK
    } else {
        0
    };
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json + "\n")
            .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?;
    }
    match args.format {
        StressFormat::Table => print!("{rendered}"),
        StressFormat::Markdown => print!("{md}"),
        StressFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    Ok(ExitCode::from(results.verdict.exit_code))
}
