//! `dbload stress` and `dbload workload check` against a real server: the
//! rate is held and the mix follows the weights, the JSON round-trips, the
//! closed model runs, variables pass between statements, sampled parameters
//! come from the database, bad files and unpreparable statements are
//! reported before the run, a server stall shows up in latency measured
//! from the intended start (no coordinated omission), terminated backends
//! are survived, thresholds and invalid runs set the exit code.

use std::time::Duration;

use dbload::stress::results::{StressResults, decode_hist};
use dbload::stress::{Load, StressConfig};
use dbload::workload;

use crate::common::{
    TestDb, closed_cfg, dbload, open_cfg, read_results, run_workload, seeded, stderr_of,
};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Run a workload text through the library (for tests that act on the
/// server while the run goes on), on one driver thread.
async fn run_lib(db: &TestDb, text: &str, cfg: StressConfig) -> StressResults {
    run_lib_threads(db, text, cfg, 1).await
}

/// [`run_lib`] on `threads` driver threads.
async fn run_lib_threads(
    db: &TestDb,
    text: &str,
    cfg: StressConfig,
    threads: usize,
) -> StressResults {
    run_on(&db.target, text, cfg, threads).await
}

/// Run a workload text on `target` (owned arguments: usable from a
/// spawned task).
async fn run_on(
    target: &dbload::db::Target,
    text: &str,
    cfg: StressConfig,
    threads: usize,
) -> StressResults {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    run_workload(target, text, &cfg, Some(threads), rx).await
}

fn open(qps: f64, secs: f64, pool: usize) -> StressConfig {
    open_cfg(qps, secs, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_workload_holds_the_rate_follows_weights_and_writes_json() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let url = db.url();
    let out2 = out.clone();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--qps", "250", "--duration", "4s"])
            // The fixture is not a dbload dataset (no dbload_datasets row).
            .arg("--force")
            .args([
                "--warmup", "1s", "--pool", "4", "--seed", "1", "--format", "json",
            ])
            .args(["--out", out2.to_str().unwrap()])
            .args(["--threshold", "error_rate<1%", "--threshold", "p99<5s"])
            .assert()
    })
    .await
    .unwrap();
    let err = stderr_of(&a);
    assert_eq!(a.get_output().status.code(), Some(0), "{err}");
    // stdout is the same JSON as the file.
    let stdout: StressResults = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let r = read_results(&out);
    assert_eq!(stdout, r);
    assert_eq!(r.schema, "dbload.stress/1");
    assert_eq!(r.workload.name, "vetclinic");
    assert!(r.server.version.contains("PostgreSQL"));
    assert!(r.server.settings.contains_key("shared_buffers"));
    assert!(r.dataset.is_none(), "no dbload_datasets table here");
    assert!(r.verdict.valid, "{:?}", r.verdict);
    assert_eq!(r.scenarios.len(), 12);

    // Rate: every scheduled arrival started, and the achieved rate is the
    // target within the Poisson schedule's noise.
    let t = &r.totals;
    assert_eq!(t.dropped, 0);
    assert!(t.started as f64 >= 0.99 * t.scheduled as f64, "{t:?}");
    let achieved = (t.calls + t.errors) as f64 / r.measured_secs;
    assert!(
        (achieved - 250.0).abs() / 250.0 < 0.08,
        "achieved {achieved}"
    );
    assert_eq!(
        t.errors,
        0,
        "{:?}",
        r.scenarios
            .iter()
            .map(|s| (&s.name, &s.errors_by_class))
            .collect::<Vec<_>>()
    );
    assert!(r.intervals.len() >= 4, "{}", r.intervals.len());
    assert!(r.intervals.iter().all(|i| i.scenarios.len() == 12));

    // Weights: each scenario's share within 4 standard errors of its weight.
    let n = (t.calls + t.errors) as f64;
    let total_w: f64 = r.scenarios.iter().map(|s| s.weight).sum();
    for s in &r.scenarios {
        let w = s.weight / total_w;
        let se = (w * (1.0 - w) / n).sqrt();
        assert!(
            (s.share - w).abs() < 4.0 * se + 0.005,
            "{}: share {} weight {w}",
            s.name,
            s.share
        );
    }
    // Histograms decode and agree with the summary.
    let h = decode_hist(&t.histograms.total).unwrap();
    assert_eq!(h.len(), t.latency.total.count);
    // Server-side view is there (pg_stat_statements in every test database).
    let top = r.server_statements.as_ref().expect("pg_stat_statements");
    assert!(!top.is_empty());
    assert_eq!(r.verdict.thresholds.len(), 2);
    assert!(r.verdict.thresholds.iter().all(|t| t.passed));
    // The writes happened.
    let c = db.client().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM user_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);
}

