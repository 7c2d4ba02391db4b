//! The embedded default: a managed, throw-away PostgreSQL cluster created with
//! the system's PostgreSQL binaries.
//!
//! Layout under the dbload home (see [`default_home`]):
//!
//! ```text
//! <home>/pg<major>.lock      exclusive lock held while starting/stopping/destroying
//! <home>/pg<major>/data/     the data directory (dbload.conf holds our settings)
//! <home>/pg<major>/run/      the Unix socket directory
//! <home>/pg<major>/postgres.log
//! <home>/pg<major>/state.json   port and binaries of the last start
//! ```
//!
//! The cluster listens on 127.0.0.1 and its socket only (it is a local
//! benchmarking cluster, not a server to expose); its superuser `dbload` is
//! trusted there, other roles authenticate with passwords (scram-sha-256). When dbload runs as
//! root, every server program runs as the `postgres` system user.

mod binaries;
mod liveness;
pub mod settings;

use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

pub use binaries::PgBins;

use super::connect;
use super::target::Target;

/// Superuser and default database of the managed cluster.
pub const LOCAL_USER: &str = "dbload";
pub const LOCAL_DB: &str = "dbload";

/// Client authentication: the dbload superuser is trusted on the socket and
/// loopback; any other role needs its password (so applications and tests
/// can use real password authentication).
const HBA: &str = "\
# Written by dbload.
local   all  dbload                      trust
host    all  dbload     127.0.0.1/32     trust
local   all  all                         scram-sha-256
host    all  all        127.0.0.1/32     scram-sha-256
";

/// What can go wrong managing the local cluster.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "no PostgreSQL server binaries found (looked at DBLOAD_PG_BINDIR, initdb on PATH, pg_config --bindir, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin).\n  \
         Install them, e.g. on Debian/Ubuntu: apt-get install postgresql  (optionally also postgresql-<major>-hypopg),\n  \
         on Fedora/RHEL: dnf install postgresql-server postgresql-contrib, on macOS: brew install postgresql;\n  \
         or point DBLOAD_PG_BINDIR at the directory holding initdb, pg_ctl and postgres; or pass --url to use an existing server"
    )]
    NoBinaries,
    #[error(
        "dbload runs as root, and PostgreSQL refuses to run as root: create a 'postgres' system user (e.g. apt-get install postgresql creates it) or run dbload as an ordinary user"
    )]
    NoPostgresUser,
    #[error(
        "the 'postgres' user cannot reach {path}: it or a parent directory is not searchable by others; dbload does not change the permissions of directories it did not create: run `chmod o+x` on them, or set DBLOAD_HOME to a new directory (e.g. /var/lib/dbload)"
    )]
    Unreachable { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("no local cluster at {0} (run `dbload local start`)")]
    NotCreated(PathBuf),
    #[error("the local cluster at {0} is not running (run `dbload local start`)")]
    NotRunning(PathBuf),
    #[error(transparent)]
    Connect(#[from] connect::ConnectError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The dbload home: `$DBLOAD_HOME`, else `/var/lib/dbload` for root (the
/// postgres user must be able to reach it), else
/// `$XDG_DATA_HOME/dbload` or `~/.local/share/dbload`.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os("DBLOAD_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/dbload");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(x).join("dbload");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/dbload")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    port: u16,
    bindir: PathBuf,
    version: String,
}

/// How `start` went.
#[derive(Debug, Clone)]
pub struct Started {
    pub target: Target,
    /// False when the cluster was already running.
    pub started_now: bool,
    /// True when the data directory was created by this call.
    pub created_now: bool,
}

/// What `status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub dir: PathBuf,
    pub created: bool,
    pub running: bool,
    pub version: String,
    pub url: Option<String>,
    pub socket_dir: PathBuf,
    pub data_bytes: u64,
    pub pg_stat_statements: bool,
    pub hypopg: bool,
    pub hypopg_installed: bool,
    pub log: PathBuf,
}

/// A managed local cluster under one dbload home.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    home: PathBuf,
    bins: PgBins,
    /// The system user to run server programs as (when dbload is root).
    run_as: Option<nix::unistd::User>,
}

