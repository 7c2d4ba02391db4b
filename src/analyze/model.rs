//! The analyze result: plain serde structs consumed by the renderers
//! (`report/analyze_*.rs`) and written as JSON with a versioned schema.

use serde::{Deserialize, Serialize};

use super::names::RelName;

/// The JSON schema identifier; bump on incompatible changes.
pub const SCHEMA: &str = "dbload.analyze/1";

/// Everything `dbload analyze` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyzeReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The database analysed.
    pub database: String,
    /// `server_version_num` of the server.
    pub server_version: i32,
    /// Where the statements came from: `pg_stat_statements`, `file:<path>`, `stdin`.
    pub source: String,
    /// How proposals were checked: `hypopg` (planner what-if) or `heuristic`
    /// (pg_stats selectivity; proposals are unverified).
    pub verification: Verification,
    /// Minimum planner-cost saving (percent) for a proposal to be kept.
    pub min_savings_pct: f64,
    /// Proposed indexes, best first (estimated time saved).
    pub proposals: Vec<Proposal>,
    /// Every statement read, with what happened to it.
    pub statements: Vec<StatementResult>,
    /// Proposals left out: their measured write cost outweighs their
    /// saving, or they fall outside `--max-indexes` / `--max-size`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<Declined>,
    /// How the budget chose the proposals, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    /// Index and table health findings.
    pub health: Health,
    /// Warnings about the run itself (e.g. HypoPG missing).
    pub warnings: Vec<String>,
}

/// How candidate indexes were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Hypothetical indexes (HypoPG) and the planner's generic-plan cost.
    Hypopg,
    /// A pg_stats selectivity estimate: unverified.
    Heuristic,
}

/// One key column of a proposed index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexColumn {
    /// The column (for an expression key, the column inside it).
    pub name: String,
    /// Descending order.
    pub desc: bool,
    /// `lower` / `upper` for an expression key `lower(name)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Any other expression key, as it goes into `CREATE INDEX`
    /// (`(payload ->> 'id'::text)`); `name` is its first column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// A non-default operator class (`text_pattern_ops`, `gin_trgm_ops`,
    /// `jsonb_path_ops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
}

/// A proposed index and the statements it helps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposal {
    /// The table (schema-qualified, quoted as needed).
    pub table: String,
    /// The table's schema and name, unquoted.
    pub table_ref: RelName,
    pub columns: Vec<IndexColumn>,
    /// `btree` or `gin`.
    #[serde(default = "btree")]
    pub method: String,
    /// A partial index's predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// `INCLUDE` columns (a covering index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// What kind of index: `btree`, `expression`, `pattern prefix
    /// (text_pattern_ops)`, `trigram (pattern search)`, `gin (jsonb_path_ops)`,
    /// `partial`, `covering`… (comma-separated when several apply).
    #[serde(default)]
    pub kind: String,
    /// Statements to run first (`CREATE EXTENSION IF NOT EXISTS pg_trgm`)
    /// when the index needs an extension the database lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// The statement that creates it (`CREATE INDEX CONCURRENTLY …`).
    pub ddl: String,
    /// Checked by the planner: with HypoPG, or (`--verify-build`) with a real
    /// build in a rolled-back transaction; `false` means unverified.
    pub verified: bool,
    /// How it was checked, or why it could not be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_note: Option<String>,
    /// Estimated size (HypoPG's estimate, or the size of the real build
    /// with `--verify-build`); absent for an unverified GIN index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// What it costs in writes at the observed write rate (when the
    /// workload's window is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_cost: Option<WriteCost>,
    /// Estimated execution time saved over the recorded workload (ms):
    /// calls × mean time × saving fraction, summed over statements.
    pub est_time_saved_ms: f64,
    /// The table is partitioned: the index is created on the parent.
    pub partitioned: bool,
    /// Set when the table is write-heavy (every index costs writes).
    pub write_warning: Option<String>,
    /// Statements this index helps.
    pub statements: Vec<Helped>,
}

/// The write side of an index, from measured write rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteCost {
    /// Rows written to the table per second (inserts + updates + deletes).
    pub writes_per_sec: f64,
    /// Entries the index would add per second (inserts and non-HOT
    /// updates): about as many extra leaf-page writes at most.
    pub index_writes_per_sec: f64,
    /// The table's observed share of HOT updates.
    pub hot_update_share: Option<f64>,
    /// Planner cost units per second the index entries cost
    /// (`index_writes_per_sec × (random_page_cost + seq_page_cost)`).
    pub write_cost_per_sec: f64,
    /// Planner cost units per second the index saves the reads (absent
    /// when the statements have no known window: SQL files).
    pub saved_cost_per_sec: Option<f64>,
    /// Where the write figures come from.
    pub source: String,
}

/// A proposal left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declined {
    pub ddl: String,
    pub reason: String,
}

fn btree() -> String {
    "btree".to_string()
}

/// A statement a proposal helps, with the planner's costs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Helped {
    /// Index into [`AnalyzeReport::statements`].
    pub statement: usize,
    pub query: String,
    pub calls: u64,
    pub mean_ms: f64,
    /// Planner cost without the index.
    pub cost_before: f64,
    /// Planner cost with the hypothetical index (absent when unverified).
    pub cost_after: Option<f64>,
    /// Saving in percent (estimated when unverified).
    pub saving_pct: f64,
}

