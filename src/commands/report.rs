//! `dbload report`: read stress or regress results files, optionally
//! compare the last one with a baseline, and write the HTML, Markdown and
//! JUnit renderings. Also the writers `dbload regress` shares.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::regress::assess::{self, AssessSettings, Baseline};
use crate::regress::compare::CompareSettings;
use crate::regress::history;
use crate::regress::model::{ResultsFile, SuiteInfo, read_results};
use crate::regress::{RegressResults, suite};
use crate::report;

fn write(path: &Path, text: &str, flag: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{flag} {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))
}

/// Append the Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set.
pub(super) fn step_summary(md: &str) {
    if let Some(p) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| f.write_all(md.as_bytes()));
        if let Err(e) = res {
            eprintln!(
                "dbload: cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                PathBuf::from(p).display()
            );
        }
    }
}

/// Where to write what.
#[derive(Default)]
pub(super) struct Outputs {
    pub html: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// Render and write the requested files.
pub(super) fn write_outputs(
    r: &RegressResults,
    extras: &report::html::Extras<'_>,
    out: &Outputs,
) -> anyhow::Result<()> {
    if let Some(p) = &out.html {
        write(p, &report::html::render(r, extras), "--html")?;
    }
    if let Some(p) = &out.markdown {
        write(p, &report::regress_markdown::render(r), "--markdown")?;
    }
    if let Some(p) = &out.junit {
        write(p, &report::junit::render(r), "--junit")?;
    }
    Ok(())
}

/// A results file as regress results (a stress file becomes one run),
/// taking it by value: its runs are moved, never copied (a long run's
/// per-second series can be most of the memory `report` uses).
fn into_regress(
    path: &Path,
    f: ResultsFile,
    baseline: Option<&Baseline<'_>>,
    s: &AssessSettings,
) -> RegressResults {
    match (f, baseline) {
        (ResultsFile::Regress(r), None) => *r,
        (ResultsFile::Regress(r), Some(_)) => {
            let r = *r;
            let runs = r.runs.into_iter().map(|x| (x.name, x.results)).collect();
            assess::assess(r.suite, runs, baseline, s)
        }
        (ResultsFile::Stress(run), _) => {
            let name = run.workload.name.clone();
            assess::assess(
                SuiteInfo {
                    name: name.clone(),
                    path: path.display().to_string(),
                    scale: None,
                },
                vec![(name, *run)],
                baseline,
                s,
            )
        }
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let tolerance =
        suite::parse_tolerance(&args.tolerance).map_err(|e| anyhow::anyhow!("--tolerance: {e}"))?;
    let tail_tolerance = suite::parse_tolerance(&args.tail_tolerance)
        .map_err(|e| anyhow::anyhow!("--tail-tolerance: {e}"))?;
    let mut files: Vec<ResultsFile> = args
        .results
        .iter()
        .map(|p| read_results(p).map_err(|e| anyhow::anyhow!(e)))
        .collect::<Result<_, _>>()?;
    let base_file = match &args.baseline {
        Some(p) => Some(read_results(p).map_err(|e| anyhow::anyhow!("--baseline {e}"))?),
        None => None,
    };
    let (baseline, settings) = assess_inputs(
        base_file.as_ref(),
        args.baseline.as_deref(),
        tolerance,
        tail_tolerance,
        args.allow_mismatch,
    );
    let mut points: Vec<history::Point> = files.iter().flat_map(history::points_of).collect();
    points.sort_by_key(|p| p.at);
    let last = files.pop().expect("clap requires one file");
    drop(files);
    let title = match last {
        ResultsFile::Stress(_) => "dbload stress",
        ResultsFile::Regress(_) => "dbload regress",
    };
    let current = into_regress(
        args.results.last().expect("clap requires one file"),
        last,
        baseline.as_ref(),
        &settings,
    );
    let extras = report::html::Extras {
        baseline: baseline
            .as_ref()
            .map(|b| b.runs.clone())
            .unwrap_or_default(),
        history: points,
    };
    // The Markdown is written here, under the title of the file's kind;
    // the other renderings by the writer `dbload regress` shares.
    let out = Outputs {
        html: args.html,
        markdown: None,
        junit: args.junit,
    };
    let md = report::regress_markdown::render_titled(&current, title);
    match &args.markdown {
        Some(p) => write(p, &md, "--markdown")?,
        None if out.html.is_none() && out.junit.is_none() => print!("{md}"),
        None => {}
    }
    write_outputs(&current, &extras, &out)?;
    step_summary(&md);
    Ok(ExitCode::SUCCESS)
}

/// The baseline and comparison settings of an assessment, shared by
/// `dbload regress` and `dbload report --baseline`.
pub(super) fn assess_inputs<'a>(
    base_file: Option<&'a ResultsFile>,
    base_path: Option<&Path>,
    tolerance: f64,
    tail_tolerance: f64,
    allow_mismatch: bool,
) -> (Option<Baseline<'a>>, AssessSettings) {
    let baseline = base_file.map(|b| Baseline {
        path: base_path
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        runs: b.runs(),
    });
    let settings = AssessSettings {
        compare: CompareSettings {
            tolerance,
            tail_tolerance,
            ..Default::default()
        },
        allow_mismatch,
        noise: Default::default(),
    };
    (baseline, settings)
}
