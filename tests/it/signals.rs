//! Stop signals (issue 12 §2): SIGTERM and SIGHUP end every long-running
//! command like Ctrl-C — stress in each mode, regress and seed write what
//! they have, marked interrupted, and exit 3; a second signal ends dbload
//! at once. Each test starts the dbload binary, waits until it says it is
//! running (its handlers are installed by then), signals it and checks what
//! it left behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::{TestDb, read_results, seeded};

/// A started dbload whose stderr is read line by line in the background.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("dbload"));
        for v in dbload::db::target::ENV_VARS {
            cmd.env_remove(v);
        }
        let mut child = cmd
            .args(args)
            .env_remove("GITHUB_STEP_SUMMARY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            reader,
        }
    }

    /// Wait (at most two minutes) for a stderr line containing `what`.
    fn until(&mut self, what: &str) {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok(l) => {
                    let hit = l.contains(what);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no {what:?} on stderr:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// The exit code and all of stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen.join("\n"))
    }
}

/// `dbload stress --force ARGS --out FILE` on a fresh copy of the test
/// dataset: wait for the banner, let it run `after`, send `sig`, and
/// check exit 3 and results written with `interrupted: true`.
fn stress_stopped_by(sig: Signal, banner: &str, args: &[&str], after: Duration) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(seeded());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let url = db.url();
    let mut full = vec![
        "-d",
        &url,
        "stress",
        "--force",
        "--out",
        out.to_str().unwrap(),
    ];
    full.extend(args);
    let mut run = Running::start(&full);
    run.until(banner);
    std::thread::sleep(after);
    run.signal(sig);
    let (code, err) = run.finish();
    assert_eq!(code, Some(3), "{args:?}: {err}");
    assert!(err.contains(&format!("{sig} received")), "{err}");
    let r = read_results(&out);
    assert!(r.interrupted, "{args:?}");
    assert!(
        !r.verdict.valid && r.verdict.exit_code == 3,
        "{:?}",
        r.verdict
    );
    assert!(
        r.verdict
            .invalid_reasons
            .iter()
            .any(|x| x.contains("interrupted")),
        "{:?}",
        r.verdict
    );
}

#[test]
fn sigterm_ends_a_plain_run_with_partial_results_and_exit_3() {
    stress_stopped_by(
        Signal::SIGTERM,
        "driver thread",
        &["--qps", "40", "--duration", "60s", "--warmup", "0s"],
        Duration::from_secs(2),
    );
}

#[test]
fn sighup_ends_a_staged_closed_run_like_ctrl_c() {
    stress_stopped_by(
        Signal::SIGHUP,
        "driver thread",
        &["--client-stages", "2s:2,60s:2", "--pool", "2"],
        Duration::from_secs(2),
    );
}

/// A pool sweep at a fixed rate: its steps do not report an interruption
/// themselves; before, this exited 0 with `interrupted` only on the step.
#[test]
fn sigterm_ends_a_pool_sweep_with_exit_3() {
    stress_stopped_by(
        Signal::SIGTERM,
        "the same run on pool",
        &[
            "--qps",
            "30",
            "--pool",
            "2,3",
            "--duration",
            "60s",
            "--warmup",
            "0s",
        ],
        Duration::from_secs(2),
    );
}

#[test]
fn sigterm_ends_a_breakpoint_search_with_exit_3() {
    stress_stopped_by(
        Signal::SIGTERM,
        "breakpoint search",
        &[
            "--find-max",
            "--qps",
            "20",
            "--step-duration",
            "60s",
            "--slo",
            "p99<5s",
        ],
        Duration::from_secs(2),
    );
}

#[test]
fn sigterm_ends_a_capacity_sweep_with_exit_3() {
    stress_stopped_by(
        Signal::SIGTERM,
        "concurrency sweep",
        &[
            "--capacity",
            "--max-clients",
            "2",
            "--step-duration",
            "60s",
            "--slo",
            "p99<5s",
        ],
        Duration::from_secs(2),
    );
}

