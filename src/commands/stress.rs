//! `dbload stress` for one run (constant, `--stages`, `--profile`,
//! `--client-stages`): the flags → a checked [`crate::stress::StressConfig`],
//! a session on the target, the run with live progress and stop signals, then
//! the results file and the summary, which ends with what limited the run
//! (`capacity::limit`, from the CPU and server context observed around
//! it). (Searches and sweeps: `capacity.rs`.)

use std::io::IsTerminal;
use std::process::ExitCode;

use super::engine;
use super::shapes::{self, RssSamples};
use crate::cli::{ConnArgs, StressArgs, StressFormat};
use crate::metrics::hdr_log::HdrLog;
use crate::report;
use crate::stress::{Hooks, IntervalHook, Load, StressConfig, results::IntervalSample};

/// The line that says what is about to run.
fn banner(name: &str, target: &crate::db::Target, cfg: &StressConfig, threads: usize) -> String {
    let what = match &cfg.load {
        Load::Open { .. } => format!("open model at {} /s", cfg.target_qps().unwrap_or(0.0)),
        Load::Closed { ramp: Some(_), .. } => "closed model, clients follow the stages".into(),
        Load::Closed { clients, .. } if *clients > cfg.pool => format!(
            "closed model, {clients} clients pipelined on {} connections",
            cfg.pool
        ),
        Load::Closed { clients, .. } => format!("closed model, {clients} clients"),
    };
    format!(
        "dbload: {name} on {target} — {what}, {}s measured after {}s warm-up, pool {}, {threads} driver thread(s)",
        cfg.duration.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        cfg.pool
    )
}

pub async fn run(conn: &ConnArgs, args: StressArgs) -> anyhow::Result<ExitCode> {
    super::live::check(&args.metrics)?;
    if args
        .progress_interval
        .is_some_and(|d| d < std::time::Duration::from_secs(1))
    {
        anyhow::bail!("--progress-interval must be at least 1s (progress is sampled each second)");
    }
    let shape = shapes::shape(&args)?;
    let segment = super::segment::request(&args)?;
    let mut settings = engine::settings(&args, shape.as_ref());
    if let Some(r) = &segment {
        r.apply(&mut settings);
    }
    let cfg = StressConfig::from_settings(&settings).map_err(engine::flag_error)?;
    let workload = super::workload::load(args.workload.as_deref(), "--workload")?;
    let exprs: Vec<String> = args.thresholds.iter().chain(&args.slos).cloned().collect();
    let thresholds = engine::thresholds(&exprs, "--threshold", &workload)?;
    // Opened before anything runs: an unwritable path fails first.
    let hdr_log = match &args.hdr_log {
        Some(p) => Some(std::sync::Arc::new(HdrLog::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("--hdr-log {}: {e}", p.display()))?,
        )))),
        None => None,
    };
    let session = engine::open(conn, &args, workload).await?;
    let mode = match &cfg.load {
        Load::Open { .. } => "open",
        Load::Closed { .. } => "closed",
    };
    let stages = shape
        .as_ref()
        .map(|s| s.windows.iter().map(|w| (w.start_s, w.end_s)).collect())
        .unwrap_or_default();
    let (mut session, live) = super::live::watch(&args.metrics, session, mode, stages).await?;
    if let Some(h) = &hdr_log {
        session = session.with_observer(h.clone());
    }

    let stop = super::signals::stop_flag("finishing in-flight work and writing partial results")?;
    // Progress compares this process's rate with its own target (a
    // worker's: its share).
    let target_qps = match &segment {
        Some(r) => cfg
            .share_rate(r.segment)
            .map(|p| p.mean_rate((cfg.warmup + cfg.duration).as_secs_f64())),
        None => cfg.target_qps(),
    };
    let session = match segment {
        Some(req) => {
            let (plan, meeting) = super::segment::plan(&args.segments, &session, req).await?;
            let session = session.with_plan(plan);
            match meeting {
                Some(m) => session.with_meeting(m),
                None => session,
            }
        }
        None => session,
    };
    let show = args.progress || args.progress_interval.is_some() || std::io::stderr().is_terminal();
    let mut window = args
        .progress_interval
        .map(report::stress_progress::Window::new);
    let soak = shape.as_ref().is_some_and(|s| s.soak);
    let rss = RssSamples::default();
    let rss_hook = rss.clone();
    let hooks = Hooks {
        on_interval: (show || soak).then(|| {
            Box::new(move |s: &IntervalSample| {
                if soak {
                    shapes::sample_rss(&rss_hook);
                }
                if show {
                    let merged = match window.as_mut() {
                        Some(w) => w.push(s),
                        None => Some(s.clone()),
                    };
                    if let Some(m) = merged {
                        super::say::note(report::stress_progress::line(&m, target_qps));
                    }
                }
            }) as IntervalHook
        }),
        stop,
    };
    let target = session.target().clone();
    super::say::note(banner(
        &session.prepared().workload.name,
        &target,
        &cfg,
        session.threads_for(&cfg),
    ));
    if let Some(p) = session.plan() {
        super::say::note(format_args!(
            "dbload: {}",
            report::segment_line(&cfg, p.segment, &p.run_id)
        ));
    }
    if let Load::Closed {
        ramp: Some(ramp), ..
    } = &cfg.load
    {
        for line in shapes::ramp_lines(ramp) {
            super::say::note(line);
        }
    }
    let (run, cpu, server) =
        crate::capacity::step::observed(&session, session.run(&cfg, &thresholds, hooks)).await;
    let mut results = match run {
        Ok(r) => r,
        Err(e @ crate::stress::StressError::Interrupted) => {
            // Stopped before the agreed start: nothing ran, nothing to write.
            eprintln!("dbload: {e}");
            return Ok(ExitCode::from(crate::EXIT_INVALID_RUN));
        }
        Err(e) => {
            return Err(
                super::explain_too_many_connections(e.into(), &target, "--pool", cfg.pool).await,
            );
        }
    };
    if let Some(s) = &shape {
        shapes::attach(&mut results, s, &rss)?;
    }
    let limit = crate::capacity::limit::of(&results, &cpu, &server);
    results
        .extensions
        .set("limit", &limit)
        .map_err(anyhow::Error::msg)?;

    engine::write_results(args.out.as_deref(), &results)?;
    match args.format {
        StressFormat::Table => print!(
            "{}{}\nlimit     {}\nnext      {}\n",
            report::stress_table::render(&results),
            report::capacity_table::render_stages(&results),
            limit.verdict,
            limit.advice
        ),
        StressFormat::Markdown => print!(
            "{}{}\n**Limit**: {}. {}\n",
            report::stress_markdown::render(&results),
            report::capacity_markdown::render_stages(&results),
            limit.verdict,
            limit.advice
        ),
        StressFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        StressFormat::Csv => print!("{}", report::csv_summary::stress(&results)),
    }
    engine::print_verdict(&results);
    if let Some(l) = live {
        l.finish().await;
    }
    if let (Some(h), Some(p)) = (&hdr_log, &args.hdr_log) {
        h.finish()
            .map_err(|e| anyhow::anyhow!("--hdr-log {}: {e}", p.display()))?;
    }
    Ok(ExitCode::from(results.verdict.exit_code))
}
