//! `dbload demo` end to end on a throw-away database: seed, stress (before),
//! analyze with the proposals applied, stress (after), side by side.

use crate::common::{TestDb, dbload};

#[tokio::test]
async fn demo_seeds_stresses_and_analyzes() {
    let db = TestDb::new().await;
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "demo",
            "--scale",
            "0.01",
            "--qps",
            "50",
            "--duration",
            "2s",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for step in [
        "1/4: seed",
        "2/4: run the default workload (before)",
        "3/4: analyze what it did and apply the proposals",
        "4/4: run it again (after)",
    ] {
        assert!(stderr.contains(step), "missing step {step}: {stderr}");
    }
    assert!(stdout.contains("TOTAL"), "stress summary: {stdout}");
    assert!(
        stdout.contains("Before and after the proposed indexes") && stdout.contains("before: "),
        "side by side: {stdout}"
    );
    assert!(
        stdout.contains("pg_stat_statements"),
        "analyze header: {stdout}"
    );
    let c = db.client().await;
    let pets: i64 = c
        .query_one("SELECT count(*) FROM pets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pets, 10_000);
    // The workload's writes landed: prescription uploads and logins insert
    // rows beyond the seeded 5,000 prescriptions and 3,000 sessions.
    let written: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM prescriptions) + (SELECT count(*) FROM user_sessions)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(written > 8_000, "{written}");
}
