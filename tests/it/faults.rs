//! Faults in the middle of runs (the chaos tests): a stall drops arrivals in
//! the seconds it lasts (not when it ends); a restart, a kill -9 and a
//! freeze (SIGSTOP) of the server — on a throw-away cluster of their own —
//! during open and closed runs are counted, backed off, recovered from
//! within seconds, and judged by the verdict.

use std::time::Duration;

use dbload::db::local::LocalCluster;
use dbload::stress::{Load, StressConfig, StressResults};

use crate::common::{open_cfg, read_results, run_workload, seeded, temp_home};

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

/// What happens to the throw-away cluster in the middle of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// A fast shutdown, down for a while, started again.
    Restart,
    /// kill -9 of the postmaster and its children, started again.
    Kill,
    /// SIGSTOP of the postmaster and its children for a while, then SIGCONT.
    Freeze,
}

/// The postmaster of the cluster and its children.
fn server_pids(cluster: &LocalCluster) -> Vec<i32> {
    let pid_file = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid")).unwrap();
    let pm: i32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let mut pids = vec![pm];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let ppid: i32 = after
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == pm
            && let Ok(pid) = e.file_name().to_string_lossy().parse()
        {
            pids.push(pid);
        }
    }
    pids
}

fn signal(pids: &[i32], sig: nix::sys::signal::Signal) {
    for p in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), sig);
    }
}

/// How long a faulted run goes on after the server is back.
const RECOVERY_WINDOW: Duration = Duration::from_secs(6);

/// Run `model` on a cluster of its own, with `fault` from about 2.5 s for
/// 2.5 s, until [`RECOVERY_WINDOW`] after the server is back (then
/// SIGTERM): the results, dbload's stderr, and the seconds (since
/// measuring began) at which the server was back.
async fn faulted_run(model: &[&str], fault: Fault) -> (StressResults, String, f64) {
    use nix::sys::signal::Signal;
    let home = temp_home();
    let cluster = LocalCluster::new(home.path().to_path_buf()).unwrap();
    let url = cluster.start().await.unwrap().target.to_url_with_password();
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("sleep.sql");
    std::fs::write(&wl, "-- @scenario nap weight=1\nSELECT pg_sleep(0.002);\n").unwrap();
    let out = dir.path().join("r.json");
    let (wl2, out2) = (wl.display().to_string(), out.clone());
    let args: Vec<String> = model.iter().map(|s| s.to_string()).collect();
    // Long enough for a slow restart; stopped by SIGTERM once the server
    // has been back for a while, so a busy machine only makes it longer.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("dbload"));
    for v in dbload::db::target::ENV_VARS {
        cmd.env_remove(v);
    }
    let child = cmd
        .args(["-d", &url, "stress", "-w", &wl2])
        .args(&args)
        .args(["--duration", "60s", "--warmup", "0s"])
        .args(["--out", out2.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let run = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let down = Duration::from_millis(2500);
    match fault {
        Fault::Restart => {
            cluster.stop().await.unwrap();
            tokio::time::sleep(down).await;
            cluster.start().await.unwrap();
        }
        Fault::Kill => {
            signal(&server_pids(&cluster), Signal::SIGKILL);
            tokio::time::sleep(down).await;
            cluster.start().await.unwrap();
        }
        Fault::Freeze => {
            let pids = server_pids(&cluster);
            signal(&pids, Signal::SIGSTOP);
            tokio::time::sleep(down).await;
            signal(&pids, Signal::SIGCONT);
        }
    }
    let back = std::time::SystemTime::now();
    tokio::time::sleep(RECOVERY_WINDOW).await;
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let a = run.await.unwrap();
    let _ = cluster.stop().await;
    let err = String::from_utf8_lossy(&a.stderr).into_owned();
    assert_eq!(a.status.code(), Some(3), "stopped by SIGTERM: {err}");
    let r = read_results(&out);
    let since_start = back
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - r.started_at.timestamp_micros() as f64 / 1e6;
    (r, err, since_start)
}

/// Restart, kill -9 and freeze the server during open and closed runs: the
/// run recovers within seconds, counts the outage as connection errors,
/// and (stopped by SIGTERM) writes valid results with a verdict that
/// matches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_recover_from_restarts_kills_and_freezes() {
    let mut report = Vec::new();
    for (model, fault) in [
        (&["--clients", "4"][..], Fault::Restart),
        (&["--qps", "150"][..], Fault::Restart),
        (&["--clients", "4"][..], Fault::Kill),
        (&["--qps", "150"][..], Fault::Kill),
        (&["--clients", "4"][..], Fault::Freeze),
        (&["--qps", "150"][..], Fault::Freeze),
    ] {
        let (r, err, back) = faulted_run(model, fault).await;
        let t = &r.totals;
        let case = format!("{model:?} {fault:?}");
        // Recovered: the first second with successful calls after the
        // server was back.
        let recovered = r
            .intervals
            .iter()
            .find(|i| i.t > back && i.calls > 0)
            .map(|i| i.t - back);
        report.push(format!(
            "{case}: recovered after {recovered:?} s, {} calls, {} errors {:?}, max latency {} ms, valid {}",
            t.calls,
            t.errors,
            r.scenarios[0].errors_by_class,
            t.latency.total.max_us / 1000,
            r.verdict.valid
        ));
        let recovered = recovered.unwrap_or_else(|| panic!("{case}: never recovered: {err}"));
        assert!(recovered < 5.0, "{case}: recovered after {recovered} s");
        assert!(
            r.interrupted,
            "{case}: ended by SIGTERM, with partial results"
        );
        let classes: Vec<&String> = r.scenarios[0].errors_by_class.keys().collect();
        // Connection failures (08) and what the server says while it goes
        // down or comes up (57, even 3D), never client-side (CL).
        assert!(
            !classes.iter().any(|c| *c == "CL"),
            "{case}: outage errors are the server's or the connection's: {classes:?}"
        );
        if fault != Fault::Freeze {
            assert!(classes.iter().any(|c| *c == "08"), "{case}: {classes:?}");
        }
        if fault == Fault::Freeze {
            // Nothing fails: the stall is in the latency.
            assert!(
                t.latency.total.max_us >= 2_000_000,
                "{case}: {:?}",
                t.latency.total
            );
        } else {
            assert!(t.errors > 0, "{case}: the outage is counted");
            assert!(
                r.server_statements_note
                    .as_deref()
                    .is_some_and(|n| n.contains("restarted during the run")),
                "{case}: {:?}",
                r.server_statements_note
            );
        }
        if model[0] == "--clients" {
            // Backed off: 4 clients retrying every 20 ms for 2.5 s would
            // fail about 500 times.
            assert!(t.errors < 200, "{case}: {} errors, no back-off", t.errors);
        }
        // The verdict follows the error budget (and the interruption).
        assert!(!r.verdict.valid, "{case}: interrupted");
        if t.error_rate > 0.05 {
            assert!(
                !r.verdict.valid
                    && r.verdict
                        .invalid_reasons
                        .iter()
                        .any(|x| x.contains("error budget")),
                "{case}: {:?}",
                r.verdict
            );
        }
    }
    eprintln!("chaos:\n  {}", report.join("\n  "));
}
