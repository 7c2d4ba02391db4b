//! Segmented runs as a Kubernetes Indexed Job runs them, simulated with
//! local processes: N workers (`--segments N`, `JOB_COMPLETION_INDEX`)
//! schedule exactly the one-process run's arrivals, split closed-model
//! clients, never collide on unique values, and start together through the
//! rendezvous in the target database (or give up naming who is missing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use dbload::stress::results::StressResults;

use crate::common::{dbload, read_results, seeded};

/// A worker process of `dbload stress` with `args`, `env` set.
fn spawn(url: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("dbload"));
    for v in dbload::db::target::ENV_VARS {
        c.env_remove(v);
    }
    c.env_remove("JOB_COMPLETION_INDEX")
        .env_remove("DBLOAD_RUN_ID");
    c.args(["-d", url, "stress"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for a worker, at most `secs` (then kill it and fail).
fn finish(mut child: Child, secs: u64) -> Output {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("a worker ran longer than {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run finished and wrote its results: exit 0, or 3 when a busy test
/// machine made a worker late for an arrival (the run is then marked
/// invalid; its counts are still exact).
fn ran(o: &Output) -> bool {
    matches!(o.status.code(), Some(0 | 3))
}

fn out(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Rows of the tables the default workload writes.
async fn written(c: &tokio_postgres::Client) -> Vec<i64> {
    let mut v = Vec::new();
    for t in [
        "appointments",
        "invoices",
        "invoice_items",
        "prescriptions",
        "user_sessions",
    ] {
        v.push(
            c.query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .await
                .unwrap()
                .get(0),
        );
    }
    v
}

/// The open model split in three: the workers' scheduled arrivals add up
/// to the one-process run's exactly (same seed, same rate, one global
/// schedule); the default workload's inserts never collide across workers
/// (no SQLSTATE class 23); every worker records the whole run's config and
/// its place in the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_schedule_exactly_what_one_process_does() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "--force",
        "--qps",
        "120",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--seed",
        "42",
        "--drain-timeout",
        "5s",
    ];
    let d = dir.path().to_path_buf();
    let (workers, single) = tokio::task::spawn_blocking(move || {
        let children: Vec<Child> = (0..3)
            .map(|k| {
                let o = out(&d, &format!("w{k}.json")).display().to_string();
                let mut a = common.to_vec();
                a.extend(["--segments", "3", "--run-id", "job-abc", "--out", &o]);
                spawn(&url, &a, &[("JOB_COMPLETION_INDEX", &k.to_string())])
            })
            .collect();
        let workers: Vec<Output> = children.into_iter().map(|c| finish(c, 60)).collect();
        let o = out(&d, "single.json").display().to_string();
        let mut a = common.to_vec();
        a.extend(["--out", &o]);
        let single = finish(spawn(&url, &a, &[]), 60);
        (workers, single)
    })
    .await
    .unwrap();
    for (k, w) in workers.iter().enumerate() {
        assert!(ran(w), "worker {k}: {}", stderr(w));
        assert!(
            stderr(w).contains(&format!("segment {k}/3 of run job-abc")),
            "{}",
            stderr(w)
        );
    }
    assert!(ran(&single), "{}", stderr(&single));
    let rs: Vec<StressResults> = (0..3)
        .map(|k| read_results(&dir.path().join(format!("w{k}.json"))))
        .collect();
    let one = read_results(&dir.path().join("single.json"));
    let sum: u64 = rs.iter().map(|r| r.totals.scheduled).sum();
    println!(
        "scheduled: workers {:?} = {sum}, one process {}",
        rs.iter().map(|r| r.totals.scheduled).collect::<Vec<_>>(),
        one.totals.scheduled
    );
    assert_eq!(sum, one.totals.scheduled);
    assert!(one.totals.scheduled > 150, "{}", one.totals.scheduled);
    for (k, r) in rs.iter().enumerate() {
        let s = r.segment.as_ref().expect("segment recorded");
        assert_eq!((s.index, s.count), (k as u32, 3));
        assert_eq!(s.run_id, "job-abc");
        assert!(s.clock_offset_us.is_some() && s.driver_cpu_secs.is_some());
        // The whole run's config in every worker (qps 120, not 40).
        assert_eq!(r.config, one.config);
        assert_eq!(r.totals.target_rate, Some(40.0));
        for sc in &r.scenarios {
            assert!(
                !sc.errors_by_class.contains_key("23"),
                "worker {k}, {}: unique violation {:?}",
                sc.name,
                sc.errors_by_class
            );
        }
    }
    assert!(one.segment.is_none());
}

/// The closed model split in three: 7 clients on 4 connections become
/// 3+2+2 clients on 2+1+1 connections; think time keeps each client's
/// scenarios apart without counting as latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_clients_and_pool_split_and_think_time_paces_them() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.sql");
    std::fs::write(&w, "-- @scenario one weight=1\nSELECT pg_sleep(0.001);\n").unwrap();
    let w = w.display().to_string();
    let d = dir.path().to_path_buf();
    let outs = tokio::task::spawn_blocking(move || {
        let children: Vec<Child> = (0..3)
            .map(|k| {
                let o = out(&d, &format!("c{k}.json")).display().to_string();
                let seg = format!("{k}/3");
                spawn(
                    &url,
                    &[
                        "--workload",
                        &w,
                        "--clients",
                        "7",
                        "--pool",
                        "4",
                        "--segment",
                        &seg,
                        "--seed",
                        "5",
                        "--duration",
                        "2s",
                        "--warmup",
                        "0s",
                        "--think-time",
                        "uniform:150ms..250ms",
                        "--out",
                        &o,
                    ],
                    &[],
                )
            })
            .collect();
        children
            .into_iter()
            .map(|c| finish(c, 60))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut clients = 0;
    let mut pool = 0;
    for (k, o) in outs.iter().enumerate() {
        let e = stderr(o);
        assert!(ran(o), "worker {k}: {e}");
        // "clients k with k mod 3 = K: C of 7 clients on P of 4 connections"
        let line = e
            .lines()
            .find(|l| l.contains(&format!("segment {k}/3 of run seed-5")))
            .unwrap_or_else(|| panic!("{e}"));
        let nums: Vec<usize> = line
            .split(": ")
            .last()
            .unwrap()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!((nums[1], nums[3]), (7, 4), "{line}");
        clients += nums[0];
        pool += nums[2];
        let r = read_results(&dir.path().join(format!("c{k}.json")));
        let think = 0.2;
        let per_client_max = 2.0 / think + 2.0;
        let calls = r.totals.calls as f64;
        println!(
            "worker {k}: {} clients, {calls} calls, p50 {} µs",
            nums[0], r.totals.latency.total.p50_us
        );
        assert!(calls >= 1.0, "worker {k} ran nothing");
        assert!(
            calls <= nums[0] as f64 * per_client_max,
            "worker {k}: {calls} calls by {} clients thinking ~200 ms each",
            nums[0]
        );
        // Latency is the scenario, not the think time.
        assert!(
            r.totals.latency.total.p50_us < 100_000,
            "{:?}",
            r.totals.latency.total
        );
    }
    assert_eq!((clients, pool), (7, 4));
}

/// `--start-at` with stages: two workers of a staged run set off at the
/// given instant (within 50 ms, on the server's clock) and their arrivals
/// add up to the one-process staged run's exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_and_stages_keep_two_workers_on_one_schedule() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.sql");
    std::fs::write(&w, "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
    let w = w.display().to_string();
    let d = dir.path().to_path_buf();
    let at = chrono::Utc::now() + chrono::Duration::seconds(4);
    let at_arg = format!("{:.3}", at.timestamp_millis() as f64 / 1000.0);
    let (workers, single) = tokio::task::spawn_blocking(move || {
        let common = [
            "--workload",
            &w,
            "--stages",
            "1s:40,0s:150,1s:150",
            "--seed",
            "9",
        ];
        let children: Vec<Child> = (0..2)
            .map(|k| {
                let o = out(&d, &format!("s{k}.json")).display().to_string();
                let seg = format!("{k}/2");
                let mut a = common.to_vec();
                a.extend(["--segment", &seg, "--start-at", &at_arg, "--out", &o]);
                spawn(&url, &a, &[])
            })
            .collect();
        let workers: Vec<Output> = children.into_iter().map(|c| finish(c, 60)).collect();
        let o = out(&d, "one.json").display().to_string();
        let mut a = common.to_vec();
        a.extend(["--out", &o]);
        (workers, finish(spawn(&url, &a, &[]), 60))
    })
    .await
    .unwrap();
    assert!(ran(&single), "{}", stderr(&single));
    let one = read_results(&dir.path().join("one.json"));
    let mut sum = 0;
    for (k, o) in workers.iter().enumerate() {
        assert!(ran(o), "worker {k}: {}", stderr(o));
        let r = read_results(&dir.path().join(format!("s{k}.json")));
        let s = r.segment.clone().unwrap();
        assert_eq!(
            s.start_at.unwrap().timestamp_millis(),
            at.timestamp_millis()
        );
        let actual =
            r.started_at - chrono::Duration::microseconds(s.clock_offset_us.unwrap() as i64);
        let late_ms = (actual - s.start_at.unwrap()).num_microseconds().unwrap() as f64 / 1000.0;
        println!(
            "worker {k}: {} scheduled, started {late_ms:+.3} ms from --start-at",
            r.totals.scheduled
        );
        assert!(late_ms.abs() < 50.0, "worker {k} started {late_ms} ms off");
        assert_eq!(r.config, one.config);
        sum += r.totals.scheduled;
    }
    println!("one process: {} scheduled", one.totals.scheduled);
    assert_eq!(sum, one.totals.scheduled);
}

/// `--rendezvous`: three workers started 2 s apart meet in the target
/// database and set off at the one chosen instant (each one's actual start,
/// on the server's clock, within 50 ms of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendezvous_starts_workers_started_apart_together() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.sql");
    std::fs::write(&w, "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
    let w = w.display().to_string();
    let d = dir.path().to_path_buf();
    let outs = tokio::task::spawn_blocking(move || {
        let mut children = Vec::new();
        for k in 0..3 {
            if k > 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            let o = out(&d, &format!("r{k}.json")).display().to_string();
            children.push(spawn(
                &url,
                &[
                    "--workload",
                    &w,
                    "--qps",
                    "50",
                    "--segments",
                    "3",
                    "--rendezvous",
                    "--rendezvous-timeout",
                    "30s",
                    "--duration",
                    "1s",
                    "--warmup",
                    "0s",
                    "--out",
                    &o,
                ],
                &[
                    ("JOB_COMPLETION_INDEX", &k.to_string()),
                    ("DBLOAD_RUN_ID", "rdv-together"),
                ],
            ));
        }
        children
            .into_iter()
            .map(|c| finish(c, 90))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut starts = Vec::new();
    for (k, o) in outs.iter().enumerate() {
        assert!(ran(o), "worker {k}: {}", stderr(o));
        let r = read_results(&dir.path().join(format!("r{k}.json")));
        let s = r.segment.clone().unwrap();
        let at = s.start_at.expect("the agreed start is recorded");
        // When the worker actually set off, on the server's clock.
        let off = s.clock_offset_us.unwrap();
        let actual = r.started_at - chrono::Duration::microseconds(off.round() as i64);
        let late_ms = (actual - at).num_microseconds().unwrap() as f64 / 1000.0;
        println!(
            "worker {k}: agreed start {at}, clock offset {:.3} ms, actual start {:+.3} ms from it",
            off / 1000.0,
            late_ms
        );
        assert!(late_ms.abs() < 50.0, "worker {k} started {late_ms} ms off");
        starts.push(at);
    }
    assert!(starts.iter().all(|s| *s == starts[0]), "{starts:?}");
}

/// A worker that never arrives: the others give up after the timeout with
/// exit 2 naming the missing segment; a second worker for a segment already
/// registered is refused; nothing is written to the workload's tables, and
/// the rows of the workers that gave up no longer count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_worker_is_named_and_a_duplicate_refused() {
    let db = seeded().await;
    let c = db.client().await;
    let before = written(&c).await;
    let url = db.url();
    let outs = tokio::task::spawn_blocking(move || {
        let args = [
            "--force",
            "--qps",
            "50",
            "--segments",
            "3",
            "--rendezvous",
            "--rendezvous-timeout",
            "3s",
            "--duration",
            "1s",
            "--run-id",
            "rdv-missing",
        ];
        let a = spawn(&url, &args, &[("JOB_COMPLETION_INDEX", "0")]);
        let b = spawn(&url, &args, &[("JOB_COMPLETION_INDEX", "1")]);
        // Well within the others' wait, even on a busy machine.
        std::thread::sleep(Duration::from_millis(1000));
        let dup = finish(spawn(&url, &args, &[("JOB_COMPLETION_INDEX", "1")]), 30);
        vec![finish(a, 30), finish(b, 30), dup]
    })
    .await
    .unwrap();
    for o in &outs[..2] {
        let e = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(
            e.contains("segment(s) 2 of 3 never arrived"),
            "the missing segment is named: {e}"
        );
    }
    let e = stderr(&outs[2]);
    assert_eq!(outs[2].status.code(), Some(2), "{e}");
    assert!(e.contains("segment 1 is already registered"), "{e}");
    assert_eq!(
        written(&c).await,
        before,
        "nothing written before the start"
    );
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM dbload_rendezvous WHERE run_id = 'rdv-missing' AND NOT gave_up",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the workers that gave up no longer count");
}

/// Bad segment flags: clear messages, exit 2, before anything connects.
#[test]
fn bad_segment_flags_name_the_flag() {
    let url = "postgresql://nobody@127.0.0.1:1/x";
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &["--qps", "5", "--segment", "3/3", "--seed", "1"],
            &[],
            "--segment segment 3 of 3 does not exist: K is 0-based",
        ),
        (
            &["--qps", "5", "--segment", "0/0", "--seed", "1"],
            &[],
            "N must be at least 1",
        ),
        (
            &["--qps", "5", "--segment", "1-3", "--seed", "1"],
            &[],
            "is not K/N",
        ),
        (
            &["--qps", "5", "--segments", "3", "--seed", "1"],
            &[],
            "JOB_COMPLETION_INDEX is not set",
        ),
        (
            &["--qps", "5", "--segments", "3", "--seed", "1"],
            &[("JOB_COMPLETION_INDEX", "7")],
            "JOB_COMPLETION_INDEX=7, --segments 3",
        ),
        (
            &["--qps", "5", "--segment", "0/3"],
            &[],
            "needs --seed N or --run-id",
        ),
        (
            &[
                "--qps",
                "5",
                "--segment",
                "0/3",
                "--seed",
                "1",
                "--rendezvous",
            ],
            &[],
            "--rendezvous needs --run-id",
        ),
        (
            &["--qps", "5", "--start-at", "1"],
            &[],
            "give --segment K/N or --segments N",
        ),
        (
            &[
                "--qps",
                "5",
                "--find-max",
                "--segment",
                "0/2",
                "--seed",
                "1",
            ],
            &[],
            "cannot be split",
        ),
        (
            &["--clients", "5", "--think-time", "gauss:1s"],
            &[],
            "unknown distribution",
        ),
    ];
    for (args, env, want) in cases {
        let mut c = dbload();
        c.env_remove("JOB_COMPLETION_INDEX")
            .env_remove("DBLOAD_RUN_ID");
        for (k, v) in *env {
            c.env(k, v);
        }
        let a = c.args(["-d", url, "stress"]).args(*args).assert().code(2);
        let e = crate::common::stderr_of(&a);
        assert!(e.contains(want), "{args:?}: want {want:?} in {e}");
    }
}
