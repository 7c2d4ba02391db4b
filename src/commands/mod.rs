//! Glue between the CLI and the engines: resolve the target, call the
//! engine, render the result. No engine logic lives here.

mod analyze;
mod capacity;
mod demo;
mod local;
mod migrate;
mod regress;
mod report;
mod seed;
mod shapes;
mod stress;
mod workload;

use std::process::ExitCode;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::db::{Target, local::LocalCluster};

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Local(cmd) => local::run(cmd).await,
        Command::Migrate => migrate::run(&cli.global).await,
        Command::Demo(args) => demo::run(&cli.global, &args).await,
        Command::Analyze(args) => analyze::run(&cli.global, &args).await,
        Command::Seed(args) => seed::run(&cli.global, &args).await,
        Command::Stress(args) => stress::run(&cli.global, *args).await,
        Command::Workload(cmd) => workload::run(&cli.global, cmd).await,
        Command::Regress(args) => regress::run(&cli.global, args).await,
        Command::Report(args) => report::run(args),
    }
}

/// The database a command works on: `--url`, `DATABASE_URL`, `PG*`, or the
/// managed local cluster (started if needed, with one notice on stderr).
pub async fn resolve_target(global: &GlobalArgs) -> anyhow::Result<Target> {
    let env = |k: &str| std::env::var(k).ok();
    if let Some(t) = Target::resolve(global.url.as_deref(), &env)? {
        return Ok(t);
    }
    let cluster = LocalCluster::new(crate::db::local::default_home())?;
    let started = cluster.start().await?;
    if started.started_now {
        eprintln!(
            "dbload: no database given; started the local cluster at {} (`dbload local stop` stops it)",
            started.target
        );
    }
    Ok(started.target)
}
