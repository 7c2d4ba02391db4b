//! `--apply`: create proposed indexes. `CREATE INDEX CONCURRENTLY` (plain on
//! a partitioned parent, which cannot be built concurrently), quoted
//! identifiers, a `lock_timeout`, and a re-check just before each build
//! that no index serves it yet. Never drops anything.

use serde::Serialize;
use tokio_postgres::Client;

use super::candidates::{Candidate, Key, Method, covered_by};
use super::catalog::Catalog;
use super::model::Proposal;
use super::whatif::server_message;

/// Lock timeout while creating indexes.
pub const LOCK_TIMEOUT: &str = "5s";

/// What happened to one proposal.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyOutcome {
    pub ddl: String,
    pub status: ApplyStatus,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyStatus {
    Created,
    /// An index serving it exists now (someone created it meanwhile).
    AlreadyPresent,
    Failed,
}

/// The candidate a proposal stands for.
pub fn candidate_of(p: &Proposal) -> Candidate {
    Candidate {
        table: p.table_ref.clone(),
        columns: p
            .columns
            .iter()
            .map(|c| {
                (
                    Key {
                        column: c.name.clone(),
                        func: c.function.clone(),
                        expr: c.expression.clone(),
                        opclass: c.opclass.clone(),
                    },
                    c.desc,
                )
            })
            .collect(),
        n_eq: 0,
        method: if p.method == "gin" {
            Method::Gin
        } else {
            Method::Btree
        },
        predicate: p.predicate.clone(),
        include: p.include.clone(),
    }
}

/// Run `stmts` in order; the first failure, described.
async fn run_requirements(c: &Client, stmts: &[String]) -> Option<String> {
    for s in stmts {
        if let Err(e) = c.batch_execute(s).await {
            return Some(format!("{s}: {}", server_message(e)));
        }
    }
    None
}

/// Create each proposal's index in order; one failure does not stop the rest.
pub async fn apply(c: &Client, proposals: &[Proposal]) -> Vec<ApplyOutcome> {
    let _ = c
        .batch_execute(&format!(
            "SET lock_timeout = '{LOCK_TIMEOUT}'; SET statement_timeout = 0"
        ))
        .await;
    let mut out = Vec::new();
    for p in proposals {
        let cand = candidate_of(p);
        let existing = match Catalog::load(c).await {
            Ok(cat) => cat
                .indexes
                .iter()
                .filter(|i| i.table == cand.table)
                .find(|i| covered_by(&cand, i))
                .map(|i| i.name.to_string()),
            Err(e) => {
                out.push(ApplyOutcome {
                    ddl: p.ddl.clone(),
                    status: ApplyStatus::Failed,
                    detail: format!("re-reading the catalog: {}", server_message(e)),
                });
                continue;
            }
        };
        if let Some(name) = existing {
            out.push(ApplyOutcome {
                ddl: p.ddl.clone(),
                status: ApplyStatus::AlreadyPresent,
                detail: format!("served by existing index {name}"),
            });
            continue;
        }
        // The extension the index needs (listed before the confirmation).
        if let Some(e) = run_requirements(c, &p.requires).await {
            out.push(ApplyOutcome {
                ddl: p.ddl.clone(),
                status: ApplyStatus::Failed,
                detail: e,
            });
            continue;
        }
        let started = std::time::Instant::now();
        match c.batch_execute(&p.ddl).await {
            Ok(()) => out.push(ApplyOutcome {
                ddl: p.ddl.clone(),
                status: ApplyStatus::Created,
                detail: format!("built in {} ms", started.elapsed().as_millis()),
            }),
            Err(e) => {
                let mut detail = server_message(e);
                if p.ddl.contains("CONCURRENTLY") {
                    detail.push_str(
                        "; a failed concurrent build can leave an INVALID index behind: \
                         check the health report and DROP INDEX CONCURRENTLY it",
                    );
                }
                out.push(ApplyOutcome {
                    ddl: p.ddl.clone(),
                    status: ApplyStatus::Failed,
                    detail,
                });
            }
        }
    }
    out
}
