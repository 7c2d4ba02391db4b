//! `dbload stress`: turn the flags into a [`StressConfig`], check the
//! workload against the target, snapshot the server, run the engine with
//! live progress and Ctrl-C handling, then write JSON and render the summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ArrivalArg, GlobalArgs, StressArgs, StressFormat};
use crate::report;
use crate::stress::{self, Arrival, Hooks, Load, RateProfile, StressConfig, server, threshold};

pub(super) fn config(args: &StressArgs) -> anyhow::Result<StressConfig> {
    let cpus = crate::sys::cpus();
    let shape = super::shapes::shape(args)?;
    let load = match (args.qps, args.clients) {
        _ if shape.as_ref().is_some_and(|s| s.client_stages.is_some()) => Load::Closed {
            clients: shape.as_ref().unwrap().clients,
        },
        _ if shape.is_some() => {
            if args.max_inflight == 0 {
                anyhow::bail!("--max-inflight must be at least 1");
            }
            Load::Open {
                profile: shape.as_ref().unwrap().profile.clone(),
                arrival: match args.arrival {
                    ArrivalArg::Poisson => Arrival::Poisson,
                    ArrivalArg::Uniform => Arrival::Uniform,
                },
                max_inflight: args.max_inflight,
            }
        }
        (Some(q), None) => {
            if !(q > 0.0 && q.is_finite()) {
                anyhow::bail!("--qps {q}: must be a positive number");
            }
            if args.max_inflight == 0 {
                anyhow::bail!("--max-inflight must be at least 1");
            }
            Load::Open {
                profile: RateProfile::Constant { qps: q },
                arrival: match args.arrival {
                    ArrivalArg::Poisson => Arrival::Poisson,
                    ArrivalArg::Uniform => Arrival::Uniform,
                },
                max_inflight: args.max_inflight,
            }
        }
        (None, Some(c)) if c > 0 => Load::Closed { clients: c },
        (None, Some(_)) => anyhow::bail!("--clients must be at least 1"),
        _ => anyhow::bail!("give either --qps N (open model) or --clients N (closed model)"),
    };
    let pool = match (args.pool.as_ref().and_then(|p| p.0.first().copied()), &load) {
        (Some(0), _) => anyhow::bail!("--pool must be at least 1"),
        (Some(p), _) => p,
        (None, Load::Closed { clients }) => *clients,
        (None, Load::Open { .. }) => (4 * cpus).max(8),
    };
    if args.duration.is_zero() {
        anyhow::bail!("--duration must be more than 0");
    }
    let (duration, warmup) = match &shape {
        Some(s) => (s.duration, std::time::Duration::ZERO),
        None => (args.duration, args.warmup),
    };
    if let Load::Open {
        profile,
        max_inflight,
        ..
    } = &load
    {
        // Workers claim arrivals up to one timer period ahead and sleep on
        // them: at the peak rate that many must fit in --max-inflight.
        let asleep = profile.peak_rate() * args.timer_resolution.as_secs_f64();
        if asleep > *max_inflight as f64 / 2.0 {
            anyhow::bail!(
                "--timer-resolution {:?} at {:.0}/s keeps about {asleep:.0} arrivals waiting for \
                 the next wake-up, more than half of --max-inflight {max_inflight}: use a finer \
                 --timer-resolution or a larger --max-inflight",
                args.timer_resolution,
                profile.peak_rate()
            );
        }
    }
    Ok(StressConfig {
        load,
        duration,
        warmup,
        pool,
        seed: args.seed.unwrap_or_else(rand::random),
        drain_timeout: args.drain_timeout,
        timer_resolution: args.timer_resolution,
    })
}

