//! One statement, start to finish: extract its tables and column uses,
//! check the tables exist, explain it, build candidates, and choose indexes
//! with HypoPG (greedily, one per table) or the pg_stats heuristic — or say
//! exactly why there is no proposal.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use super::Settings;
use super::candidates::{self, Candidate};
use super::catalog::{Catalog, is_system_schema};
use super::heuristic;
use super::merge::Choice;
use super::model::{SkipReason, StatementResult};
use super::names::RelName;
use super::source::WorkloadStatement;
use super::sql;
use super::whatif;

/// Two candidates whose costs differ by less than this fraction are equal;
/// the narrower one wins.
const COST_TIE: f64 = 0.02;

/// Most indexes proposed for one statement (one per table reference).
const MAX_PER_STATEMENT: usize = 3;

/// Choose indexes for one statement with HypoPG, greedily: the best
/// candidate first, then — with it in place — the best candidate on another
/// table, while each step still saves `min` of the cost at that point.
#[allow(clippy::too_many_arguments)]
async fn greedy(
    c: &Client,
    cat: &Catalog,
    w: &WorkloadStatement,
    params: usize,
    cands: &[Candidate],
    original: f64,
    min: f64,
    base: Choice,
) -> Result<Vec<Choice>, Skip> {
    let mut chosen: Vec<Choice> = Vec::new();
    let mut hypos = Vec::new();
    let mut current = original;
    let mut outcome = Ok(());
    for round in 0..MAX_PER_STATEMENT {
        let remaining: Vec<Candidate> = cands
            .iter()
            .filter(|k| !chosen.iter().any(|ch| ch.candidate.table == k.table))
            .cloned()
            .collect();
        if remaining.is_empty() {
            break;
        }
        let trials = match whatif::try_candidates(c, cat, &w.query, params, &remaining).await {
            Ok(t) => t,
            Err(m) => {
                if round == 0 {
                    outcome = Err((SkipReason::ExplainFailed, m));
                }
                break;
            }
        };
        let used: Vec<_> = trials.iter().filter(|t| t.used).collect();
        let Some(best_cost) = used.iter().map(|t| t.cost_after).reduce(f64::min) else {
            if round == 0 {
                outcome = Err((
                    SkipReason::NotUsedByPlanner,
                    format!(
                        "tried {}",
                        remaining
                            .iter()
                            .map(Candidate::label)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            break;
        };
        // Narrowest among those within COST_TIE of the best.
        let best = used
            .iter()
            .filter(|t| t.cost_after <= best_cost * (1.0 + COST_TIE) + 0.01)
            .min_by_key(|t| t.candidate.columns.len())
            .expect("non-empty");
        let s = saving(current, best.cost_after);
        if s < min {
            if round == 0 {
                outcome = Err((
                    SkipReason::SavingBelowThreshold,
                    format!(
                        "best {} saves {:.1}% (cost {:.1} → {:.1}), below {:.0}%",
                        best.candidate.label(),
                        s * 100.0,
                        current,
                        best.cost_after,
                        min * 100.0
                    ),
                ));
            }
            break;
        }
        chosen.push(Choice {
            candidate: best.candidate.clone(),
            cost_before: current,
            cost_after: Some(best.cost_after),
            saving: s,
            share: if original > 0.0 {
                ((current - best.cost_after) / original).clamp(0.0, 1.0)
            } else {
                0.0
            },
            round,
            ..base.clone()
        });
        current = best.cost_after;
        // Keep it in place for the next round.
        match whatif::create_hypo(c, &best.candidate, &best.candidate.table).await {
            Ok(h) => hypos.push(h),
            Err(_) => break,
        }
    }
    for h in &hypos {
        whatif::drop_hypo(c, h).await;
    }
    outcome.map(|()| chosen)
}

/// The saving of going from `before` to `after`, as a fraction.
pub fn saving(before: f64, after: f64) -> f64 {
    if before <= 0.0 {
        0.0
    } else {
        (1.0 - after / before).clamp(0.0, 1.0)
    }
}

/// Why a statement got no proposal, with details.
pub type Skip = (SkipReason, String);

/// One statement: the chosen indexes, or why there are none. Fills
/// `r.tables` and `r.cost` on the way.
pub async fn analyse_one(
    c: &Client,
    cat: &Catalog,
    settings: &Settings,
    hypo: bool,
    w: &WorkloadStatement,
    r: &mut StatementResult,
    stats_cache: &mut HashMap<RelName, HashMap<String, heuristic::ColumnStats>>,
) -> Result<Vec<Choice>, Skip> {
    let views = |n: &RelName| cat.view_def(n);
    let x = sql::extract(&w.query, &views).map_err(|e| match e {
        sql::ExtractError::Utility(k) => (SkipReason::Utility, format!("{k} statement")),
        sql::ExtractError::Parse(m) => (SkipReason::ParseError, m),
    })?;
    r.hints = x.hints.clone();
    if x.relations.is_empty() {
        return Err((SkipReason::NoTables, "reads no table".into()));
    }
    let mut missing = Vec::new();
    let mut user_tables = Vec::new();
    for rel in &x.relations {
        let system_named = rel.schema.as_deref().is_some_and(is_system_schema);
        match cat.resolve(rel) {
            Some(found) => {
                let s = found.name.schema.as_deref().unwrap_or_default();
                if !is_system_schema(s) && !found.extension_owned {
                    let t = found.name.to_string();
                    if !user_tables.contains(&t) {
                        user_tables.push(t);
                    }
                }
            }
            None if system_named => {}
            None => missing.push(rel.to_string()),
        }
    }
    r.tables = user_tables.clone();
    if !missing.is_empty() {
        return Err((
            SkipReason::TableNotPresent,
            format!("not in this database: {}", missing.join(", ")),
        ));
    }
    if user_tables.is_empty() {
        return Err((
            SkipReason::CatalogOnly,
            "reads only system catalogs or extension views".into(),
        ));
    }
    let before = whatif::explain(c, &w.query, x.params, cat.server_version)
        .await
        .map_err(|m| (SkipReason::ExplainFailed, m))?;
    r.cost = Some(before.cost);
    let accesses = candidates::resolve_uses(&x.uses, cat);
    for (table, _) in accesses.keys() {
        if !stats_cache.contains_key(table) {
            let st = heuristic::load_stats(c, table).await.unwrap_or_default();
            stats_cache.insert(table.clone(), st);
        }
    }
    let rank = |t: &RelName, col: &str| {
        let rows = cat.relations.get(t).map(|r| r.reltuples).unwrap_or(0.0);
        stats_cache
            .get(t)
            .and_then(|s| s.get(col))
            .map(|s| heuristic::distinct(s, rows))
            .unwrap_or(0.0)
    };
    let (cands, covered) = candidates::for_statement(&accesses, cat, &rank);
    if cands.is_empty() {
        let detail = if covered.is_empty() {
            "no equality, range, join or ORDER BY column a btree index could serve".to_string()
        } else {
            format!("already indexed: {}", covered.join("; "))
        };
        return Err((SkipReason::NoCandidates, detail));
    }
    if before.cost < settings.min_cost {
        return Err((
            SkipReason::CostAlreadyLow,
            format!(
                "plan cost {:.1} is below {:.0}",
                before.cost, settings.min_cost
            ),
        ));
    }
    let base = Choice {
        statement: 0,
        candidate: cands[0].clone(),
        calls: w.calls,
        mean_ms: w.mean_ms,
        cost_before: before.cost,
        cost_after: None,
        saving: 0.0,
        share: 0.0,
        round: 0,
    };
    let min = settings.min_savings_pct / 100.0;
    if hypo {
        greedy(c, cat, w, x.params, &cands, before.cost, min, base).await
    } else {
        let mut best: Option<(f64, &Candidate)> = None;
        let ranges: BTreeMap<&RelName, Vec<candidates::Key>> = accesses
            .iter()
            .map(|((t, _), a)| (t, a.range.clone()))
            .collect();
        for cand in &cands {
            let reltuples = cat
                .relations
                .get(&cand.table)
                .map(|r| r.reltuples)
                .unwrap_or(0.0);
            let range = ranges.get(&cand.table).cloned().unwrap_or_default();
            if let Some(sel) =
                heuristic::selectivity(cand, &range, &stats_cache[&cand.table], reltuples)
                && let Some(s) = heuristic::saving(sel, reltuples)
                && best.is_none_or(|(b, bc)| {
                    s > b + COST_TIE || (s >= b - COST_TIE && cand.columns.len() < bc.columns.len())
                })
            {
                best = Some((s, cand));
            }
        }
        match best {
            Some((s, cand)) if s >= min => Ok(vec![Choice {
                candidate: cand.clone(),
                saving: s,
                share: s,
                ..base
            }]),
            Some((s, cand)) => Err((
                SkipReason::SavingBelowThreshold,
                format!(
                    "best {} estimated to save {:.0}% (unverified), below {:.0}%",
                    cand.label(),
                    s * 100.0,
                    settings.min_savings_pct
                ),
            )),
            None => Err((
                SkipReason::SavingBelowThreshold,
                "no candidate is selective enough by pg_stats (unverified)".into(),
            )),
        }
    }
}