/// What happened to one statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementResult {
    /// Position in [`AnalyzeReport::statements`].
    pub id: usize,
    /// `file:line`, `stdin:line` or `queryid <n>`.
    pub location: String,
    pub query: String,
    pub calls: u64,
    pub mean_ms: f64,
    pub total_ms: f64,
    /// Base tables read (schema-qualified).
    pub tables: Vec<String>,
    /// Planner cost of the statement as it is (when explained).
    pub cost: Option<f64>,
    /// `proposed` or `skipped`.
    pub status: StatementStatus,
    /// The index chosen for this statement alone, before merging (`table(cols)`).
    pub index: Option<String>,
    /// Why it was skipped (absent when an index was proposed).
    pub reason: Option<SkipReason>,
    /// Details: the server's error, the best saving found, the index chosen.
    pub detail: String,
    /// Advice about predicates no btree index serves (e.g. LIKE patterns).
    #[serde(default)]
    pub hints: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementStatus {
    Proposed,
    Skipped,
}

/// Why a statement got no proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// SET, BEGIN, DDL and other utility statements.
    Utility,
    /// sqlparser could not parse it.
    ParseError,
    /// It reads no table.
    NoTables,
    /// It reads only system catalogs.
    CatalogOnly,
    /// A table it names does not exist in this database.
    TableNotPresent,
    /// EXPLAIN failed; the detail carries the server's message.
    ExplainFailed,
    /// Its plan is already cheap.
    CostAlreadyLow,
    /// No column use an index could serve, or existing indexes already cover them.
    NoCandidates,
    /// The planner would not use any candidate.
    NotUsedByPlanner,
    /// The best candidate saves less than `--min-savings`.
    SavingBelowThreshold,
}

impl SkipReason {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utility => "utility statement",
            Self::ParseError => "could not parse",
            Self::NoTables => "no tables",
            Self::CatalogOnly => "catalog only",
            Self::TableNotPresent => "table not present",
            Self::ExplainFailed => "explain failed",
            Self::CostAlreadyLow => "cost already low",
            Self::NoCandidates => "no index candidates",
            Self::NotUsedByPlanner => "planner uses no candidate",
            Self::SavingBelowThreshold => "saving below threshold",
        }
    }
}

/// PgHero-style health findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Health {
    /// When the database's statistics were last reset (unused-index data covers this span).
    pub stats_reset: Option<String>,
    pub duplicate_indexes: Vec<DuplicateIndex>,
    pub unused_indexes: Vec<UnusedIndex>,
    pub invalid_indexes: Vec<InvalidIndex>,
    pub unindexed_foreign_keys: Vec<UnindexedForeignKey>,
    pub seq_scan_tables: Vec<SeqScanTable>,
    pub slow_statements: Vec<SlowStatement>,
}

/// An index whose key columns are a leading prefix of another's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DuplicateIndex {
    pub table: String,
    pub index: String,
    pub definition: String,
    pub covered_by: String,
    pub covered_by_definition: String,
    pub size_bytes: i64,
}

/// An index never scanned since the statistics were reset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnusedIndex {
    pub table: String,
    pub index: String,
    pub size_bytes: i64,
    pub idx_scan: i64,
}

/// An index left invalid (a failed `CREATE INDEX CONCURRENTLY`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvalidIndex {
    pub table: String,
    pub index: String,
    pub definition: String,
}

/// A foreign key whose columns no index leads with, on a big table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnindexedForeignKey {
    pub table: String,
    pub constraint: String,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub table_rows: f64,
    /// The index that would support it.
    pub ddl: String,
}

/// A table mostly read by sequential scans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeqScanTable {
    pub table: String,
    pub seq_scan: i64,
    pub idx_scan: i64,
    pub seq_tup_read: i64,
    pub live_rows: i64,
}

/// A statement above the slow thresholds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlowStatement {
    pub query: String,
    pub calls: u64,
    pub mean_ms: f64,
    pub total_ms: f64,
}

/// A verified btree proposal on `table` for tests: `cols` with DESC flags,
/// helping one statement.
#[cfg(test)]
pub(crate) fn test_proposal(table: &str, cols: &[(&str, bool)], calls: u64, cost: f64) -> Proposal {
    let columns: Vec<IndexColumn> = cols
        .iter()
        .map(|(n, d)| IndexColumn {
            name: n.to_string(),
            desc: *d,
            function: None,
            expression: None,
            opclass: None,
        })
        .collect();
    let list: Vec<String> = cols
        .iter()
        .map(|(n, d)| {
            if *d {
                format!("{n} DESC")
            } else {
                n.to_string()
            }
        })
        .collect();
    Proposal {
        table: format!("public.{table}"),
        table_ref: RelName::new(Some("public"), table),
        columns,
        method: "btree".into(),
        predicate: None,
        include: Vec::new(),
        kind: "btree".into(),
        requires: Vec::new(),
        ddl: format!(
            "CREATE INDEX CONCURRENTLY ON public.{table} ({})",
            list.join(", ")
        ),
        verified: true,
        verification_note: None,
        size_bytes: Some(8192),
        write_cost: None,
        est_time_saved_ms: 0.0,
        partitioned: false,
        write_warning: None,
        statements: vec![Helped {
            statement: 0,
            query: String::new(),
            calls,
            mean_ms: 0.0,
            cost_before: cost,
            cost_after: Some(0.0),
            saving_pct: 100.0,
        }],
    }
}
