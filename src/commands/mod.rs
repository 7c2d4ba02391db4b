//! Glue between the CLI and the engines: resolve the target, call the
//! engine, render the result. No engine logic lives here.

mod analyze;
mod capacity;
mod demo;
mod docs;
mod engine;
mod live;
mod local;
mod merge;
mod migrate;
mod paths;
mod prove;
mod regress;
mod report;
mod say;
mod seed;
mod segment;
mod shapes;
mod signals;
mod stress;
mod workload;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConnArgs};
use crate::db::{Target, local::LocalCluster};

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // Box drawing only for a terminal; logs, pipes and CI get plain tables.
    crate::report::table::plain_tables(!std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if let Command::Stress(args) = &cli.command {
        say::set_quiet(args.quiet);
    }
    // Connection flags before the command name apply to the commands that
    // connect (the others ignore them, as kubectl and docker do with their
    // global flags); after the name only those commands offer them.
    let outer = cli.conn;
    match cli.command {
        Command::Local(cmd) => local::run(cmd).await,
        Command::Migrate(args) => migrate::run(&args.conn.or(&outer)).await,
        Command::Demo(args) => demo::run(&args.conn.clone().or(&outer), &args).await,
        Command::Analyze(args) => analyze::run(&args.conn.clone().or(&outer), &args).await,
        Command::Seed(args) => seed::run(&args.conn.clone().or(&outer), &args).await,
        Command::Stress(args) if capacity::wanted(&args)? => {
            segment::refuse_multi_step(&args.segments)?;
            capacity::run(&args.conn.clone().or(&outer), *args).await
        }
        Command::Stress(args) => stress::run(&args.conn.clone().or(&outer), *args).await,
        Command::Workload(cmd) => workload::run(&outer, cmd).await,
        Command::Regress(args) => regress::run(&args.conn.clone().or(&outer), args).await,
        Command::Report(args) => report::run(args),
        Command::Merge(args) => merge::run(&args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
    }
}

/// When `e` is the server refusing a connection for lack of slots
/// (SQLSTATE 53300), say which flag asked for too many connections.
pub async fn explain_too_many_connections(
    e: anyhow::Error,
    target: &Target,
    flag: &str,
    n: usize,
) -> anyhow::Error {
    let text = format!("{e:#}");
    if !text.contains("53300") {
        return e;
    }
    if text.contains("too many connections for") {
        // A CONNECTION LIMIT of the database or role, not max_connections.
        return anyhow::anyhow!(
            "{flag} {n} exceeds the connection limit of the database or role; \
             lower {flag} ({text})"
        );
    }
    // Our own connections are closed by now: one more usually fits.
    let max = match crate::db::connect(target).await {
        Ok(c) => c
            .query_one("SELECT current_setting('max_connections')", &[])
            .await
            .ok()
            .map(|r| r.get::<_, String>(0)),
        Err(_) => None,
    };
    anyhow::anyhow!(
        "{flag} {n} exceeds the server's max_connections ({}), counting the connections \
         already open; lower {flag} or raise max_connections ({text})",
        max.as_deref().unwrap_or("unknown")
    )
}

/// The target the command line and environment name (`db::resolve`), else
/// the managed local cluster (started if needed, with one notice on stderr).
/// Warnings (an ignored password file) are printed once per process.
pub async fn resolve_target(conn: &ConnArgs) -> anyhow::Result<Target> {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let env = |k: &str| std::env::var(k).ok();
    let explicit = crate::db::resolve::Explicit {
        url: conn.url.as_deref(),
        host: conn.host.as_deref(),
        port: conn.port.as_deref(),
        user: conn.username.as_deref(),
    };
    let resolved = crate::db::resolve::resolve(&explicit, &env)?;
    {
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        for w in resolved.warnings {
            if !warned.contains(&w) {
                eprintln!("dbload: warning: {w}");
                warned.push(w);
            }
        }
    }
    if let Some(t) = resolved.target {
        return Ok(t);
    }
    let cluster = LocalCluster::new(crate::db::local::default_home())?;
    let started = cluster.start().await?;
    if started.started_now {
        say::note(format_args!(
            "dbload: no database given; started the local cluster at {} (`dbload local stop` stops it)",
            started.target
        ));
    }
    Ok(started.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn too_many_connections_names_the_flag_and_max_connections() {
        // Port 1: nobody answers, so max_connections is unknown.
        let t = Target::parse("postgres://x@127.0.0.1:1/none").unwrap();
        let e = anyhow::anyhow!(
            "server at 127.0.0.1:1 refused the connection: sorry, too many clients already \
             (SQLSTATE 53300)"
        );
        let m = explain_too_many_connections(e, &t, "--jobs", 64)
            .await
            .to_string();
        assert!(
            m.starts_with("--jobs 64 exceeds the server's max_connections (unknown)")
                && m.contains("too many clients"),
            "{m}"
        );
        let other = anyhow::anyhow!("relation does not exist (SQLSTATE 42P01)");
        let m = explain_too_many_connections(other, &t, "--pool", 8)
            .await
            .to_string();
        assert!(!m.contains("--pool"), "{m}");
    }
}
