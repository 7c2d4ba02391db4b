//! Every mode runs its workers on the driver threads asked for: a
//! `--find-max` search and a `regress` suite run with `--threads 2` have
//! exactly two `dbload-driver` threads while they run (read from
//! `/proc/<pid>/task/*/comm` of the running process).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestDb;

/// Run dbload with `args`, counting its driver threads every 10 ms:
/// (the most seen at once, exit code, stderr).
fn max_driver_threads(args: &[&str]) -> (usize, Option<i32>, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("dbload"));
    for v in dbload::db::target::ENV_VARS {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let tasks = format!("/proc/{}/task", child.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut most = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dbload {args:?} did not end within 120 s");
        }
        let n = std::fs::read_dir(&tasks)
            .map(|d| {
                d.flatten()
                    .filter(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|c| c.trim() == dbload::stress::DRIVER_THREAD_NAME)
                    })
                    .count()
            })
            .unwrap_or(0);
        most = most.max(n);
        std::thread::sleep(Duration::from_millis(10));
    };
    (most, status.code(), reader.join().unwrap())
}

const WORKLOAD: &str = "-- @workload threads\n-- @scenario one weight=1\nSELECT 1;\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_max_and_regress_honour_threads() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("threads.sql");
    std::fs::write(&wl, WORKLOAD).unwrap();
    let suite = dir.path().join("suite.toml");
    std::fs::write(
        &suite,
        "[[run]]\nname = \"one\"\nworkload = \"threads.sql\"\nqps = 50\nduration = \"1500ms\"\n\
         warmup = \"0s\"\npool = 4\n",
    )
    .unwrap();
    let (url, wl) = (db.url(), wl.display().to_string());
    let (suite, out) = (
        suite.display().to_string(),
        dir.path().join("out").display().to_string(),
    );
    let (find_max, regress) = tokio::task::spawn_blocking(move || {
        // A search whose first step already fails its SLO: one step.
        let find_max = max_driver_threads(&[
            "-d",
            &url,
            "stress",
            "-w",
            &wl,
            "--find-max",
            "--qps",
            "50",
            "--pool",
            "4",
            "--step-duration",
            "1500ms",
            "--slo",
            "p99<0.001ms",
            "--threads",
            "2",
        ]);
        let regress = max_driver_threads(&[
            "-d",
            &url,
            "regress",
            "--suite",
            &suite,
            "--out",
            &out,
            "--threads",
            "2",
        ]);
        (find_max, regress)
    })
    .await
    .unwrap();
    let (threads, code, err) = find_max;
    assert!(matches!(code, Some(0) | Some(1)), "{code:?}: {err}");
    assert!(err.contains("breakpoint search"), "{err}");
    assert_eq!(threads, 2, "find-max driver threads: {err}");
    let (threads, code, err) = regress;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(threads, 2, "regress driver threads: {err}");
}
