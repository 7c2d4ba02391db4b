//! Orchestration of one seed run: checks, migrations, metadata, dropping
//! keys/indexes/foreign keys, the parallel load, the rebuild, ANALYZE.
//!
//! Per table, on one of `jobs` connections (largest tables first): one
//! `TRUNCATE` + `COPY … (FORMAT binary, FREEZE)` transaction whose rows are
//! generated in chunks on a rayon pool of `jobs` threads, in order, and
//! streamed as they are made; then its primary key, unique constraints and
//! indexes; then `ANALYZE`. Once every table is there, the foreign keys are
//! added `NOT VALID` and validated, tables in parallel.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::SinkExt;
use rayon::prelude::*;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_postgres::Client;

use super::copy::{self, RowBuf};
use super::metadata;
use super::model::Table;
use super::plan::{PlanError, SeedPlan, human_bytes};
use super::progress::Progress;
use super::rows::{Gen, columns};
use super::schema::{self, Ddl, FreeSpace, Kind, ident};
use crate::db::migrate::{self, MigrateError};
use crate::db::{ConnectError, Target, connect};

/// Rows generated per rayon task.
const CHUNK_ROWS: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(
        "{target} already has tables named {tables} that dbload did not create \
         (no record in dbload_migrations); refusing to touch them. \
         Seed another database, or pass --force to DROP these tables and seed"
    )]
    Foreign { target: String, tables: String },
    #[error(
        "--force would DROP {tables} on {target}, but other objects depend on them: {}. \
         dbload does not drop with CASCADE; nothing was changed. Drop or change these \
         yourself:\n{}\nor seed another database",
        what(.dependents),
        remove(.dependents)
    )]
    Dependents {
        target: String,
        tables: String,
        dependents: Vec<schema::Blocker>,
    },
    #[error(
        "cannot re-seed {target}: {}\nA seed truncates dbload's tables and rebuilds their keys, \
         which these forbid; nothing was changed. Remove them first:\n{}\nthen seed, and \
         re-create them afterwards (or seed another database)",
        what(.blockers),
        remove(.blockers)
    )]
    Blocked {
        target: String,
        blockers: Vec<schema::Blocker>,
    },
    #[error("{0}; nothing was changed")]
    Connections(String),
    #[error(
        "--scale {scale} needs about {need} of disk on the server (data, indexes and WAL), \
         but only {free} is free in {path}"
    )]
    NoSpace {
        scale: f64,
        need: String,
        free: String,
        path: String,
    },
    #[error(
        "{step} failed: {cause}\n(the dataset is marked incomplete in dbload_datasets; \
         run `dbload seed` again to start clean)"
    )]
    Failed { step: String, cause: String },
    #[error("{step} failed: {cause}")]
    Check { step: String, cause: String },
    #[error("another `dbload seed` is running on {target}; wait for it to finish")]
    Busy { target: String },
}

/// The blockers, named in one line.
fn what(b: &[schema::Blocker]) -> String {
    b.iter()
        .map(|b| b.what.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements removing the blockers, one per indented line.
fn remove(b: &[schema::Blocker]) -> String {
    b.iter()
        .map(|b| format!("  {}", b.remove))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A user-readable cause of a database error.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            "53100" => format!("the server ran out of disk space ({})", db.message()),
            "57P01" | "57P02" | "57P03" => {
                format!("the server closed the connection ({})", db.message())
            }
            _ => format!("{} (SQLSTATE {code})", db.message()),
        };
    }
    if e.is_closed() {
        return "lost the connection to the server".into();
    }
    let mut cause = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = format!("{cause}: {s}");
        src = s.source();
    }
    cause
}

trait StepExt<T> {
    /// A failure after data started changing (the dataset is incomplete).
    fn during(self, step: &str) -> Result<T, SeedError>;
    /// A failure while still only looking.
    fn checking(self, step: &str) -> Result<T, SeedError>;
}

impl<T> StepExt<T> for Result<T, tokio_postgres::Error> {
    fn during(self, step: &str) -> Result<T, SeedError> {
        self.map_err(|e| SeedError::Failed {
            step: step.into(),
            cause: describe(&e),
        })
    }
    fn checking(self, step: &str) -> Result<T, SeedError> {
        self.map_err(|e| SeedError::Check {
            step: step.into(),
            cause: describe(&e),
        })
    }
}

