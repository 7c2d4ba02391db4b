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
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} kB", b / 1024.0)
    }
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
