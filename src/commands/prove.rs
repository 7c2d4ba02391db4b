//! `dbload analyze --from-results run.json --prove`: prove the proposals
//! under the run's own load, in a copy of the database.
//!
//! 1. Copy the database (`CREATE DATABASE … TEMPLATE`, refused while any
//!    other session is connected to it), or use the database the user
//!    names with `--prove-db` (which dbload then modifies).
//! 2. Replay the run there — same workload file, rate, duration, warm-up,
//!    pool and seed — by running the `dbload stress` binary ("before").
//! 3. Create the proposed indexes in the copy (and ANALYZE their tables).
//! 4. Replay again ("after"), then compare with `dbload report --baseline`
//!    (the regression comparison) and per scenario.
//! 5. Drop the copy (one dbload created). The user's database is only read.
//!
//! The stress engine is driven as a subprocess, through its CLI and its
//! results files, so this glue does not depend on the engine's Rust API.
//! WAL bytes and buffers dirtied/written are the copy's own statements'
//! (pg_stat_statements of that database, sampled around each replay).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::Value;

use crate::analyze::apply::{ApplyStatus, apply};
use crate::analyze::model::AnalyzeReport;
use crate::analyze::names::quote_ident;
use crate::db::{Target, connect};

/// One scenario (or `all`), before → after.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioRow {
    pub scenario: String,
    pub p50_ms: [f64; 2],
    pub p95_ms: [f64; 2],
    pub p99_ms: [f64; 2],
    pub calls: [u64; 2],
    pub errors: [u64; 2],
}

/// Server-side figures of one replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerSide {
    /// Σ execution time of the run's statements (pg_stat_statements), ms/s.
    pub server_ms_per_sec: f64,
    /// WAL the statements wrote, bytes/s (pg_stat_statements).
    pub wal_bytes_per_sec: f64,
    /// Shared buffers the statements dirtied, per second.
    pub buffers_dirtied_per_sec: f64,
    /// Shared buffers the statements' backends wrote out, per second
    /// (checkpointer and bgwriter writes are not theirs).
    pub buffer_writes_per_sec: f64,
}

/// The proof.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// The database the replays ran in.
    pub database: String,
    /// The copy was created (and dropped) by dbload.
    pub copied: bool,
    /// The indexes created there, with what happened.
    pub created: Vec<String>,
    pub before: PathBuf,
    pub after: PathBuf,
    /// `dbload report after --baseline before`: its headline and the exit
    /// code `dbload regress` would give for it (0 pass, 1 regression, 3
    /// invalid run).
    pub verdict: String,
    pub verdict_exit: i32,
    pub comparison: PathBuf,
    pub scenarios: Vec<ScenarioRow>,
    pub server: [ServerSide; 2],
}