/// Statements that take 30 s each: the first SIGTERM waits for them (the
/// drain), the second ends dbload at once and nothing is written.
#[test]
fn a_second_signal_ends_at_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(seeded());
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("slow.sql");
    std::fs::write(&wl, "-- @scenario slow weight=1\nSELECT pg_sleep(30);\n").unwrap();
    let out = dir.path().join("r.json");
    let url = db.url();
    let mut run = Running::start(&[
        "-d",
        &url,
        "stress",
        "-w",
        wl.to_str().unwrap(),
        "--clients",
        "1",
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--drain-timeout",
        "60s",
        "--out",
        out.to_str().unwrap(),
    ]);
    run.until("driver thread");
    std::thread::sleep(Duration::from_secs(1));
    run.signal(Signal::SIGTERM);
    run.until("SIGTERM received");
    run.signal(Signal::SIGTERM);
    let (code, err) = run.finish();
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("SIGTERM received again: ending at once"),
        "{err}"
    );
    assert!(!out.exists(), "a second signal writes nothing more");
}

const SUITE: &str = r#"
[suite]
name = "signals"

[[run]]
name = "first"
workload = "workload.sql"
qps = 30
duration = "60s"
warmup = "0s"
pool = 2

[[run]]
name = "second"
workload = "workload.sql"
qps = 30
duration = "60s"
warmup = "0s"
pool = 2
"#;

/// SIGTERM during the night: the partial results are written to --out
/// (the interrupted run invalid, the second never run), exit 3, and no
/// baseline is written even with --update-baseline.
#[test]
fn sigterm_during_regress_writes_the_nights_partial_results_and_no_baseline() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(seeded());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("suite.toml"), SUITE).unwrap();
    std::fs::write(
        d.join("workload.sql"),
        "-- @scenario count_pets weight=1\nSELECT count(*) FROM pets;\n",
    )
    .unwrap();
    let path = |p: &str| d.join(p).to_str().unwrap().to_string();
    let (suite, baseline, out) = (path("suite.toml"), path("baseline.json"), path("out"));
    let url = db.url();
    let mut run = Running::start(&[
        "-d",
        &url,
        "regress",
        "--suite",
        &suite,
        "--baseline",
        &baseline,
        "--update-baseline",
        "--out",
        &out,
    ]);
    run.until("dbload: run first");
    std::thread::sleep(Duration::from_secs(2));
    run.signal(Signal::SIGTERM);
    let (code, err) = run.finish();
    assert_eq!(code, Some(3), "{err}");
    assert!(!Path::new(&baseline).exists(), "{err}");
    assert!(err.contains("NOT updated"), "{err}");
    let r: dbload::regress::RegressResults =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/regress.json")).unwrap())
            .unwrap();
    assert_eq!(r.runs.len(), 1, "the second run never started");
    assert!(r.runs[0].results.interrupted);
    assert_eq!(r.outcome.exit_code, 3);
    for f in ["summary.md", "junit.xml", "report.html"] {
        assert!(d.join("out").join(f).exists(), "{f}");
    }
}

/// SIGTERM while the seed waits for a lock (after it recorded its run):
/// exit 3, the dataset incomplete; the rerun repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_seed_leaves_it_incomplete_and_a_rerun_repairs_it() {
    let db = TestDb::new().await;
    let c = db.client().await;
    dbload::db::migrate::apply(&mut db.client().await, dbload::db::migrate::MIGRATIONS)
        .await
        .unwrap();
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE pets IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let url = db.url();
    let args = ["-d", &url, "seed", "--scale", "0.001", "--seed", "5"];
    let mut run = Running::start(&args);
    run.until("dbload: seeding");
    crate::seed::until_blocked(&c).await;
    run.signal(Signal::SIGTERM);
    let (code, err) = tokio::task::spawn_blocking(move || run.finish())
        .await
        .unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("incomplete"), "{err}");
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let latest = dbload::seed::metadata::latest(&c).await.unwrap().unwrap();
    assert!(!latest.complete);

    let rerun = tokio::task::spawn_blocking(move || {
        crate::common::dbload()
            .args(["-d", &url, "seed", "--scale", "0.001", "--seed", "5"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(
        dbload::seed::fingerprint(&c)
            .await
            .unwrap()
            .unwrap()
            .complete
    );
}
