//! `dbload regress`: load the suite and the baseline, check the dataset is
//! the one the suite expects, run each run through the stress engine, judge
//! the runs against the baseline, write the results and reports into
//! `--out`, keep history, update the baseline, and exit with the verdict.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::report::{Outputs, assess_inputs, step_summary, write_outputs};
use crate::cli::{ConnArgs, RegressArgs, RegressFormat};
use crate::regress::assess;
use crate::regress::compare::{DEFAULT_TAIL_TOLERANCE, DEFAULT_TOLERANCE};
use crate::regress::model::{SuiteInfo, read_results};
use crate::regress::{environment, history, noise, run as engine, suite};
use crate::report;
use crate::stress;

pub async fn run(conn: &ConnArgs, args: RegressArgs) -> anyhow::Result<ExitCode> {
    super::live::check(&args.metrics)?;
    let suite = suite::load(&args.suite)?;
    let tolerance = match &args.tolerance {
        Some(t) => suite::parse_tolerance(t).map_err(|e| anyhow::anyhow!("--tolerance: {e}"))?,
        None => suite.tolerance.unwrap_or(DEFAULT_TOLERANCE),
    };
    let tail_tolerance = match &args.tail_tolerance {
        Some(t) => {
            suite::parse_tolerance(t).map_err(|e| anyhow::anyhow!("--tail-tolerance: {e}"))?
        }
        None => suite.tail_tolerance.unwrap_or(DEFAULT_TAIL_TOLERANCE),
    };
    let base_file = match &args.baseline {
        Some(p) if p.exists() => {
            Some(read_results(p).map_err(|e| anyhow::anyhow!("--baseline {e}"))?)
        }
        Some(p) if !args.update_baseline => anyhow::bail!(
            "--baseline {}: no such file (run once with --update-baseline to create it)",
            p.display()
        ),
        _ => None,
    };
    // Every path the night writes is checked before any load runs.
    super::paths::writable_dir(&args.out, "--out")?;
    if let Some(dir) = &args.history {
        super::paths::writable_dir(dir, "--history")?;
    }
    if let (true, Some(path)) = (args.update_baseline, &args.baseline) {
        super::paths::writable_file(path, "--baseline")?;
    }

    let target = super::resolve_target(conn).await?;
    if let Some(scale) = suite.scale {
        let dataset = engine::dataset_of(&target).await?;
        if let Some(m) = environment::scale_mismatch(scale, dataset.as_ref()) {
            let msg = format!(
                "{}: the suite expects a dataset of scale {scale}, the database has {}",
                suite.path, m.current
            );
            if !args.allow_mismatch {
                anyhow::bail!(
                    "{msg} (seed it with `dbload seed --scale {scale}`, or --allow-mismatch)"
                );
            }
            eprintln!("dbload: {msg}; going on (--allow-mismatch)");
        }
    }

    if let Some(n) = args.threads {
        crate::stress::config::check_threads(n).map_err(super::engine::flag_error)?;
    }
    let live = super::live::start(
        &args.metrics,
        &target,
        super::live::RunInfo {
            workload: &suite.name,
            mode: "regress",
            stages: Vec::new(),
        },
    )
    .await?;
    let observer = live.as_ref().map(|l| l.observer());
    let stop_rx = super::signals::stop_flag(
        "finishing the current run and writing the night's partial results (no baseline update)",
    )?;
    let show = args.progress || std::io::stderr().is_terminal();
    let mut runs = Vec::new();
    for spec in &suite.runs {
        eprintln!(
            "dbload: run {} ({}): {:?} after {:?} warm-up on {target}",
            spec.name,
            match spec.config.target_qps() {
                Some(q) => format!("open model at {q} /s"),
                None => format!("closed model, pool {}", spec.config.pool),
            },
            spec.config.duration,
            spec.config.warmup
        );
        let target_qps = spec.config.target_qps();
        let hook = show.then(|| {
            Box::new(move |s: &stress::results::IntervalSample| {
                eprintln!("{}", report::stress_progress::line(s, target_qps));
            }) as stress::IntervalHook
        });
        let r = engine::run_one(
            &target,
            spec,
            args.threads,
            observer.clone(),
            stop_rx.clone(),
            hook,
        )
        .await?;
        let stopped = r.interrupted;
        runs.push((spec.name.clone(), r));
        if stopped {
            break;
        }
    }

    let (baseline, mut settings) = assess_inputs(
        base_file.as_ref(),
        args.baseline.as_deref(),
        tolerance,
        tail_tolerance,
        args.allow_mismatch,
    );
    if let Some(dir) = &args.history {
        // Past nights only: this run is stored after it is judged. An
        // unreadable history costs the widening, not the night's results.
        match noise::load(dir, &suite.name, &runs) {
            Ok(n) => settings.noise = n,
            Err(e) => eprintln!(
                "dbload: --history {}: {e}; judging with the configured tolerances",
                dir.display()
            ),
        }
    }
    let mut results = assess::assess(
        SuiteInfo {
            name: suite.name.clone(),
            path: suite.path.clone(),
            scale: suite.scale,
        },
        runs,
        baseline.as_ref(),
        &settings,
    );

    // What can still fail (the baseline, the history) happens before the
    // reports are rendered, so the exit code they print is the process's.
    let json = serde_json::to_string_pretty(&results)? + "\n";
    let mut failed = None;
    if args.update_baseline {
        let path = args.baseline.as_ref().expect("clap: requires --baseline");
        if results.outcome.invalid_runs > 0 || super::signals::received() {
            eprintln!(
                "dbload: baseline {} NOT updated: a run is invalid or the night was interrupted",
                path.display()
            );
        } else {
            match std::fs::write(path, &json) {
                Ok(()) => eprintln!("dbload: baseline {} updated", path.display()),
                Err(e) => failed = Some(format!("--baseline {}: {e}", path.display())),
            }
        }
    }
    let mut points = Vec::new();
    if let Some(dir) = &args.history {
        let kept = history::save(dir, &results).and_then(|saved| {
            eprintln!("dbload: kept {}", saved.display());
            history::load(dir)
        });
        match kept {
            Ok(p) => points = p,
            Err(e) => failed = failed.or(Some(format!("--history {}: {e}", dir.display()))),
        }
    }
    if let Some(f) = failed {
        eprintln!("error: {f}");
        results.outcome.exit_code = crate::EXIT_USAGE;
        results.outcome.summary = format!("ERROR: {f} ({})", results.outcome.summary);
    }

    let json = serde_json::to_string_pretty(&results)? + "\n";
    let json_path = args.out.join("regress.json");
    std::fs::write(&json_path, &json)
        .map_err(|e| anyhow::anyhow!("--out {}: {e}", json_path.display()))?;
    let extras = report::html::Extras {
        baseline: baseline
            .as_ref()
            .map(|b| b.runs.clone())
            .unwrap_or_default(),
        history: points,
    };
    write_outputs(
        &results,
        &extras,
        &Outputs {
            html: Some(args.out.join("report.html")),
            markdown: Some(args.out.join("summary.md")),
            junit: Some(args.out.join("junit.xml")),
        },
    )?;
    let md = report::regress_markdown::render(&results);
    match args.format {
        RegressFormat::Markdown => print!("{md}"),
        RegressFormat::Json => print!("{json}"),
    }
    step_summary(&md);

    eprintln!(
        "dbload: {} — reports in {}",
        results.outcome.summary,
        args.out.display()
    );
    if let Some(l) = live {
        l.finish().await;
    }
    Ok(ExitCode::from(results.outcome.exit_code))
}