/// `dbload stress` arguments that replay `results` (open model, constant rate).
pub fn replay_args(results: &Value, out: &Path) -> anyhow::Result<Vec<String>> {
    let cfg = &results["config"];
    if cfg["model"] != "open" || cfg["profile"]["kind"] != "constant" {
        bail!(
            "--prove replays open-model, constant-rate runs (dbload stress --qps N); this run was {} / {}",
            cfg["model"],
            cfg["profile"]["kind"]
        );
    }
    let num = |v: &Value, what: &str| {
        v.as_f64()
            .with_context(|| format!("the results file has no {what}"))
    };
    let mut a: Vec<String> = vec![
        "stress".into(),
        "--qps".into(),
        num(&cfg["profile"]["qps"], "config.profile.qps")?.to_string(),
        "--duration".into(),
        format!("{}s", num(&cfg["duration"], "config.duration")?),
        "--warmup".into(),
        format!("{}s", num(&cfg["warmup"], "config.warmup")?),
        "--pool".into(),
        num(&cfg["pool"], "config.pool")?.to_string(),
        "--seed".into(),
        cfg["seed"]
            .as_u64()
            .context("the results file has no config.seed")?
            .to_string(),
        "--format".into(),
        "json".into(),
        "--force".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(arrival) = cfg["arrival"].as_str() {
        a.extend(["--arrival".into(), arrival.into()]);
    }
    if let Some(m) = cfg["max_inflight"].as_u64() {
        a.extend(["--max-inflight".into(), m.to_string()]);
    }
    // The workload: the same file (same sha256), or the embedded default.
    let w = &results["workload"];
    let path = w["path"].as_str().unwrap_or_default();
    let sha = w["sha256"].as_str().unwrap_or_default();
    let embedded = sha256_hex(crate::workload::DEFAULT_WORKLOAD.as_bytes());
    if sha == embedded {
        // The default workload: run without --workload.
    } else if let Ok(text) = std::fs::read(path) {
        if sha256_hex(&text) != sha {
            bail!("--prove: the workload file {path} changed since the run (sha256 differs)");
        }
        a.extend(["--workload".into(), path.into()]);
    } else {
        bail!(
            "--prove: the run's workload {path} is neither readable here nor the embedded default"
        );
    }
    Ok(a)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// WAL bytes, buffers dirtied and buffers written so far by this
/// database's statements (pg_stat_statements, PostgreSQL 13+); only the
/// replay runs in the copy, so these are its own figures.
async fn counters(c: &tokio_postgres::Client) -> anyhow::Result<[f64; 3]> {
    let r = c
        .query_one(
            "SELECT COALESCE(sum(wal_bytes), 0)::float8, \
               COALESCE(sum(shared_blks_dirtied), 0)::float8, \
               COALESCE(sum(shared_blks_written), 0)::float8 \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .context("reading pg_stat_statements in the copy (the extension must exist there)")?;
    Ok([r.get(0), r.get(1), r.get(2)])
}

/// Run one replay into `out`; its server side from counters around it.
async fn replay(
    target: &Target,
    args: &[String],
    out: &Path,
) -> anyhow::Result<(Value, ServerSide)> {
    let c = connect(target).await?;
    let before = counters(&c).await?;
    let exe = std::env::current_exe().context("locating the dbload binary")?;
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking({
        let args = args.to_vec();
        let url = target.to_url_with_password();
        move || {
            Command::new(exe)
                .args(&args)
                .env("DATABASE_URL", url)
                .stdout(std::process::Stdio::null())
                .output()
        }
    })
    .await??;
    let wall = started.elapsed().as_secs_f64().max(0.001);
    if !matches!(status.status.code(), Some(0 | 1 | 3)) {
        bail!(
            "the replay (dbload {}) failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&status.stderr).trim()
        );
    }
    let after = counters(&c).await?;
    let d = |i: usize| (after[i] - before[i]).max(0.0) / wall;
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?,
    )?;
    let secs = v["measured_secs"].as_f64().unwrap_or(wall).max(0.001);
    let server_ms: f64 = v["server_statements"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["total_ms"].as_f64()).sum())
        .unwrap_or(0.0);
    Ok((
        v,
        ServerSide {
            server_ms_per_sec: server_ms / secs,
            wal_bytes_per_sec: d(0),
            buffers_dirtied_per_sec: d(1),
            buffer_writes_per_sec: d(2),
        },
    ))
}

fn rows(before: &Value, after: &Value) -> Vec<ScenarioRow> {
    let lat = |s: &Value, k: &str| s["latency"]["total"][k].as_f64().unwrap_or(0.0) / 1000.0;
    let row = |name: &str, b: &Value, a: &Value| ScenarioRow {
        scenario: name.to_string(),
        p50_ms: [lat(b, "p50_us"), lat(a, "p50_us")],
        p95_ms: [lat(b, "p95_us"), lat(a, "p95_us")],
        p99_ms: [lat(b, "p99_us"), lat(a, "p99_us")],
        calls: [
            b["calls"].as_u64().unwrap_or(0),
            a["calls"].as_u64().unwrap_or(0),
        ],
        errors: [
            b["errors"].as_u64().unwrap_or(0),
            a["errors"].as_u64().unwrap_or(0),
        ],
    };
    let mut out = vec![row("all", &before["totals"], &after["totals"])];
    for b in before["scenarios"].as_array().into_iter().flatten() {
        let name = b["name"].as_str().unwrap_or_default();
        if let Some(a) = after["scenarios"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == name)
        {
            out.push(row(name, b, a));
        }
    }
    out
}

/// Prove `report`'s proposals by replaying `results` in a copy of `target`'s
/// database (or in `prove_db`). No connection to the source may be open.
pub async fn prove(
    target: &Target,
    report: &AnalyzeReport,
    results: &Value,
    prove_db: Option<&str>,
) -> anyhow::Result<Proof> {
    let dir = std::env::temp_dir().join(format!("dbload-prove-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let before_path = dir.join("before.json");
    let after_path = dir.join("after.json");
    let before_args = replay_args(results, &before_path)?;
    let after_args = replay_args(results, &after_path)?;
    let source = target.dbname_or_default();
    let admin = connect(&target.with_dbname("postgres")).await?;
    let (db, copied) = match prove_db {
        Some(name) => (name.to_string(), false),
        None => {
            // Client sessions only (CREATE DATABASE stops autovacuum workers
            // itself); like PostgreSQL, give closing sessions (this
            // command's own analysis connection) up to 5 s to go.
            let mut others: i64 = 0;
            for _ in 0..50 {
                others = admin
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                         AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                        &[&source],
                    )
                    .await?
                    .get(0);
                if others == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if others > 0 {
                bail!(
                    "--prove: cannot copy database {source}: {others} other session(s) are connected \
                     (CREATE DATABASE … TEMPLATE needs none); stop them, or make a copy yourself and \
                     pass --prove-db NAME"
                );
            }
            let mut name = format!("{source}_prove_{}", std::process::id());
            name.truncate(63);
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    quote_ident(&name),
                    quote_ident(&source)
                ))
                .await
                .with_context(|| {
                    format!("--prove: copying {source} (CREATE DATABASE … TEMPLATE)")
                })?;
            (name, true)
        }
    };
    let copy = target.with_dbname(&db);
    let result = async {
        let (before, before_server) = replay(&copy, &before_args, &before_path).await?;
        let c = connect(&copy).await?;
        let outcomes = apply(&c, &report.proposals).await;
        let mut created = Vec::new();
        for o in &outcomes {
            if o.status == ApplyStatus::Failed {
                bail!("--prove: creating {} in {db}: {}", o.ddl, o.detail);
            }
            created.push(o.ddl.clone());
        }
        let mut tables: Vec<&str> = report.proposals.iter().map(|p| p.table.as_str()).collect();
        tables.dedup();
        for t in tables {
            c.batch_execute(&format!("ANALYZE {t}")).await?;
        }
        drop(c);
        let (after, after_server) = replay(&copy, &after_args, &after_path).await?;
        let comparison = dir.join("comparison.md");
        let exe = std::env::current_exe()?;
        let cmp = Command::new(exe)
            .arg("report")
            .arg(&after_path)
            .arg("--baseline")
            .arg(&before_path)
            .arg("--markdown")
            .arg(&comparison)
            .env("DATABASE_URL", copy.to_url_with_password())
            .output()
            .context("running dbload report")?;
        let md = std::fs::read_to_string(&comparison).unwrap_or_default();
        // The headline is the first bold line: `**PASS: …** (exit 0)`, the
        // exit code being the one `dbload regress` would give.
        let headline = md.lines().find(|l| l.starts_with("**")).unwrap_or_default();
        let verdict = headline
            .strip_prefix("**")
            .and_then(|l| l.split("**").next())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&cmp.stderr).trim().to_string());
        let verdict_exit = headline
            .rsplit_once("(exit ")
            .and_then(|(_, r)| r.trim_end_matches(')').parse().ok())
            .unwrap_or_else(|| cmp.status.code().unwrap_or(-1));
        Ok(Proof {
            database: db.clone(),
            copied,
            created,
            before: before_path.clone(),
            after: after_path.clone(),
            verdict,
            verdict_exit,
            comparison,
            scenarios: rows(&before, &after),
            server: [before_server, after_server],
        })
    }
    .await;
    if copied {
        // The replays' connections are gone with their processes.
        let drop = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&db)))
            .await;
        if let Err(e) = drop
            && result.is_ok()
        {
            eprintln!("dbload: could not drop the copy {db}: {e}");
        }
    }
    result
}