/// Run the engine on its own runtime of `threads` worker threads (1: a
/// single-threaded runtime, no cross-thread wake-ups), like pgbench's -j.
/// The pool is created there so its connections are driven by that runtime.
async fn run_engine(
    target: crate::db::Target,
    prepared: Arc<crate::workload::Prepared>,
    cfg: StressConfig,
    hooks: Hooks,
    threads: Option<usize>,
    client_stages: Option<Vec<crate::capacity::stages::Stage>>,
) -> anyhow::Result<stress::RunOutcome> {
    let threads = threads.unwrap_or_else(|| default_threads(&cfg));
    let handle = std::thread::Builder::new()
        .name("dbload-stress".into())
        .spawn(move || {
            if let Some(st) = client_stages {
                // Sub-step runs on one pool, on a runtime of `threads` workers.
                let rt = engine_runtime(threads)?;
                return rt.block_on(async move {
                    let pool = crate::db::pool(&target, cfg.pool)?;
                    crate::db::connect::check_pool(&target, &pool).await?;
                    Ok(super::shapes::run_client_stages(pool, prepared, &cfg, &st, hooks).await?)
                });
            }
            // One single-threaded runtime per driver thread, each with its
            // share of the connections (this thread runs the first).
            let rt = engine_runtime(1)?;
            rt.block_on(async move {
                let sizes = stress::shard_sizes(cfg.pool, threads, cfg.load.workers());
                let pools = sizes
                    .iter()
                    .map(|n| crate::db::pool(&target, *n))
                    .collect::<Result<Vec<_>, _>>()?;
                crate::db::connect::check_pool(&target, &pools[0]).await?;
                Ok(stress::run_sharded(pools, prepared, &cfg, hooks).await?)
            })
        })?;
    tokio::task::spawn_blocking(move || {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("the stress engine panicked"))?
    })
    .await?
}

/// The embedded default workload writes (INSERT INTO appointments,
/// invoices, invoice_items, prescriptions, user_sessions; UPDATE users):
/// run it only on a database dbload seeded, unless --force.
pub(super) async fn require_dataset(target: &crate::db::Target) -> anyhow::Result<()> {
    let c = crate::db::connect(target).await?;
    let seeded = crate::seed::fingerprint(&c)
        .await
        .map_err(|e| anyhow::anyhow!("reading dbload_datasets on {target}: {e}"))?
        .is_some();
    if !seeded {
        anyhow::bail!(
            "{target} is not a complete dbload dataset (no complete row in dbload_datasets); \
             the default workload would INSERT into appointments, invoices, invoice_items, \
             prescriptions and user_sessions and UPDATE users there. Run `dbload seed` first, \
             give your own --workload FILE, or pass --force to write to it anyway"
        );
    }
    Ok(())
}

/// Driver threads when --threads is not given: one per 4 CPUs, since the
/// server usually shares the machine (pgbench's -j defaults to 1), and at
/// least 2 for the closed model. Each thread has its own event loop and
/// share of the connections. On 2 CPUs (pgbench_select.sql, 16 connections)
/// two threads ran 50k queries/s against one's 41k, and 99k against 85k
/// with 64 clients pipelined; the open model at 10,000/s needed about the
/// same driver CPU per query either way, so it keeps one.
fn default_threads(cfg: &StressConfig) -> usize {
    let per_cpus = (crate::sys::cpus() / 4).max(1);
    match cfg.load {
        Load::Closed { .. } => per_cpus.max(2),
        Load::Open { .. } => per_cpus,
    }
}

/// The runtime the engine runs on, apart from the command's own: `threads`
/// workers (1: a single-threaded runtime, no cross-thread wake-ups).
pub(super) fn engine_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// What every command driving the stress engine sets up before load starts:
/// the target (checked to be a dbload dataset for the built-in workload),
/// the workload prepared against it, and the server context for the results.
pub(super) struct RunContext {
    pub target: crate::db::Target,
    pub prepared: Arc<crate::workload::Prepared>,
    pub admin: tokio_postgres::Client,
    pub server_info: server::ServerInfo,
    pub dataset: Option<serde_json::Value>,
    /// pg_stat_statements before the run (None without the extension).
    pub before: Option<server::PgssSnapshot>,
}

impl RunContext {
    pub(super) async fn open(
        global: &GlobalArgs,
        args: &StressArgs,
        workload: crate::workload::Workload,
    ) -> anyhow::Result<RunContext> {
        let target = super::resolve_target(global).await?;
        if args.workload.is_none() && !args.force {
            require_dataset(&target).await?;
        }
        let prepared = Arc::new(super::workload::prepare_against(&target, workload).await?);
        let admin = crate::db::connect(&target).await?;
        let server_info = server::server_info(&admin).await?;
        let dataset = crate::seed::fingerprint_json(&admin).await;
        let before = server::pgss_snapshot(&admin).await;
        Ok(RunContext {
            target,
            prepared,
            admin,
            server_info,
            dataset,
            before,
        })
    }
}

/// The top statements by server time since `before`.
pub(super) async fn top_statements(
    admin: &tokio_postgres::Client,
    before: Option<&server::PgssSnapshot>,
) -> Option<Vec<server::ServerStatement>> {
    let after = server::pgss_snapshot(admin).await?;
    Some(server::pgss_delta(before?, &after, 10))
}

