//! `dbload seed` against a real server: exact counts at two scales,
//! determinism across --jobs and databases, integrity (every constraint back
//! and validated, identical to a freshly migrated schema), refusal of foreign
//! tables, bad flags, interruption and repair.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbload::seed::{self, Quiet, SeedPlan, Table};
use tokio_postgres::Client;

use crate::common::{TestDb, dbload};

async fn seed_lib(db: &TestDb, scale: f64, seed_no: u64, jobs: usize) -> seed::SeedReport {
    let plan = SeedPlan::new(scale, seed_no, jobs, false).unwrap();
    seed::seed(&db.target, &plan, Arc::new(Quiet))
        .await
        .unwrap()
}

async fn counts(c: &Client) -> BTreeMap<&'static str, i64> {
    let mut m = BTreeMap::new();
    for t in Table::ALL {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {}", t.name()), &[])
            .await
            .unwrap()
            .get(0);
        m.insert(t.name(), n);
    }
    m
}

/// md5 of every table's rows in id order.
async fn hashes(c: &Client) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    for t in Table::ALL {
        let h: String = c
            .query_one(
                &format!(
                    "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM {} t",
                    t.name()
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        m.insert(t.name(), h);
    }
    m
}

/// Every key, index and constraint definition of the vet-clinic tables.
async fn schema_defs(c: &Client) -> Vec<String> {
    let mut v: Vec<String> = c
        .query(
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                    || ' validated=' || convalidated
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT pg_get_indexdef(indexrelid) FROM pg_index
             WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn seed_cli_gives_exact_counts_valid_constraints_and_metadata() {
    let db = TestDb::new().await;
    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.01"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("rows/s") && stdout.contains("invoice_items"),
        "{stdout}"
    );
    let c = db.client().await;
    let expected: BTreeMap<&str, i64> = [
        ("clinics", 100),
        ("users", 1_000),
        ("pets", 10_000),
        ("services", 2_000),
        ("appointments", 20_000),
        ("medical_records", 10_000),
        ("prescriptions", 5_000),
        ("invoices", 10_000),
        ("invoice_items", 25_000),
        ("user_sessions", 3_000),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts(&c).await, expected);

    // Every constraint is back, validated, exactly as the migrations define it.
    let not_valid: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(not_valid, 0);
    let fresh = TestDb::new().await;
    let mut fc = fresh.client().await;
    dbload::db::migrate::apply(&mut fc, dbload::db::migrate::MIGRATIONS)
        .await
        .unwrap();
    assert_eq!(schema_defs(&c).await, schema_defs(&fc).await);
    let parked: i64 = c
        .query_one("SELECT count(*) FROM dbload_seed_ddl", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(parked, 0);

    // Identity sequences continue after the loaded ids.
    let id: i64 = c
        .query_one(
            "INSERT INTO clinics (name, slug, plan, phone, email, address, city, country, timezone)
             VALUES ('New', 'new', 'free', '1', 'a@b.c', 'x', 'y', 'US', 'UTC') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 101);

    let fp = seed::fingerprint(&c).await.unwrap().expect("fingerprint");
    assert!(fp.complete && fp.finished_at.is_some());
    assert_eq!((fp.seed, fp.scale), (42, 0.01));
    assert_eq!(fp.row_counts.get("pets"), Some(&10_000));
    assert_eq!(fp.schema_version, dbload::db::migrate::latest_version());
    // JSON for reports.
    assert!(
        serde_json::to_string(&fp)
            .unwrap()
            .contains("\"row_counts\"")
    );
}

#[tokio::test]
async fn same_seed_same_bytes_across_jobs_and_databases() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    let ra = seed_lib(&a, 0.01, 7, 1).await;
    seed_lib(&b, 0.01, 7, 2).await;
    assert_eq!(ra.jobs, 1);
    let ha = hashes(&a.client().await).await;
    assert_eq!(ha, hashes(&b.client().await).await);
    // A different seed gives different data; re-seeding replaces in place.
    seed_lib(&b, 0.01, 8, 2).await;
    let hb = hashes(&b.client().await).await;
    assert_ne!(ha["pets"], hb["pets"]);
    seed_lib(&b, 0.01, 7, 3).await;
    assert_eq!(ha, hashes(&b.client().await).await);
    let runs: i64 = b
        .client()
        .await
        .query_one("SELECT count(*) FROM dbload_datasets WHERE complete", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 3);
}

#[tokio::test]
async fn exact_counts_at_a_second_scale() {
    let db = TestDb::new().await;
    let r = seed_lib(&db, 0.0023, 1, 2).await;
    let c = db.client().await;
    let got = counts(&c).await;
    let model = seed::Model::new(0.0023);
    for t in Table::ALL {
        assert_eq!(got[t.name()], model.count(t) as i64, "{}", t.name());
    }
    assert_eq!(
        (got["clinics"], got["users"], got["pets"]),
        (23, 230, 2_300)
    );
    assert_eq!(r.total_rows(), got.values().sum::<i64>() as u64);
}

#[tokio::test]
async fn refuses_foreign_tables_without_force() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute("CREATE TABLE pets (id int, name text); INSERT INTO pets VALUES (1, 'mine');")
        .await
        .unwrap();
    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.001"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("pets") && err.contains("did not create") && err.contains("--force"),
        "{err}"
    );
    let name: String = c
        .query_one("SELECT name FROM pets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "mine", "the user's table is untouched");
    let nothing: bool = c
        .query_one(
            "SELECT to_regclass('dbload_migrations') IS NULL AND to_regclass('clinics') IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(nothing, "nothing was written");

    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.001", "--force"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("--force: dropping"), "{err}");
    assert_eq!(counts(&c).await["pets"], 1_000);
}

#[tokio::test]
async fn force_refuses_to_drop_tables_other_objects_depend_on() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE pets (id int PRIMARY KEY, name text); INSERT INTO pets VALUES (1, 'mine');
         CREATE VIEW my_pets AS SELECT name FROM pets;
         CREATE TABLE vet_notes (pet int REFERENCES pets (id));",
    )
    .await
    .unwrap();
    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.001", "--force"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("view my_pets")
            && err.contains("foreign key vet_notes_pet_fkey on vet_notes")
            && err.contains("CASCADE"),
        "{err}"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM my_pets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the view and the table are untouched");
}

