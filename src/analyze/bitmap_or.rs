//! `a = $1 OR b = $2`: no single index serves an OR across columns, but one
//! index per branch lets the planner combine them with a BitmapOr. For each
//! OR group of a table reference, build one candidate per branch (its
//! equality keys, else its first range key), create the hypothetical ones
//! no existing index already serves, and keep them only when the plan
//! really is a BitmapOr over them and saves enough.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::candidates::{self, Access, Candidate};
use super::catalog::Catalog;
use super::names::RelName;
use super::whatif::{self, Hypo};

/// One OR group on one table: a candidate per branch.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub table: RelName,
    pub branches: Vec<Candidate>,
}

/// The OR groups of a statement with at least two indexable branches.
pub fn groups(accesses: &BTreeMap<(RelName, u32), Access>) -> Vec<Group> {
    let mut out = Vec::new();
    for ((table, _), a) in accesses {
        let mut ids: Vec<u32> = a.branches.iter().map(|((g, _), _)| *g).collect();
        ids.sort_unstable();
        ids.dedup();
        for g in ids {
            let mut per: BTreeMap<u32, Vec<candidates::Key>> = BTreeMap::new();
            for ((gg, b), k) in &a.branches {
                if *gg == g {
                    let keys = per.entry(*b).or_default();
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
            if per.len() < 2 {
                continue;
            }
            let branches: Vec<Candidate> = per
                .into_values()
                .map(|keys| {
                    let n = keys.len();
                    Candidate::btree(
                        table.clone(),
                        keys.into_iter().map(|k| (k, false)).collect(),
                        n,
                    )
                })
                .collect();
            out.push(Group {
                table: table.clone(),
                branches,
            });
        }
    }
    out
}

/// The outcome of trying one group.
pub struct Tried {
    /// The branch candidates that need a new index (the others are served).
    pub new: Vec<Candidate>,
    pub cost_after: f64,
    /// Hypothetical indexes left in place (the caller drops them).
    pub hypos: Vec<Hypo>,
}

/// Create the group's missing branch indexes hypothetically and explain:
/// `Some` when the plan is a BitmapOr using every new one.
pub async fn try_group(
    c: &Client,
    cat: &Catalog,
    sql: &str,
    params: usize,
    group: &Group,
) -> Option<Tried> {
    let (new, _) = candidates::drop_covered(group.branches.clone(), cat);
    if new.is_empty() {
        return None;
    }
    let mut hypos = Vec::new();
    for cand in &new {
        match whatif::create_hypo(c, cand, &cand.table).await {
            Ok(h) => hypos.push(h),
            Err(_) => break,
        }
    }
    let plan = if hypos.len() == new.len() {
        whatif::explain(c, sql, params, cat.server_version)
            .await
            .ok()
    } else {
        None
    };
    match plan {
        Some(p)
            if p.json.contains("BitmapOr") && hypos.iter().all(|h| p.json.contains(&h.name)) =>
        {
            Some(Tried {
                new,
                cost_after: p.cost,
                hypos,
            })
        }
        _ => {
            for h in &hypos {
                whatif::drop_hypo(c, h).await;
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::candidates::Key;

    #[test]
    fn one_candidate_per_branch_and_single_branch_groups_skipped() {
        let t = RelName::new(Some("public"), "jobs");
        let a = Access {
            branches: vec![
                ((0, 0), Key::col("code")),
                ((0, 1), Key::col("note")),
                ((0, 1), Key::col("status")),
                ((1, 0), Key::col("x")),
            ],
            ..Default::default()
        };
        let mut m = BTreeMap::new();
        m.insert((t.clone(), 1), a);
        let g = groups(&m);
        assert_eq!(g.len(), 1);
        let labels: Vec<String> = g[0].branches.iter().map(Candidate::label).collect();
        assert_eq!(
            labels,
            vec!["public.jobs(code)", "public.jobs(note, status)"]
        );
    }
}
