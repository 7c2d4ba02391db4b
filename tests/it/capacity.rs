//! Load shapes and capacity planning against a real server: a breakpoint
//! search lands within ±15 % of the closed-loop maximum measured in the same
//! test; a sweep over 3 pool sizes, a staged run and a capacity sweep
//! (open and closed model) complete through the CLI with consistent figures in the results JSON;
//! a first step that already fails the SLO says so; bad stage lists, pool
//! lists and SLOs name the bad token.

use std::time::Duration;

use dbload::capacity::breakpoint::Search;
use dbload::capacity::model::Shaped;
use dbload::capacity::step::StepEnv;
use dbload::capacity::sweep::{self, Mode};
use dbload::stress::{
    Arrival, Hooks, Load, RateProfile, Session, StressConfig, StressResults, threshold,
};
use dbload::workload;

use crate::common::{TestDb, dbload, seeded, with_dataset};

/// A primary-key lookup that also holds its connection for 3 ms on the
/// server: the capacity of a pool is set by the server side (about
/// pool / 3 ms), not by the debug-build driver or the shared CPUs.
const WORKLOAD: &str = "\
-- @workload capacity-test

-- @scenario pet weight=3
-- @param p = int(1, 200)
SELECT name, pg_sleep(0.003) FROM pets WHERE id = :p;

-- @scenario clinic weight=1
-- @param c = int(1, 20)
SELECT count(*), pg_sleep(0.003) FROM appointments WHERE clinic_id = :c;
";

fn template(load: Load, pool: usize, secs: f64) -> StressConfig {
    StressConfig {
        load,
        duration: Duration::from_secs_f64(secs),
        warmup: Duration::from_millis(300),
        pool,
        seed: 5,
        drain_timeout: Duration::from_secs(3),
        timer_resolution: Default::default(),
    }
}

/// Each statement holds its connection for 20 ms on the server, so a pool
/// of 4 can never serve more than 200/s: the server side, not the machine's
/// load, sets the capacity (a busy host adds ~1 ms per statement, 5 %).
const SERVER_BOUND_WORKLOAD: &str = "\
-- @workload server-bound

-- @scenario pet weight=1
-- @param p = int(1, 200)
SELECT name, pg_sleep(0.02) FROM pets WHERE id = :p;
";

/// Seconds each statement of [`SERVER_BOUND_WORKLOAD`] holds its connection.
const HOLD_SECS: f64 = 0.02;

