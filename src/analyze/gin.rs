//! GIN candidates (trigram, jsonb, arrays, full text), which HypoPG cannot
//! simulate: after the btree step, `--verify-build` builds each for real in
//! a transaction that is rolled back (on top of the hypothetical indexes
//! already chosen) and keeps the best that saves enough; otherwise the
//! first one is proposed unverified, with the reason, on a table the btree
//! step left without an index.

use tokio_postgres::Client;

use super::Settings;
use super::candidates::Candidate;
use super::catalog::Catalog;
use super::cost::{saving, share};
use super::merge::Choice;
use super::names::RelName;
use super::source::WorkloadStatement;
use super::whatif;

/// The reason a GIN candidate stays unverified when it is not built.
const NO_HYPO_GIN: &str = "HypoPG cannot simulate GIN indexes: unverified (--verify-build \
     builds it in a rolled-back transaction to check it)";

/// GIN candidates (which HypoPG cannot simulate), after the btree step:
/// with `--verify-build`, build each in a rolled-back transaction (on top
/// of the hypothetical indexes already chosen) and keep the best that saves
/// `min`; otherwise propose the first one unverified on a table the btree
/// step left without an index.
#[allow(clippy::too_many_arguments)]
pub async fn step(
    c: &Client,
    cat: &Catalog,
    settings: &Settings,
    w: &WorkloadStatement,
    params: usize,
    gin: &[Candidate],
    chosen: &[Choice],
    mut current: f64,
    original: f64,
    base: &Choice,
    notes: &mut Vec<String>,
) -> Vec<Choice> {
    let min = settings.min_savings_pct / 100.0;
    let mut out = Vec::new();
    let mut tables: Vec<&RelName> = Vec::new();
    for g in gin {
        if !tables.contains(&&g.table) {
            tables.push(&g.table);
        }
    }
    for table in tables {
        let here: Vec<&Candidate> = gin.iter().filter(|g| &g.table == table).collect();
        let has_btree = chosen.iter().any(|ch| &ch.candidate.table == table);
        let size = cat.relations.get(table).map(|r| r.size_bytes).unwrap_or(0);
        if settings.verify_build && size > settings.verify_build_max_bytes {
            notes.push(format!(
                "--verify-build refused on {table}: {} is above the {} limit \
                 (--verify-build-max-size); GIN candidate unverified",
                super::size::format_size(size),
                super::size::format_size(settings.verify_build_max_bytes)
            ));
        } else if settings.verify_build {
            let mut best: Option<(whatif::Trial, u128, Option<i64>)> = None;
            for cand in &here {
                let missing: Vec<&str> = cand
                    .extensions()
                    .into_iter()
                    .filter(|e| !cat.extensions.iter().any(|x| x == e))
                    .collect();
                match whatif::build_trial(c, cat, &w.query, params, cand, &missing).await {
                    Ok((t, ms, size)) if t.used => {
                        if best.as_ref().is_none_or(|b| t.cost_after < b.0.cost_after) {
                            best = Some((t, ms, size));
                        }
                    }
                    Ok(_) => notes.push(format!(
                        "built {} in a rolled-back transaction: the planner did not use it",
                        cand.label()
                    )),
                    Err(m) => notes.push(format!("--verify-build {}: {m}", cand.label())),
                }
            }
            if let Some((t, ms, size)) = best {
                let s = saving(current, t.cost_after);
                if s >= min {
                    out.push(Choice {
                        candidate: t.candidate.clone(),
                        cost_before: current,
                        cost_after: Some(t.cost_after),
                        saving: s,
                        share: share(current, t.cost_after, original),
                        round: chosen.len() + out.len(),
                        note: Some(format!(
                            "verified by a real build in a rolled-back transaction \
                             ({ms} ms under a SHARE lock on {table})"
                        )),
                        size_bytes: size,
                        ..base.clone()
                    });
                    current = t.cost_after;
                } else {
                    notes.push(format!(
                        "{} (built and rolled back) saves {:.1}%, below {:.0}%",
                        t.candidate.label(),
                        s * 100.0,
                        min * 100.0
                    ));
                }
            }
            continue;
        }
        if has_btree {
            notes.push(format!(
                "{} might also help (unverified: HypoPG cannot simulate GIN)",
                here[0].label()
            ));
        } else {
            out.push(Choice {
                candidate: here[0].clone(),
                cost_before: current,
                cost_after: None,
                saving: 0.0,
                share: 0.0,
                round: chosen.len() + out.len(),
                note: Some(NO_HYPO_GIN.to_string()),
                ..base.clone()
            });
        }
    }
    out
}
