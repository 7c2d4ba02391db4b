//! The analyze engine: read a workload (pg_stat_statements or SQL text),
//! understand each statement, propose btree indexes, verify them with HypoPG
//! (or estimate them from pg_stats), merge them across the workload, and
//! check index health. Returns a plain [`model::AnalyzeReport`]; never
//! prints. One bad statement never aborts the report: it gets a diagnostic.

pub mod apply;
pub mod candidates;
pub mod catalog;
pub mod health;
pub mod heuristic;
pub mod merge;
pub mod model;
pub mod names;
pub mod source;
pub mod sql;
pub mod whatif;

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use candidates::Candidate;
use catalog::{Catalog, is_system_schema};
use merge::Choice;
use model::{
    AnalyzeReport, Helped, Proposal, SCHEMA, SkipReason, StatementResult, StatementStatus,
    Verification,
};
use names::RelName;
use source::{PgssFilter, WorkloadStatement};

/// Where the workload comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// `pg_stat_statements` of the current database.
    Pgss(PgssFilter),
    /// SQL text; `origin` names it in locations (`file.sql`, `stdin`).
    Sql { origin: String, text: String },
}

/// Everything the engine needs besides a connection.
#[derive(Debug, Clone)]
pub struct Settings {
    pub input: Input,
    /// Keep a candidate only if it saves at least this share of the cost (percent).
    pub min_savings_pct: f64,
    /// Statements whose plan costs less than this are left alone.
    pub min_cost: f64,
    /// Use HypoPG when the extension exists (else the pg_stats heuristic).
    pub use_hypopg: bool,
    pub health: health::HealthSettings,
}

/// Default `--min-savings` (percent).
pub const DEFAULT_MIN_SAVINGS_PCT: f64 = 20.0;
/// Default `--min-cost` (planner cost units).
pub const DEFAULT_MIN_COST: f64 = 100.0;
/// Statements per HypoPG batch (hypothetical indexes are reset between batches).
const BATCH: usize = 200;
/// Two candidates whose costs differ by less than this fraction are equal;
/// the narrower one wins.
const COST_TIE: f64 = 0.02;

/// Errors that stop the whole analysis (not per-statement problems).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("reading the catalog: {0}")]
    Catalog(#[from] tokio_postgres::Error),
}

