//! JUnit XML of a regress run, for CI test reporters: one `<testsuite>` per
//! run, one `<testcase>` per scenario × checked metric (each threshold, each
//! baseline comparison). Breached thresholds and regressions are
//! `<failure>`s carrying the numbers; an invalid run or a refused comparison
//! is an `<error>`. XML is written by hand with [`escape`]: the output is a
//! handful of element kinds, so a 15-line escaper replaces a dependency.

use std::fmt::Write as _;

use super::regress_markdown::value;
use crate::regress::RegressResults;
use crate::regress::compare::Verdict;

/// Escape text for an XML attribute or element; characters XML 1.0 cannot
/// carry at all (most C0 controls) are dropped.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(e) = super::entity(c) {
            o.push_str(e);
            continue;
        }
        match c {
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

enum Outcome {
    Pass(Option<String>),
    Failure(&'static str, String),
    Error(&'static str, String),
}

struct Case {
    class: String,
    name: String,
    outcome: Outcome,
}

/// Render the JUnit XML document.
pub fn render(r: &RegressResults) -> String {
    let mut suites = Vec::new();
    for run in &r.runs {
        let mut cases = Vec::new();
        let class = |what: &str| format!("{}.{}", run.name, what);
        let v = &run.results.verdict;
        cases.push(Case {
            class: class("run"),
            name: "valid run".into(),
            outcome: if v.valid {
                Outcome::Pass(None)
            } else {
                Outcome::Error("invalid_run", v.invalid_reasons.join("; "))
            },
        });
        for t in &v.thresholds {
            cases.push(Case {
                class: class("thresholds"),
                name: t.expr.clone(),
                outcome: if t.passed {
                    Outcome::Pass(Some(format!("actual {} {}", t.actual, t.unit)))
                } else {
                    Outcome::Failure(
                        "threshold",
                        format!(
                            "threshold {} breached: actual {} {}, limit {} {}",
                            t.expr, t.actual, t.unit, t.limit, t.unit
                        ),
                    )
                },
            });
        }
        if !run.compared && !run.mismatches.is_empty() {
            cases.push(Case {
                class: class("baseline"),
                name: "environment matches the baseline".into(),
                outcome: Outcome::Error(
                    "environment_mismatch",
                    run.note.clone().unwrap_or_default(),
                ),
            });
        }
        for m in &run.metrics {
            let scenario = if m.scenario == "*" {
                "all"
            } else {
                &m.scenario
            };
            let numbers = format!(
                "{} {} ({} is better): baseline {}, current {} (medians of per-second samples), change {} (95 % interval {}, + = worse), tolerance ±{:.0} %{}, samples {}/{}",
                scenario,
                m.metric,
                super::regress_markdown::better_word(m.better),
                value(m.baseline, &m.unit),
                value(m.current, &m.unit),
                super::regress_markdown::change_words(m.change),
                m.interval
                    .map(|(a, b)| format!("{:+.1} % … {:+.1} %", a * 100.0, b * 100.0))
                    .unwrap_or_else(|| "–".into()),
                m.tolerance.unwrap_or(r.tolerance) * 100.0,
                m.noise
                    .map(|s| format!(
                        " (widened by the history: run-to-run spread {:.1} % over {} runs)",
                        s.rel_sd * 100.0,
                        s.runs
                    ))
                    .unwrap_or_default(),
                m.baseline_samples,
                m.current_samples
            );
            cases.push(Case {
                class: class(scenario),
                name: format!("{} vs baseline", m.metric),
                outcome: match m.verdict {
                    Verdict::Regressed => {
                        Outcome::Failure("regression", format!("regressed: {numbers}"))
                    }
                    other => Outcome::Pass(Some(format!(
                        "{}: {numbers}",
                        super::regress_markdown::verdict_word(other).trim_matches('*')
                    ))),
                },
            });
        }
        suites.push((run, cases));
    }
    let count = |f: fn(&Outcome) -> bool| -> usize {
        suites
            .iter()
            .map(|(_, c)| c.iter().filter(|x| f(&x.outcome)).count())
            .sum()
    };
    let total: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures = count(|o| matches!(o, Outcome::Failure(..)));
    let errors = count(|o| matches!(o, Outcome::Error(..)));
    let mut o = String::new();
    let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        o,
        r#"<testsuites name="{}" tests="{total}" failures="{failures}" errors="{errors}" time="{:.3}">"#,
        escape(&format!("dbload regress {}", r.suite.name)),
        (r.finished_at - r.started_at).num_milliseconds().max(0) as f64 / 1000.0
    );
    for (run, cases) in &suites {
        let f = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failure(..)))
            .count();
        let e = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Error(..)))
            .count();
        let _ = writeln!(
            o,
            r#"  <testsuite name="{}" tests="{}" failures="{f}" errors="{e}" skipped="0" time="{:.3}" timestamp="{}">"#,
            escape(&run.name),
            cases.len(),
            run.results.measured_secs,
            run.results.started_at.format("%Y-%m-%dT%H:%M:%S")
        );
        let _ = writeln!(o, "    <properties>");
        for (k, v) in [
            ("workload", run.results.workload.name.as_str()),
            ("workload_sha256", run.results.workload.sha256.as_str()),
            ("server", run.results.server.version.as_str()),
        ] {
            let _ = writeln!(o, r#"      <property name="{k}" value="{}"/>"#, escape(v));
        }
        let _ = writeln!(
            o,
            r#"      <property name="dataset" value="{}"/>"#,
            escape(&super::dataset_line(&run.results.dataset))
        );
        // The night's outcome, with the exit code `dbload regress` returns.
        let _ = writeln!(
            o,
            r#"      <property name="dbload_exit_code" value="{}"/>"#,
            r.outcome.exit_code
        );
        let _ = writeln!(
            o,
            r#"      <property name="dbload_outcome" value="{}"/>"#,
            escape(&r.outcome.summary)
        );
        let _ = writeln!(o, "    </properties>");
        for c in cases {
            let head = format!(
                r#"    <testcase classname="{}" name="{}" time="0""#,
                escape(&c.class),
                escape(&c.name)
            );
            match &c.outcome {
                Outcome::Pass(None) => {
                    let _ = writeln!(o, "{head}/>");
                }
                Outcome::Pass(Some(out)) => {
                    let _ = writeln!(
                        o,
                        "{head}>\n      <system-out>{}</system-out>\n    </testcase>",
                        escape(out)
                    );
                }
                Outcome::Failure(kind, msg) | Outcome::Error(kind, msg) => {
                    let tag = if matches!(c.outcome, Outcome::Failure(..)) {
                        "failure"
                    } else {
                        "error"
                    };
                    let _ = writeln!(
                        o,
                        "{head}>\n      <{tag} type=\"{kind}\" message=\"{m}\">{m}</{tag}>\n    </testcase>",
                        m = escape(msg)
                    );
                }
            }
        }
        let _ = writeln!(o, "  </testsuite>");
    }
    let _ = writeln!(o, "</testsuites>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("bell\u{7}tab\t"), "belltab\t");
    }

    /// A minimal XML reader: elements, attributes, nesting; panics on
    /// malformed input. Returns (path of element names, attributes) per element.
    /// An element: its path of names from the root, and its attributes.
    type Element = (Vec<String>, Vec<(String, String)>);

    fn elements(xml: &str) -> Vec<Element> {
        let body = xml
            .trim_start()
            .strip_prefix("<?xml")
            .map(|r| &r[r.find("?>").unwrap() + 2..])
            .unwrap();
        let mut stack: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let mut rest = body;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            assert!(
                !text.contains('>') && !text.contains('&')
                    || text.contains("&amp;")
                    || text.contains("&lt;")
                    || text.contains("&quot;")
                    || text.contains("&gt;")
                    || text.contains("&apos;"),
                "bad text {text:?}"
            );
            let end = rest[i..].find('>').unwrap() + i;
            let tag = &rest[i + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
                continue;
            }
            let selfclose = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().unwrap().to_string();
            let mut attrs = Vec::new();
            let mut a = &tag[name.len()..];
            while let Some(eq) = a.find("=\"") {
                let key = a[..eq].trim().to_string();
                let close = a[eq + 2..].find('"').unwrap() + eq + 2;
                let val = &a[eq + 2..close];
                assert!(
                    !val.contains('<') && !val.contains('>'),
                    "unescaped {val:?}"
                );
                attrs.push((key, val.to_string()));
                a = &a[close + 1..];
            }
            let mut path = stack.clone();
            path.push(name.clone());
            out.push((path, attrs));
            if !selfclose {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        out
    }

    #[test]
    fn junit_has_the_usual_shape() {
        let r = crate::regress::assess::tests::sample();
        let xml = render(&r);
        let els = elements(&xml);
        let attr = |e: &Element, k: &str| e.1.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        let root = &els[0];
        assert_eq!(root.0, vec!["testsuites"]);
        let suites: Vec<_> = els
            .iter()
            .filter(|e| e.0 == ["testsuites", "testsuite"])
            .collect();
        assert_eq!(suites.len(), 2);
        let cases: Vec<_> = els
            .iter()
            .filter(|e| e.0 == ["testsuites", "testsuite", "testcase"])
            .collect();
        let failures = els
            .iter()
            .filter(|e| e.0.last().unwrap() == "failure")
            .count();
        let errors = els
            .iter()
            .filter(|e| e.0.last().unwrap() == "error")
            .count();
        assert_eq!(attr(root, "tests"), Some(cases.len().to_string()));
        assert_eq!(attr(root, "failures"), Some(failures.to_string()));
        assert_eq!(attr(root, "errors"), Some(errors.to_string()));
        assert!(failures >= 2, "a regression and a breached threshold");
        assert_eq!(errors, 1, "the run whose workload differs");
        for c in &cases {
            assert!(attr(c, "classname").is_some() && attr(c, "name").is_some());
        }
        // Failures carry the numbers.
        assert!(
            xml.contains("threshold p99&lt;5ms breached: actual 6.2 ms, limit 5 ms"),
            "{xml}"
        );
        assert!(
            xml.contains("regressed: dashboard_schedule p95 (lower is better): baseline"),
            "{xml}"
        );
        assert!(xml.contains("a&lt;b&amp;c"), "escaped mismatch text");
        assert!(xml.contains("name=\"dbload regress nightly &lt;&amp;&gt;\""));
    }
}
