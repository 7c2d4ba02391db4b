//! Shared test harness: a real server and a throw-away database per test.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use dbload::db::local::{LocalCluster, default_home};
use dbload::db::{Target, connect};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Tests that compare throughput figures (a breakpoint against a closed-loop
/// maximum) need the machine to themselves: they take this lock for writing,
/// every other test's databases hold it for reading.
static TIMING: RwLock<()> = RwLock::new(());

thread_local! {
    /// The shared turn of this test thread (a test may create several
    /// databases; they share one read guard, so a waiting writer can never
    /// block a test against itself).
    static SHARED_TURN: RefCell<Weak<RwLockReadGuard<'static, ()>>> = const { RefCell::new(Weak::new()) };
}

/// A test's hold on [`TIMING`].
enum Turn {
    Shared(#[allow(dead_code)] Rc<RwLockReadGuard<'static, ()>>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

fn shared_turn() -> Turn {
    SHARED_TURN.with(|cell| {
        if let Some(rc) = cell.borrow().upgrade() {
            return Turn::Shared(rc);
        }
        let rc = Rc::new(TIMING.read().unwrap_or_else(|e| e.into_inner()));
        *cell.borrow_mut() = Rc::downgrade(&rc);
        Turn::Shared(rc)
    })
}

/// The server tests run against: `DBLOAD_TEST_URL`, else the managed local
/// cluster (started if needed; concurrent starts are safe).
pub async fn server() -> Target {
    if let Ok(url) = std::env::var("DBLOAD_TEST_URL") {
        return Target::parse(&url).expect("DBLOAD_TEST_URL");
    }
    let cluster = LocalCluster::new(default_home()).expect("local cluster binaries");
    cluster.start().await.expect("start local cluster").target
}

/// A database created for one test and dropped when the guard drops.
pub struct TestDb {
    pub target: Target,
    server: Target,
    pub name: String,
    _turn: Turn,
}

impl TestDb {
    /// Create a fresh, empty database (from template1, so it has the
    /// extensions the server offers).
    pub async fn new() -> TestDb {
        Self::create(shared_turn()).await
    }

    /// Like [`TestDb::new`], but no other test runs while it lives: for
    /// tests whose assertions compare throughput measured at two moments.
    pub async fn new_exclusive() -> TestDb {
        let turn = Turn::Exclusive(TIMING.write().unwrap_or_else(|e| e.into_inner()));
        Self::create(turn).await
    }

    async fn create(turn: Turn) -> TestDb {
        let server = server().await;
        let name = format!(
            "dbload_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = connect(&server.with_dbname("postgres"))
            .await
            .expect("connect admin");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        TestDb {
            target: server.with_dbname(&name),
            server,
            name,
            _turn: turn,
        }
    }

    /// The target as a URL for the CLI (`--url`). Test servers have no password.
    pub fn url(&self) -> String {
        self.target.to_url_with_password()
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.target).await.expect("connect test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop from a separate thread with its own runtime: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                // Forget this database's pg_stat_statements entries (only
                // its own), so dropped test databases do not fill the
                // server's table and evict other tests' statements.
                if let Ok(c) = connect(&server.with_dbname(&name)).await {
                    let _ = c
                        .batch_execute(
                            "SELECT pg_stat_statements_reset(0, \
                             (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
                        )
                        .await;
                }
                if let Ok(c) = connect(&server.with_dbname("postgres")).await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The dbload binary, with a clean environment for connection variables.
pub fn dbload() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("dbload").unwrap();
    for v in dbload::db::target::ENV_VARS {
        c.env_remove(v);
    }
    c
}

/// A fresh dbload home under /tmp, searchable by the postgres user (dbload
/// never changes the permissions of a directory it did not create).
pub fn temp_home() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix("dbload-home-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// The small skewed vet dataset the stress, capacity and regress tests use
/// (not a dbload dataset: no `dbload_datasets` row).
pub const DATASET: &str = include_str!("../../fixtures/stress_dataset.sql");

/// `db` with the schema and [`DATASET`].
pub async fn with_dataset(db: TestDb) -> TestDb {
    let mut c = db.client().await;
    dbload::db::migrate::apply(&mut c, dbload::db::migrate::MIGRATIONS)
        .await
        .unwrap();
    c.batch_execute(DATASET).await.unwrap();
    db
}

/// A fresh test database with the schema and [`DATASET`].
pub async fn seeded() -> TestDb {
    with_dataset(TestDb::new().await).await
}

/// What a finished command wrote on stderr.
pub fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// A results file as written by `--out`.
pub fn read_results(path: &std::path::Path) -> dbload::stress::StressResults {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// An open-model run at `qps` (uniform arrivals) for `secs` after 300 ms
/// of warm-up, on `pool` connections.
pub fn open_cfg(qps: f64, secs: f64, pool: usize) -> dbload::stress::StressConfig {
    use dbload::stress::{Arrival, Settings, StressConfig};
    StressConfig::from_settings(&Settings {
        qps: Some(qps),
        arrival: Some(Arrival::Uniform),
        pool: Some(pool),
        duration: Some(std::time::Duration::from_secs_f64(secs)),
        warmup: Some(std::time::Duration::from_millis(300)),
        drain_timeout: Some(std::time::Duration::from_secs(5)),
        seed: Some(7),
        ..Settings::default()
    })
    .unwrap()
}

/// A closed-model run of `clients` on `pool` connections for `secs`, no
/// warm-up.
pub fn closed_cfg(clients: usize, pool: usize, secs: f64) -> dbload::stress::StressConfig {
    use dbload::stress::{Settings, StressConfig};
    StressConfig::from_settings(&Settings {
        clients: Some(clients),
        pool: Some(pool),
        duration: Some(std::time::Duration::from_secs_f64(secs)),
        warmup: Some(std::time::Duration::ZERO),
        drain_timeout: Some(std::time::Duration::from_secs(5)),
        seed: Some(11),
        ..Settings::default()
    })
    .unwrap()
}

/// Run a workload text on `target` through the engine's one entry (a
/// session) on `threads` driver threads (None: the default), without
/// thresholds; `stop` ends it early.
pub async fn run_workload(
    target: &Target,
    text: &str,
    cfg: &dbload::stress::StressConfig,
    threads: Option<usize>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> dbload::stress::StressResults {
    let w = dbload::workload::parse("test.sql", text).unwrap();
    let session = dbload::stress::Session::open(target, w)
        .await
        .unwrap()
        .with_threads(threads)
        .unwrap();
    session
        .run(cfg, &[], dbload::stress::Hooks::stop_on(stop))
        .await
        .unwrap()
}
