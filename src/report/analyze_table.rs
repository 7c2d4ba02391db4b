//! `dbload analyze` (default `--format table`): the report as terminal
//! tables (comfy-table).

use super::analyze_fmt::{bytes, costs, ms, noteworthy, saved, short, summary, with_hints};
use super::table::{Width, right_align, table};
use crate::analyze::model::AnalyzeReport;

/// Render the whole report.
pub fn render(r: &AnalyzeReport) -> String {
    let mut o = String::new();
    o.push_str(&summary(r));
    o.push('\n');
    for w in &r.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }

    o.push_str("\nProposed indexes\n");
    if r.proposals.is_empty() {
        o.push_str("  none\n");
    } else {
        let mut t = table(
            vec![
                "#",
                "index",
                "time saved",
                "statement",
                "calls",
                "mean",
                "cost before → after",
                "saving",
            ],
            Width::Wrap,
        );
        for (i, p) in r.proposals.iter().enumerate() {
            let mut ddl = p.ddl.clone();
            if !p.verified {
                ddl.push_str("\n(unverified)");
            }
            if let Some(w) = &p.write_warning {
                ddl.push_str(&format!("\n⚠ {w}"));
            }
            for (j, h) in p.statements.iter().enumerate() {
                let first = j == 0;
                t.add_row(vec![
                    if first {
                        format!("{}", i + 1)
                    } else {
                        String::new()
                    },
                    if first { ddl.clone() } else { String::new() },
                    if first {
                        saved(p.est_time_saved_ms)
                    } else {
                        String::new()
                    },
                    short(&h.query, 60),
                    h.calls.to_string(),
                    ms(h.mean_ms),
                    costs(h.cost_before, h.cost_after),
                    format!("{:.0}%", h.saving_pct),
                ]);
            }
        }
        right_align(&mut t, [2, 4, 5, 6, 7]);
        o.push_str(&t.to_string());
        o.push('\n');
    }

    let diag: Vec<_> = r.statements.iter().filter(|s| noteworthy(s)).collect();
    let quiet = r.statements.iter().filter(|s| s.reason.is_some()).count() - diag.len();
    o.push_str("\nStatements without a proposal\n");
    if !diag.is_empty() {
        let mut t = table(vec!["where", "reason", "detail", "statement"], Width::Wrap);
        for s in diag {
            t.add_row(vec![
                s.location.clone(),
                s.reason.map(|x| x.label()).unwrap_or_default().to_string(),
                short(&with_hints(s), 200),
                short(&s.query, 60),
            ]);
        }
        o.push_str(&t.to_string());
        o.push('\n');
    }
    o.push_str(&format!(
        "  {quiet} utility or catalog-only statement(s) skipped (all listed in --format json)\n"
    ));

    let h = &r.health;
    o.push_str("\nIndex health\n");
    let mut t = table(vec!["finding", "object", "detail"], Width::Wrap);
    for d in &h.duplicate_indexes {
        t.add_row(vec![
            "duplicate index".to_string(),
            d.index.clone(),
            format!("{} — covered by {}", bytes(d.size_bytes), d.covered_by),
        ]);
    }
    for u in &h.unused_indexes {
        t.add_row(vec![
            "unused index".to_string(),
            u.index.clone(),
            format!(
                "{} on {}, no scans since stats reset",
                bytes(u.size_bytes),
                u.table
            ),
        ]);
    }
    for i in &h.invalid_indexes {
        t.add_row(vec![
            "invalid index".to_string(),
            i.index.clone(),
            i.definition.clone(),
        ]);
    }
    for f in &h.unindexed_foreign_keys {
        t.add_row(vec![
            "FK without index".to_string(),
            format!("{} ({})", f.table, f.columns.join(", ")),
            format!(
                "{} → {}; {:.0} rows; {}",
                f.constraint, f.referenced_table, f.table_rows, f.ddl
            ),
        ]);
    }
    for s in &h.seq_scan_tables {
        t.add_row(vec![
            "mostly seq scans".to_string(),
            s.table.clone(),
            format!(
                "{} seq vs {} index scans, {} rows",
                s.seq_scan, s.idx_scan, s.live_rows
            ),
        ]);
    }
    for s in &h.slow_statements {
        t.add_row(vec![
            "slow statement".to_string(),
            short(&s.query, 60),
            format!(
                "{} calls, mean {}, total {}",
                s.calls,
                ms(s.mean_ms),
                ms(s.total_ms)
            ),
        ]);
    }
    if t.row_count() == 0 {
        o.push_str("  no findings\n");
    } else {
        o.push_str(&t.to_string());
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::analyze_markdown::tests::sample;

    #[test]
    fn table_lists_proposals_diagnostics_and_health() {
        let s = render(&sample());
        assert!(s.contains("CREATE INDEX CONCURRENTLY"), "{s}");
        assert!(s.contains("1500.0 → 12.3"), "{s}");
        assert!(s.contains("could not parse"), "{s}");
        assert!(s.contains("duplicate index"), "{s}");
    }
}
