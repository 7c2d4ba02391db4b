//! Checking a parsed workload against the target database before a run:
//! every statement must prepare, every `@bind` column must exist with a
//! bindable type, every sample query must run and return rows. Failures are
//! reported per scenario and statement, with file:line. On success this
//! builds the start-up [`RunData`] the generators draw from. Nothing here
//! writes: statements are only prepared, and every read runs in a
//! rolled-back READ ONLY transaction ([`crate::db::read_only`]).

use std::collections::HashSet;

use tokio_postgres::Client;

use super::Workload;
use super::generators::Generator;
use super::model::{RunData, load_model, load_sample};
use super::value::bindable;

/// A workload checked against a database, ready to run.
#[derive(Debug)]
pub struct Prepared {
    pub workload: Workload,
    pub data: RunData,
    /// For each scenario, statement: the result-column index of each bind.
    pub bind_columns: Vec<Vec<Vec<usize>>>,
}

/// One problem found while checking against the database.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Scenario at fault (None for samples).
    pub scenario: Option<String>,
    /// `file:line` of the statement, sample or parameter.
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.scenario {
            Some(s) => write!(f, "scenario {s} ({}): {}", self.location, self.message),
            None => write!(f, "{}: {}", self.location, self.message),
        }
    }
}

/// The workload does not fit the target database.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) against the database:\n{}", .problems.len(), .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct CheckError {
    pub problems: Vec<Problem>,
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} (SQLSTATE {})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// The workload clock's offset from the wall clock: to the dataset's "now"
/// on a complete dbload dataset, else none (see [`RunData::clock_offset_ms`]).
async fn clock_offset_ms(client: &Client) -> i64 {
    match crate::db::read_only(client, async |c| crate::seed::fingerprint(c).await).await {
        Ok(Some(_)) => (crate::seed::model::dataset_now() - chrono::Utc::now()).num_milliseconds(),
        _ => 0,
    }
}

/// Check `workload` against the database behind `client` and load its
/// start-up data (samples and dataset model).
pub async fn prepare(client: &Client, workload: Workload) -> Result<Prepared, CheckError> {
    let mut problems = Vec::new();
    let loc = |line: usize| format!("{}:{line}", workload.path);

    // Samples.
    let mut samples = Vec::new();
    let mut sample_cols = Vec::new();
    for s in &workload.samples {
        match load_sample(client, &s.sql).await {
            Ok((rows, ncols)) => {
                if rows.is_empty() {
                    problems.push(Problem {
                        scenario: None,
                        location: loc(s.line),
                        message: format!("sample {} returned no rows", s.name),
                    });
                }
                samples.push(rows);
                sample_cols.push(ncols);
            }
            Err(e) => {
                problems.push(Problem {
                    scenario: None,
                    location: loc(s.line),
                    message: format!("sample {}: {}", s.name, db_message(&e)),
                });
                samples.push(Vec::new());
                sample_cols.push(usize::MAX);
            }
        }
    }

    // Parameters: pick() arity; which model parts are needed.
    let mut need_clinic = false;
    let mut sets = HashSet::new();
    for sc in &workload.scenarios {
        for p in &sc.params {
            match &p.generator {
                Generator::Pick { sample } => {
                    let n = sample_cols[*sample];
                    if n != usize::MAX && n > 0 && p.slots.len() > n {
                        problems.push(Problem {
                            scenario: Some(sc.name.clone()),
                            location: loc(p.line),
                            message: format!(
                                "pick({}) assigns {} variables but the sample has {n} column(s)",
                                workload.samples[*sample].name,
                                p.slots.len()
                            ),
                        });
                    }
                }
                Generator::Clinic => need_clinic = true,
                g => {
                    if let Some(s) = g.needs() {
                        sets.insert(s);
                    }
                }
            }
        }
    }
    let model = match load_model(client, need_clinic, &sets).await {
        Ok(m) => m,
        Err(e) => {
            let users: Vec<String> = workload
                .scenarios
                .iter()
                .filter(|sc| {
                    sc.params.iter().any(|p| {
                        matches!(p.generator, Generator::Clinic) || p.generator.needs().is_some()
                    })
                })
                .map(|sc| sc.name.clone())
                .collect();
            problems.push(Problem {
                scenario: Some(users.join(", ")),
                location: workload.path.clone(),
                message: format!(
                    "the dataset model (clinic(), *_of()) needs the vet-clinic tables: {}",
                    db_message(&e)
                ),
            });
            Default::default()
        }
    };
    if need_clinic && model.clinics() == 0 && problems.is_empty() {
        problems.push(Problem {
            scenario: None,
            location: workload.path.clone(),
            message: "clinic() needs data: table pets is empty (seed the database first)".into(),
        });
    }

    // Statements.
    let mut bind_columns = Vec::new();
    for sc in &workload.scenarios {
        let mut per_stmt = Vec::new();
        for st in &sc.statements {
            let mut cols = Vec::new();
            match client.prepare(&st.sql).await {
                Ok(prepared) => {
                    for (col, _) in &st.binds {
                        match prepared.columns().iter().position(|c| c.name() == col) {
                            Some(i) if bindable(prepared.columns()[i].type_()) => cols.push(i),
                            Some(i) => problems.push(Problem {
                                scenario: Some(sc.name.clone()),
                                location: loc(st.line),
                                message: format!(
                                    "statement {}: column {col} has type {}, which cannot be bound; cast it (e.g. {col}::text)",
                                    st.name,
                                    prepared.columns()[i].type_()
                                ),
                            }),
                            None => problems.push(Problem {
                                scenario: Some(sc.name.clone()),
                                location: loc(st.line),
                                message: format!(
                                    "statement {}: @bind column {col} is not in its result (columns: {})",
                                    st.name,
                                    prepared
                                        .columns()
                                        .iter()
                                        .map(|c| c.name())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            }),
                        }
                    }
                }
                Err(e) => problems.push(Problem {
                    scenario: Some(sc.name.clone()),
                    location: loc(st.line),
                    message: format!("statement {} does not prepare: {}", st.name, db_message(&e)),
                }),
            }
            per_stmt.push(cols);
        }
        bind_columns.push(per_stmt);
    }

    if !problems.is_empty() {
        return Err(CheckError { problems });
    }
    Ok(Prepared {
        workload,
        data: RunData {
            model,
            samples,
            clock_offset_ms: clock_offset_ms(client).await,
        },
        bind_columns,
    })
}