/// One table of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Rows loaded.
    pub rows: u64,
    /// `pg_total_relation_size` after the rebuild (heap, indexes, TOAST).
    pub bytes: i64,
    /// Seconds from TRUNCATE to COMMIT of its COPY.
    pub load_seconds: f64,
    /// Seconds rebuilding its primary key, unique constraints and indexes.
    pub index_seconds: f64,
    /// Seconds of its ANALYZE.
    pub analyze_seconds: f64,
}

/// What a seed run did.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// Row id in `dbload_datasets`.
    pub dataset_id: i64,
    pub seed: u64,
    pub scale: f64,
    pub jobs: usize,
    /// Per table, in schema order.
    pub tables: Vec<TableReport>,
    /// Wall clock of the per-table pipelines (COPY, then keys and
    /// indexes, then ANALYZE), `jobs` tables at a time.
    pub load_seconds: f64,
    /// Wall clock of adding and validating the foreign keys.
    pub foreign_keys_seconds: f64,
    /// Everything, from connecting to the metadata update.
    pub total_seconds: f64,
}

impl SeedReport {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
    pub fn total_bytes(&self) -> i64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }
}

/// Run `f` on each job, `clients.len()` at a time, one connection per
/// worker. The first error stops everything (the rest is aborted).
async fn parallel<J, R, F, Fut>(
    clients: &[Arc<Client>],
    jobs: Vec<J>,
    f: F,
) -> Result<Vec<R>, SeedError>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(Arc<Client>, J) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, SeedError>> + Send,
{
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let mut set = JoinSet::new();
    for c in clients {
        let (q, c, f) = (queue.clone(), c.clone(), f.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let job = q.lock().expect("queue lock").pop_front();
                let Some(job) = job else { break };
                out.push(f(c.clone(), job).await?);
            }
            Ok::<_, SeedError>(out)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.expect("seed worker panicked")?);
    }
    Ok(all)
}

/// Load one table: TRUNCATE and COPY FREEZE in one transaction.
async fn load_table(
    client: Arc<Client>,
    generator: Arc<Gen>,
    pool: Arc<rayon::ThreadPool>,
    table: Table,
    progress: Arc<dyn Progress>,
) -> Result<(u64, f64), SeedError> {
    let step = format!("loading {}", table.name());
    let started = Instant::now();
    let total = generator.model.count(table);
    progress.table_started(table, total);
    let name = ident(table.name());
    client
        .batch_execute(&format!(
            "BEGIN; {}",
            schema::own(&format!("TRUNCATE {name}"))
        ))
        .await
        .during(&step)?;
    let sink = client
        .copy_in::<_, Bytes>(&schema::own(&format!(
            "COPY {name} ({}) FROM STDIN (FORMAT binary, FREEZE)",
            columns(table)
        )))
        .await
        .during(&step)?;
    futures_util::pin_mut!(sink);
    sink.send(copy::header()).await.during(&step)?;

    let threads = pool.current_num_threads();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Bytes, u64)>(threads * 4);
    let producer = tokio::task::spawn_blocking(move || {
        let chunks: Vec<Range<u64>> = (0..total)
            .step_by(CHUNK_ROWS as usize)
            .map(|s| s..(s + CHUNK_ROWS).min(total))
            .collect();
        for window in chunks.chunks(threads * 4) {
            let bufs: Vec<(Bytes, u64)> = pool.install(|| {
                window
                    .par_iter()
                    .map(|r| {
                        let mut b = RowBuf::with_capacity((r.end - r.start) as usize * 256);
                        generator.encode(table, r.clone(), &mut b);
                        (b.finish(), r.end - r.start)
                    })
                    .collect()
            });
            for b in bufs {
                if tx.blocking_send(b).is_err() {
                    return; // the loader stopped (error or interrupt)
                }
            }
        }
    });
    while let Some((bytes, rows)) = rx.recv().await {
        sink.send(bytes).await.during(&step)?;
        progress.table_rows(table, rows);
    }
    producer.await.expect("row generator panicked");
    sink.send(copy::trailer()).await.during(&step)?;
    let rows = sink.as_mut().finish().await.during(&step)?;
    client.batch_execute("COMMIT").await.during(&step)?;
    progress.table_done(table);
    Ok((rows, started.elapsed().as_secs_f64()))
}

/// What one table's pipeline did.
struct Loaded {
    table: Table,
    rows: u64,
    load_seconds: f64,
    index_seconds: f64,
    analyze_seconds: f64,
}

