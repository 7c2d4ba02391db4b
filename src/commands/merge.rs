//! `dbload merge` glue: read the workers' results files (bounded, as
//! `report` reads them), merge them with the `merge` engine, write the
//! merged file and print the usual stress summary plus the workers.

use std::process::ExitCode;

use crate::cli::{MergeArgs, StressFormat};
use crate::merge::{self, Input, MergeOptions};
use crate::regress::model::{ResultsFile, read_results};
use crate::report;

pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        super::paths::writable_file(out, "--out")?;
    }
    let mut inputs = Vec::with_capacity(args.results.len());
    for p in &args.results {
        let file = p.display().to_string();
        let results = match read_results(p).map_err(anyhow::Error::msg)? {
            ResultsFile::Stress(r) => *r,
            ResultsFile::Regress(_) => anyhow::bail!(
                "{file} is a regress results file (dbload.regress/1), not a stress worker's segment file"
            ),
        };
        inputs.push(Input { file, results });
    }
    let names: Vec<String> = inputs[0]
        .results
        .scenarios
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let thresholds = super::engine::thresholds_for(&args.thresholds, "--threshold", &names)?;
    let opts = MergeOptions {
        allow_partial: args.allow_partial,
    };
    let results = merge::merge(inputs, &opts, &thresholds).map_err(anyhow::Error::msg)?;
    super::engine::write_results(args.out.as_deref(), &results)?;
    let info = merge::info(&results);
    match args.format {
        StressFormat::Table => print!(
            "{}{}",
            report::stress_table::render(&results),
            info.as_ref()
                .map(report::merge_table::render)
                .unwrap_or_default()
        ),
        StressFormat::Markdown => print!(
            "{}{}",
            report::stress_markdown::render(&results),
            info.as_ref()
                .map(report::merge_table::markdown)
                .unwrap_or_default()
        ),
        StressFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        StressFormat::Csv => print!("{}", report::csv_summary::stress(&results)),
    }
    if let Some(i) = info.as_ref().filter(|i| i.partial) {
        eprintln!(
            "dbload: partial merge: {} of {} segments (missing {:?})",
            i.workers.len(),
            i.segments,
            i.missing
        );
    }
    super::engine::print_verdict(&results);
    Ok(ExitCode::from(results.verdict.exit_code))
}
