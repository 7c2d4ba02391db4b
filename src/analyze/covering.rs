//! Covering indexes: when a SELECT got exactly one btree index and reads
//! only a few more plain columns of that table, try the index with them
//! `INCLUDE`d (an index-only scan) on a mostly all-visible table, and keep
//! it when it costs clearly less.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::candidates::{self, Access, Candidate};
use super::catalog::Catalog;
use super::cost::{saving, share};
use super::merge::Choice;
use super::names::RelName;
use super::source::WorkloadStatement;
use super::sql;
use super::whatif;

/// A covering index is considered only on a table at least this
/// all-visible (else an index-only scan still visits the heap).
pub const COVER_MIN_ALL_VISIBLE: f64 = 0.8;
/// At most this many INCLUDE columns.
pub const MAX_INCLUDE: usize = 3;
/// The covering index must cost at least this share less than the plain one.
const COVER_MIN_GAIN: f64 = 0.10;

/// INCLUDE: when a SELECT got exactly one btree index and reads only a few
/// more columns of that table, try the index with them included (an
/// index-only scan); keep it when it costs [`COVER_MIN_GAIN`] less.
#[allow(clippy::too_many_arguments)]
pub async fn cover(
    c: &Client,
    cat: &Catalog,
    w: &WorkloadStatement,
    x: &sql::Extracted,
    accesses: &BTreeMap<(RelName, u32), Access>,
    chosen: &mut [Choice],
    original: f64,
    notes: &mut Vec<String>,
) {
    if x.kind != sql::StmtKind::Select || chosen.len() != 1 {
        return;
    }
    let ch = &mut chosen[0];
    let cand = &ch.candidate;
    let Some(after) = ch.cost_after else { return };
    if !cand.hypothetical() || !cand.include.is_empty() {
        return;
    }
    let refs: Vec<&Access> = accesses
        .iter()
        .filter(|((t, _), _)| t == &cand.table)
        .map(|(_, a)| a)
        .collect();
    let [a] = refs.as_slice() else { return };
    if a.star {
        return;
    }
    let extra: Vec<String> = a
        .touched
        .iter()
        .filter(|col| {
            !cand
                .columns
                .iter()
                .any(|(k, _)| k == &candidates::Key::col(col))
        })
        .cloned()
        .collect();
    if extra.is_empty() || extra.len() > MAX_INCLUDE {
        return;
    }
    let vis = cat
        .relations
        .get(&cand.table)
        .map(|r| r.all_visible)
        .unwrap_or(0.0);
    if vis < COVER_MIN_ALL_VISIBLE {
        notes.push(format!(
            "no INCLUDE ({}): only {:.0}% of {} is all-visible (an index-only scan needs {:.0}%; VACUUM sets it)",
            extra.join(", "),
            vis * 100.0,
            cand.table,
            COVER_MIN_ALL_VISIBLE * 100.0
        ));
        return;
    }
    let covering = Candidate {
        include: extra,
        ..cand.clone()
    };
    let trial = whatif::try_candidates(c, cat, &w.query, x.params, std::slice::from_ref(&covering))
        .await
        .ok()
        .and_then(|t| t.into_iter().next());
    match trial {
        Some(t) if t.used && t.cost_after <= after * (1.0 - COVER_MIN_GAIN) => {
            ch.candidate = covering;
            ch.cost_after = Some(t.cost_after);
            ch.saving = saving(ch.cost_before, t.cost_after);
            ch.share = share(ch.cost_before, t.cost_after, original);
        }
        Some(t) => notes.push(format!(
            "{} would cost {:.1} against {:.1} without INCLUDE: not worth it",
            covering.label(),
            t.cost_after,
            after
        )),
        None => {}
    }
}