/// Load one table, rebuild its keys and indexes, ANALYZE it.
async fn table_pipeline(
    client: Arc<Client>,
    generator: Arc<Gen>,
    pool: Arc<rayon::ThreadPool>,
    table: Table,
    progress: Arc<dyn Progress>,
    ddl: Arc<Vec<Ddl>>,
) -> Result<Loaded, SeedError> {
    let (rows, load_seconds) = load_table(client.clone(), generator, pool, table, progress).await?;
    let t = Instant::now();
    for d in ddl
        .iter()
        .filter(|d| d.table == table.name() && matches!(d.kind, Kind::Key | Kind::Index))
    {
        client
            .batch_execute(&d.create_sql())
            .await
            .during(&format!("rebuilding {} of {}", d.name, table.name()))?;
    }
    let index_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    client
        .batch_execute(&schema::own(&format!("ANALYZE {}", ident(table.name()))))
        .await
        .during(&format!("analyzing {}", table.name()))?;
    Ok(Loaded {
        table,
        rows,
        load_seconds,
        index_seconds,
        analyze_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Run the statements of one table in order.
async fn run_all(client: Arc<Client>, step: String, sqls: Vec<String>) -> Result<(), SeedError> {
    for sql in sqls {
        client.batch_execute(&sql).await.during(&step)?;
    }
    Ok(())
}

/// Statements per table, tables with the most work first.
fn per_table(
    ddl: &[Ddl],
    kinds: &[Kind],
    sql: impl Fn(&Ddl) -> String,
) -> Vec<(String, Vec<String>)> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in ddl.iter().filter(|d| kinds.contains(&d.kind)) {
        by.entry(d.table.clone()).or_default().push(sql(d));
    }
    let weight = |t: &str| {
        Table::ALL.iter().find(|x| x.name() == t).map_or(0, |x| {
            x.bytes_per_row() * super::model::Model::new(1.0).count(*x)
        })
    };
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by_key(|(t, _)| std::cmp::Reverse(weight(t)));
    v
}

/// Seed the database at `target` according to `plan`.
pub async fn seed(
    target: &Target,
    plan: &SeedPlan,
    progress: Arc<dyn Progress>,
) -> Result<SeedReport, SeedError> {
    let t0 = Instant::now();
    let model = plan.model();
    let mut client = connect(target).await?;

    // One seed per database at a time (released when this session ends).
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock(hashtext('dbload_seed'))", &[])
        .await
        .checking("taking the seed lock")?
        .get(0);
    if !locked {
        return Err(SeedError::Busy {
            target: target.to_string(),
        });
    }

    // ---- look before writing anything
    let existing = schema::inspect(&client)
        .await
        .checking("inspecting the target database")?;
    let foreign = existing.foreign().to_vec();
    if !foreign.is_empty() && !plan.force {
        return Err(SeedError::Foreign {
            target: target.to_string(),
            tables: foreign.join(", "),
        });
    }
    let change = if foreign.is_empty() {
        schema::Change::Reseed
    } else {
        schema::Change::DropTables
    };
    let blockers = schema::blockers(&client, &existing.present, change)
        .await
        .checking("listing objects that depend on the existing tables")?;
    if !blockers.is_empty() {
        return Err(match change {
            schema::Change::DropTables => SeedError::Dependents {
                target: target.to_string(),
                tables: foreign.join(", "),
                dependents: blockers,
            },
            schema::Change::Reseed => SeedError::Blocked {
                target: target.to_string(),
                blockers,
            },
        });
    }
    // Every connection the load uses, opened now: a server that cannot
    // take them all refuses before anything changes.
    crate::db::conn_limits::room(&client)
        .await
        .checking("reading the server's connection limits")?
        .check(plan.jobs, "--jobs")
        .map_err(SeedError::Connections)?;
    let mut more_clients = Vec::with_capacity(plan.jobs - 1);
    for i in 1..plan.jobs {
        more_clients.push(Arc::new(connect(target).await.map_err(|e| {
            SeedError::Connections(format!(
                "--jobs {}: connection {} of {} failed: {e}",
                plan.jobs,
                i + 1,
                plan.jobs
            ))
        })?));
    }
    // The tables being replaced give their space back when truncated.
    let need = plan.disk_needed();
    match schema::free_space(&client, target).await {
        FreeSpace::Known { bytes, path } if bytes + existing.bytes < need => {
            return Err(SeedError::NoSpace {
                scale: plan.scale,
                need: human_bytes(need),
                free: human_bytes(bytes + existing.bytes),
                path,
            });
        }
        FreeSpace::Known { .. } => {}
        FreeSpace::Unknown(why) => progress.notice(&format!(
            "could not check free disk space ({why}); scale {} needs about {} on the server",
            plan.scale,
            human_bytes(need)
        )),
    }

    // ---- schema and metadata
    if !foreign.is_empty() {
        progress.notice(&format!(
            "--force: dropping tables dbload did not create: {}",
            foreign.join(", ")
        ));
        schema::drop_tables(&client, &foreign)
            .await
            .checking("dropping the existing tables")?;
    }
    migrate::apply(&mut client, migrate::MIGRATIONS).await?;
    match metadata::latest(&client)
        .await
        .checking("reading dbload_datasets")?
    {
        Some(d) => progress.notice(&format!(
            "replacing the {} dbload dataset #{} in {target} (seed {}, scale {}, started {})",
            if d.complete { "complete" } else { "incomplete" },
            d.id,
            d.seed,
            d.scale,
            d.started_at.format("%Y-%m-%d %H:%M UTC"),
        )),
        None if !existing.non_empty.is_empty() => progress.notice(&format!(
            "replacing the rows of {} in {target}",
            existing.non_empty.join(", ")
        )),
        None => {}
    }
    let planned: BTreeMap<String, i64> = Table::ALL
        .iter()
        .map(|t| (t.name().to_string(), model.count(*t) as i64))
        .collect();
    let dataset_id = metadata::start(
        &client,
        plan.seed as i64,
        plan.scale,
        migrate::latest_version(),
        &planned,
    )
    .await
    .during("recording the dataset in dbload_datasets")?;
    let ddl = schema::drop_for_load(&mut client)
        .await
        .during("dropping keys, indexes and foreign keys for the load")?;

    // ---- load
    let mut clients = vec![Arc::new(client)];
    clients.extend(more_clients);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(plan.jobs)
            .thread_name(|i| format!("dbload-generator-{i}"))
            .build()
            .expect("rayon pool"),
    );
    let generator = Arc::new(Gen::new(plan.seed, model.clone()));
    let mut order = Table::ALL.to_vec();
    order.sort_by_key(|t| std::cmp::Reverse(model.count(*t) * t.bytes_per_row()));
    progress.phase("loading");
    let t_load = Instant::now();
    let loaded = {
        let (generator, pool, progress) = (generator.clone(), pool.clone(), progress.clone());
        let ddl = Arc::new(ddl.clone());
        parallel(&clients, order, move |c, t| {
            table_pipeline(
                c,
                generator.clone(),
                pool.clone(),
                t,
                progress.clone(),
                ddl.clone(),
            )
        })
        .await?
    };
    let load_seconds = t_load.elapsed().as_secs_f64();

    progress.phase("foreign keys");
    let t_fk = Instant::now();
    for d in ddl.iter().filter(|d| d.kind == Kind::ForeignKey) {
        clients[0]
            .batch_execute(&d.create_sql())
            .await
            .during(&format!("adding foreign key {}", d.name))?;
    }
    let jobs = per_table(&ddl, &[Kind::ForeignKey], Ddl::validate_sql);
    parallel(&clients, jobs, |c, (t, sqls)| {
        run_all(c, format!("validating the foreign keys of {t}"), sqls)
    })
    .await?;
    let foreign_keys_seconds = t_fk.elapsed().as_secs_f64();

    let main = &clients[0];
    schema::reset_sequences(main)
        .await
        .during("resetting identity sequences")?;
    schema::clear_parked(main)
        .await
        .during("clearing dbload_seed_ddl")?;

    // ---- report and metadata
    let mut tables = Vec::new();
    let mut counts = BTreeMap::new();
    for t in Table::ALL {
        let l = loaded
            .iter()
            .find(|l| l.table == t)
            .expect("every table loaded");
        let bytes: i64 = main
            .query_one(
                "SELECT pg_total_relation_size(to_regclass($1))",
                &[&t.name()],
            )
            .await
            .during("measuring table sizes")?
            .get(0);
        counts.insert(t.name().to_string(), l.rows as i64);
        tables.push(TableReport {
            table: t.name().to_string(),
            rows: l.rows,
            bytes,
            load_seconds: l.load_seconds,
            index_seconds: l.index_seconds,
            analyze_seconds: l.analyze_seconds,
        });
    }
    metadata::finish(main, dataset_id, &counts)
        .await
        .during("completing the dbload_datasets record")?;
    Ok(SeedReport {
        dataset_id,
        seed: plan.seed,
        scale: plan.scale,
        jobs: plan.jobs,
        tables,
        load_seconds,
        foreign_keys_seconds,
        total_seconds: t0.elapsed().as_secs_f64(),
    })
}
