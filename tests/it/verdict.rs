//! Every plain `dbload stress` run ends with what limited it (issue 12 §3):
//! a run far below what the server can do held its target with headroom;
//! a run whose statements wait on the server (pg_sleep, queued behind two
//! connections) is limited by the database, and its advice does not say
//! to raise --max-inflight. The verdict is also in the results file.

use crate::common::{dbload, read_results, seeded, stderr_of};

fn run(url: &str, wl: &str, args: &[&str]) -> (String, dbload::capacity::limit::RunLimit) {
    let dir = tempfile::tempdir().unwrap();
    let (w, out) = (dir.path().join("w.sql"), dir.path().join("r.json"));
    std::fs::write(&w, wl).unwrap();
    let a = dbload()
        .args(["-d", url, "stress", "-w", w.to_str().unwrap()])
        .args(["--warmup", "0s", "--out", out.to_str().unwrap()])
        .args(args)
        .assert();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        a.get_output().status.code().is_some_and(|c| c != 2),
        "{}",
        stderr_of(&a)
    );
    let r = read_results(&out);
    let limit = r
        .extensions
        .get("limit")
        .unwrap()
        .expect("a limit in the results file");
    (stdout, limit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_run_says_what_limited_it() {
    use dbload::capacity::limit::Limiter;
    let db = seeded().await;
    let url = db.url();
    let u = url.clone();
    let (out, limit) = tokio::task::spawn_blocking(move || {
        run(
            &u,
            "-- @scenario one weight=1\nSELECT 1;\n",
            &["--qps", "10", "--pool", "4", "--duration", "2s"],
        )
    })
    .await
    .unwrap();
    assert_eq!(limit.limiter, Limiter::Headroom, "{out}");
    assert!(
        out.contains("limit     held the target with headroom"),
        "{out}"
    );

    // 40 arrivals a second of 100 ms on 2 connections: queued for a
    // connection while the backends sleep on the server.
    let (out, limit) = tokio::task::spawn_blocking(move || {
        run(
            &url,
            "-- @scenario slow weight=1\nSELECT pg_sleep(0.1);\n",
            &["--qps", "40", "--pool", "2", "--duration", "3s"],
        )
    })
    .await
    .unwrap();
    assert_eq!(limit.limiter, Limiter::Database, "{out}");
    assert!(
        out.contains("limit     the database is the limit ("),
        "{out}"
    );
    assert!(out.contains("Timeout:PgSleep"), "{out}");
    assert!(!limit.advice.contains("--max-inflight"), "{}", limit.advice);
}
