//! The analyze engine: read a workload (pg_stat_statements or SQL text),
//! understand each statement, propose btree indexes, verify them with HypoPG
//! (or estimate them from pg_stats), merge them across the workload, and
//! check index health. Returns a plain [`model::AnalyzeReport`]; never
//! prints. One bad statement never aborts the report: it gets a diagnostic.

pub mod apply;
pub mod bitmap_or;
pub mod candidates;
pub mod catalog;
pub mod choose;
pub mod cost;
pub mod covering;
pub mod gin;
pub mod health;
pub mod heuristic;
pub mod lex;
pub mod merge;
pub mod model;
pub mod names;
pub mod normalize;
pub mod predicates;
pub mod probe;
pub mod size;
pub mod source;
pub mod sql;
pub mod statement;
pub mod whatif;

use tokio_postgres::Client;

use catalog::Catalog;
use merge::Choice;
use model::{
    AnalyzeReport, Helped, Proposal, SCHEMA, StatementResult, StatementStatus, Verification,
};
use source::PgssFilter;

/// Where the workload comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// `pg_stat_statements` of the current database.
    Pgss(PgssFilter),
    /// SQL text; `origin` names it in locations (`file.sql`, `stdin`).
    Sql { origin: String, text: String },
    /// Statements recorded elsewhere (a stress results file), with their
    /// calls and times.
    Recorded {
        origin: String,
        statements: Vec<source::WorkloadStatement>,
        /// The seconds the recording covers (the run's measured time).
        window_secs: f64,
    },
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
    /// Verify GIN candidates by building them in a rolled-back transaction.
    pub verify_build: bool,
    /// `--verify-build` refuses tables larger than this (heap bytes).
    pub verify_build_max_bytes: i64,
    /// Measure write rates from `pg_stat_user_tables` over this many seconds.
    pub write_sample_secs: Option<f64>,
    /// Budget: at most this many proposals.
    pub max_indexes: Option<usize>,
    /// Budget: proposals totalling at most this many bytes.
    pub max_size_bytes: Option<i64>,
    pub health: health::HealthSettings,
}

/// Default `--verify-build-max-size`: a GIN build on a table this size
/// takes seconds, during which writes to it wait.
pub const DEFAULT_VERIFY_BUILD_MAX_BYTES: i64 = 100 * 1024 * 1024;

/// Default `--min-savings` (percent).
pub const DEFAULT_MIN_SAVINGS_PCT: f64 = 20.0;
/// Default `--min-cost` (planner cost units).
pub const DEFAULT_MIN_COST: f64 = 100.0;
/// Statements per HypoPG batch (hypothetical indexes are reset between batches).
const BATCH: usize = 200;

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
        Input::Recorded {
            origin, statements, ..
        } => (statements.clone(), origin.clone()),
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
    let mut caches = statement::Caches::default();
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
            hints: Vec::new(),
        };
        match statement::analyse_one(c, &cat, settings, hypo, w, &mut r, &mut caches).await {
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
                if ch.candidate == m.candidate || ch.round > 0 || !m.candidate.hypothetical() {
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
                    Some(t)
                        if t.used && cost::saving(ch.cost_before, t.cost_after) >= min_saving =>
                    {
                        ch.cost_after = Some(t.cost_after);
                        ch.saving = cost::saving(ch.cost_before, t.cost_after);
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
                    if ch.cost_after.is_some() {
                        r.detail.push_str(&format!(
                            "served by {} (saves {:.0}%)",
                            m.candidate.label(),
                            ch.saving * 100.0
                        ));
                    } else {
                        r.detail
                            .push_str(&format!("served by {} (unverified)", m.candidate.label()));
                    }
                }
            }
            let verified = m.choices.iter().all(|ch| ch.cost_after.is_some());
            let built_size = m.choices.iter().find_map(|ch| ch.size_bytes);
            let note = m.choices.iter().find_map(|ch| ch.note.clone());
            Proposal {
                table: m.candidate.table.to_string(),
                table_ref: m.candidate.table.clone(),
                columns: m.candidate.index_columns(),
                method: m.candidate.method.as_str().to_string(),
                predicate: m.candidate.predicate.clone(),
                include: m.candidate.include.clone(),
                kind: m.candidate.kind(),
                requires: m
                    .candidate
                    .extensions()
                    .into_iter()
                    .filter(|e| !cat.extensions.iter().any(|x| x == e))
                    .map(|e| format!("CREATE EXTENSION IF NOT EXISTS {e}"))
                    .collect(),
                ddl: m.candidate.ddl(partitioned),
                verified,
                verification_note: note,
                size_bytes: built_size,
                write_cost: None,
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

    let mut proposals = proposals;
    if hypo {
        for (p, m) in proposals.iter_mut().zip(&merged) {
            if p.size_bytes.is_none() && m.candidate.hypothetical() {
                p.size_bytes = whatif::hypo_size(c, &m.candidate).await;
            }
        }
    }
    // The window the statements' calls cover, and the write rates.
    let read_secs = match &settings.input {
        Input::Recorded { window_secs, .. } => Some(*window_secs),
        Input::Pgss(_) => source::pgss_window_secs(c).await,
        Input::Sql { .. } => None,
    };
    let writes = match (settings.write_sample_secs, read_secs) {
        (Some(secs), _) => choose::sample(c, secs).await.ok(),
        (None, Some(secs)) => Some(choose::from_statements(
            &workload,
            &cat,
            secs,
            if matches!(settings.input, Input::Pgss(_)) {
                "pg_stat_statements' INSERT/UPDATE/DELETE rows since its reset"
            } else {
                "the run's own INSERT/UPDATE/DELETE statements (rows over its measured time)"
            },
        )),
        (None, None) => None,
    };
    let mut declined = Vec::new();
    if let Some(w) = &writes {
        let entry = choose::entry_cost(c).await;
        declined = choose::weigh(&mut proposals, w, read_secs, &cat, entry);
    }
    let selection = choose::budget(
        &mut proposals,
        settings.max_indexes,
        settings.max_size_bytes,
        &mut declined,
    );

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
        declined,
        selection,
        statements: results,
        health,
        warnings,
    })
}
