//! Faults in the middle of runs: a stall drops arrivals in the seconds it
//! lasts (not when it ends); a server restart on a throw-away cluster of its
//! own is counted, backed off, recovered from, and named in the results.

use std::time::Duration;

use dbload::db::local::LocalCluster;
use dbload::stress::{Load, StressConfig};

use crate::common::{dbload, open_cfg, read_results, run_workload, seeded, temp_home};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_dropped_by_a_stall_are_counted_while_it_lasts() {
    // One in-flight slot at 100/s; another session holds an ACCESS
    // EXCLUSIVE lock on the table for 2.5 s, so every arrival due meanwhile
    // is overdue. They are dropped in the seconds of the stall.
    let db = seeded().await;
    let locker = db.client().await;
    let wl = "-- @scenario count_pets weight=1\nSELECT count(*) FROM pets;\n";
    let cfg = StressConfig {
        load: match open_cfg(100.0, 5.0, 1).load {
            Load::Open {
                profile, arrival, ..
            } => Load::Open {
                profile,
                arrival,
                max_inflight: 1,
            },
            l => l,
        },
        ..open_cfg(100.0, 5.0, 1)
    };
    let lock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1300)).await;
        locker
            .batch_execute(
                "BEGIN; LOCK TABLE pets IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT;",
            )
            .await
            .unwrap();
    });
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = run_workload(&db.target, wl, &cfg, Some(1), rx).await;
    lock.await.unwrap();
    let during: Vec<_> = r
        .intervals
        .iter()
        .filter(|i| i.calls == 0 && i.secs >= 0.9)
        .collect();
    assert!(
        !during.is_empty(),
        "no interval inside the stall: {:?}",
        r.intervals
    );
    // A whole second inside the stall: about 100 arrivals due, all dropped then.
    assert!(
        during.iter().any(|i| i.dropped >= 60),
        "drops inside the stall: {:?}",
        r.intervals
            .iter()
            .map(|i| (i.t, i.calls, i.dropped))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        r.intervals.iter().map(|i| i.dropped).sum::<u64>(),
        r.totals.dropped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_is_backed_off_recovered_and_named() {
    let home = temp_home();
    let cluster = LocalCluster::new(home.path().to_path_buf()).unwrap();
    let url = cluster.start().await.unwrap().target.to_url_with_password();
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("sleep.sql");
    std::fs::write(&wl, "-- @scenario nap weight=1\nSELECT pg_sleep(0.002);\n").unwrap();
    let out = dir.path().join("r.json");
    let (wl2, out2) = (wl.display().to_string(), out.clone());
    let run = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "-w", &wl2, "--clients", "4"])
            .args(["--duration", "10s", "--warmup", "0s"])
            .args(["--out", out2.to_str().unwrap()])
            .assert()
    });
    // Down from about 2.5 s to 5.5 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.stop().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.start().await.unwrap();
    let a = run.await.unwrap();
    let _ = cluster.stop().await;
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    let r = read_results(&out);
    let t = &r.totals;
    // Counted, but not hammered: 4 clients retrying every 20 ms for 3 s
    // would fail about 600 times; backing off up to 1 s, a few dozen.
    assert!(t.errors > 0, "the outage is counted: {err}");
    assert!(
        t.errors < 200,
        "{} errors: the clients did not back off",
        t.errors
    );
    // Recovered: calls succeed again in the last seconds.
    let last = r
        .intervals
        .iter()
        .rev()
        .take(2)
        .map(|i| i.calls)
        .sum::<u64>();
    assert!(
        last > 50,
        "no recovery: {:?}",
        r.intervals
            .iter()
            .map(|i| (i.t, i.calls, i.errors))
            .collect::<Vec<_>>()
    );
    // The server-side view says it covers only part of the run.
    assert!(
        r.server_statements_note
            .as_deref()
            .is_some_and(|n| n.contains("restarted during the run")),
        "{:?}",
        r.server_statements_note
    );
}