const BIND_WORKLOAD: &str = "\
-- @sample owners = SELECT id, email FROM users WHERE role = 'owner'

-- @scenario pass_variables weight=1 transaction
-- @param c = clinic()
-- @param p = pet_of(c)
-- @param uid, mail = pick(owners)
-- @bind owner = owner_id, pet_clinic = clinic_id
SELECT owner_id, clinic_id FROM pets WHERE id = :p;
INSERT INTO bind_log (pet_id, owner_id, pet_clinic, drawn_clinic, sampled_user, sampled_email)
VALUES (:p, :owner, :pet_clinic, :c, :uid, :'mail');
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_passes_variables_and_samples_from_the_database() {
    let db = seeded().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE bind_log (pet_id bigint, owner_id bigint, pet_clinic bigint, \
         drawn_clinic bigint, sampled_user bigint, sampled_email text)",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wl = write(&dir, "bind.sql", BIND_WORKLOAD);
    let out = dir.path().join("r.json");
    let (url, out2) = (db.url(), out.clone());
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args([
                "-d",
                &url,
                "stress",
                "--clients",
                "2",
                "--duration",
                "2s",
                "--warmup",
                "0s",
            ])
            .args(["--workload", &wl, "--out", out2.to_str().unwrap()])
            .assert()
    })
    .await
    .unwrap();
    assert_eq!(a.get_output().status.code(), Some(0), "{}", stderr_of(&a));
    let table = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        table.contains("pass_variables") && table.contains("closed model, 2 clients"),
        "{table}"
    );
    let r = read_results(&out);
    assert!(matches!(r.config.load, Load::Closed { clients: 2, .. }));
    assert!(r.totals.calls > 50, "{:?}", r.totals);
    assert_eq!(r.totals.errors, 0);

    let row = c
        .query_one(
            "SELECT count(*), \
               count(*) FILTER (WHERE l.owner_id = p.owner_id AND l.pet_clinic = p.clinic_id \
                                  AND l.drawn_clinic = p.clinic_id), \
               count(*) FILTER (WHERE u.email = l.sampled_email AND u.role = 'owner'), \
               count(DISTINCT l.drawn_clinic) \
             FROM bind_log l JOIN pets p ON p.id = l.pet_id LEFT JOIN users u ON u.id = l.sampled_user",
            &[],
        )
        .await
        .unwrap();
    let (n, consistent, sampled, clinics): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(n as u64, r.totals.calls);
    assert_eq!(
        consistent, n,
        "bound columns and pet_of(clinic) agree with the data"
    );
    assert_eq!(sampled, n, "pick() draws whole rows of the sample");
    assert!(clinics > 5, "clinic() spreads over clinics: {clinics}");
    // The data's skew: clinic 1 (40 owners) drawn more often than clinic 20 (2).
    let by: Vec<(i64, i64)> = c
        .query("SELECT drawn_clinic, count(*) FROM bind_log WHERE drawn_clinic IN (1, 20) GROUP BY 1 ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        by[0].0 == 1 && (by.len() == 1 || by[0].1 > 4 * by[1].1),
        "{by:?}"
    );
}