#[tokio::test]
async fn bad_scale_is_a_clear_error_before_anything_is_written() {
    // Flag errors come before any connection: this URL leads nowhere.
    let nowhere = "postgres://nobody@127.0.0.1:1/none";
    for (scale, expect) in [
        ("0", "--scale must be a positive number"),
        ("-2", "--scale must be a positive number"),
        ("abc", "--scale"),
        ("NaN", "--scale must be a positive number"),
        ("1e9", "--scale 1000000000 is absurd"),
    ] {
        let out = dbload()
            .args(["-d", nowhere, "seed", "--scale", scale])
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(expect), "--scale {scale}: {err}");
    }
    // Too big for the disk: checked against the server's free space, which
    // dbload can only see for a server on this machine.
    if std::env::var_os("DBLOAD_TEST_URL").is_some() {
        return;
    }
    let db = TestDb::new().await;
    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "999"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("--scale 999 needs about") && err.contains("free"),
        "{err}"
    );
    let tables: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "nothing was written");
}

#[tokio::test]
async fn interrupted_seed_is_incomplete_and_a_rerun_starts_clean() {
    let db = TestDb::new().await;
    seed_lib(&db, 0.002, 3, 2).await;
    let c = db.client().await;
    let before = hashes(&c).await;

    // A seed interrupted after it dropped keys and emptied a table: parked
    // definitions in dbload_seed_ddl, constraints gone, data half there.
    let mut c2 = db.client().await;
    let parked = seed::schema::drop_for_load(&mut c2).await.unwrap();
    assert!(parked.len() > 30, "{}", parked.len());
    c.batch_execute(
        "TRUNCATE invoice_items;
         INSERT INTO dbload_datasets (seed, scale, dbload_version, schema_version)
         VALUES (3, 0.002, 'test', 2)",
    )
    .await
    .unwrap();
    assert!(seed::fingerprint(&c).await.unwrap().is_none());

    // Ctrl-C while the seed waits for a lock (after it recorded its run, when
    // it drops keys): exit 3, the run recorded incomplete.
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE pets IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("dbload");
    let child = std::process::Command::new(bin)
        .args(["-d", &db.url(), "seed", "--scale", "0.002", "--seed", "3"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_blocked(&c).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("incomplete"),
        "{err}"
    );
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let latest = seed::metadata::latest(&c).await.unwrap().unwrap();
    assert!(!latest.complete);
    assert_ne!(
        latest.dbload_version, "test",
        "the interrupted run recorded itself"
    );
    assert!(seed::fingerprint(&c).await.unwrap().is_none());

    // The rerun repairs everything and gives the same data as before.
    let out = dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.002", "--seed", "3"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("replacing the incomplete dbload dataset"),
        "{err}"
    );
    assert_eq!(hashes(&c).await, before);
    let fresh = TestDb::new().await;
    let mut fc = fresh.client().await;
    dbload::db::migrate::apply(&mut fc, dbload::db::migrate::MIGRATIONS)
        .await
        .unwrap();
    assert_eq!(schema_defs(&c).await, schema_defs(&fc).await);
    assert!(seed::fingerprint(&c).await.unwrap().unwrap().complete);
}