impl LocalCluster {
    /// A cluster under `home`, using the system's PostgreSQL binaries.
    pub fn new(home: PathBuf) -> Result<Self, LocalError> {
        let bins = PgBins::find()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            Some(
                nix::unistd::User::from_name("postgres")
                    .ok()
                    .flatten()
                    .ok_or(LocalError::NoPostgresUser)?,
            )
        } else {
            None
        };
        Ok(Self { home, bins, run_as })
    }

    pub fn dir(&self) -> PathBuf {
        self.home.join(format!("pg{}", self.bins.major))
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.dir().join("run")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("postgres.log")
    }
    fn state_path(&self) -> PathBuf {
        self.dir().join("state.json")
    }
    pub fn bins(&self) -> &PgBins {
        &self.bins
    }

    fn lock(&self) -> Result<File, LocalError> {
        fs::create_dir_all(&self.home).map_err(io_err(&self.home))?;
        let path = self.home.join(format!("pg{}.lock", self.bins.major));
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.lock().map_err(io_err(&path))?;
        Ok(f)
    }

    fn is_created(&self) -> bool {
        self.data_dir().join("PG_VERSION").exists()
    }

    fn read_state(&self) -> Option<State> {
        let s = fs::read_to_string(self.state_path()).ok()?;
        serde_json::from_str(&s).ok()
    }

    /// A command for a server program, run as the postgres user if needed.
    fn server_cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(self.bins.path(prog));
        c.stdin(Stdio::null()).current_dir(self.dir());
        if let Some(u) = &self.run_as {
            c.uid(u.uid.as_raw()).gid(u.gid.as_raw());
            c.env("HOME", &u.dir);
        }
        c
    }

    async fn run(&self, what: &str, mut c: Command) -> Result<String, LocalError> {
        let out = c.output().await.map_err(|e| LocalError::Command {
            what: what.into(),
            detail: e.to_string(),
        })?;
        if !out.status.success() {
            let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if detail.is_empty() {
                detail = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            return Err(LocalError::Command {
                what: what.into(),
                detail,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Create a directory we own (as the postgres user when root).
    fn make_dir(&self, p: &Path, mode: u32) -> Result<(), LocalError> {
        fs::create_dir_all(p).map_err(io_err(p))?;
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(io_err(p))?;
        if let Some(u) = &self.run_as {
            nix::unistd::chown(p, Some(u.uid), Some(u.gid)).map_err(|e| LocalError::Io {
                path: p.to_path_buf(),
                source: e.into(),
            })?;
        }
        Ok(())
    }

    /// When running as root, check that the postgres user can reach the
    /// home directory through its parents.
    fn check_reachable(&self) -> Result<(), LocalError> {
        let Some(u) = &self.run_as else { return Ok(()) };
        let home = fs::canonicalize(&self.home).map_err(io_err(&self.home))?;
        for dir in home.ancestors() {
            let md = fs::metadata(dir).map_err(io_err(dir))?;
            let others_x = md.mode() & 0o001 != 0;
            let owner_x = md.uid() == u.uid.as_raw() && md.mode() & 0o100 != 0;
            if !others_x && !owner_x {
                return Err(LocalError::Unreachable { path: home });
            }
        }
        Ok(())
    }

    /// Start the cluster, creating it first if needed. Idempotent and safe
    /// against concurrent callers (they serialize on a lock file).
    pub async fn start(&self) -> Result<Started, LocalError> {
        let home_existed = self.home.exists();
        let _lock = self.lock()?;
        // A home dbload creates is made searchable for the postgres user
        // (when root); an existing directory's permissions are never changed.
        if self.run_as.is_some() && !home_existed {
            fs::set_permissions(&self.home, fs::Permissions::from_mode(0o755))
                .map_err(io_err(&self.home))?;
        }
        self.check_reachable()?;
        self.make_dir(&self.dir(), 0o755)?;
        self.make_dir(&self.socket_dir(), 0o755)?;
        let created_now = !self.is_created();
        if created_now {
            self.initdb().await?;
        }
        if self.is_running().await {
            let target = self.target()?;
            if self.answers_while_running(&target).await? {
                return Ok(Started {
                    target,
                    started_now: false,
                    created_now,
                });
            }
        }
        if let Some(pid) = liveness::dead_postmaster(&self.data_dir()) {
            // Killed, and maybe not reaped yet: its lock files would make
            // the new postmaster refuse to start ("is another postmaster
            // running?").
            liveness::remove_locks_of(pid, &self.data_dir(), &self.socket_dir())
                .map_err(io_err(&self.data_dir()))?;
            tracing::warn!(
                "the local cluster's postmaster (pid {pid}) had been killed; removed its lock files, starting it again"
            );
        }
        let preferred = self.read_state().map(|s| s.port);
        let mut last_err = None;
        for attempt in 0..3 {
            let port = choose_port(if attempt == 0 { preferred } else { None });
            self.write_settings(port)?;
            let mut c = self.server_cmd("pg_ctl");
            c.arg("start")
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_path())
                .args(["-w", "-t", "120", "-s"]);
            match self.run("pg_ctl start", c).await {
                Ok(_) => {
                    let state = State {
                        port,
                        bindir: self.bins.bindir.clone(),
                        version: self.bins.version.clone(),
                    };
                    let path = self.state_path();
                    fs::write(&path, serde_json::to_vec_pretty(&state).unwrap_or_default())
                        .map_err(io_err(&path))?;
                    last_err = None;
                    break;
                }
                Err(e) => {
                    let e = match e {
                        LocalError::Command { detail, .. } => detail,
                        other => other.to_string(),
                    };
                    let log = self.log_tail(20);
                    let port_clash =
                        log.contains("could not bind") || log.contains("already in use");
                    // A killed postmaster's backends may still be exiting.
                    let old_backends = log.contains("is still in use");
                    if old_backends {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    last_err = Some(LocalError::Command {
                        what: "pg_ctl start".into(),
                        detail: format!(
                            "{e}\n--- last lines of {} ---\n{log}",
                            self.log_path().display()
                        ),
                    });
                    if !port_clash && !old_backends {
                        break;
                    }
                }
            }
        }
        if let Some(e) = last_err {
            return Err(e);
        }
        let target = self.target()?;
        self.bootstrap(&target).await?;
        Ok(Started {
            target,
            started_now: true,
            created_now,
        })
    }

    async fn initdb(&self) -> Result<(), LocalError> {
        let data = self.data_dir();
        if data.exists() {
            // A half-made data directory from an interrupted initdb: ours to clear.
            fs::remove_dir_all(&data).map_err(io_err(&data))?;
        }
        let mut c = self.server_cmd("initdb");
        c.arg("-D").arg(&data).args([
            "-U",
            LOCAL_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        self.run("initdb", c).await?;
        let conf = data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).map_err(io_err(&conf))?;
        text.push_str("\ninclude_if_exists = 'dbload.conf'\n");
        fs::write(&conf, text).map_err(io_err(&conf))?;
        let hba = data.join("pg_hba.conf");
        fs::write(&hba, HBA).map_err(io_err(&hba))?;
        Ok(())
    }

    fn preload(&self) -> Vec<&'static str> {
        let mut v = vec!["pg_stat_statements"];
        if self.bins.has_library("hypopg") {
            v.push("hypopg");
        }
        v
    }

    fn write_settings(&self, port: u16) -> Result<(), LocalError> {
        let text = settings::render(
            settings::Machine::detect(),
            port,
            &self.socket_dir(),
            &self.preload(),
        );
        let path = self.data_dir().join("dbload.conf");
        fs::write(&path, text).map_err(io_err(&path))?;
        if let Some(u) = &self.run_as {
            let _ = nix::unistd::chown(&path, Some(u.uid), Some(u.gid));
        }
        Ok(())
    }

    /// Create the default database and the extensions (in template1 too, so
    /// every database created later has them).
    async fn bootstrap(&self, target: &Target) -> Result<(), LocalError> {
        let admin = connect::connect(&target.with_dbname("template1")).await?;
        let sql_err = |e: tokio_postgres::Error| LocalError::Command {
            what: "cluster bootstrap".into(),
            detail: e.to_string(),
        };
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&LOCAL_DB])
            .await
            .map_err(sql_err)?
            .is_some();
        let mut exts = vec!["pg_stat_statements"];
        if self.bins.has_library("hypopg") {
            exts.push("hypopg");
        }
        for e in &exts {
            admin
                .batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {e}"))
                .await
                .map_err(sql_err)?;
        }
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE {LOCAL_DB}"))
                .await
                .map_err(sql_err)?;
        }
        let db = connect::connect(target).await?;
        for e in &exts {
            db.batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {e}"))
                .await
                .map_err(sql_err)?;
        }
        Ok(())
    }

    /// A postmaster is running on the data directory: `pg_ctl status`
    /// says so and it is not a killed postmaster nobody has reaped yet.
    async fn is_running(&self) -> bool {
        if !self.is_created() {
            return false;
        }
        let mut c = self.server_cmd("pg_ctl");
        c.arg("status").arg("-D").arg(self.data_dir());
        matches!(c.output().await, Ok(o) if o.status.success())
            && liveness::dead_postmaster(&self.data_dir()).is_none()
    }

    /// Wait (up to a minute, e.g. through crash recovery) until the running
    /// server answers on its socket (`pg_isready`: accepting, or rejecting
    /// while it starts up): true then, false when the postmaster turns out
    /// to have exited (just killed), an error naming the log when it stays
    /// up without answering.
    async fn answers_while_running(&self, target: &Target) -> Result<bool, LocalError> {
        let port = target.port.unwrap_or(5432).to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let mut c = Command::new(self.bins.path("pg_isready"));
            c.stdin(Stdio::null())
                .arg("-q")
                .arg("-h")
                .arg(self.socket_dir())
                .args(["-p", &port, "-t", "2", "-U", LOCAL_USER, "-d", LOCAL_DB]);
            // 0: accepting connections, 1: rejecting them (starting up).
            // Without pg_isready (a trimmed bindir), trust pg_ctl as before.
            if matches!(c.status().await.map(|s| s.code()), Ok(Some(0 | 1)) | Err(_)) {
                return Ok(true);
            }
            if !self.is_running().await {
                return Ok(false);
            }
            if std::time::Instant::now() >= deadline {
                return Err(LocalError::Command {
                    what: "local start".into(),
                    detail: format!(
                        "a postmaster is running on {} but does not answer on port {port}\n--- last lines of {} ---\n{}",
                        self.data_dir().display(),
                        self.log_path().display(),
                        self.log_tail(20)
                    ),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Connection settings of the cluster (from its last start).
    pub fn target(&self) -> Result<Target, LocalError> {
        let state = self
            .read_state()
            .ok_or_else(|| LocalError::NotCreated(self.dir()))?;
        Ok(Target {
            host: Some("127.0.0.1".into()),
            port: Some(state.port),
            user: Some(LOCAL_USER.into()),
            dbname: Some(LOCAL_DB.into()),
            sslmode: super::target::SslMode::Disable,
            ..Default::default()
        })
    }

    /// Stop gracefully (fast shutdown: open transactions roll back, a
    /// shutdown checkpoint is written). Returns false when not running.
    pub async fn stop(&self) -> Result<bool, LocalError> {
        if !self.is_created() {
            return Err(LocalError::NotCreated(self.dir()));
        }
        let _lock = self.lock()?;
        self.stop_locked().await
    }

    /// Stop, with the lock already held.
    async fn stop_locked(&self) -> Result<bool, LocalError> {
        if !self.is_running().await {
            return Ok(false);
        }
        let mut c = self.server_cmd("pg_ctl");
        c.arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "120", "-s"]);
        self.run("pg_ctl stop", c).await?;
        Ok(true)
    }

    /// Stop and delete the cluster and all its data.
    pub async fn destroy(&self) -> Result<bool, LocalError> {
        let dir = self.dir();
        if !dir.exists() {
            return Ok(false);
        }
        // One lock across stop and delete: a concurrent start cannot slip in.
        let _lock = self.lock()?;
        if self.is_created() {
            self.stop_locked().await?;
        }
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(true)
    }

    /// Version, address, size and extension state.
    pub async fn status(&self) -> Result<Status, LocalError> {
        let created = self.is_created();
        let running = self.is_running().await;
        let mut st = Status {
            dir: self.dir(),
            created,
            running,
            version: self.bins.version.clone(),
            url: None,
            socket_dir: self.socket_dir(),
            data_bytes: dir_size(&self.data_dir()),
            pg_stat_statements: false,
            hypopg: false,
            hypopg_installed: self.bins.has_library("hypopg"),
            log: self.log_path(),
        };
        if running {
            let target = self.target()?;
            st.url = Some(target.redacted());
            let c = connect::connect(&target).await?;
            if let Ok(rows) = c.query("SELECT extname FROM pg_extension", &[]).await {
                for r in rows {
                    let name: String = r.get(0);
                    st.pg_stat_statements |= name == "pg_stat_statements";
                    st.hypopg |= name == "hypopg";
                }
            }
            if let Ok(r) = c.query_one("SELECT version()", &[]).await {
                st.version = r.get(0);
            }
            if let Ok(r) = c.query_one("SHOW shared_preload_libraries", &[]).await {
                let libs: String = r.get(0);
                st.pg_stat_statements &= libs.contains("pg_stat_statements");
            }
        }
        Ok(st)
    }

    /// The last `n` lines of the server log (read from its last 64 KiB:
    /// the log of a long-lived cluster can be large).
    fn log_tail(&self, n: usize) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let len = f.metadata().map_or(0, |m| m.len());
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
            let _ = f.take(64 * 1024).read_to_end(&mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// The preferred port if it is free, else the first free one from 54320 up,
/// else one the OS picks.
fn choose_port(preferred: Option<u16>) -> u16 {
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    if let Some(p) = preferred.filter(|&p| free(p)) {
        return p;
    }
    // Start at a pseudo-random offset so parallel clusters rarely race.
    let offset = (std::process::id() % 200) as u16;
    for i in 0..400u16 {
        let p = 54320 + (offset + i) % 400;
        if free(p) {
            return p;
        }
    }
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54320)
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
