//! `dbload workload check`: parse a workload file (every mistake as
//! file:line), then prepare every statement against the target database.
//! Also the loading helper `dbload stress` shares.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ConnArgs, WorkloadCommand};
use crate::db::connect;
use crate::workload::{self, DEFAULT_WORKLOAD, DEFAULT_WORKLOAD_PATH, Workload};

/// Read and parse a workload file, or the embedded default. `label` names
/// where the path came from in errors (`--workload`, or `workload file`
/// for the positional FILE of `workload check`).
pub fn load(path: Option<&Path>, label: &str) -> anyhow::Result<Workload> {
    let (name, text) = match path {
        Some(p) => (
            p.display().to_string(),
            crate::input::text::read(p, crate::input::WORKLOAD)
                .map_err(|e| anyhow::anyhow!("{label} {e}"))?,
        ),
        None => (
            DEFAULT_WORKLOAD_PATH.to_string(),
            DEFAULT_WORKLOAD.to_string(),
        ),
    };
    workload::parse(&name, &text).map_err(|errs| {
        anyhow::anyhow!(
            "{} mistake(s) in {name}:\n{}",
            errs.len(),
            errs.iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Parse the workload, check it against the target, load its start-up data.
pub async fn prepare_against(
    target: &crate::db::Target,
    w: Workload,
) -> anyhow::Result<workload::Prepared> {
    let client = connect(target).await?;
    let path = w.path.clone();
    workload::prepare(&client, w)
        .await
        .map_err(|e| anyhow::anyhow!("workload {path} does not fit {target}: {e}"))
}

pub async fn run(outer: &ConnArgs, cmd: WorkloadCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WorkloadCommand::Check {
            file,
            offline,
            conn,
        } => {
            let conn = conn.or(outer);
            let w = load(Some(&file), "workload file")?;
            let stmts: usize = w.scenarios.iter().map(|s| s.statements.len()).sum();
            println!(
                "{}: workload {}: {} scenario(s), {} statement(s), {} sample(s): syntax ok",
                w.path,
                w.name,
                w.scenarios.len(),
                stmts,
                w.samples.len()
            );
            if offline {
                return Ok(ExitCode::SUCCESS);
            }
            let target = super::resolve_target(&conn).await?;
            let p = prepare_against(&target, w).await?;
            let total: f64 = p.workload.scenarios.iter().map(|s| s.weight).sum();
            for s in &p.workload.scenarios {
                println!(
                    "  {:<24} {:>5.1} %  {} statement(s){}",
                    s.name,
                    s.weight / total * 100.0,
                    s.statements.len(),
                    if s.transaction { ", transaction" } else { "" }
                );
            }
            println!("all statements prepare against {target}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