#[test]
fn bad_workload_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let wl = write(
        &dir,
        "bad.sql",
        "-- @scenario a weight=0\n-- @param x = rnd(1, 2)\nSELECT :x, :y;\n",
    );
    let a = dbload()
        .args(["workload", "check", "--offline", &wl])
        .assert()
        .code(2);
    let err = stderr_of(&a);
    assert!(err.contains("bad.sql:1: bad weight \"0\""), "{err}");
    assert!(err.contains("bad.sql:2: unknown generator rnd()"), "{err}");
    assert!(
        err.contains("bad.sql:3: undefined variable :y in scenario a"),
        "{err}"
    );
    // The shipped default workload is valid.
    dbload()
        .args(["workload", "check", "--offline", "queries/vetclinic.sql"])
        .assert()
        .success();
    // A missing file is blamed on the argument that named it.
    let a = dbload()
        .args(["workload", "check", "--offline", "no/such.sql"])
        .assert()
        .code(2);
    let err = stderr_of(&a);
    assert!(
        err.contains("workload file no/such.sql:") && !err.contains("--workload"),
        "{err}"
    );
    let a = dbload()
        .args(["stress", "--workload", "no/such.sql", "--qps", "1"])
        .assert()
        .code(2);
    assert!(stderr_of(&a).contains("--workload no/such.sql:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpreparable_statement_is_reported_by_scenario_before_the_run() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = write(
        &dir,
        "ghost.sql",
        "-- @scenario fine weight=5\nSELECT 1;\n\n-- @scenario ghost weight=1\n-- @param c = int(1, 3)\nSELECT * FROM no_such_table\n WHERE id = :c;\n",
    );
    let url = db.url();
    let started = std::time::Instant::now();
    let (check, run) = tokio::task::spawn_blocking(move || {
        let check = dbload()
            .args(["-d", &url, "workload", "check", &wl])
            .assert();
        let run = dbload()
            .args([
                "-d",
                &url,
                "stress",
                "--workload",
                &wl,
                "--qps",
                "10",
                "--duration",
                "60s",
            ])
            .assert();
        (check, run)
    })
    .await
    .unwrap();
    for a in [&check, &run] {
        assert_eq!(a.get_output().status.code(), Some(2));
        let err = stderr_of(a);
        assert!(
            err.contains("scenario ghost (")
                && err.contains("ghost.sql:6")
                && err.contains("relation \"no_such_table\" does not exist"),
            "{err}"
        );
        assert!(!err.contains("scenario fine"), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "reported before running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_shows_in_latency_from_the_intended_start() {
    // Coordinated-omission check: 100 arrivals/s; another session holds an
    // ACCESS EXCLUSIVE lock on the table the workload reads for 1 s. Every
    // arrival during the stall must be measured from its intended start.
    let db = seeded().await;
    let locker = db.client().await;
    let wl = "-- @scenario count_pets weight=1\n-- @param c = int(1, 20)\nSELECT count(*) FROM pets WHERE clinic_id = :c;\n";
    let cfg = open(100.0, 4.0, 4);
    let lock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1800)).await;
        locker
            .batch_execute(
                "BEGIN; LOCK TABLE pets IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT;",
            )
            .await
            .unwrap();
    });
    let r = run_lib(&db, wl, cfg).await;
    lock.await.unwrap();
    let t = &r.totals;
    eprintln!(
        "stall: calls {} p50 {}µs p90 {}µs p99 {}µs max {}µs; pool wait p99 {}µs max {}µs; exec p99 {}µs max {}µs; lag p99 {}µs",
        t.calls,
        t.latency.total.p50_us,
        t.latency.total.p90_us,
        t.latency.total.p99_us,
        t.latency.total.max_us,
        t.latency.pool_wait.p99_us,
        t.latency.pool_wait.max_us,
        t.latency.exec.p99_us,
        t.latency.exec.max_us,
        t.latency.lag.p99_us
    );
    assert_eq!(t.dropped, 0);
    assert_eq!(t.errors, 0);
    assert!(t.started as f64 >= 0.99 * t.scheduled as f64);
    // The stall is in the latency: max ≈ 1 s and p99 well above service time.
    assert!(t.latency.total.max_us >= 850_000, "{:?}", t.latency.total);
    assert!(t.latency.total.p99_us >= 500_000, "{:?}", t.latency.total);
    // Not just the few requests that were executing: about one second's
    // worth of arrivals (~100) waited behind the lock.
    let h = decode_hist(&t.histograms.total).unwrap();
    let slow = h.count_between(100_000, u64::MAX);
    assert!(slow >= 60, "only {slow} samples ≥ 100 ms");
    // And the parts say where: waiting for a connection (all 4 were stuck).
    assert!(
        t.latency.pool_wait.max_us >= 500_000,
        "{:?}",
        t.latency.pool_wait
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_are_counted_and_the_run_recovers() {
    let db = seeded().await;
    let killer = db.client().await;
    let wl = "-- @scenario slowish weight=1\nSELECT pg_sleep(0.03);\n";
    let cfg = open(100.0, 4.0, 6);
    let name = db.name.clone();
    let kill = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        killer
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await
            .unwrap()
            .len()
    });
    let r = run_lib(&db, wl, cfg).await;
    let killed = kill.await.unwrap();
    assert!(killed > 0);
    let t = &r.totals;
    assert!(t.errors > 0, "terminated backends show as errors: {t:?}");
    let classes = &r.scenarios[0].errors_by_class;
    assert!(
        classes.keys().all(|c| c == "57" || c == "08"),
        "{classes:?}"
    );
    assert!(r.scenarios[0].error_window.is_some());
    // Throughput recovers: the last full intervals run at the target rate.
    let last = &r.intervals[r.intervals.len() - 2];
    assert!(last.calls >= 80, "{last:?}");
    assert!(t.calls as f64 >= 0.9 * t.scheduled as f64, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_workload_refuses_a_database_dbload_did_not_seed() {
    let db = seeded().await;
    let url = db.url();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--qps", "50", "--duration", "1s"])
            .assert()
    })
    .await
    .unwrap();
    let err = stderr_of(&a);
    assert_eq!(a.get_output().status.code(), Some(2), "{err}");
    assert!(
        err.contains("not a complete dbload dataset")
            && err.contains("INSERT into appointments")
            && err.contains("--force"),
        "{err}"
    );
}

