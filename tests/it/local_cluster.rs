//! Lifecycle of a managed cluster in its own DBLOAD_HOME (so it never
//! disturbs the shared test cluster): concurrent start, status, url, stop,
//! restart on a taken port, destroy.

use std::net::TcpListener;

use dbload::db::connect;
use dbload::db::local::LocalCluster;

use crate::common::{dbload, temp_home};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_with_concurrent_start() {
    let home = temp_home();
    let path = home.path().to_path_buf();
    // Three concurrent starters on their own threads and runtimes.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(async move {
                        LocalCluster::new(p)
                            .unwrap()
                            .start()
                            .await
                            .map(|s| (s.target, s.started_now))
                    })
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.1).count(),
        1,
        "exactly one caller starts it"
    );
    assert!(
        results.windows(2).all(|w| w[0].0 == w[1].0),
        "all callers get the same target"
    );

    let cluster = LocalCluster::new(path.clone()).unwrap();
    let target = cluster.target().unwrap();
    let c = connect(&target).await.unwrap();
    let libs: String = c
        .query_one("SHOW shared_preload_libraries", &[])
        .await
        .unwrap()
        .get(0);
    assert!(libs.contains("pg_stat_statements"), "{libs}");
    let st = cluster.status().await.unwrap();
    assert!(st.running && st.pg_stat_statements && st.data_bytes > 0);
    drop(c);

    // CLI against the same home.
    let env_home = path.to_str().unwrap();
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "status"])
        .assert()
        .success()
        .stdout(predicates::str::contains("running"))
        .stdout(predicates::str::contains("pg_stat_statements: active"));
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "url"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            ":{}/dbload",
            target.port.unwrap()
        )));
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "stop"])
        .assert()
        .success()
        .stdout(predicates::str::contains("stopped"));
    assert!(!cluster.status().await.unwrap().running);

    // The old port is taken by someone else: start picks another.
    let old_port = target.port.unwrap();
    let squatter = TcpListener::bind(("127.0.0.1", old_port)).unwrap();
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "start"])
        .assert()
        .success()
        .stdout(predicates::str::contains("started"));
    let new_target = cluster.target().unwrap();
    assert_ne!(new_target.port, Some(old_port));
    connect(&new_target).await.unwrap();
    drop(squatter);
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "start"])
        .assert()
        .success()
        .stdout(predicates::str::contains("already running"));

    // Destroy asks; without a terminal and without --yes it refuses.
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "destroy"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--yes"));
    assert!(cluster.dir().exists());
    dbload()
        .env("DBLOAD_HOME", env_home)
        .args(["local", "destroy", "--yes"])
        .assert()
        .success();
    assert!(!cluster.dir().exists());
}

#[test]
fn missing_binaries_say_what_to_install() {
    let home = temp_home();
    dbload()
        .env("DBLOAD_HOME", home.path())
        .env("DBLOAD_PG_BINDIR", "/nonexistent/bin")
        .args(["local", "start"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no PostgreSQL server binaries"))
        .stderr(predicates::str::contains("apt-get install postgresql"));
}

#[tokio::test]
async fn commands_without_target_use_and_start_the_local_cluster() {
    let home = temp_home();
    let env_home = home.path().to_str().unwrap();
    dbload()
        .env("DBLOAD_HOME", env_home)
        .arg("migrate")
        .assert()
        .success()
        .stderr(predicates::str::contains("started the local cluster"))
        .stdout(predicates::str::contains("applied 0001_vetclinic.sql"));
    // Second time: already running, so no notice.
    let out = dbload()
        .env("DBLOAD_HOME", env_home)
        .arg("migrate")
        .assert()
        .success();
    assert!(out.get_output().stderr.is_empty());
    let cluster = LocalCluster::new(home.path().to_path_buf()).unwrap();
    let c = connect(&cluster.target().unwrap()).await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM dbload_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, dbload::db::migrate::MIGRATIONS.len());
    drop(c);
    cluster.destroy().await.unwrap();
}

#[test]
fn an_unsearchable_existing_home_is_refused_not_chmodded() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not applicable: only root runs the server as another user");
        return;
    }
    let home = tempfile::Builder::new()
        .prefix("dbload-home-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dbload()
        .env("DBLOAD_HOME", home.path())
        .args(["local", "start"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot reach"));
    let mode = std::fs::metadata(home.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the user's directory keeps its permissions");
}

/// `local start` right after a `kill -9` of the postmaster starts it again
/// (a killed postmaster stays a zombie until reaped, and `pg_ctl status`
/// took it for a running server: "already running", exit 0, nothing up).
#[tokio::test]
async fn start_right_after_the_postmaster_is_killed_starts_it_again() {
    let home = temp_home();
    let env_home = home.path().to_str().unwrap();
    let cluster = LocalCluster::new(home.path().to_path_buf()).unwrap();
    cluster.start().await.unwrap();
    for round in 0..2 {
        let pid_file = cluster.data_dir().join("postmaster.pid");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let a = dbload()
            .env("DBLOAD_HOME", env_home)
            .args(["local", "start"])
            .assert()
            .success();
        let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(
            out.contains("local cluster started"),
            "round {round}: {out}{err}"
        );
        // The warning says what happened, without colour codes: stderr is
        // not a terminal here.
        assert!(
            err.contains("WARN") && err.contains("had been killed") && !err.contains('\x1b'),
            "{err:?}"
        );
        let c = connect(&cluster.target().unwrap()).await.unwrap();
        c.query_one("SELECT 1", &[]).await.unwrap();
    }
    cluster.destroy().await.unwrap();
}