/// The proof as a terminal/Markdown table.
pub fn render(p: &Proof, markdown: bool) -> String {
    let mut o = String::new();
    let head = if markdown { "## " } else { "\n" };
    o.push_str(&format!(
        "{head}Proof under load ({} database {})\n\n",
        if p.copied { "copied" } else { "named" },
        p.database
    ));
    for c in &p.created {
        o.push_str(&format!("- created: `{c}`\n"));
    }
    o.push_str(&format!(
        "\nVerdict (dbload report after --baseline before): {} (exit {})\n\n",
        p.verdict, p.verdict_exit
    ));
    o.push_str("| scenario | p50 before → after | p95 before → after | p99 before → after | calls | errors |\n");
    o.push_str("|---|---:|---:|---:|---:|---:|\n");
    for r in &p.scenarios {
        o.push_str(&format!(
            "| {} | {:.2} → {:.2} ms | {:.2} → {:.2} ms | {:.2} → {:.2} ms | {} → {} | {} → {} |\n",
            r.scenario,
            r.p50_ms[0],
            r.p50_ms[1],
            r.p95_ms[0],
            r.p95_ms[1],
            r.p99_ms[0],
            r.p99_ms[1],
            r.calls[0],
            r.calls[1],
            r.errors[0],
            r.errors[1]
        ));
    }
    let [b, a] = &p.server;
    o.push_str(&format!(
        "\nServer (pg_stat_statements of the copy): statement time {:.1} → {:.1} ms/s; \
         WAL {:.0} → {:.0} kB/s; buffers dirtied {:.1} → {:.1}/s, written by backends \
         {:.1} → {:.1}/s\n",
        b.server_ms_per_sec,
        a.server_ms_per_sec,
        b.wal_bytes_per_sec / 1024.0,
        a.wal_bytes_per_sec / 1024.0,
        b.buffers_dirtied_per_sec,
        a.buffers_dirtied_per_sec,
        b.buffer_writes_per_sec,
        a.buffer_writes_per_sec
    ));
    o.push_str(&format!(
        "Files: {} (before), {} (after), {} (comparison)\n",
        p.before.display(),
        p.after.display(),
        p.comparison.display()
    ));
    o
}