/// Wait until some session in the server waits for a lock.
pub(crate) async fn until_blocked(c: &Client) {
    let t0 = Instant::now();
    loop {
        let waiting: i64 = c
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "seed never blocked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn lost_connection_is_a_clear_error_and_the_run_stays_incomplete() {
    let db = TestDb::new().await;
    dbload::db::migrate::apply(&mut db.client().await, dbload::db::migrate::MIGRATIONS)
        .await
        .unwrap();
    let c = db.client().await;
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE pets IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("dbload");
    let child = std::process::Command::new(bin)
        .args(["-d", &db.url(), "seed", "--scale", "0.001"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_blocked(&c).await;
    // The seed waits to drop keys; the server drops its connection (as on a
    // crash or a failover).
    c.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()",
    )
    .await
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("failed") && err.contains("connection") && err.contains("incomplete"),
        "{err}"
    );
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let latest = seed::metadata::latest(&c).await.unwrap().unwrap();
    assert!(!latest.complete && latest.finished_at.is_none());
    assert!(seed::fingerprint(&c).await.unwrap().is_none());
}

#[tokio::test]
async fn embedded_default_and_url_give_the_same_data() {
    // A private managed cluster, so the shared test cluster's default
    // database is never touched.
    let home = crate::common::temp_home();
    let out = dbload()
        .env("DBLOAD_HOME", home.path())
        .args(["seed", "--scale", "0.01", "--jobs", "1"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("started the local cluster"), "{err}");
    let cluster = dbload::db::local::LocalCluster::new(home.path().to_path_buf()).unwrap();
    let local = dbload::db::connect(&cluster.target().unwrap())
        .await
        .unwrap();
    assert_eq!(counts(&local).await["pets"], 10_000);

    let db = TestDb::new().await;
    dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.01", "--jobs", "2"])
        .assert()
        .success();
    assert_eq!(hashes(&local).await, hashes(&db.client().await).await);
    drop(local);
    cluster.destroy().await.unwrap();
}

#[tokio::test]
async fn one_seed_at_a_time_per_database() {
    let db = TestDb::new().await;
    let other = db.client().await;
    other
        .batch_execute("SELECT pg_advisory_lock(hashtext('dbload_seed'))")
        .await
        .unwrap();
    dbload()
        .args(["-d", &db.url(), "seed", "--scale", "0.001"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "another `dbload seed` is running",
        ));
}

/// The keys and indexes of dbload's tables, by name (to show nothing was dropped).
async fn keys_and_indexes(c: &Client) -> Vec<String> {
    c.query(
        "SELECT indexrelid::regclass::text FROM pg_index \
         WHERE indrelid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) ORDER BY 1",
        &[&Table::ALL.iter().map(|t| t.name()).collect::<Vec<_>>()],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A user's foreign key pointing at `pets` is named, with the statement
/// that removes it, before anything is dropped: the dataset stays complete.
#[tokio::test]
async fn a_users_foreign_key_to_pets_is_named_before_anything_changes() {
    let db = TestDb::new().await;
    seed_lib(&db, 0.001, 1, 2).await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE vet_notes (pet bigint REFERENCES pets (id), note text);
         INSERT INTO vet_notes VALUES (1, 'allergic');",
    )
    .await
    .unwrap();
    let before = (counts(&c).await, keys_and_indexes(&c).await);
    for extra in [None, Some("--force")] {
        let out = dbload()
            .args(["-d", &db.url(), "seed", "--scale", "0.001"])
            .args(extra)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains("foreign key vet_notes_pet_fkey on vet_notes (references pets)")
                && err.contains("ALTER TABLE vet_notes DROP CONSTRAINT vet_notes_pet_fkey;")
                && err.contains("nothing was changed"),
            "{err}"
        );
        assert!(!err.contains("incomplete"), "{err}");
    }
    assert_eq!((counts(&c).await, keys_and_indexes(&c).await), before);
    assert!(
        seed::fingerprint(&c).await.unwrap().is_some(),
        "the dataset is still complete"
    );
}

/// More --jobs than the server accepts is refused before the existing
/// dataset's keys and indexes are dropped.
#[tokio::test]
async fn jobs_beyond_the_servers_connections_are_refused_before_anything_changes() {
    let db = TestDb::new().await;
    seed_lib(&db, 0.001, 1, 2).await;
    let c = db.client().await;
    let before = keys_and_indexes(&c).await;
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "seed",
            "--scale",
            "0.001",
            "--jobs",
            "5000",
        ])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("--jobs 5000 exceeds the connection limit: 5000 connections are needed")
            && err.contains("max_connections")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(keys_and_indexes(&c).await, before);
    assert!(seed::fingerprint(&c).await.unwrap().is_some());
}
