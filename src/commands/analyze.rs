//! `dbload analyze`: read the workload, run the analyze engine, render the
//! report, optionally create the proposed indexes.

use std::process::ExitCode;

use anyhow::Context;

use crate::analyze::apply::{ApplyStatus, apply};
use crate::analyze::health::HealthSettings;
use crate::analyze::source::PgssFilter;
use crate::analyze::{Input, Settings, run as analyze};
use crate::cli::{AnalyzeArgs, AnalyzeFormat, ConnArgs};
use crate::db::connect;
use crate::report::{analyze_json, analyze_markdown, analyze_table};

pub async fn run(conn: &ConnArgs, args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=100.0).contains(&args.min_savings) {
        anyhow::bail!(
            "--min-savings must be between 0 and 100 (got {})",
            args.min_savings
        );
    }
    for (flag, v) in [
        ("--min-cost", args.min_cost),
        ("--min-mean-ms", args.min_mean_ms),
        ("--slow-ms", args.slow_ms),
        ("--big-table-rows", args.big_table_rows),
        ("--unused-min-bytes", args.unused_min_bytes as f64),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            anyhow::bail!("{flag} must be a finite number, 0 or more (got {v})");
        }
    }
    if args.yes && !args.apply && !args.reset_stats {
        anyhow::bail!("--yes goes with --apply or --reset-stats (it answers their question)");
    }
    if args.reset_stats {
        return reset_stats(conn, args.yes).await;
    }
    if args.write_sample.is_some_and(|d| d.is_zero()) {
        anyhow::bail!("--write-sample must be longer than 0");
    }
    let mut results_json: Option<serde_json::Value> = None;
    let input = if let Some(path) = &args.from_results {
        let origin = path.display().to_string();
        if args.prove {
            results_json = Some(
                crate::input::json::read::<serde_json::Value>(path, crate::input::RESULTS)
                    .map_err(|e| anyhow::anyhow!("--from-results {e}"))?,
            );
        }
        let results: crate::stress::StressResults =
            crate::input::json::read(path, crate::input::RESULTS).map_err(|e| {
                anyhow::anyhow!("--from-results {e} (not a dbload stress results file)")
            })?;
        if results
            .server_statements
            .as_ref()
            .is_none_or(|v| v.is_empty())
        {
            anyhow::bail!(
                "--from-results {origin}: the run recorded no server statements (pg_stat_statements was not available to it)"
            );
        }
        Input::Recorded {
            statements: crate::analyze::source::from_stress_results(&results, &origin),
            window_secs: results.measured_secs,
            origin,
        }
    } else if let Some(path) = &args.from_file {
        let text = crate::input::text::read(path, crate::input::SQL)
            .map_err(|e| anyhow::anyhow!("--from-file {e}"))?;
        Input::Sql {
            origin: path.display().to_string(),
            text,
        }
    } else if args.stdin {
        let text =
            crate::input::text::read_from(std::io::stdin().lock(), "stdin", crate::input::SQL)
                .map_err(|e| anyhow::anyhow!("--stdin: {e}"))?;
        Input::Sql {
            origin: "stdin".into(),
            text,
        }
    } else {
        Input::Pgss(PgssFilter {
            min_calls: args.min_calls,
            min_mean_ms: args.min_mean_ms,
            top: args.top,
        })
    };
    let settings = Settings {
        input,
        min_savings_pct: args.min_savings,
        min_cost: args.min_cost,
        use_hypopg: true,
        verify_build: args.verify_build,
        verify_build_max_bytes: args.verify_build_max_size,
        write_sample_secs: args.write_sample.map(|d| d.as_secs_f64()),
        max_indexes: args.max_indexes,
        max_size_bytes: args.max_size,
        health: HealthSettings {
            unused_min_bytes: args.unused_min_bytes,
            big_table_rows: args.big_table_rows,
            slow_min_calls: args.min_calls,
            slow_mean_ms: args.slow_ms,
        },
    };
    let target = super::resolve_target(conn).await?;
    let client = connect(&target).await?;
    let report = analyze(&client, &settings)
        .await
        .with_context(|| format!("analyzing {target}"))?;
    if args.prove {
        // The copy needs the database to itself: close this session first.
        drop(client);
        let results = results_json.context("--prove: the results file is not JSON")?;
        let proof =
            super::prove::prove(&target, &report, &results, args.prove_db.as_deref()).await?;
        let text = match args.format {
            AnalyzeFormat::Json => {
                let mut v = serde_json::to_value(&report)?;
                v["prove"] = serde_json::to_value(&proof)?;
                format!("{}\n", serde_json::to_string_pretty(&v)?)
            }
            AnalyzeFormat::Table => {
                analyze_table::render(&report) + &super::prove::render(&proof, false)
            }
            AnalyzeFormat::Markdown => {
                analyze_markdown::render(&report) + &super::prove::render(&proof, true)
            }
        };
        print!("{text}");
        if args.fail_on_proposals && !report.proposals.is_empty() {
            return Ok(ExitCode::from(crate::EXIT_FAILED_CHECK));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let text = match args.format {
        AnalyzeFormat::Table => analyze_table::render(&report),
        AnalyzeFormat::Json => analyze_json::render(&report),
        AnalyzeFormat::Markdown => analyze_markdown::render(&report),
    };
    print!("{text}");

    let mut code = ExitCode::SUCCESS;
    if args.apply && !report.proposals.is_empty() {
        eprintln!("\nIndexes to create on {target}:");
        for p in &report.proposals {
            for r in &p.requires {
                eprintln!("  {r};");
            }
            eprintln!(
                "  {};{}",
                p.ddl,
                if p.verified { "" } else { "  -- unverified" }
            );
        }
        if !args.yes && !super::local::confirm("Create these indexes now?")? {
            anyhow::bail!("nothing created (pass --yes to skip this question)");
        }
        let outcomes = apply(&client, &report.proposals).await;
        for o in &outcomes {
            let what = match o.status {
                ApplyStatus::Created => "created",
                ApplyStatus::AlreadyPresent => "skipped",
                ApplyStatus::Failed => "FAILED",
            };
            eprintln!("{what}: {} — {}", o.ddl, o.detail);
        }
        if outcomes.iter().any(|o| o.status == ApplyStatus::Failed) {
            code = ExitCode::from(crate::EXIT_FAILED_CHECK);
        }
    } else if args.apply {
        eprintln!("nothing to apply: no index proposed");
    }
    if args.fail_on_proposals && !report.proposals.is_empty() {
        eprintln!(
            "dbload: {} index proposal(s) (--fail-on-proposals)",
            report.proposals.len()
        );
        code = ExitCode::from(crate::EXIT_FAILED_CHECK);
    }
    Ok(code)
}

/// `--reset-stats`: forget this database's `pg_stat_statements` entries
/// after asking (unless `--yes`).
async fn reset_stats(conn: &ConnArgs, yes: bool) -> anyhow::Result<ExitCode> {
    let target = super::resolve_target(conn).await?;
    let client = crate::db::connect(&target).await?;
    let question = format!(
        "Forget the pg_stat_statements entries of the database of {target} (other databases keep theirs)?"
    );
    if !yes && !super::local::confirm(&question)? {
        anyhow::bail!("nothing reset (pass --yes to skip this question)");
    }
    let db = crate::analyze::source::reset_pgss(&client)
        .await
        .map_err(|e| anyhow::anyhow!("--reset-stats: {e}"))?;
    eprintln!(
        "dbload: pg_stat_statements reset for database \"{db}\"; run the workload, then `dbload analyze`"
    );
    Ok(ExitCode::SUCCESS)
}
