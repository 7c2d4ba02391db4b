//! Small formatting helpers shared by the analyze renderers.

use crate::analyze::model::{AnalyzeReport, StatementResult, Verification};

/// Collapse whitespace and cut to `max` characters (with `…`).
pub fn short(q: &str, max: usize) -> String {
    let one: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let mut s: String = one.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Milliseconds in a readable unit.
pub fn ms(v: f64) -> String {
    if v >= 60_000.0 {
        format!("{:.1} min", v / 60_000.0)
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.2} ms")
    }
}

/// Estimated time saved, or `n/a` without timings (SQL from a file).
pub fn saved(v: f64) -> String {
    if v > 0.0 {
        ms(v)
    } else {
        "n/a (no timings)".into()
    }
}

/// Bytes in a readable unit.
pub fn bytes(b: i64) -> String {
    crate::analyze::size::format_size(b)
}

/// `1234.5 → 12.3` with the cost-after, or `unverified`.
pub fn costs(before: f64, after: Option<f64>) -> String {
    match after {
        Some(a) => format!("{before:.1} → {a:.1}"),
        None => format!("{before:.1} → ? (unverified)"),
    }
}

/// The one-line summary at the top of every format.
pub fn summary(r: &AnalyzeReport) -> String {
    let skipped = r.statements.iter().filter(|s| s.reason.is_some()).count();
    format!(
        "database {} · source {} · {} statements ({} skipped) · {} index proposals · {}",
        r.database,
        r.source,
        r.statements.len(),
        skipped,
        r.proposals.len(),
        match r.verification {
            Verification::Hypopg => "verified with HypoPG (generic plans)".to_string(),
            Verification::Heuristic =>
                "UNVERIFIED: estimated from pg_stats (no HypoPG)".to_string(),
        }
    )
}

/// The detail of a statement with its hints appended.
pub fn with_hints(s: &StatementResult) -> String {
    let mut d = s.detail.clone();
    for h in &s.hints {
        if !d.is_empty() {
            d.push_str("; ");
        }
        d.push_str(h);
    }
    d
}

/// Whether a skipped statement deserves a line in human output: utility
/// and catalog-only statements are only counted.
pub fn noteworthy(s: &StatementResult) -> bool {
    use crate::analyze::model::SkipReason::*;
    !matches!(s.reason, None | Some(Utility) | Some(CatalogOnly))
}

/// A proposal's extension requirements and verification note, as one
/// sentence each (empty when there are none).
pub fn proposal_notes(p: &crate::analyze::model::Proposal) -> String {
    let mut o = String::new();
    if !p.requires.is_empty() {
        o.push_str(&format!(" Needs first: `{}`.", p.requires.join("; ")));
    }
    if let Some(n) = &p.verification_note {
        o.push_str(&format!(" {n}."));
    }
    o
}

/// A proposal's size and write cost in one line (empty when unknown).
pub fn cost_line(p: &crate::analyze::model::Proposal) -> String {
    let mut parts = Vec::new();
    if let Some(b) = p.size_bytes {
        parts.push(format!("size ≈ {}", bytes(b)));
    }
    if let Some(w) = &p.write_cost {
        let hot = w
            .hot_update_share
            .map(|h| format!(", {:.0}% of updates HOT", h * 100.0))
            .unwrap_or_default();
        let saved = w
            .saved_cost_per_sec
            .map(|s| format!("{s:.0} cost units/s saved vs "))
            .unwrap_or_default();
        parts.push(format!(
            "≈ {:.1} extra index page writes/s at {:.1} rows written/s{hot}; \
             {saved}{:.0} spent",
            w.index_writes_per_sec, w.writes_per_sec, w.write_cost_per_sec
        ));
    }
    parts.join("; ")
}