/// Run the analysis on the database `c` is connected to.
pub async fn run(c: &Client, settings: &Settings) -> Result<AnalyzeReport, AnalyzeError> {
    let (workload, source_name) = match &settings.input {
        Input::Pgss(f) => (
            source::from_pgss(c, *f).await?,
            "pg_stat_statements".to_string(),
        ),
        Input::Sql { origin, text } => (source::split_sql(text, origin), origin.clone()),
    };
    let cat = Catalog::load(c).await?;
    let hypo = settings.use_hypopg && cat.hypopg;
    let mut warnings = Vec::new();
    if !hypo {
        warnings.push(if settings.use_hypopg {
            "HypoPG is not installed in this database: proposals are estimated from pg_stats \
             and UNVERIFIED (CREATE EXTENSION hypopg to verify them with the planner)"
                .to_string()
        } else {
            "HypoPG not used: proposals are estimated from pg_stats and UNVERIFIED".to_string()
        });
    }
    // Make sure planning never hangs on a lock or a huge statement.
    let _ = c
        .batch_execute("SET statement_timeout = '30s'; SET lock_timeout = '5s'")
        .await;

    let mut results = Vec::with_capacity(workload.len());
    let mut choices = Vec::new();
    let mut stats_cache: HashMap<RelName, HashMap<String, heuristic::ColumnStats>> = HashMap::new();
    for (id, w) in workload.iter().enumerate() {
        if hypo && id > 0 && id % BATCH == 0 {
            whatif::reset(c).await;
        }
        let mut r = StatementResult {
            id,
            location: w.location.clone(),
            query: w.query.clone(),
            calls: w.calls,
            mean_ms: w.mean_ms,
            total_ms: w.total_ms,
            tables: Vec::new(),
            cost: None,
            status: StatementStatus::Skipped,
            index: None,
            reason: None,
            detail: String::new(),
        };
        match analyse_one(c, &cat, settings, hypo, w, &mut r, &mut stats_cache).await {
            Ok(chosen) => {
                r.status = StatementStatus::Proposed;
                r.index = Some(
                    chosen
                        .iter()
                        .map(|ch| ch.candidate.label())
                        .collect::<Vec<_>>()
                        .join(" + "),
                );
                choices.extend(chosen.into_iter().map(|ch| Choice {
                    statement: id,
                    ..ch
                }));
            }
            Err((reason, detail)) => {
                r.reason = Some(reason);
                r.detail = detail;
            }
        }
        results.push(r);
    }

    let min_saving = settings.min_savings_pct / 100.0;
    let mut merged = merge::merge(choices);
    // A statement folded into a wider index: re-check it with that index;
    // if the wider one no longer serves it well enough, it keeps its own.
    if hypo {
        let mut unfolded = Vec::new();
        for m in &mut merged {
            let mut keep = Vec::new();
            for mut ch in std::mem::take(&mut m.choices) {
                if ch.candidate == m.candidate || ch.round > 0 {
                    keep.push(ch);
                    continue;
                }
                let w = &workload[ch.statement];
                let params = sql::max_param(&w.query);
                let trial = whatif::try_candidates(
                    c,
                    &cat,
                    &w.query,
                    params,
                    std::slice::from_ref(&m.candidate),
                )
                .await;
                match trial.ok().and_then(|t| t.into_iter().next()) {
                    Some(t) if t.used && saving(ch.cost_before, t.cost_after) >= min_saving => {
                        ch.cost_after = Some(t.cost_after);
                        ch.saving = saving(ch.cost_before, t.cost_after);
                        ch.share = ch.saving;
                        keep.push(ch);
                    }
                    _ => unfolded.push(ch),
                }
            }
            m.choices = keep;
        }
        merged.retain(|m| !m.choices.is_empty());
        merged.extend(merge::group(unfolded));
        merged.sort_by(merge::by_time_saved);
        whatif::reset(c).await;
    }
    let proposals: Vec<Proposal> = merged
        .iter()
        .map(|m| {
            let partitioned = cat
                .relations
                .get(&m.candidate.table)
                .is_some_and(|r| r.kind == 'p');
            for ch in &m.choices {
                if let Some(r) = results.get_mut(ch.statement) {
                    if !r.detail.is_empty() {
                        r.detail.push_str("; ");
                    }
                    r.detail.push_str(&format!(
                        "served by {} (saves {:.0}%)",
                        m.candidate.label(),
                        ch.saving * 100.0
                    ));
                }
            }
            Proposal {
                table: m.candidate.table.to_string(),
                table_ref: m.candidate.table.clone(),
                columns: m.candidate.index_columns(),
                ddl: m.candidate.ddl(partitioned),
                verified: hypo,
                est_time_saved_ms: m.time_saved_ms(),
                partitioned,
                write_warning: health::write_warning(&cat, &m.candidate.table),
                statements: m
                    .choices
                    .iter()
                    .map(|ch| Helped {
                        statement: ch.statement,
                        query: workload[ch.statement].query.clone(),
                        calls: ch.calls,
                        mean_ms: ch.mean_ms,
                        cost_before: ch.cost_before,
                        cost_after: ch.cost_after,
                        saving_pct: ch.saving * 100.0,
                    })
                    .collect(),
            }
        })
        .collect();

    let health = health::check(
        c,
        &cat,
        &settings.health,
        &workload,
        matches!(settings.input, Input::Pgss(_)),
    )
    .await?;

    Ok(AnalyzeReport {
        schema: SCHEMA.to_string(),
        database: cat.database.clone(),
        server_version: cat.server_version,
        source: source_name,
        verification: if hypo {
            Verification::Hypopg
        } else {
            Verification::Heuristic
        },
        min_savings_pct: settings.min_savings_pct,
        proposals,
        statements: results,
        health,
        warnings,
    })
}

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

fn saving(before: f64, after: f64) -> f64 {
    if before <= 0.0 {
        0.0
    } else {
        (1.0 - after / before).clamp(0.0, 1.0)
    }
}

type Skip = (SkipReason, String);

/// One statement: the chosen candidate, or why there is none.
async fn analyse_one(
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
        let ranges: BTreeMap<&RelName, Vec<String>> = accesses
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