/// A stop signal raised by Ctrl-C (saying what happens next), and the
/// listener task to abort when the run is over.
pub(super) fn stop_on_ctrl_c(
    what_next: &'static str,
) -> (
    tokio::sync::watch::Receiver<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ndbload: interrupted; {what_next} and writing partial results");
            let _ = stop_tx.send(true);
        }
    });
    (stop_rx, task)
}

pub async fn run(global: &GlobalArgs, args: StressArgs) -> anyhow::Result<ExitCode> {
    if super::capacity::wanted(&args)? {
        return super::capacity::run(global, args).await;
    }
    let cfg = config(&args)?;
    let shape = super::shapes::shape(&args)?;
    let rss = super::shapes::RssSamples::default();
    let thresholds: Vec<stress::Threshold> = args
        .thresholds
        .iter()
        .chain(&args.slos)
        .map(|t| threshold::parse(t).map_err(|e| anyhow::anyhow!("--threshold: {e}")))
        .collect::<Result<_, _>>()?;
    let workload = super::workload::load(args.workload.as_deref(), "--workload")?;
    let names: Vec<String> = workload.scenarios.iter().map(|s| s.name.clone()).collect();
    threshold::check_names(&thresholds, &names).map_err(|e| anyhow::anyhow!("--threshold: {e}"))?;

    let RunContext {
        target,
        prepared,
        admin,
        server_info,
        dataset,
        before,
    } = RunContext::open(global, &args, workload).await?;
    let (stop_rx, ctrl_c) = stop_on_ctrl_c("finishing in-flight work");
    let show = args.progress || std::io::stderr().is_terminal();
    let target_qps = cfg.target_qps();
    let rss_hook = rss.clone();
    let soak = shape.as_ref().is_some_and(|s| s.soak);
    let hooks = Hooks {
        on_interval: (show || soak).then(|| {
            Box::new(move |s: &stress::results::IntervalSample| {
                if soak {
                    super::shapes::sample_rss(&rss_hook);
                }
                if show {
                    eprintln!("{}", report::stress_progress::line(s, target_qps));
                }
            }) as stress::IntervalHook
        }),
        stop: stop_rx,
    };
    eprintln!(
        "dbload: {} on {} — {}, {}s measured after {}s warm-up, pool {}",
        prepared.workload.name,
        target,
        match &cfg.load {
            Load::Open { .. } => format!("open model at {} /s", target_qps.unwrap_or(0.0)),
            Load::Closed { clients } if *clients > cfg.pool => {
                format!(
                    "closed model, {clients} clients pipelined on {} connections",
                    cfg.pool
                )
            }
            Load::Closed { clients } => format!("closed model, {clients} clients"),
        },
        cfg.duration.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        cfg.pool
    );
    let outcome = match run_engine(
        target.clone(),
        prepared.clone(),
        cfg.clone(),
        hooks,
        args.threads,
        shape.as_ref().and_then(|s| s.client_stages.clone()),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            return Err(super::explain_too_many_connections(e, &target, "--pool", cfg.pool).await);
        }
    };
    ctrl_c.abort();

    let top = top_statements(&admin, before.as_ref()).await;
    let mut results = stress::results::build(
        &prepared.workload,
        &cfg,
        &outcome,
        server_info,
        dataset,
        top,
    );
    threshold::apply(&thresholds, &mut results);
    if let Some(s) = &shape {
        super::shapes::attach(&mut results, s, &rss);
    }

    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json + "\n")
            .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?;
    }
    match args.format {
        StressFormat::Table => print!(
            "{}{}",
            report::stress_table::render(&results),
            report::capacity_table::render_stages(&results)
        ),
        StressFormat::Markdown => print!(
            "{}{}",
            report::stress_markdown::render(&results),
            report::capacity_markdown::render_stages(&results)
        ),
        StressFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    for r in &results.verdict.invalid_reasons {
        eprintln!("dbload: invalid run: {r}");
    }
    for t in results.verdict.thresholds.iter().filter(|t| !t.passed) {
        match &t.note {
            Some(n) => eprintln!("dbload: threshold breached: {} ({n})", t.expr),
            None => eprintln!(
                "dbload: threshold breached: {} (actual {} {})",
                t.expr, t.actual, t.unit
            ),
        }
    }
    Ok(ExitCode::from(results.verdict.exit_code))
}
