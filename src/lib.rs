//! dbload: a PostgreSQL load and query-analysis tool.
//!
//! The library holds the engines (`db`, and the seed/stress/analyze/regress
//! engines as they land); `commands` is the glue that turns parsed CLI
//! arguments into engine calls and renders results. See ARCHITECTURE.md.

pub mod analyze;
pub mod capacity;
pub mod cli;
mod commands;
pub mod db;
pub mod input;
pub mod merge;
pub mod metrics;
pub mod regress;
pub mod report;
pub mod seed;
pub mod stress;
pub mod sys;
pub mod workload;

use std::process::ExitCode;

/// Exit code for a failed check (regression, threshold, proposals).
pub const EXIT_FAILED_CHECK: u8 = 1;
/// Exit code for usage, input or connection errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for an invalid run (driver could not hold the rate, interrupted).
pub const EXIT_INVALID_RUN: u8 = 3;

/// Log to stderr; `RUST_LOG` overrides the `-v` level. Colours only when
/// stderr is a terminal and `NO_COLOR` is not set (no escape codes in logs
/// and CI output).
pub fn init_logging(verbose: u8) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("dbload={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .without_time()
        .try_init();
}

/// Run one parsed command line to completion.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(commands::dispatch(cli))
}
