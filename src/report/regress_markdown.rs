//! Markdown summary of a regress run (`dbload.regress/1`), for pull
//! requests and `$GITHUB_STEP_SUMMARY`: the outcome, one line per run,
//! then per run its thresholds and the verdict of every compared metric.

use std::fmt::Write as _;

use crate::regress::RegressResults;
use crate::regress::compare::{Better, Verdict};
use crate::regress::model::MetricVerdict;

/// A verdict as a word (regressions in bold).
pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Improved => "improved",
        Verdict::Unchanged => "unchanged",
        Verdict::Regressed => "**regressed**",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// A metric value in its unit.
pub fn value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "–".into(),
        Some(x) if unit == "ms" => format!("{x:.2} ms"),
        Some(x) => format!("{x:.1}{unit}"),
    }
}

/// Which way is better for a metric, in words.
pub fn better_word(b: Better) -> &'static str {
    match b {
        Better::Lower => "lower",
        Better::Higher => "higher",
    }
}

/// A change (stored positive = worse) in words: `12.0 % worse`.
pub fn change_words(c: Option<f64>) -> String {
    match c {
        None => "–".into(),
        Some(c) if c.abs() < 0.0005 => "±0.0 %".into(),
        Some(c) if c > 0.0 => format!("{:.1} % worse", c * 100.0),
        Some(c) => format!("{:.1} % better", -c * 100.0),
    }
}

/// The metrics shown first (regressed, then improved) and the rest
/// (unchanged, inconclusive), folded by default.
pub fn split_metrics(ms: &[MetricVerdict]) -> (Vec<&MetricVerdict>, Vec<&MetricVerdict>) {
    let of = |v: Verdict| ms.iter().filter(move |m| m.verdict == v);
    let changed = of(Verdict::Regressed)
        .chain(of(Verdict::Improved))
        .collect();
    let rest = of(Verdict::Unchanged)
        .chain(of(Verdict::Inconclusive))
        .collect();
    (changed, rest)
}

/// What the numbers of the metric tables are (said under each).
pub const MEDIANS_NOTE: &str = "baseline and current are medians of the per-second samples the \
     comparison uses; the run table's p50/p99 are percentiles of the whole run";

fn metric_rows(o: &mut String, ms: &[&MetricVerdict]) {
    let _ = writeln!(
        o,
        "| scenario | metric | better | baseline | current | change | 95 % interval (+ = worse) | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|---|---|");
    for m in ms {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            if m.scenario == "*" {
                "all".to_string()
            } else {
                cell(&m.scenario)
            },
            m.metric,
            better_word(m.better),
            value(m.baseline, &m.unit),
            value(m.current, &m.unit),
            change_words(m.change),
            interval(m),
            verdict_word(m.verdict)
        );
    }
}

fn interval(m: &MetricVerdict) -> String {
    m.interval
        .map(|(lo, hi)| format!("[{:+.1} %, {:+.1} %]", lo * 100.0 + 0.0, hi * 100.0 + 0.0))
        .unwrap_or_else(|| "–".into())
}

/// Text for the summary (and its table cells), escaped ([`super::md::text`]).
fn cell(s: &str) -> String {
    super::md::text(s)
}

/// Render the summary.
pub fn render(r: &RegressResults) -> String {
    render_titled(r, "dbload regress")
}

