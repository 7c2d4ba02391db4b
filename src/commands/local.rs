//! `dbload local …`: lifecycle of the managed cluster.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::{LocalCommand, StatusFormat};
use crate::db::local::{LocalCluster, default_home};

pub async fn run(cmd: LocalCommand) -> anyhow::Result<ExitCode> {
    let cluster = LocalCluster::new(default_home())?;
    match cmd {
        LocalCommand::Start => {
            let s = cluster.start().await?;
            let what = match (s.created_now, s.started_now) {
                (true, _) => "created and started",
                (false, true) => "started",
                (false, false) => "already running",
            };
            println!("local cluster {what}: {}", s.target);
        }
        LocalCommand::Stop => {
            if cluster.stop().await? {
                println!("local cluster stopped");
            } else {
                println!("local cluster was not running");
            }
        }
        LocalCommand::Url => {
            // No password exists on the local cluster (trust auth on loopback).
            let t = cluster.target()?;
            println!("{}", t.redacted());
        }
        LocalCommand::Status { format, json } => {
            let st = cluster.status().await?;
            if json || format == StatusFormat::Json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                let yes = |b: bool| if b { "active" } else { "not active" };
                println!("directory:          {}", st.dir.display());
                println!(
                    "state:              {}",
                    if st.running {
                        "running"
                    } else if st.created {
                        "stopped"
                    } else {
                        "not created"
                    }
                );
                println!("version:            {}", st.version);
                if let Some(u) = &st.url {
                    println!("address:            {u}");
                }
                println!("socket directory:   {}", st.socket_dir.display());
                println!(
                    "data size:          {:.1} MiB",
                    st.data_bytes as f64 / 1048576.0
                );
                if st.running {
                    println!("pg_stat_statements: {}", yes(st.pg_stat_statements));
                    println!(
                        "hypopg:             {}",
                        if st.hypopg {
                            "active"
                        } else if st.hypopg_installed {
                            "installed, not active"
                        } else {
                            "not installed (apt-get install postgresql-<major>-hypopg)"
                        }
                    );
                }
                println!("log:                {}", st.log.display());
            }
        }
        LocalCommand::Destroy { yes } => {
            if !yes
                && !confirm(&format!(
                    "Delete the local cluster at {} and ALL its data?",
                    cluster.dir().display()
                ))?
            {
                anyhow::bail!("not destroyed (pass --yes to skip this question)");
            }
            if cluster.destroy().await? {
                println!("local cluster destroyed: {}", cluster.dir().display());
            } else {
                println!("no local cluster at {}", cluster.dir().display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} Refusing without a terminal to ask on: pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