/// The breakpoint search against what bounds it, with nothing that a busy
/// machine can move by more than a few percent: the server-side hold makes
/// the capacity about pool / 20 ms; the closed-loop maximum is measured
/// before and after the search (a machine whose load changes meanwhile
/// widens the envelope instead of failing the test); and the search must
/// agree with its own steps (bracketed, converged, the failing step judged
/// with evidence). Uniform arrivals: a step's achieved rate and its queueing
/// are not at the mercy of a Poisson draw of 1.5 s. It replaces a comparison with one closed-loop
/// measurement on a 3 ms hold, which failed at 895 vs 769/s on a busy host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakpoint_is_within_15_percent_of_the_closed_loop_max() {
    let db = with_dataset(TestDb::new_exclusive().await).await;
    let w = workload::parse("server-bound.sql", SERVER_BOUND_WORKLOAD).unwrap();
    let session = Session::open(&db.target, w).await.unwrap();
    let pool_size = 4;
    let physical = pool_size as f64 / HOLD_SECS;

    // The closed-loop maximum: one client per connection, back to back.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let closed_max = |rx: tokio::sync::watch::Receiver<bool>| {
        let cfg = template(Load::closed(pool_size), pool_size, 2.0);
        let session = &session;
        async move {
            let r = session.run(&cfg, &[], Hooks::stop_on(rx)).await.unwrap();
            assert_eq!(r.totals.errors, 0);
            r.totals.rate
        }
    };
    let before = closed_max(rx.clone()).await;
    assert!(
        before <= physical * 1.02,
        "closed loop {before:.0}/s beyond the server-side bound {physical:.0}/s"
    );

    // The breakpoint search on the same pool size, from half the closed max.
    let slos = vec![
        threshold::parse("p99<100ms").unwrap(),
        threshold::parse("error_rate<0.1%").unwrap(),
    ];
    let env = StepEnv::new(&session, &slos, rx.clone());
    let open = Load::Open {
        profile: RateProfile::Constant { qps: 1.0 },
        arrival: Arrival::Uniform,
        max_inflight: 1000,
    };
    let search = Search {
        start_qps: (before / 2.0).round(),
        growth: 1.5,
        tolerance: 0.05,
        max_steps: 8,
        template: template(open, pool_size, 1.5),
    };
    let mode = Mode::FindMax {
        search: search.clone(),
        start_qps: Some(search.start_qps),
        probe: template(Load::closed(1), 1, 1.0),
    };
    let mut seen = 0;
    let (sw, rep) = sweep::run(&env, &[pool_size], &mode, &mut |_| seen += 1)
        .await
        .unwrap();
    let after = closed_max(rx).await;
    let b = sw.pools[0].breakpoint.as_ref().unwrap();
    let summary: Vec<String> = b
        .steps
        .iter()
        .map(|s| {
            format!(
                "{:?}/s → {}/s p99 {}µs passed {} {:?}",
                s.target_qps, s.qps, s.p99_us, s.passed, s.evidence
            )
        })
        .collect();
    eprintln!("closed-loop max {before:.0}/s before, {after:.0}/s after; breakpoint {summary:#?}");
    assert_eq!(seen, b.steps.len());
    assert!(b.steps.len() >= 3, "{summary:?}");
    let max = b
        .max_qps
        .unwrap_or_else(|| panic!("no passing step: {summary:?}"));
    let failed_at = b
        .failed_qps
        .unwrap_or_else(|| panic!("the search found no failing rate: {summary:?}"));

    // What bounds it: never beyond the server-side hold; within 15 % of
    // the closed loop measured around it.
    assert!(
        max <= physical * 1.05,
        "{max}/s > {physical:.0}/s: {summary:?}"
    );
    let (lo, hi) = (before.min(after), before.max(after));
    assert!(
        max >= lo * 0.85 && max <= hi * 1.15,
        "breakpoint {max}/s vs closed-loop max {lo:.0}–{hi:.0}/s: {summary:?}"
    );
    // Its own steps: the failing rate is above the passing one, the search
    // converged to its tolerance (or used every step), every passing step
    // achieved its rate, and the failing step says why, with evidence.
    assert!(failed_at > max, "{summary:?}");
    assert!(
        (failed_at - max) / max <= search.tolerance + 0.02 || b.steps.len() == search.max_steps,
        "not converged: {summary:?}"
    );
    for s in b.steps.iter().filter(|s| s.passed) {
        let t = s.target_qps.unwrap();
        assert!((s.qps - t).abs() / t < 0.15, "{summary:?}");
    }
    let failed = b
        .steps
        .iter()
        .find(|s| s.target_qps == b.failed_qps)
        .unwrap();
    assert!(!failed.passed && !failed.evidence.is_empty());
    assert!(failed.limit.is_some(), "{summary:?}");
    assert!(failed.server.db.is_some(), "pg_stat_database deltas");
    assert!(failed.server.samples > 0, "wait-event samples");
    assert_eq!(sw.recommendation.pool, Some(pool_size));
    let rep = rep.unwrap();
    assert_eq!(rep.config.target_qps(), Some(max));
}

fn write_workload(dir: &tempfile::TempDir) -> String {
    let p = dir.path().join("capacity.sql");
    std::fs::write(&p, WORKLOAD).unwrap();
    p.display().to_string()
}

fn run_cli(args: Vec<String>) -> assert_cmd::assert::Assert {
    dbload().args(args).assert()
}

