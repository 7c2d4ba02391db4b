//! Workload-level merging: each statement's chosen candidate becomes a
//! proposal; a proposal whose columns are a leading prefix of another's on
//! the same table is served by the wider index and folded into it. Ranked by
//! estimated time saved (calls × mean time × saving fraction).

use super::candidates::{self, Candidate, JSONB_PATH_OPS, Method};

/// One statement's chosen index.
#[derive(Debug, Clone)]
pub struct Choice {
    pub statement: usize,
    pub candidate: Candidate,
    pub calls: u64,
    pub mean_ms: f64,
    pub cost_before: f64,
    pub cost_after: Option<f64>,
    /// Saving as a fraction (0..1) of `cost_before`.
    pub saving: f64,
    /// The share of the statement's original cost this index removes
    /// (equals `saving` for the first index chosen for a statement).
    pub share: f64,
    /// 0 for the first index chosen for the statement, 1 for the next…
    pub round: usize,
    /// How it was verified when not by HypoPG, or why it is unverified.
    pub note: Option<String>,
    /// The index's size when it was really built (`--verify-build`).
    pub size_bytes: Option<i64>,
}

/// Merged proposals: the index and the choices it serves.
#[derive(Debug, Clone)]
pub struct Merged {
    pub candidate: Candidate,
    pub choices: Vec<Choice>,
}

impl Merged {
    /// Σ calls × mean ms × saving.
    pub fn time_saved_ms(&self) -> f64 {
        self.choices
            .iter()
            .map(|c| c.calls as f64 * c.mean_ms * c.share)
            .sum()
    }

    /// Σ calls × (cost before − cost after): the tie-breaker for files.
    pub fn cost_saved(&self) -> f64 {
        self.choices
            .iter()
            .map(|c| c.calls as f64 * c.cost_before * c.share)
            .sum()
    }
}

/// Whether an index on `wide` serves a query that wanted `narrow`:
/// same table, `narrow`'s columns a leading prefix of `wide`'s, and the
/// directions of the non-equality part all equal or all reversed.
/// (INCLUDE columns do not matter here: [`merge`] adds a covering narrow
/// one's to the wide one.) Same for GIN: the same keys, and a default jsonb_ops index serves a
/// query that wanted jsonb_path_ops (`@>`). A partial index serves only
/// statements with the same predicate.
pub fn serves(wide: &Candidate, narrow: &Candidate) -> bool {
    if wide.table != narrow.table
        || wide.method != narrow.method
        || wide.predicate != narrow.predicate
        || wide.columns.len() < narrow.columns.len()
    {
        return false;
    }
    if wide.method == Method::Gin {
        return wide.columns.len() == narrow.columns.len()
            && wide.columns.iter().zip(&narrow.columns).all(|(w, n)| {
                w.0.base() == n.0.base()
                    && (w.0.opclass == n.0.opclass
                        || (w.0.opclass.is_none()
                            && n.0.opclass.as_deref() == Some(JSONB_PATH_OPS)))
            });
    }
    if !wide
        .columns
        .iter()
        .zip(&narrow.columns)
        .all(|(w, n)| w.0 == n.0)
    {
        return false;
    }
    let flips: Vec<bool> = wide
        .columns
        .iter()
        .zip(&narrow.columns)
        .skip(narrow.n_eq)
        .map(|(w, n)| w.1 != n.1)
        .collect();
    flips.iter().all(|f| *f) || flips.iter().all(|f| !*f)
}

/// Group choices by identical candidate (no folding).
pub fn group(choices: Vec<Choice>) -> Vec<Merged> {
    let mut groups: Vec<Merged> = Vec::new();
    for ch in choices {
        match groups.iter_mut().find(|g| g.candidate == ch.candidate) {
            Some(g) => g.choices.push(ch),
            None => groups.push(Merged {
                candidate: ch.candidate.clone(),
                choices: vec![ch],
            }),
        }
    }
    groups
}

/// Best first: estimated time saved, then cost saved.
pub fn by_time_saved(a: &Merged, b: &Merged) -> std::cmp::Ordering {
    b.time_saved_ms()
        .total_cmp(&a.time_saved_ms())
        .then_with(|| b.cost_saved().total_cmp(&a.cost_saved()))
}