/// Errors do not stop a run, but a run whose calls fail beyond the error
/// budget is invalid (exit 3) and says when they failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_calls_fail_is_invalid() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = write(
        &dir,
        "half.sql",
        "-- @scenario ok weight=1\nSELECT 1;\n-- @scenario boom weight=1\nSELECT 1 / 0;\n",
    );
    let url = db.url();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--workload", &wl, "--qps", "40"])
            .args(["--duration", "2s", "--warmup", "0s"])
            .assert()
    })
    .await
    .unwrap();
    let err = stderr_of(&a);
    assert_eq!(a.get_output().status.code(), Some(3), "{err}");
    assert!(
        err.contains("of calls failed (errors from") && err.contains("above the 5 % error budget"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_thresholds_fail_when_every_call_fails() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let fail = write(
        &dir,
        "fail.sql",
        "-- @scenario boom weight=1\nSELECT 1 / (0 * random())::int;\n",
    );
    let out = dir.path().join("r.json");
    let (url, out2) = (db.url(), out.clone());
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--workload", &fail, "--qps", "20"])
            .args(["--duration", "1s", "--warmup", "0s"])
            .args(["--out", out2.to_str().unwrap()])
            .args(["--threshold", "p99<50ms", "--threshold", "boom:mean<50ms"])
            // An error threshold of the user's own replaces the error budget.
            .args(["--threshold", "error_rate<100%"])
            .assert()
    })
    .await
    .unwrap();
    let err = stderr_of(&a);
    assert_eq!(a.get_output().status.code(), Some(1), "{err}");
    assert!(
        err.contains("threshold breached: p99<50ms (no data"),
        "{err}"
    );
    let table = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(table.contains("FAIL  (no data"), "{table}");
    let r = read_results(&out);
    assert_eq!(r.totals.calls, 0);
    assert!(r.totals.errors > 0);
    assert!(
        r.verdict
            .thresholds
            .iter()
            .filter(|t| t.expr != "error_rate<100%")
            .all(|t| !t.passed && t.note.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_classifies_prepare_failures_by_their_sqlstate() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    c.batch_execute("CREATE TABLE gone (x int)").await.unwrap();
    let text = "-- @scenario one weight=1\nSELECT x FROM gone;\n";
    let run = {
        let target = db.target.clone();
        tokio::spawn(async move { run_on(&target, text, closed(2, 2, 1.5), 1).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Cut every connection while the table is locked, then drop it: the
    // workers' new connections fail to prepare with 42P01 — not a lost
    // connection (08).
    let tx = c.transaction().await.unwrap();
    tx.batch_execute(
        "LOCK TABLE gone IN ACCESS EXCLUSIVE MODE;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid();
         DROP TABLE gone;",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = run.await.unwrap();
    let classes = &r.scenarios[0].errors_by_class;
    assert!(classes.get("42").is_some_and(|n| *n > 0), "{classes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_rollback_failed_is_not_reused() {
    let db = TestDb::new().await;
    // `poison` destroys its connection's prepared statements, so its COMMIT
    // and ROLLBACK fail and the connection stays inside the transaction. It
    // must be discarded: `ok`, on the same single pooled connection
    // otherwise, keeps succeeding. (Closed model only: a closed-model client
    // prepares every statement on a new connection, so each poison call
    // fails the same way.)
    let text = "-- @scenario poison weight=1 transaction\nDEALLOCATE ALL;\n\
                -- @scenario ok weight=20\nSELECT 1;\n";
    {
        let cfg = StressConfig {
            load: Load::closed(1),
            warmup: Duration::ZERO,
            ..open(200.0, 1.0, 1)
        };
        let r = run_lib(&db, text, cfg).await;
        let (poison, ok) = (&r.scenarios[0], &r.scenarios[1]);
        assert!(poison.errors > 0, "{poison:?}");
        assert!(ok.calls > 0 && ok.errors == 0, "{:?}", ok.errors_by_class);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dataset_is_the_latest_seed_only_if_it_is_complete() {
    let db = seeded().await;
    let c = db.client().await;
    let dir = tempfile::tempdir().unwrap();
    let fast = write(&dir, "fast.sql", "-- @scenario one weight=1\nSELECT 1;\n");
    let insert = "INSERT INTO dbload_datasets \
                  (seed, scale, dbload_version, schema_version, finished_at, complete) \
                  VALUES (7, 0.01, 'x', 2, now(), $1) RETURNING id";
    let complete: i64 = c.query_one(insert, &[&true]).await.unwrap().get(0);
    let run = |name: &'static str| {
        let (url, fast, out) = (db.url(), fast.clone(), dir.path().join(name));
        let out2 = out.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                dbload()
                    .args(["-d", &url, "stress", "--workload", &fast, "--qps", "20"])
                    .args(["--duration", "500ms", "--warmup", "0s"])
                    .args(["--out", out2.to_str().unwrap()])
                    .assert()
                    .success();
            })
            .await
            .unwrap();
            read_results(&out)
        }
    };
    let r = run("a.json").await;
    assert_eq!(r.dataset.unwrap()["id"], complete);
    // A later seed that did not complete: its data is not a dataset, and
    // the older complete row no longer describes the tables either.
    c.query_one(insert, &[&false]).await.unwrap();
    let r = run("b.json").await;
    assert!(r.dataset.is_none(), "{:?}", r.dataset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_names_the_flag() {
    // Superusers ignore connection limits: connect as a role limited to 3.
    let db = TestDb::new().await;
    let c = db.client().await;
    let role = format!("{}_lim", db.name);
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'lim' CONNECTION LIMIT 3;
         ALTER DATABASE {db} OWNER TO {role};
         ALTER SCHEMA public OWNER TO {role};",
        db = db.name
    ))
    .await
    .unwrap();
    let mut t = db.target.clone();
    t.user = Some(role.clone());
    t.password = Some("lim".into());
    let url = t.to_url_with_password();
    let dir = tempfile::tempdir().unwrap();
    let fast = write(&dir, "fast.sql", "-- @scenario one weight=1\nSELECT 1;\n");
    let (stress, seed) = tokio::task::spawn_blocking(move || {
        let stress = dbload()
            .args(["-d", &url, "stress", "--workload", &fast, "--qps", "20"])
            .args(["--duration", "1s", "--warmup", "0s", "--pool", "6"])
            .assert();
        let seed = dbload()
            .args(["-d", &url, "seed", "--scale", "0.001", "--jobs", "6"])
            .assert();
        (stress, seed)
    })
    .await
    .unwrap();
    c.batch_execute(&format!(
        "ALTER DATABASE {db} OWNER TO CURRENT_USER; REASSIGN OWNED BY {role} TO CURRENT_USER;
         DROP OWNED BY {role}; DROP ROLE {role};",
        db = db.name
    ))
    .await
    .unwrap();
    let err = stderr_of(&stress);
    assert_eq!(stress.get_output().status.code(), Some(2), "{err}");
    assert!(
        err.contains("--pool 6 exceeds the connection limit"),
        "{err}"
    );
    let err = stderr_of(&seed);
    assert_eq!(seed.get_output().status.code(), Some(2), "{err}");
    assert!(
        err.contains("--jobs 6 exceeds the connection limit"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_invalid_runs_set_the_exit_code() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let fast = write(&dir, "fast.sql", "-- @scenario one weight=1\nSELECT 1;\n");
    let slow = write(
        &dir,
        "slow.sql",
        "-- @scenario nap weight=1\nSELECT pg_sleep(0.02);\n",
    );
    let out = dir.path().join("r.json");
    let (url, out2) = (db.url(), out.clone());
    let (breach, bad_name, invalid) = tokio::task::spawn_blocking(move || {
        let breach = dbload()
            .args(["-d", &url, "stress", "--workload", &fast, "--qps", "50"])
            .args([
                "--duration",
                "1s",
                "--warmup",
                "0s",
                "--out",
                out2.to_str().unwrap(),
            ])
            .args([
                "--threshold",
                "p99<1us",
                "--threshold",
                "one:error_rate<1%",
                "--format",
                "markdown",
            ])
            .assert();
        let bad_name = dbload()
            .args(["-d", &url, "stress", "--workload", &fast, "--qps", "50"])
            .args(["--threshold", "checkout:p95<100ms"])
            .assert();
        // 1 slot in flight, 20 ms each, 200 arrivals/s: most are dropped.
        let invalid = dbload()
            .args(["-d", &url, "stress", "--workload", &slow, "--qps", "200"])
            .args(["--duration", "1s", "--warmup", "0s", "--max-inflight", "1"])
            .assert();
        (breach, bad_name, invalid)
    })
    .await
    .unwrap();

    assert_eq!(
        breach.get_output().status.code(),
        Some(1),
        "{}",
        stderr_of(&breach)
    );
    assert!(stderr_of(&breach).contains("threshold breached: p99<1us"));
    let md = String::from_utf8_lossy(&breach.get_output().stdout).into_owned();
    assert!(
        md.contains("| `p99<1us` |") && md.contains("**FAIL**"),
        "{md}"
    );
    let r = read_results(&out);
    assert_eq!(r.verdict.exit_code, 1);
    assert!(!r.verdict.thresholds[0].passed && r.verdict.thresholds[1].passed);

    assert_eq!(bad_name.get_output().status.code(), Some(2));
    assert!(stderr_of(&bad_name).contains("no scenario \"checkout\""));

    assert_eq!(
        invalid.get_output().status.code(),
        Some(3),
        "{}",
        stderr_of(&invalid)
    );
    assert!(stderr_of(&invalid).contains("invalid run") && stderr_of(&invalid).contains("dropped"));
}

/// Start `dbload stress --force --duration 60s --warmup 0s LOAD…` on a
/// seeded database, interrupt it after 3 s, and check the partial results.
fn interrupted_run_has_partial_results_and_exit_3(load: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(seeded());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dbload"))
        .args(["-d", &db.url(), "stress", "--force"])
        .args(["--duration", "60s", "--warmup", "0s"])
        .args(load)
        .args(["--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{load:?}");
    let r = read_results(&out);
    assert!(r.interrupted);
    assert!(r.totals.calls > 0);
    assert!(
        r.verdict.invalid_reasons[0].contains("interrupted"),
        "{:?}",
        r.verdict
    );
    assert!(r.measured_secs < 10.0);
}

#[test]
fn ctrl_c_ends_the_run_with_partial_results_and_exit_3() {
    interrupted_run_has_partial_results_and_exit_3(&["--qps", "50"]);
}

/// The same for a closed model on two driver threads, clients pipelined.
#[test]
fn ctrl_c_ends_a_pipelined_closed_run_on_two_driver_threads() {
    interrupted_run_has_partial_results_and_exit_3(&[
        "--clients",
        "6",
        "--pool",
        "3",
        "--threads",
        "2",
    ]);
}

fn closed(clients: usize, pool: usize, secs: f64) -> StressConfig {
    closed_cfg(clients, pool, secs)
}

/// With more clients than connections, clients share (pipeline on) their
/// connection, and a transaction scenario has its connection to itself: a
/// statement of another client landing inside the open transaction would
/// see its transaction id and divide by zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_clients_never_land_inside_another_clients_transaction() {
    let db = seeded().await;
    let wl = "\
-- @scenario holds_xid weight=1 transaction
SELECT pg_current_xact_id();
SELECT pg_sleep(0.002);
SELECT pg_current_xact_id();

-- @scenario autocommit weight=3
SELECT 1 / (pg_current_xact_id_if_assigned() IS NULL)::int AS outside_any_transaction;
";
    // Two driver threads: 6 clients on 2 connections, 6 on 1.
    let r = run_lib_threads(&db, wl, closed(12, 3, 3.0), 2).await;
    let tx = &r.scenarios[0];
    let auto = &r.scenarios[1];
    assert!(tx.calls > 20 && auto.calls > 100, "{tx:?} {auto:?}");
    assert_eq!(r.totals.errors, 0, "{:?}", auto.errors_by_class);
    // Twelve clients ran on three connections.
    let c = db.client().await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n <= 3, "{n} connections left open for a pool of 3");
}

/// Pipelined clients survive their shared connection being terminated: the
/// failures are counted, the lane reconnects, throughput comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_clients_recover_from_terminated_backends() {
    let db = seeded().await;
    let killer = db.client().await;
    let wl = "-- @scenario quick weight=1\nSELECT pg_sleep(0.002);\n";
    let name = db.name.clone();
    let kill = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        killer
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await
            .unwrap()
            .len()
    });
    let r = run_lib(&db, wl, closed(8, 2, 3.0)).await;
    assert!(kill.await.unwrap() > 0);
    let s = &r.scenarios[0];
    assert!(s.errors > 0, "terminated connections show as errors: {s:?}");
    assert!(
        s.errors_by_class.keys().all(|c| c == "57" || c == "08"),
        "{:?}",
        s.errors_by_class
    );
    let last = &r.intervals[r.intervals.len() - 2];
    assert!(last.calls > 100, "throughput recovers: {last:?}");
}

/// On a dbload dataset the workload's clock is the dataset's (its data lies
/// around 2026-12-01), so the default workload reads the same slice of the
/// data whatever the date; elsewhere it is the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_clock_is_the_datasets_on_a_dbload_dataset() {
    let db = seeded().await;
    let c = db.client().await;
    let text = "-- @scenario one weight=1\n-- @param t = now()\nSELECT :'t'::timestamptz;\n";
    let prepare = || async {
        let w = workload::parse("clock.sql", text).unwrap();
        workload::prepare(&c, w).await.unwrap()
    };
    let wall = chrono::Utc::now();
    let p = prepare().await;
    assert!(
        (p.data.now() - wall).num_seconds().abs() < 60,
        "not a dataset: wall clock"
    );
    c.execute(
        "INSERT INTO dbload_datasets (seed, scale, dbload_version, schema_version, finished_at, complete) \
         VALUES (7, 0.01, 'x', 2, now(), true)",
        &[],
    )
    .await
    .unwrap();
    let p = prepare().await;
    let dataset_now = dbload::seed::model::dataset_now();
    assert!(
        (p.data.now() - dataset_now).num_seconds().abs() < 60,
        "{} vs {dataset_now}",
        p.data.now()
    );
}

/// The open model on two driver threads: both take arrivals from the one
/// schedule, the rate is held and nothing is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_driver_threads_share_one_schedule() {
    let db = seeded().await;
    let wl = "-- @scenario one weight=1\nSELECT pg_sleep(0.001);\n";
    let r = run_lib_threads(&db, wl, open(300.0, 3.0, 4), 2).await;
    let t = &r.totals;
    assert_eq!(t.dropped, 0, "{t:?}");
    assert_eq!(t.errors, 0, "{t:?}");
    let rate = t.rate;
    assert!((rate - 300.0).abs() < 15.0, "rate {rate}");
}