fn results(path: &std::path::Path) -> StressResults {
    let text = std::fs::read_to_string(path).unwrap();
    let r: StressResults = serde_json::from_str(&text).unwrap();
    // Round trip: the added fields survive serialisation (durations in the
    // config are f64 seconds, which need not round-trip to the nanosecond).
    // serde_json's default float parsing may also differ in the last bit,
    // so the USL parameters are compared with a tolerance.
    let again: StressResults = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    let mut again = Shaped::of(&again).unwrap();
    let mut r2 = Shaped::of(&r).unwrap();
    let (a, b) = (
        again.capacity.as_mut().and_then(|c| c.usl.take()),
        r2.capacity.as_mut().and_then(|c| c.usl.take()),
    );
    if let (Some(a), Some(b)) = (a, b) {
        for (x, y) in [(a.lambda, b.lambda), (a.sigma, b.sigma), (a.kappa, b.kappa)] {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1e-300), "{x} {y}");
        }
    }
    assert_eq!(again, r2);
    r
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_sweep_staged_run_and_capacity_through_the_cli() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = write_workload(&dir);
    let url = db.url();
    let out = dir.path().join("sweep.json");

    // A sweep over 3 pool sizes at a rate each can serve.
    let mut a = args(&[
        "-d", &url, "stress", "-w", &wl, "--qps", "200", "--pool", "2,4,8",
    ]);
    a.extend(args(&[
        "--duration",
        "1s",
        "--warmup",
        "300ms",
        "--seed",
        "3",
    ]));
    a.extend(args(&[
        "--slo",
        "p99<250ms",
        "--out",
        out.to_str().unwrap(),
    ]));
    let r = tokio::task::spawn_blocking(move || run_cli(a))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.get_output().stderr).into_owned();
    let stdout = String::from_utf8_lossy(&r.get_output().stdout).into_owned();
    assert_eq!(r.get_output().status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(stderr.matches("pool ").count() >= 3, "{stderr}");
    assert!(stdout.contains("recommended pool:"), "{stdout}");
    let res = results(&out);
    let sw = &Shaped::of(&res).unwrap().sweep.unwrap();
    assert_eq!(sw.mode, "rate");
    let pools: Vec<usize> = sw.pools.iter().map(|p| p.pool).collect();
    assert_eq!(pools, vec![2, 4, 8]);
    for p in &sw.pools {
        let s = p.step.as_ref().unwrap();
        assert!(s.passed, "{s:?}");
        assert!(
            (s.qps - 200.0).abs() / 200.0 < 0.2,
            "pool {}: {}/s",
            p.pool,
            s.qps
        );
        assert_eq!(s.errors, 0);
        assert!(s.server.db.unwrap().commits > 0);
    }
    let rec = sw.recommendation.pool.unwrap();
    assert!(pools.contains(&rec));
    assert_eq!(
        res.config.pool, rec,
        "the top-level results are the recommended pool's run"
    );

    // A staged run: per-stage results in the JSON.
    let out = dir.path().join("stages.json");
    let mut a = args(&[
        "-d",
        &url,
        "stress",
        "-w",
        &wl,
        "--stages",
        "1s:150,1s:150,0s:300,1s:300",
    ]);
    a.extend(args(&[
        "--pool",
        "4",
        "--seed",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]));
    let r = tokio::task::spawn_blocking(move || run_cli(a))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.get_output().stdout).into_owned();
    assert_eq!(r.get_output().status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Stages"), "{stdout}");
    let res = results(&out);
    let st = &Shaped::of(&res).unwrap().stages.unwrap();
    assert_eq!(
        st.iter().map(|s| s.window.stage).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert!((st[1].achieved_rate - 150.0).abs() / 150.0 < 0.25, "{st:?}");
    assert!((st[2].achieved_rate - 300.0).abs() / 300.0 < 0.25, "{st:?}");
    // Ramp 0 → 150 over 1 s (75), 150 for 1 s, 300 for 1 s: 525 arrivals.
    assert!(
        (res.totals.scheduled as f64 - 525.0).abs() < 110.0,
        "{}",
        res.totals.scheduled
    );

    // Client-count stages (closed model): 0 → 2 clients over 1 s, then 2.
    let out = dir.path().join("clients.json");
    let mut a = args(&[
        "-d",
        &url,
        "stress",
        "-w",
        &wl,
        "--client-stages",
        "1s:2,1s:2",
    ]);
    a.extend(args(&["--seed", "6", "--out", out.to_str().unwrap()]));
    let r = tokio::task::spawn_blocking(move || run_cli(a))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.get_output().stdout).into_owned();
    assert_eq!(r.get_output().status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 clients"), "{stdout}");
    let res = results(&out);
    assert!(matches!(res.config.load, Load::Closed { clients: 2, .. }));
    let st = &Shaped::of(&res).unwrap().stages.unwrap();
    assert_eq!(st.len(), 2);
    assert!(st[1].calls > 0 && st[1].inflight_max <= 2, "{st:?}");

    // The capacity model over 1, 2, 4 clients.
    let out = dir.path().join("capacity.json");
    let mut a = args(&[
        "-d",
        &url,
        "stress",
        "-w",
        &wl,
        "--capacity",
        "--pool",
        "1,2,4",
    ]);
    a.extend(args(&[
        "--step-duration",
        "1s",
        "--warmup",
        "200ms",
        "--target-qps",
        "100",
    ]));
    a.extend(args(&[
        "--slo",
        "p99<250ms",
        "--out",
        out.to_str().unwrap(),
    ]));
    let r = tokio::task::spawn_blocking(move || run_cli(a))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.get_output().stdout).into_owned();
    assert_eq!(r.get_output().status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("USL fit") && stdout.contains("Capacity plan"),
        "{stdout}"
    );
    let res = results(&out);
    let cap = &Shaped::of(&res).unwrap().capacity.unwrap();
    assert_eq!(cap.steps.len(), 3);
    let x: Vec<f64> = cap.steps.iter().map(|s| s.qps).collect();
    // Sleep-bound: more clients, more throughput.
    assert!(x[2] > 1.5 * x[0], "{x:?}");
    let usl = cap.usl.unwrap();
    assert!(
        usl.lambda > 0.5 * x[0] && usl.lambda < 1.5 * x[0],
        "{usl:?} {x:?}"
    );
    let plan = &cap.plan;
    assert!(plan.max_qps.is_some() && plan.pool.is_some(), "{plan:?}");
    assert!(plan.headroom_pct.unwrap() > 0.0, "{plan:?}");
    assert!(plan.double.as_ref().unwrap().fits, "{plan:?}");
}

