//! Migrations against a real database: schema created, re-run is a no-op,
//! a changed applied file is a clear error, a failing file names file:line.

use dbload::db::migrate::{self, Migration};

use crate::common::{TestDb, dbload};

#[tokio::test]
async fn migrate_creates_schema_and_is_idempotent() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let r = migrate::apply(&mut c, migrate::MIGRATIONS).await.unwrap();
    let all: Vec<&str> = migrate::MIGRATIONS.iter().map(|m| m.name).collect();
    assert_eq!(r.applied, all);
    let tables: Vec<String> = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in [
        "appointments",
        "clinics",
        "invoice_items",
        "invoices",
        "medical_records",
        "pets",
        "prescriptions",
        "services",
        "user_sessions",
        "users",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    let again = migrate::apply(&mut c, migrate::MIGRATIONS).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already, all);
}

#[tokio::test]
async fn changed_migration_is_an_error() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let v1 = [Migration {
        version: 1,
        name: "0001_a.sql",
        sql: "CREATE TABLE a (x int);",
    }];
    migrate::apply(&mut c, &v1).await.unwrap();
    let changed = [Migration {
        version: 1,
        name: "0001_a.sql",
        sql: "CREATE TABLE a (x bigint);",
    }];
    let e = migrate::apply(&mut c, &changed)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("0001_a.sql") && e.contains("changed"), "{e}");
}

#[tokio::test]
async fn failing_migration_names_file_and_line_and_rolls_back() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let bad = [
        Migration {
            version: 1,
            name: "0001_ok.sql",
            sql: "CREATE TABLE ok (x int);",
        },
        Migration {
            version: 2,
            name: "0002_bad.sql",
            sql: "CREATE TABLE b (x int);\n\nCREATE TABLE c (y nosuchtype);",
        },
    ];
    let e = migrate::apply(&mut c, &bad).await.unwrap_err().to_string();
    assert!(e.contains("0002_bad.sql:3"), "{e}");
    assert!(e.contains("nosuchtype"), "{e}");
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('ok', 'b')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a failed run leaves nothing behind");
}

/// A statement failing without a position from the server (an existing
/// relation) is named by its own line, not the file's first.
#[tokio::test]
async fn a_failing_statement_is_named_by_its_own_line() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    c.batch_execute("CREATE TABLE taken (x int)").await.unwrap();
    let bad = [Migration {
        version: 1,
        name: "0001_lines.sql",
        sql: "-- header\nCREATE TABLE a (x int);\n\n/* note; with a semicolon */\nCREATE TABLE b (\n  x int\n);\nCREATE TABLE taken (y int);\nCREATE TABLE c (\n  x int,\n  y nosuchtype);\n",
    }];
    let e = migrate::apply(&mut c, &bad).await.unwrap_err().to_string();
    assert!(
        e.starts_with("migrations/0001_lines.sql:8: relation \"taken\" already exists"),
        "{e}"
    );
    c.batch_execute("DROP TABLE taken").await.unwrap();
    let e = migrate::apply(&mut c, &bad).await.unwrap_err().to_string();
    assert!(
        e.starts_with("migrations/0001_lines.sql:11: type \"nosuchtype\" does not exist"),
        "{e}"
    );
}

#[tokio::test]
async fn migrate_refuses_foreign_tables_of_same_name() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute("CREATE TABLE users (id int); INSERT INTO users VALUES (1);")
        .await
        .unwrap();
    let out = dbload()
        .args(["--url", &db.url(), "migrate"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    // The line of its CREATE TABLE (it was the file's first line).
    let line = include_str!("../../migrations/0001_vetclinic.sql")
        .lines()
        .position(|l| l.starts_with("CREATE TABLE users"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "0001_vetclinic.sql:{line}: relation \"users\" already exists"
        )),
        "{err}"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the user's table is untouched");
}

#[tokio::test]
async fn migrate_cli_twice() {
    let db = TestDb::new().await;
    dbload()
        .args(["-d", &db.url(), "migrate"])
        .assert()
        .success()
        .stdout(predicates::str::contains("applied 0001_vetclinic.sql"));
    dbload()
        .args(["-d", &db.url(), "migrate"])
        .assert()
        .success()
        .stdout(predicates::str::contains("up to date"));
}
