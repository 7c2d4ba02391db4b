//! Workload files: weighted scenarios of real SQL with `-- @` header
//! directives (see README, "Workload files"). This module holds the parsed
//! model; `parse` reads a file, `sql` splits statements and rewrites
//! `:name` placeholders, `generators` draws parameter values, `value` is the
//! dynamic value bound to statements, `model` and `prepare` load start-up
//! data from the target database and check every statement before a run.

pub mod generators;
pub mod model;
pub mod parse;
pub mod prepare;
pub mod sql;
pub mod value;

pub use generators::Generator;
pub use parse::{ParseError, parse};
pub use prepare::{CheckError, Prepared, prepare};
pub use value::Value;

/// The default vet-clinic workload, embedded in the binary.
pub const DEFAULT_WORKLOAD: &str = include_str!("../../queries/vetclinic.sql");
/// The name the embedded default workload is reported under.
pub const DEFAULT_WORKLOAD_PATH: &str = "queries/vetclinic.sql";

/// A parsed workload file.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name from `-- @workload NAME`, else the file stem.
    pub name: String,
    /// The file it came from (for messages).
    pub path: String,
    /// SHA-256 of the file text, hex (identifies the workload in results).
    pub sha256: String,
    /// Start-up sample queries (`-- @sample`).
    pub samples: Vec<SampleDef>,
    /// Scenarios in file order.
    pub scenarios: Vec<Scenario>,
    /// Number of variable slots a scenario needs at most (for buffers).
    pub max_slots: usize,
}

/// `-- @sample NAME = SELECT …`: rows drawn by `pick(NAME)`.
#[derive(Debug, Clone)]
pub struct SampleDef {
    pub name: String,
    pub sql: String,
    pub line: usize,
}

/// A weighted unit of work: one statement, or several (optionally in one
/// transaction), sharing variables.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub weight: f64,
    pub transaction: bool,
    pub line: usize,
    /// Variable names, index = slot.
    pub vars: Vec<String>,
    /// Parameters evaluated at the start of each execution, in order.
    pub params: Vec<ParamDef>,
    pub statements: Vec<Statement>,
}

/// `-- @param a[, b…] = generator(args)`.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// Slots assigned (several only for `pick`, one column each).
    pub slots: Vec<usize>,
    pub generator: Generator,
    pub line: usize,
}

/// One SQL statement of a scenario.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `-- @name`, else `<scenario>.<n>`.
    pub name: String,
    /// The SQL as written (with `:name` placeholders).
    pub source: String,
    /// The SQL sent to the server (`$1…$n`).
    pub sql: String,
    /// Slot bound to `$i` (index i-1).
    pub params: Vec<usize>,
    /// `-- @bind var = column`: (column name, slot) read from the first row.
    pub binds: Vec<(String, usize)>,
    /// Line of the statement's first SQL line.
    pub line: usize,
}

impl Workload {
    /// Scenario index by name.
    pub fn scenario_index(&self, name: &str) -> Option<usize> {
        self.scenarios.iter().position(|s| s.name == name)
    }
}
