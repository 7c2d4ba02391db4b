//! The Markdown summary of a stress run (for CI step summaries and PRs).

use std::fmt::Write;

use super::md;
use super::{dataset_line, pct, rate, us};
use crate::stress::results::StressResults;

/// Render the summary as GitHub-flavoured Markdown.
pub fn render(r: &StressResults) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## dbload stress: {}\n", md::text(&r.workload.name));
    let load = match r.totals.target_rate {
        Some(q) => format!("open model, target {}", rate(q)),
        None => "closed model".to_string(),
    };
    let _ = writeln!(
        o,
        "- **load**: {load}, {:.1}s measured, pool {}\n- **server**: {}\n- **dataset**: {}\n- **verdict**: {}\n",
        r.measured_secs,
        r.config.pool,
        md::text(r.server.version.split(" on ").next().unwrap_or("")),
        md::text(&dataset_line(&r.dataset)),
        if !r.verdict.valid {
            format!(
                "invalid run — {}",
                md::text(&r.verdict.invalid_reasons.join("; "))
            )
        } else if r.verdict.exit_code == 1 {
            "threshold breached".to_string()
        } else {
            "pass".to_string()
        }
    );
    if let Some(line) = super::segment_summary(r) {
        let _ = writeln!(o, "**Segmented run**: {}\n", md::text(&line));
    }
    let _ = writeln!(
        o,
        "| scenario | calls | rate | err % | p50 | p90 | p95 | p99 | p99.9 | max | lag p99 | pool wait p99 | exec p99 |"
    );
    let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    // `name` is Markdown: escaped, or our own bold "total".
    let mut line = |name: &str, calls: u64, rt: f64, er: f64, p: &crate::stress::results::Parts| {
        let l = &p.total;
        let _ = writeln!(
            o,
            "| {name} | {calls} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rate(rt),
            pct(er),
            us(l.p50_us),
            us(l.p90_us),
            us(l.p95_us),
            us(l.p99_us),
            us(l.p999_us),
            us(l.max_us),
            us(p.lag.p99_us),
            us(p.pool_wait.p99_us),
            us(p.exec.p99_us)
        );
    };
    for s in &r.scenarios {
        line(
            &md::text(&s.name),
            s.calls,
            s.rate,
            s.error_rate,
            &s.latency,
        );
    }
    line(
        "**total**",
        r.totals.calls,
        r.totals.rate,
        r.totals.error_rate,
        &r.totals.latency,
    );
    if r.totals.target_rate.is_some() {
        let _ = writeln!(
            o,
            "\nArrivals: scheduled {}, started {}, dropped {}.",
            r.totals.scheduled, r.totals.started, r.totals.dropped
        );
    }
    if !r.verdict.thresholds.is_empty() {
        let _ = writeln!(o, "\n| threshold | actual | result |\n|---|--:|---|");
        for t in &r.verdict.thresholds {
            let actual = match &t.note {
                Some(n) => md::text(n),
                None => format!("{} {}", t.actual, t.unit),
            };
            let _ = writeln!(
                o,
                "| {} | {actual} | {} |",
                md::code_cell(&t.expr),
                if t.passed { "pass" } else { "**FAIL**" }
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_html_are_escaped() {
        let mut r: StressResults =
            serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
        r.workload.name = "<script>alert(1)</script>".into();
        r.scenarios[0].name = "<img src=x onerror=alert(2)>|x".into();
        r.verdict.thresholds[0].expr = "p99<2s | `x`".into();
        let md = render(&r);
        assert!(!md.contains("<script>") && !md.contains("<img"), "{md}");
        assert!(md.starts_with("## dbload stress: &lt;script&gt;alert(1)&lt;/script&gt;\n"));
        assert!(
            md.contains("| &lt;img src=x onerror=alert(2)&gt;\\|x |"),
            "{md}"
        );
        assert!(md.contains("| `` p99<2s \\| `x` `` |"), "{md}");
    }
}