/// Merge choices into proposals, best first: each narrow group folds into
/// the widest group that serves it (one composite for several statements).
pub fn merge(choices: Vec<Choice>) -> Vec<Merged> {
    let mut groups = group(choices);
    // Widest first, so a narrow group folds into the widest that serves it.
    groups.sort_by(|a, b| {
        b.candidate
            .columns
            .len()
            .cmp(&a.candidate.columns.len())
            .then_with(|| a.candidate.cmp(&b.candidate))
    });
    let mut out: Vec<Merged> = Vec::new();
    for g in groups {
        match out.iter_mut().find(|w| serves(&w.candidate, &g.candidate)) {
            Some(w) => {
                // One index for both: the wide one keeps the narrow one's
                // INCLUDE columns (the re-check with the planner decides
                // whether each statement is still served well enough).
                for c in &g.candidate.include {
                    let key = w
                        .candidate
                        .columns
                        .iter()
                        .any(|(k, _)| k == &candidates::Key::col(c));
                    if !key && !w.candidate.include.contains(c) {
                        w.candidate.include.push(c.clone());
                    }
                }
                w.choices.extend(g.choices)
            }
            None => out.push(g),
        }
    }
    out.sort_by(by_time_saved);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::names::RelName;

    fn cand(t: &str, cols: &[(&str, bool)], n_eq: usize) -> Candidate {
        Candidate::btree(
            RelName::new(Some("public"), t),
            cols.iter().map(|(c, d)| ((*c).into(), *d)).collect(),
            n_eq,
        )
    }

    fn choice(i: usize, c: Candidate, calls: u64, mean: f64) -> Choice {
        Choice {
            statement: i,
            candidate: c,
            calls,
            mean_ms: mean,
            cost_before: 1000.0,
            cost_after: Some(10.0),
            saving: 0.99,
            share: 0.99,
            round: 0,
            note: None,
            size_bytes: None,
        }
    }

    #[test]
    fn prefix_folds_into_wider_and_ranks_by_time_saved() {
        let ab = cand("mr", &[("pet_id", false), ("recorded_at", false)], 1);
        let a = cand("mr", &[("pet_id", false)], 1);
        let other = cand("ii", &[("invoice_id", false)], 1);
        let unrelated = cand("mr", &[("vet_id", false)], 1);
        let merged = merge(vec![
            choice(0, a.clone(), 10, 1.0),
            choice(1, ab.clone(), 10, 1.0),
            choice(2, other.clone(), 1000, 5.0),
            choice(3, unrelated.clone(), 1, 1.0),
        ]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].candidate, other);
        assert_eq!(merged[1].candidate, ab);
        assert_eq!(merged[1].choices.len(), 2);
        assert_eq!(merged[2].candidate, unrelated);
    }

    #[test]
    fn a_covering_narrow_index_folds_into_the_composite_with_its_include() {
        let wide = cand("pets", &[("clinic_id", false), ("created_at", false)], 1);
        let narrow = Candidate {
            include: vec!["traits".into(), "created_at".into()],
            ..cand("pets", &[("clinic_id", false)], 1)
        };
        let merged = merge(vec![choice(0, wide, 10, 1.0), choice(1, narrow, 10, 1.0)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].candidate.label(),
            "public.pets(clinic_id, created_at) INCLUDE (traits)"
        );
        assert_eq!(merged[0].choices.len(), 2);
    }

    #[test]
    fn directions_matter_beyond_equality() {
        let wide = cand("t", &[("a", false), ("b", true)], 1);
        assert!(serves(&wide, &cand("t", &[("a", false)], 1)));
        assert!(serves(&wide, &cand("t", &[("a", false), ("b", false)], 1)));
        let mixed = cand("t", &[("b", true), ("c", false)], 0);
        assert!(!serves(
            &mixed,
            &cand("t", &[("b", false), ("c", false)], 0)
        ));
        assert!(!serves(&wide, &cand("u", &[("a", false)], 1)));
    }
}