/// Rates no process could schedule are refused before connecting, with the
/// ceiling named; a run at the ceiling ends on time (its arrivals dropped
/// and counted), instead of spinning past its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_rates_are_refused_and_a_run_at_the_ceiling_ends_on_time() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = write(&dir, "one.sql", "-- @scenario one weight=1\nSELECT 1;\n");
    let url = db.url();
    let (a, b, started, c) = tokio::task::spawn_blocking(move || {
        let a = dbload()
            .args([
                "-d",
                &url,
                "stress",
                "-w",
                &wl,
                "--qps",
                "1e12",
                "--duration",
                "2s",
            ])
            .assert();
        let b = dbload()
            .args(["-d", &url, "stress", "-w", &wl, "--stages", "1s:1e12"])
            .assert();
        let started = std::time::Instant::now();
        let c = dbload()
            .args(["-d", &url, "stress", "-w", &wl, "--qps", "1000000"])
            .args(["--duration", "1s", "--warmup", "0s"])
            .assert();
        (a, b, started.elapsed(), c)
    })
    .await
    .unwrap();
    for x in [&a, &b] {
        let err = stderr_of(x);
        assert_eq!(x.get_output().status.code(), Some(2), "{err}");
        assert!(
            err.contains("more than one process can schedule (1000000/s"),
            "{err}"
        );
    }
    assert!(stderr_of(&b).contains("--stages"), "{}", stderr_of(&b));
    // Generous for a busy machine; an unbounded scheduler took minutes.
    assert!(started < Duration::from_secs(30), "took {started:?}");
    assert_eq!(c.get_output().status.code(), Some(3), "{}", stderr_of(&c));
    assert!(stderr_of(&c).contains("were dropped"), "{}", stderr_of(&c));
}