#[test]
fn a_first_step_that_fails_the_slo_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(seeded());
    let dir = tempfile::tempdir().unwrap();
    let wl = write_workload(&dir);
    let out = dir.path().join("r.json");
    let mut a = args(&[
        "-d",
        &db.url(),
        "stress",
        "-w",
        &wl,
        "--find-max",
        "--qps",
        "100",
    ]);
    a.extend(args(&[
        "--pool",
        "2",
        "--step-duration",
        "1s",
        "--warmup",
        "200ms",
    ]));
    a.extend(args(&["--slo", "p99<1ms", "--out", out.to_str().unwrap()]));
    let r = run_cli(a);
    let stdout = String::from_utf8_lossy(&r.get_output().stdout).into_owned();
    assert_eq!(r.get_output().status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the first step (100/s) already fails the SLO"),
        "{stdout}"
    );
    let res = results(&out);
    let b = Shaped::of(&res).unwrap().sweep.unwrap().pools[0]
        .breakpoint
        .clone()
        .unwrap();
    assert_eq!(
        (b.max_qps, b.failed_qps, b.steps.len()),
        (None, Some(100.0), 1)
    );
    drop(db);
}

#[test]
fn bad_stages_pools_and_slos_name_the_token() {
    let url = "postgres://nobody@127.0.0.1:1/none";
    let cases: &[(&[&str], &str)] = &[
        (&["--stages", "10s:100,2q:5"], "\"2q\""),
        (&["--stages", "10s:100,10s"], "stage 2 \"10s\""),
        (&["--qps", "10", "--pool", "4,eight"], "\"eight\""),
        (&["--qps", "10", "--pool", "4..64x1"], "step \"1\""),
        (
            &["--find-max", "--slo", "p98<5ms"],
            "unknown metric \"p98\"",
        ),
        (&["--find-max", "--slo", "p99<fast"], "\"fast\""),
        (&["--qps", "10", "--profile", "burst"], "\"burst\""),
    ];
    for (extra, want) in cases {
        let a = dbload().args(["-d", url, "stress"]).args(*extra).assert();
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert_eq!(a.get_output().status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
}
