//! One statement, start to finish: extract its tables and column uses,
//! check the tables exist, explain it, build candidates (keeping partial
//! ones only for selective constants, probing expression keys with the
//! server), and choose indexes with HypoPG (greedily, one per table) or the
//! pg_stats heuristic, then the covering (`covering`), OR-branch
//! (`bitmap_or`) and GIN (`gin`) steps — or say exactly why there is no
//! proposal.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use super::Settings;
use super::candidates::{self, Access, Candidate};
use super::catalog::{Catalog, is_system_schema};
use super::cost::{saving, share};
use super::heuristic;
use super::merge::Choice;
use super::model::{SkipReason, StatementResult};
use super::names::RelName;
use super::probe::{self, ProbeError};
use super::source::WorkloadStatement;
use super::sql;
use super::whatif;
use super::{bitmap_or, covering, gin};

/// Two candidates whose costs differ by less than this fraction are equal;
/// the narrower one wins.
const COST_TIE: f64 = 0.02;

/// Most indexes proposed for one statement (one per table reference).
const MAX_PER_STATEMENT: usize = 3;

/// Choose indexes for one statement with HypoPG, greedily: the best
/// candidate first, then — with it in place — the best candidate on another
/// table, while each step still saves `min` of the cost at that point.
/// The chosen hypothetical indexes stay in place (returned) for the GIN step.
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
) -> (Result<Vec<Choice>, Skip>, Vec<whatif::Hypo>) {
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
            share: share(current, best.cost_after, original),
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
    (outcome.map(|()| chosen), hypos)
}

/// Why a statement got no proposal, with details.
pub type Skip = (SkipReason, String);

/// A partial index is considered only when its constant selects at most
/// this share of the table (from pg_stats).
pub const PARTIAL_MAX_FRACTION: f64 = 0.10;

/// What one analysis run remembers across statements.
#[derive(Default)]
pub struct Caches {
    /// `pg_stats` per table.
    pub stats: HashMap<RelName, HashMap<String, heuristic::ColumnStats>>,
    /// Server probes of candidates with expression keys or predicates.
    pub probes: HashMap<Candidate, Result<Candidate, ProbeError>>,
}

