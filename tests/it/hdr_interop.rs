//! HdrHistogram's own formats (issue 17): a results file's histograms
//! (compressed V2) and the `--hdr-log` interval log are decoded by an
//! independent implementation — Python's `hdrh` (pip package
//! `hdrhistogram`, installed by `.ci/run`) — whose p50/p90/p99/p99.9/max
//! must be dbload's. A missing `hdrh` fails the test (it never skips);
//! `DBLOAD_PYTHON` names another interpreter.

use crate::common::{dbload, read_results, seeded, stderr_of};
use dbload::stress::results::Latency;

const WORKLOAD: &str = "\
-- @scenario fast weight=3
SELECT 1;
-- @scenario slow_one weight=1
SELECT 2;
SELECT pg_sleep(0.002);
";

fn python() -> String {
    std::env::var("DBLOAD_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// dbload's figures in the order decode.py prints them.
fn ours(l: &Latency) -> Vec<u64> {
    vec![l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us, l.count]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_hdrh_reads_the_results_histograms_and_the_hdr_log() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (r, decoded, log_text) = tokio::task::spawn_blocking(move || {
        let (w, out, log) = (d.join("w.sql"), d.join("r.json"), d.join("run.hlog"));
        std::fs::write(&w, WORKLOAD).unwrap();
        let a = dbload()
            .args(["-d", &url, "stress", "-w", w.to_str().unwrap()])
            .args(["--qps", "200", "--pool", "4", "--duration", "3s"])
            .args(["--warmup", "0s", "--out", out.to_str().unwrap()])
            .args(["--hdr-log", log.to_str().unwrap()])
            .assert();
        assert!(
            a.get_output().status.code().is_some_and(|c| c != 2),
            "{}",
            stderr_of(&a)
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/hdr/decode.py");
        let o = std::process::Command::new(python())
            .args([script, out.to_str().unwrap(), log.to_str().unwrap()])
            .output()
            .unwrap_or_else(|e| panic!("{}: {e} (set DBLOAD_PYTHON)", python()));
        assert!(
            o.status.success(),
            "Python's hdrh could not decode dbload's histograms (is it installed? \
             `python3 -m pip install hdrhistogram`; .ci/run installs it):\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            read_results(&out),
            v,
            std::fs::read_to_string(&log).unwrap(),
        )
    })
    .await
    .unwrap();

    let fig = |side: &str, key: &str| -> Vec<u64> {
        serde_json::from_value(decoded[side][key].clone())
            .unwrap_or_else(|e| panic!("{side} {key}: {e}: {decoded}"))
    };
    assert!(r.totals.latency.total.count > 300, "{:?}", r.totals);
    // The results file's histograms.
    assert_eq!(fig("results", "total"), ours(&r.totals.latency.total));
    for s in &r.scenarios {
        assert_eq!(
            fig("results", &format!("scenario:{}", s.name)),
            ours(&s.latency.total),
            "{}",
            s.name
        );
        for st in &s.statements {
            assert_eq!(
                fig("results", &format!("statement:{}", st.name)),
                ours(&st.exec),
                "{}",
                st.name
            );
        }
    }
    // The interval log: the untagged lines add up to the run's totals, each
    // scenario's tagged lines to the scenario's.
    assert_eq!(fig("log", "total"), ours(&r.totals.latency.total));
    for s in &r.scenarios {
        assert_eq!(
            fig("log", &format!("scenario:{}", s.name)),
            ours(&s.latency.total),
            "{}",
            s.name
        );
    }
    let lines = decoded["log"]["lines"].as_u64().unwrap() as usize;
    assert_eq!(lines, r.intervals.len() * (r.scenarios.len() + 1));
    let start = decoded["log"]["start_time"].as_f64().unwrap();
    let began = r.started_at.timestamp() as f64;
    assert!((start - began).abs() < 30.0, "{start} vs {began}");
    assert!(log_text.contains("#[StartTime: "), "{log_text}");
    assert!(log_text.contains("#[BaseTime: "), "{log_text}");
    assert!(log_text.contains("\"StartTimestamp\",\"Interval_Length\""));
    assert!(log_text.contains("\nTag=slow_one,"), "{log_text}");
}

#[test]
fn an_unwritable_hdr_log_fails_before_the_run() {
    // No database is named and the path cannot be created: the error names
    // the flag and the path, exit 2, before any connection.
    let a = dbload()
        .args([
            "-d",
            "postgres://nobody@127.0.0.1:1/none",
            "stress",
            "--qps",
            "10",
        ])
        .args(["--duration", "1s", "--hdr-log", "/nonexistent-dir/x.hlog"])
        .assert();
    assert_eq!(a.get_output().status.code(), Some(2));
    let e = stderr_of(&a);
    assert!(e.contains("--hdr-log /nonexistent-dir/x.hlog"), "{e}");
}
