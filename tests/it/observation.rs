//! `dbload analyze`'s observation window (issue 12 §5): the seed's COPY,
//! ANALYZE and DDL are marked as dbload's own, so pg_stat_statements shows
//! them only under the mark that analyze leaves out; `--reset-stats` starts
//! a clean window, only after asking (or `--yes`), and only for this
//! database.

use crate::common::{TestDb, dbload, stderr_of};

async fn count(c: &tokio_postgres::Client, pattern: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND query ~* $1",
        &[&pattern],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_statements_are_marked_and_reset_stats_asks_first() {
    let db = TestDb::new().await;
    let url = db.url();
    let u = url.clone();
    tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &u, "seed", "--scale", "0.001"])
            .assert()
            .success();
    })
    .await
    .unwrap();
    let c = db.client().await;
    assert!(
        count(&c, "^/\\* dbload \\*/ COPY").await > 0,
        "the seed's COPY is tracked, under the mark"
    );
    assert_eq!(
        count(&c, "^\\s*(COPY|ANALYZE|TRUNCATE)\\M").await,
        0,
        "no unmarked COPY, ANALYZE or TRUNCATE"
    );
    // What analyze reads: neither the seed's statements nor the
    // migrations' DDL.
    let u = url.clone();
    let analyzed = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &u, "analyze", "--format", "json", "--min-calls", "1"])
            .assert()
    })
    .await
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&analyzed.get_output().stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&analyzed)));
    for st in json["statements"].as_array().unwrap() {
        let q = st["query"].as_str().unwrap().trim_start().to_uppercase();
        for kw in [
            "COPY",
            "ANALYZE",
            "CREATE",
            "ALTER",
            "TRUNCATE",
            "/* DBLOAD */",
        ] {
            assert!(!q.starts_with(kw), "analyze read the seed's {q}");
        }
    }

    let u = url.clone();
    let asked = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &u, "analyze", "--reset-stats"])
            .assert()
    })
    .await
    .unwrap();
    assert_eq!(asked.get_output().status.code(), Some(2));
    assert!(
        stderr_of(&asked).contains("pass --yes"),
        "{}",
        stderr_of(&asked)
    );
    assert!(
        count(&c, "COPY").await > 0,
        "nothing reset without an answer"
    );

    let done = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "analyze", "--reset-stats", "--yes"])
            .assert()
    })
    .await
    .unwrap();
    assert_eq!(
        done.get_output().status.code(),
        Some(0),
        "{}",
        stderr_of(&done)
    );
    assert_eq!(count(&c, "COPY").await, 0, "the window starts clean");
}