/// The open model's default timer is adaptive: precise at a low rate, and
/// at a high one waking on a grid of at most 500 µs that serves several
/// arrivals per wake-up; `--timer-resolution 0` keeps it precise. What it
/// did is in the results (`driver_timer`), and the rate is held either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_timer_adapts_to_the_rate_and_says_what_it_did() {
    let db = TestDb::new().await;
    let wl = "-- @scenario one weight=1\nSELECT 1;\n";
    let timer = |r: &StressResults| -> serde_json::Value {
        r.extensions
            .get::<serde_json::Value>("driver_timer")
            .unwrap()
            .expect("driver_timer in the results")
    };
    let fast = run_lib(&db, wl, open(5000.0, 2.0, 8)).await;
    assert!(
        fast.config.timer_resolution.is_none(),
        "adaptive by default"
    );
    let t = timer(&fast);
    assert_eq!(t["grid"], "adaptive", "{t}");
    let period = t["max_period_us"].as_f64().unwrap();
    assert!(period > 0.0 && period <= 500.0, "{t}");
    assert!(t["per_wakeup"].as_f64().unwrap() > 1.0, "{t}");
    // Replies were read on the grid (TCP to the local cluster), and their
    // execution still ends when they arrived: within the total latency.
    assert!(t["grid_reads"].as_u64().unwrap() > 0, "{t}");
    let l = &fast.totals.latency;
    assert!(
        l.exec.p50_us > 0 && l.exec.p50_us <= l.total.p50_us,
        "{l:?}"
    );
    // Held, with a generous margin: a debug build among other tests on a
    // busy machine missed 10 %.
    let rate = fast.totals.rate;
    assert!((rate - 5000.0).abs() < 1250.0, "rate {rate}");
    let json = serde_json::to_value(&fast).unwrap();
    assert_eq!(json["config"]["timer_resolution"], "adaptive");

    let slow = run_lib(&db, wl, open(200.0, 1.0, 4)).await;
    let t = timer(&slow);
    assert_eq!(t["grid"], "adaptive", "{t}");
    assert_eq!(
        t["max_period_us"].as_f64(),
        Some(0.0),
        "precise at 200/s: {t}"
    );

    let mut cfg = open(5000.0, 1.0, 8);
    cfg.timer_resolution = Some(Duration::ZERO);
    let precise = run_lib(&db, wl, cfg).await;
    let t = timer(&precise);
    assert_eq!(t["grid"], "precise", "{t}");
    assert_eq!(t["max_period_us"].as_f64(), Some(0.0), "{t}");
    let rate = precise.totals.rate;
    assert!((rate - 5000.0).abs() < 1250.0, "rate {rate}");

    let closed = run_lib(&db, wl, closed(2, 2, 0.5)).await;
    assert!(
        closed
            .extensions
            .get::<serde_json::Value>("driver_timer")
            .unwrap()
            .is_none()
    );
}
