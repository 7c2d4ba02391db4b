//! `dbload analyze --format markdown`: the report as GitHub-flavoured
//! Markdown, for CI comments and job summaries.

use std::fmt::Write;

use super::analyze_fmt::{
    bytes, cost_line, costs, ms, noteworthy, proposal_notes, saved, short, summary, with_hints,
};
use crate::analyze::model::AnalyzeReport;

use super::md::{code, code_cell};

/// Text for the report (and its table cells), escaped ([`super::md::text`]).
fn cell(s: &str) -> String {
    super::md::text(s)
}

/// Render the whole report.
pub fn render(r: &AnalyzeReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# dbload analyze\n\n{}\n", cell(&summary(r)));
    for w in &r.warnings {
        let _ = writeln!(o, "> **Warning:** {}\n", cell(w));
    }
    let _ = writeln!(o, "## Proposed indexes\n");
    if r.proposals.is_empty() {
        let _ = writeln!(o, "None.\n");
    }
    for (i, p) in r.proposals.iter().enumerate() {
        let _ = writeln!(
            o,
            "### {}. {}{}\n",
            i + 1,
            code(&p.ddl),
            if p.verified { "" } else { " *(unverified)*" }
        );
        let _ = writeln!(o, "Kind: {}.{}\n", p.kind, proposal_notes(p));
        let cl = cost_line(p);
        if !cl.is_empty() {
            let _ = writeln!(o, "Cost: {cl}.\n");
        }
        let _ = writeln!(
            o,
            "Estimated time saved: **{}** over {} statement(s).{}\n",
            saved(p.est_time_saved_ms),
            p.statements.len(),
            p.write_warning
                .as_deref()
                .map(|w| format!(" ⚠ {}", cell(w)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "| statement | calls | mean | cost before → after | saving |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|");
        for h in &p.statements {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {:.0}% |",
                code_cell(&short(&h.query, 100)),
                h.calls,
                ms(h.mean_ms),
                costs(h.cost_before, h.cost_after),
                h.saving_pct
            );
        }
        let _ = writeln!(o);
    }
    if let Some(sel) = &r.selection {
        let _ = writeln!(o, "Budget: {sel}.\n");
    }
    if !r.declined.is_empty() {
        let _ = writeln!(o, "## Declined\n");
        for d in &r.declined {
            let _ = writeln!(o, "- `{}`: {}", d.ddl, cell(&d.reason));
        }
        let _ = writeln!(o);
    }
    let diag: Vec<_> = r.statements.iter().filter(|s| noteworthy(s)).collect();
    let quiet = r.statements.iter().filter(|s| s.reason.is_some()).count() - diag.len();
    let _ = writeln!(o, "## Statements without a proposal\n");
    if !diag.is_empty() {
        let _ = writeln!(o, "| where | reason | detail | statement |");
        let _ = writeln!(o, "|---|---|---|---|");
        for s in diag {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell(&s.location),
                s.reason.map(|x| x.label()).unwrap_or_default(),
                cell(&with_hints(s)),
                code_cell(&short(&s.query, 80))
            );
        }
    }
    let _ = writeln!(
        o,
        "\n{quiet} utility or catalog-only statement(s) skipped.\n"
    );
    let h = &r.health;
    let _ = writeln!(o, "## Index health\n");
    let mut any = false;
    for d in &h.duplicate_indexes {
        any = true;
        let _ = writeln!(
            o,
            "- **Duplicate index** {} ({}) is covered by {}",
            code(&d.index),
            bytes(d.size_bytes),
            code(&d.covered_by)
        );
    }
    for u in &h.unused_indexes {
        any = true;
        let _ = writeln!(
            o,
            "- **Unused index** {} on {} ({}, no scans since stats reset)",
            code(&u.index),
            code(&u.table),
            bytes(u.size_bytes)
        );
    }
    for i in &h.invalid_indexes {
        any = true;
        let _ = writeln!(
            o,
            "- **Invalid index** {} on {}",
            code(&i.index),
            code(&i.table)
        );
    }
    for f in &h.unindexed_foreign_keys {
        any = true;
        let _ = writeln!(
            o,
            "- **Foreign key without index** {} on {} ({}) → {}",
            code(&f.constraint),
            code(&f.table),
            cell(&f.columns.join(", ")),
            code(&f.ddl)
        );
    }
    for t in &h.seq_scan_tables {
        any = true;
        let _ = writeln!(
            o,
            "- **Mostly sequential scans** on {}: {} seq vs {} index scans, {} rows",
            code(&t.table),
            t.seq_scan,
            t.idx_scan,
            t.live_rows
        );
    }
    for s in &h.slow_statements {
        any = true;
        let _ = writeln!(
            o,
            "- **Slow statement** ({} calls, mean {}): {}",
            s.calls,
            ms(s.mean_ms),
            code(&short(&s.query, 100))
        );
    }
    if !any {
        let _ = writeln!(o, "No findings.");
    }
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::analyze::model::*;

    pub(crate) fn sample() -> AnalyzeReport {
        AnalyzeReport {
            schema: SCHEMA.into(),
            database: "vet".into(),
            server_version: 150000,
            source: "pg_stat_statements".into(),
            verification: Verification::Hypopg,
            min_savings_pct: 20.0,
            proposals: vec![Proposal {
                size_bytes: Some(1_081_344),
                est_time_saved_ms: 1234.5,
                statements: vec![Helped {
                    statement: 0,
                    query: "SELECT * FROM medical_records WHERE pet_id = $1 ORDER BY recorded_at DESC | x".into(),
                    calls: 100,
                    mean_ms: 12.5,
                    cost_before: 1500.0,
                    cost_after: Some(12.3),
                    saving_pct: 99.2,
                }],
                ..crate::analyze::model::test_proposal(
                    "medical_records",
                    &[("pet_id", false), ("recorded_at", true)],
                    100,
                    1500.0,
                )
            }],
            declined: vec![crate::analyze::model::Declined {
                ddl: "CREATE INDEX CONCURRENTLY ON public.audit_log (actor_id)".into(),
                reason: "write cost: about 120.0 extra index page writes/s".into(),
            }],
            selection: Some("1 of 2 proposals kept under --max-indexes 1: the best by net saving".into()),
            statements: vec![
                StatementResult {
                    id: 0,
                    location: "queryid 1".into(),
                    query: "SELECT …".into(),
                    calls: 100,
                    mean_ms: 12.5,
                    total_ms: 1250.0,
                    tables: vec!["public.medical_records".into()],
                    cost: Some(1500.0),
                    status: StatementStatus::Proposed,
                    index: Some("public.medical_records(pet_id, recorded_at DESC)".into()),
                    reason: None,
                    detail: String::new(),
                    hints: vec![],
                },
                StatementResult {
                    id: 1,
                    location: "w.sql:3".into(),
                    query: "SELEC oops".into(),
                    calls: 1,
                    mean_ms: 0.0,
                    total_ms: 0.0,
                    tables: vec![],
                    cost: None,
                    status: StatementStatus::Skipped,
                    index: None,
                    reason: Some(SkipReason::ParseError),
                    detail: "Expected: an SQL statement, found: SELEC".into(),
                    hints: vec![],
                },
            ],
            health: Health {
                duplicate_indexes: vec![DuplicateIndex {
                    table: "public.pets".into(),
                    index: "public.pets_owner_dup".into(),
                    definition: String::new(),
                    covered_by: "public.pets_owner_id_idx".into(),
                    covered_by_definition: String::new(),
                    size_bytes: 16384,
                }],
                ..Default::default()
            },
            warnings: vec![],
        }
    }

    #[test]
    fn markdown_has_sections_and_escapes_pipes() {
        let md = render(&sample());
        assert!(md.starts_with("# dbload analyze\n"), "{md}");
        assert!(md.contains("### 1. `CREATE INDEX CONCURRENTLY ON public.medical_records (pet_id, recorded_at DESC)`"));
        assert!(md.contains("| 1500.0 → 12.3 | 99% |"), "{md}");
        assert!(md.contains("DESC \\| x"), "{md}");
        assert!(md.contains("| w.sql:3 | could not parse |"), "{md}");
        assert!(md.contains("**Duplicate index** `public.pets_owner_dup`"));
        let mut un = sample();
        un.verification = Verification::Heuristic;
        un.proposals[0].verified = false;
        un.proposals[0].statements[0].cost_after = None;
        let md = render(&un);
        assert!(
            md.contains("*(unverified)*") && md.contains("UNVERIFIED"),
            "{md}"
        );
    }
}
