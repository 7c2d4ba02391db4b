//! Reliability under hostile input and faults (issue 13): commands that only
//! look change nothing, reads are bounded, messages name what is at fault.

use crate::common::{TestDb, dbload};

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_modifying_samples_are_refused_and_change_nothing() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE victims (id int);
         INSERT INTO victims SELECT generate_series(1, 5);
         CREATE FUNCTION wipe() RETURNS SETOF int LANGUAGE sql
           AS 'DELETE FROM victims RETURNING id';",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // (sample query, what the message must say)
    let cases = [
        // Refused when read, before any database is reached.
        (
            "DELETE FROM victims RETURNING id",
            "sample s is not a plain query (it starts with DELETE)",
        ),
        // Looks like a query: PostgreSQL refuses it as a cursor.
        (
            "WITH d AS (DELETE FROM victims RETURNING id) SELECT id FROM d",
            "sample s: DECLARE CURSOR must not contain data-modifying statements in WITH",
        ),
        // A plain query calling a function that writes: the READ ONLY
        // transaction refuses it.
        (
            "SELECT * FROM wipe()",
            "sample s: cannot execute DELETE in a read-only transaction (SQLSTATE 25006)",
        ),
    ];
    for (i, (sample, expected)) in cases.into_iter().enumerate() {
        let wl = write(
            &dir,
            &format!("w{i}.sql"),
            &format!(
                "\n-- @sample s = {sample}\n-- @scenario a\n-- @param x = pick(s)\nSELECT :x::int;\n"
            ),
        );
        let url = db.url();
        let a = tokio::task::spawn_blocking(move || {
            dbload()
                .args(["-d", &url, "workload", "check", &wl])
                .assert()
        })
        .await
        .unwrap();
        let err = stderr_of(&a);
        assert_eq!(a.get_output().status.code(), Some(2), "{sample}: {err}");
        assert!(
            err.contains(&format!("w{i}.sql:2")) && err.contains(expected),
            "{sample}: {err}"
        );
        let n: i64 = c
            .query_one("SELECT count(*) FROM victims", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 5, "{sample} changed data");
    }
    // A plain sample still works, and its rows feed pick().
    let wl = write(
        &dir,
        "ok.sql",
        "-- @sample s = SELECT id FROM victims\n-- @scenario a\n-- @param x = pick(s)\nSELECT :x::int;\n",
    );
    let url = db.url();
    tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "workload", "check", &wl])
            .assert()
            .success()
    })
    .await
    .unwrap();
}
