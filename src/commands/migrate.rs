//! `dbload migrate`: apply the embedded schema migrations.

use std::process::ExitCode;

use crate::cli::ConnArgs;
use crate::db::{connect, migrate};

pub async fn run(conn: &ConnArgs) -> anyhow::Result<ExitCode> {
    let target = super::resolve_target(conn).await?;
    let mut client = connect(&target).await?;
    let report = migrate::apply(&mut client, migrate::MIGRATIONS).await?;
    for name in &report.applied {
        println!("applied {name}");
    }
    let state = if report.applied.is_empty() {
        "up to date"
    } else {
        "now"
    };
    println!(
        "schema {state} at version {} in {target}",
        migrate::latest_version()
    );
    Ok(ExitCode::SUCCESS)
}