/// Render the summary under `title` (`dbload report` renders a stress
/// results file as "dbload stress").
pub fn render_titled(r: &RegressResults, title: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## {title}: {}", cell(&r.suite.name));
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "**{}** (exit {})",
        cell(&r.outcome.summary),
        r.outcome.exit_code
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Baseline: {} · tolerance {:.0} %{} · dbload {}",
        r.baseline
            .as_ref()
            .map(|b| super::md::code(&b.path))
            .unwrap_or_else(|| "none".into()),
        r.tolerance * 100.0,
        r.tail_tolerance
            .map(|t| format!(" (p95/p99 {:.0} %)", t * 100.0))
            .unwrap_or_default(),
        r.dbload_version
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "| run | rate | p50 (whole run) | p99 (whole run) | errors | thresholds | regressed | improved | unchanged | inconclusive |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    for run in &r.runs {
        let t = &run.results.totals;
        let th = &run.results.verdict.thresholds;
        let _ = writeln!(
            o,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&run.name),
            if run.results.verdict.valid {
                ""
            } else {
                " (invalid)"
            },
            super::rate(t.rate),
            super::us(t.latency.total.p50_us),
            super::us(t.latency.total.p99_us),
            super::pct(t.error_rate),
            super::thresholds_passed(th),
            run.count(Verdict::Regressed),
            run.count(Verdict::Improved),
            run.count(Verdict::Unchanged),
            run.count(Verdict::Inconclusive),
        );
    }
    for run in &r.runs {
        let _ = writeln!(o);
        let _ = writeln!(o, "### {}", cell(&run.name));
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Workload {} · dataset {} · {}",
            super::md::code(&run.results.workload.name),
            cell(&super::dataset_line(&run.results.dataset)),
            cell(
                run.results
                    .server
                    .version
                    .split(" on ")
                    .next()
                    .unwrap_or("")
            )
        );
        for reason in &run.results.verdict.invalid_reasons {
            let _ = writeln!(o, "\n- invalid run: {}", cell(reason));
        }
        if let Some(n) = &run.note {
            let _ = writeln!(o, "\n> {}", cell(n));
        }
        if !run.results.verdict.thresholds.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(o, "| threshold | actual | result |");
            let _ = writeln!(o, "|---|---:|---|");
            let th = &run.results.verdict.thresholds;
            for t in th
                .iter()
                .filter(|t| !t.passed)
                .chain(th.iter().filter(|t| t.passed))
            {
                let _ = writeln!(
                    o,
                    "| {} | {} {} | {} |",
                    super::md::code_cell(&t.expr),
                    t.actual,
                    t.unit,
                    if t.passed { "passed" } else { "**breached**" }
                );
            }
        }
        if !run.metrics.is_empty() {
            let (changed, rest) = split_metrics(&run.metrics);
            let _ = writeln!(o);
            if changed.is_empty() {
                let _ = writeln!(o, "No metric changed beyond its tolerance.");
            } else {
                metric_rows(&mut o, &changed);
            }
            if !rest.is_empty() {
                let _ = writeln!(
                    o,
                    "\n<details><summary>{} unchanged or inconclusive metric(s)</summary>\n",
                    rest.len()
                );
                metric_rows(&mut o, &rest);
                let _ = writeln!(o, "\n</details>");
            }
            let _ = writeln!(o, "\n_{MEDIANS_NOTE}._");
            let widened: Vec<String> = run
                .metrics
                .iter()
                .filter_map(|m| {
                    let s = m.noise?;
                    Some(format!(
                        "{} {} ±{:.0} % (spread {:.1} % over {} runs)",
                        if m.scenario == "*" {
                            "all"
                        } else {
                            &m.scenario
                        },
                        m.metric,
                        m.tolerance.unwrap_or(r.tolerance) * 100.0,
                        s.rel_sd * 100.0,
                        s.runs
                    ))
                })
                .collect();
            if !widened.is_empty() {
                let _ = writeln!(
                    o,
                    "\nTolerances widened by the run-to-run noise of the history: {}.",
                    cell(&widened.join(", "))
                );
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compare with a stored snapshot; `UPDATE_SNAPSHOTS=1` rewrites it.
    pub(crate) fn snapshot(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/regress")
            .join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", path.display()));
        assert_eq!(
            actual,
            expected,
            "{} differs (UPDATE_SNAPSHOTS=1 to accept)",
            path.display()
        );
    }

    #[test]
    fn markdown_snapshot() {
        let r = crate::regress::assess::tests::sample();
        let md = render(&r);
        assert!(md.contains("**regressed**") && md.contains("**breached**"));
        // The suite's name holds HTML characters: escaped, never raw.
        assert!(md.contains("nightly &lt;&amp;&gt;") && !md.contains("<&>"));
        // Which way is better, said plainly; changed metrics first, the
        // rest folded; the two p99s named.
        assert!(md.contains("| all | p99 | lower |") && md.contains("| all | rate | higher |"));
        assert!(md.contains("50.2 % worse"), "{md}");
        let folded = md.find("<details>").unwrap();
        assert!(md.find("**regressed**").unwrap() < folded);
        assert!(md.find("| unchanged |\n").unwrap() > folded);
        assert!(md.contains("p99 (whole run)") && md.contains("medians of the per-second samples"));
        snapshot("summary.md", &md);
    }

    #[test]
    fn json_snapshot_and_round_trip() {
        let r = crate::regress::assess::tests::sample();
        let json = serde_json::to_string_pretty(&r).unwrap();
        let back: RegressResults = serde_json::from_str(&json).unwrap();
        // (Floats may move in the last bit through JSON: compare the fields that matter.)
        assert_eq!(back.outcome, r.outcome);
        assert_eq!(back.runs.len(), r.runs.len());
        assert_eq!(back.runs[0].metrics.len(), r.runs[0].metrics.len());
        assert_eq!(back.runs[1].mismatches, r.runs[1].mismatches);
        // The regress layer only (each run's stress results have their own tests).
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for run in v["runs"].as_array_mut().unwrap() {
            run["results"] = serde_json::Value::String("(dbload.stress/1 results)".into());
        }
        snapshot(
            "regress.json",
            &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
        );
    }
}