/// Partial candidates whose constant is not selective (or has no
/// statistics) are dropped; returns the kept ones and notes on the others.
fn selective_partials(
    cands: Vec<Candidate>,
    accesses: &BTreeMap<(RelName, u32), Access>,
    cat: &Catalog,
    caches: &Caches,
) -> (Vec<Candidate>, Vec<String>) {
    let mut notes = Vec::new();
    let kept = cands
        .into_iter()
        .filter(|cand| {
            let Some(pred) = &cand.predicate else {
                return true;
            };
            let found = accesses
                .iter()
                .filter(|((t, _), _)| t == &cand.table)
                .flat_map(|(_, a)| a.constants.iter())
                .find(|(_, c)| &c.predicate == pred);
            let Some((key, c)) = found else { return false };
            let rows = cat
                .relations
                .get(&cand.table)
                .map(|r| r.reltuples)
                .unwrap_or(0.0);
            let frac = (key.func.is_none() && key.expr.is_none())
                .then(|| caches.stats.get(&cand.table)?.get(&key.column))
                .flatten()
                .map(|s| heuristic::constant_fraction(s, c.value.as_deref(), rows));
            let ok = frac.is_some_and(|f| f <= PARTIAL_MAX_FRACTION);
            if !ok {
                let note = match frac {
                    Some(f) => format!(
                        "no partial index WHERE {pred}: it matches {:.0}% of the rows (more than {:.0}%)",
                        f * 100.0,
                        PARTIAL_MAX_FRACTION * 100.0
                    ),
                    None => format!("no partial index WHERE {pred}: no statistics for it"),
                };
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            ok
        })
        .collect();
    (kept, notes)
}

/// Probe candidates with expression keys or predicates (cached); those no
/// index can be built on are dropped, with a rewrite hint when the cause is
/// a non-immutable expression.
async fn probed(
    c: &Client,
    cands: Vec<Candidate>,
    caches: &mut Caches,
    hints: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for cand in cands {
        if !probe::needed(&cand) {
            out.push(cand);
            continue;
        }
        let r = match caches.probes.get(&cand) {
            Some(r) => r.clone(),
            None => {
                let r = probe::canonical(c, &cand).await;
                caches.probes.insert(cand.clone(), r.clone());
                r
            }
        };
        match r {
            Ok(p) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Err(ProbeError::NotImmutable(m)) => {
                for (k, _) in cand.columns.iter().filter(|(k, _)| k.expr.is_some()) {
                    let h = probe::rewrite_hint(&k.base(), &k.column, &m);
                    if !hints.contains(&h) {
                        hints.push(h);
                    }
                }
            }
            Err(ProbeError::Invalid(m)) => {
                let n = format!("{} cannot be built: {m}", cand.label());
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
        }
    }
    out
}

/// One statement: the chosen indexes, or why there are none. Fills
/// `r.tables`, `r.cost` and `r.hints` on the way.
pub async fn analyse_one(
    c: &Client,
    cat: &Catalog,
    settings: &Settings,
    hypo: bool,
    w: &WorkloadStatement,
    r: &mut StatementResult,
    caches: &mut Caches,
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
        if !caches.stats.contains_key(table) {
            let st = heuristic::load_stats(c, table).await.unwrap_or_default();
            caches.stats.insert(table.clone(), st);
        }
    }
    let stats = &caches.stats;
    let rank = |t: &RelName, col: &str| {
        let rows = cat.relations.get(t).map(|r| r.reltuples).unwrap_or(0.0);
        stats
            .get(t)
            .and_then(|s| s.get(col))
            .map(|s| heuristic::distinct(s, rows))
            .unwrap_or(0.0)
    };
    let all = candidates::for_accesses(&accesses, &rank);
    let (all, mut notes) = selective_partials(all, &accesses, cat, caches);
    let all = probed(c, all, caches, &mut r.hints, &mut notes).await;
    let (cands, covered) = candidates::drop_covered(all, cat);
    let or_groups = bitmap_or::groups(&accesses);
    let with_notes = |mut d: String, notes: &[String]| {
        for n in notes {
            if !d.is_empty() {
                d.push_str("; ");
            }
            d.push_str(n);
        }
        d
    };
    if cands.is_empty() && or_groups.is_empty() {
        let detail = if covered.is_empty() {
            "no equality, range, join, ORDER BY, pattern or GIN-operator use an index could serve"
                .to_string()
        } else {
            format!("already indexed: {}", covered.join("; "))
        };
        return Err((SkipReason::NoCandidates, with_notes(detail, &notes)));
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
        candidate: cands
            .first()
            .or_else(|| or_groups.first().and_then(|g| g.branches.first()))
            .expect("a candidate or an OR group")
            .clone(),
        calls: w.calls,
        mean_ms: w.mean_ms,
        cost_before: before.cost,
        cost_after: None,
        saving: 0.0,
        share: 0.0,
        round: 0,
        note: None,
        size_bytes: None,
    };
    let min = settings.min_savings_pct / 100.0;
    let (btree, gin): (Vec<Candidate>, Vec<Candidate>) =
        cands.into_iter().partition(Candidate::hypothetical);
    let no_btree = || {
        Err((
            SkipReason::NoCandidates,
            "no btree candidate; GIN candidates only".to_string(),
        ))
    };
    let result = if hypo {
        let (res, mut hypos) = if btree.is_empty() {
            (no_btree(), Vec::new())
        } else {
            greedy(c, cat, w, x.params, &btree, before.cost, min, base.clone()).await
        };
        let mut res = res;
        if let Ok(v) = &mut res {
            covering::cover(c, cat, w, &x, &accesses, v, before.cost, &mut notes).await;
        }
        let mut chosen: Vec<Choice> = res.as_ref().cloned().unwrap_or_default();
        let mut current = chosen
            .last()
            .and_then(|ch| ch.cost_after)
            .unwrap_or(before.cost);
        let n_btree = chosen.len();
        for g in &or_groups {
            match bitmap_or::try_group(c, cat, &w.query, x.params, g).await {
                Some(t) => {
                    let s = saving(current, t.cost_after);
                    if s >= min {
                        let each = share(current, t.cost_after, before.cost) / t.new.len() as f64;
                        for cand in &t.new {
                            chosen.push(Choice {
                                candidate: cand.clone(),
                                cost_before: current,
                                cost_after: Some(t.cost_after),
                                saving: s,
                                share: each,
                                round: chosen.len(),
                                ..base.clone()
                            });
                        }
                        current = t.cost_after;
                        hypos.extend(t.hypos);
                    } else {
                        notes.push(format!(
                            "one index per OR branch ({}) saves {:.1}%, below {:.0}%",
                            t.new
                                .iter()
                                .map(Candidate::label)
                                .collect::<Vec<_>>()
                                .join(" + "),
                            s * 100.0,
                            min * 100.0
                        ));
                        for h in &t.hypos {
                            whatif::drop_hypo(c, h).await;
                        }
                    }
                }
                None => notes.push(format!(
                    "OR on {}: no BitmapOr plan with one new index per branch",
                    g.table
                )),
            }
        }
        let or_choices = chosen.split_off(n_btree);
        let extra = gin::step(
            c,
            cat,
            settings,
            w,
            x.params,
            &gin,
            &[chosen.as_slice(), &or_choices].concat(),
            current,
            before.cost,
            &base,
            &mut notes,
        )
        .await;
        let extra = [or_choices, extra].concat();
        for h in &hypos {
            whatif::drop_hypo(c, h).await;
        }
        merge_results(res, extra)
    } else {
        let res = if btree.is_empty() {
            no_btree()
        } else {
            heuristic_choice(cat, settings, &accesses, &btree, caches, base.clone())
        };
        let chosen = res.as_ref().map(|v| v.as_slice()).unwrap_or(&[]);
        let mut no_build = settings.clone();
        no_build.verify_build = false;
        let extra = gin::step(
            c,
            cat,
            &no_build,
            w,
            x.params,
            &gin,
            chosen,
            before.cost,
            before.cost,
            &base,
            &mut notes,
        )
        .await;
        merge_results(res, extra)
    };
    match result {
        Ok(v) => {
            if !notes.is_empty() {
                r.detail = with_notes(std::mem::take(&mut r.detail), &notes);
            }
            Ok(v)
        }
        Err((reason, d)) => Err((reason, with_notes(d, &notes))),
    }
}

/// The btree outcome plus the GIN choices: the GIN ones alone still make a
/// proposal.
fn merge_results(res: Result<Vec<Choice>, Skip>, extra: Vec<Choice>) -> Result<Vec<Choice>, Skip> {
    match res {
        Ok(mut v) => {
            v.extend(extra);
            Ok(v)
        }
        Err(_) if !extra.is_empty() => Ok(extra),
        Err(e) => Err(e),
    }
}

/// Without HypoPG: the candidate with the best pg_stats estimate.
fn heuristic_choice(
    cat: &Catalog,
    settings: &Settings,
    accesses: &BTreeMap<(RelName, u32), Access>,
    cands: &[Candidate],
    caches: &Caches,
    base: Choice,
) -> Result<Vec<Choice>, Skip> {
    let min = settings.min_savings_pct / 100.0;
    let mut best: Option<(f64, &Candidate)> = None;
    let ranges: BTreeMap<&RelName, Vec<candidates::Key>> = accesses
        .iter()
        .map(|((t, _), a)| (t, a.range.clone()))
        .collect();
    let empty = HashMap::new();
    for cand in cands {
        let reltuples = cat
            .relations
            .get(&cand.table)
            .map(|r| r.reltuples)
            .unwrap_or(0.0);
        let range = ranges.get(&cand.table).cloned().unwrap_or_default();
        let stats = caches.stats.get(&cand.table).unwrap_or(&empty);
        if let Some(sel) = heuristic::selectivity(cand, &range, stats, reltuples)
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
