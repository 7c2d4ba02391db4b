//! `dbload completions SHELL` and `dbload man`: shell completion scripts
//! and man pages generated from the clap definitions in `cli.rs`, so they
//! never drift from the flags (clap_complete, clap_mangen).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dbload", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// dbload(1) on stdout, or every command's page written into `dir`.
pub fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    match dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
        }
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| anyhow::anyhow!("--dir {}: {e}", d.display()))?;
            clap_mangen::generate_to(Cli::command(), d)
                .map_err(|e| anyhow::anyhow!("--dir {}: {e}", d.display()))?;
            eprintln!("dbload: man pages written to {}", d.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
