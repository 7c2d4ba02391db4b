//! `dbload merge` (issue 17, exact merge): worker files are made by real
//! short stress runs with `segment` set in their JSON; the merged file's
//! totals are the sums of the workers', its histograms the sum of theirs;
//! missing, duplicated and foreign files are refused (exit 2, naming the
//! files); `--allow-partial` merges what is there and says so; thresholds
//! are evaluated on the merged run; `report --baseline` and `analyze
//! --from-results` take the merged file.

use std::path::{Path, PathBuf};

use crate::common::{dbload, read_results, seeded, stderr_of};
use dbload::stress::StressResults;
use dbload::stress::results::decode_hist;

const WORKLOAD: &str = "\
-- @scenario one weight=3
SELECT 1;
-- @scenario two weight=1
SELECT 2;
SELECT pg_sleep(0.001);
-- @scenario oops weight=0.05
SELECT 1/0;
";

/// One real run's results file at `out`.
fn stress_run(url: &str, w: &Path, out: &Path) {
    let a = dbload()
        .args(["-d", url, "stress", "-w", w.to_str().unwrap()])
        .args(["--qps", "150", "--pool", "4", "--duration", "2s"])
        .args(["--warmup", "0s", "--seed", "9", "--format", "json"])
        .args(["--out", out.to_str().unwrap()])
        .assert();
    assert!(
        a.get_output().status.code().is_some_and(|c| c != 2),
        "{}",
        stderr_of(&a)
    );
}

/// `src` rewritten as segment `index` of `count` of run `run` at `dst`,
/// its verdict valid (a busy test machine may drop an arrival or two; the
/// verdict's effect on the merge is tested on its own).
fn as_segment(src: &Path, dst: &Path, index: u32, count: u32, run: &str) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    v["verdict"]["valid"] = true.into();
    v["verdict"]["invalid_reasons"] = serde_json::json!([]);
    v["verdict"]["exit_code"] = 0.into();
    v["segment"] = serde_json::json!({
        "index": index, "count": count, "run_id": run,
        "clock_offset_us": 120.0 + index as f64, "driver_cpu_secs": 0.5
    });
    // The runs behind these files ran one after the other; as segments of
    // one run they started together.
    v["started_at"] = "2026-12-02T12:00:00Z".into();
    std::fs::write(dst, serde_json::to_string(&v).unwrap()).unwrap();
}

fn merge(files: &[&PathBuf], extra: &[&str]) -> assert_cmd::assert::Assert {
    dbload()
        .arg("merge")
        .args(files.iter().map(|p| p.to_str().unwrap()))
        .args(extra)
        .assert()
}

fn code(a: &assert_cmd::assert::Assert) -> Option<i32> {
    a.get_output().status.code()
}

fn hist_sum(
    rs: &[&StressResults],
    f: impl Fn(&StressResults) -> String,
) -> hdrhistogram::Histogram<u64> {
    let mut h = dbload::stress::stats::new_hist();
    for r in rs {
        h.add(decode_hist(&f(r)).unwrap()).unwrap();
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_merge_exactly_and_bad_sets_are_refused() {
    let db = seeded().await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let w = d.join("w.sql");
        std::fs::write(&w, WORKLOAD).unwrap();
        let (raw0, raw1) = (d.join("raw0.json"), d.join("raw1.json"));
        stress_run(&url, &w, &raw0);
        stress_run(&url, &w, &raw1);
        let p = |n: &str| d.join(n);
        as_segment(&raw0, &p("w0.json"), 0, 2, "run-a");
        as_segment(&raw1, &p("w1.json"), 1, 2, "run-a");
        let (w0, w1) = (read_results(&p("w0.json")), read_results(&p("w1.json")));

        // The whole set: totals are the sums, histograms the sum.
        let out = p("run.json");
        let a = merge(
            &[&p("w1.json"), &p("w0.json")],
            &["--out", out.to_str().unwrap()],
        );
        let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        assert!(matches!(code(&a), Some(0 | 3)), "{}", stderr_of(&a));
        let m = read_results(&out);
        assert!(m.segment.is_none());
        let (t, t0, t1) = (&m.totals, &w0.totals, &w1.totals);
        assert!(t.calls > 200, "{t:?}");
        assert_eq!(t.calls, t0.calls + t1.calls);
        assert_eq!(t.errors, t0.errors + t1.errors);
        assert!(t.errors > 0, "the oops scenario fails");
        assert_eq!(t.scheduled, t0.scheduled + t1.scheduled);
        assert_eq!(t.started, t0.started + t1.started);
        assert_eq!(t.dropped, t0.dropped + t1.dropped);
        let sum = hist_sum(&[&w0, &w1], |r| r.totals.histograms.total.clone());
        let merged = decode_hist(&t.histograms.total).unwrap();
        assert_eq!(merged, sum);
        assert_eq!(t.latency.total.p99_us, sum.value_at_quantile(0.99));
        assert_eq!(
            t.latency.total.count,
            t0.latency.total.count + t1.latency.total.count
        );
        let window_calls = |r: &StressResults| (r.totals.rate * r.measured_secs).round();
        let expect_rate = (window_calls(&w0) + window_calls(&w1)) / m.measured_secs;
        assert!(
            (t.rate - expect_rate).abs() < 1e-6,
            "{} vs {expect_rate}",
            t.rate
        );
        for (k, s) in m.scenarios.iter().enumerate() {
            let (a, b) = (&w0.scenarios[k], &w1.scenarios[k]);
            assert_eq!(s.calls, a.calls + b.calls, "{}", s.name);
            assert_eq!(s.errors, a.errors + b.errors, "{}", s.name);
            for (c, n) in &s.errors_by_class {
                let get = |r: &dbload::stress::results::ScenarioResult| {
                    r.errors_by_class.get(c).copied().unwrap_or(0)
                };
                assert_eq!(*n, get(a) + get(b), "{} class {c}", s.name);
            }
            for (j, st) in s.statements.iter().enumerate() {
                assert_eq!(st.calls, a.statements[j].calls + b.statements[j].calls);
                let h = |r: &StressResults| {
                    r.scenarios[k].statements[j]
                        .exec_histogram
                        .clone()
                        .unwrap_or_default()
                };
                if st.calls > 0 {
                    let sum = hist_sum(&[&w0, &w1], h);
                    assert_eq!(st.exec.p99_us, sum.value_at_quantile(0.99));
                    assert_eq!(st.exec.count, sum.len());
                }
            }
        }
        assert_eq!(
            m.scenarios[2].errors_by_class.get("22").copied(),
            Some(t.errors)
        );
        let iv_calls: u64 = m.intervals.iter().map(|i| i.calls).sum();
        let iv_w: u64 = w0
            .intervals
            .iter()
            .chain(&w1.intervals)
            .map(|i| i.calls)
            .sum();
        assert_eq!(iv_calls, iv_w);
        let info = dbload::merge::info(&m).expect("a merge extension");
        assert_eq!((info.segments, info.partial), (2, false));
        assert_eq!(info.workers.len(), 2);
        assert_eq!(info.workers[1].clock_offset_us, Some(121.0));
        assert!(
            m.server_statements_note
                .as_deref()
                .is_some_and(|n| n.contains("not summed") && n.contains("worker 0 (")),
            "{:?}",
            m.server_statements_note
        );
        assert!(
            stdout.contains("run-a") && stdout.contains("w0.json"),
            "{stdout}"
        );

        // The merged file is an ordinary results file.
        let a = dbload()
            .args(["report", out.to_str().unwrap(), "--baseline"])
            .arg(&raw0)
            .args(["--markdown", p("r.md").to_str().unwrap()])
            .assert();
        assert!(matches!(code(&a), Some(0 | 1)), "{}", stderr_of(&a));
        assert!(std::fs::read_to_string(p("r.md")).unwrap().contains("one"));

        let a = dbload()
            .args([
                "-d",
                &url,
                "analyze",
                "--from-results",
                out.to_str().unwrap(),
            ])
            .assert();
        assert_eq!(code(&a), Some(0), "{}", stderr_of(&a));

        // Thresholds on the merged run, with stress's exit codes.
        assert!(m.verdict.valid, "{:?}", m.verdict);
        {
            let a = merge(&[&p("w0.json"), &p("w1.json")], &["--threshold", "p50<1us"]);
            assert_eq!(code(&a), Some(1), "{}", stderr_of(&a));
            assert!(stderr_of(&a).contains("threshold breached: p50<1us"));
        }
        let a = merge(
            &[&p("w0.json"), &p("w1.json")],
            &["--threshold", "nope:p99<1ms"],
        );
        assert_eq!(code(&a), Some(2));

        // A worker that could not hold its share makes the merged run invalid.
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p("w1.json")).unwrap()).unwrap();
        v["verdict"]["valid"] = false.into();
        v["verdict"]["invalid_reasons"] =
            serde_json::json!(["9 of 281 arrivals (3.2 %) were dropped"]);
        std::fs::write(p("i1.json"), v.to_string()).unwrap();
        let a = merge(&[&p("w0.json"), &p("i1.json")], &[]);
        assert_eq!(code(&a), Some(3), "{}", stderr_of(&a));
        let e = stderr_of(&a);
        assert!(
            e.contains("worker 1/2 (") && e.contains("i1.json) is invalid: 9 of 281"),
            "{e}"
        );

        // A missing segment: refused, then merged with --allow-partial.
        as_segment(&raw0, &p("m0.json"), 0, 3, "run-b");
        as_segment(&raw1, &p("m2.json"), 2, 3, "run-b");
        let a = merge(&[&p("m0.json"), &p("m2.json")], &[]);
        assert_eq!(code(&a), Some(2));
        let e = stderr_of(&a);
        assert!(
            e.contains("segment(s) 1 (0-based) of 3 missing")
                && e.contains("m0.json")
                && e.contains("m2.json")
                && e.contains("--allow-partial"),
            "{e}"
        );
        let pout = p("partial.json");
        let a = merge(
            &[&p("m0.json"), &p("m2.json")],
            &["--allow-partial", "--out", pout.to_str().unwrap()],
        );
        assert_eq!(code(&a), Some(3), "{}", stderr_of(&a));
        let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        assert!(
            stdout.contains("PARTIAL merge: 2 of 3 segments"),
            "{stdout}"
        );
        let pm = read_results(&pout);
        let info = dbload::merge::info(&pm).unwrap();
        assert_eq!((info.partial, info.missing.clone()), (true, vec![1]));
        assert!(!pm.verdict.valid);
        assert_eq!(pm.totals.calls, t0.calls + t1.calls);

        // A duplicated segment.
        as_segment(&raw1, &p("d0.json"), 0, 2, "run-a");
        let a = merge(&[&p("w0.json"), &p("d0.json"), &p("w1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        let e = stderr_of(&a);
        assert!(e.contains("segment 0 (0-based) of 2 appears twice"), "{e}");
        assert!(e.contains("w0.json") && e.contains("d0.json"), "{e}");

        // Not one run: another run id, another seed, not a segment file.
        as_segment(&raw1, &p("x1.json"), 1, 2, "run-z");
        let a = merge(&[&p("w0.json"), &p("x1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("disagree on the run id"),
            "{}",
            stderr_of(&a)
        );
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p("w1.json")).unwrap()).unwrap();
        // Files of two runs: different agreed starts, or (with none agreed)
        // started further apart than the measured window.
        let mut t = v.clone();
        t["segment"]["start_at"] = "2026-12-02T12:00:03Z".into();
        std::fs::write(p("t1.json"), t.to_string()).unwrap();
        let a = merge(&[&p("w0.json"), &p("t1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("disagree on the agreed start"),
            "{}",
            stderr_of(&a)
        );
        let mut t = v.clone();
        t["started_at"] = "2026-12-03T12:00:00Z".into();
        std::fs::write(p("t1.json"), t.to_string()).unwrap();
        let a = merge(&[&p("w0.json"), &p("t1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("did not run at the same time"),
            "{}",
            stderr_of(&a)
        );
        v["config"]["seed"] = serde_json::json!(10);
        std::fs::write(p("s1.json"), v.to_string()).unwrap();
        let a = merge(&[&p("w0.json"), &p("s1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("disagree on the seed"),
            "{}",
            stderr_of(&a)
        );
        v["config"]["seed"] = serde_json::json!(9);
        // The pool may differ (each machine's own); the duration may not.
        v["config"]["pool"] = serde_json::json!(5);
        v["config"]["duration"] = serde_json::json!(3.0);
        std::fs::write(p("c1.json"), v.to_string()).unwrap();
        let a = merge(&[&p("w0.json"), &p("c1.json")], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("differ in duration ("),
            "{}",
            stderr_of(&a)
        );
        let a = merge(&[&p("w0.json"), &raw1], &[]);
        assert_eq!(code(&a), Some(2));
        assert!(
            stderr_of(&a).contains("raw1.json is not a segment file"),
            "{}",
            stderr_of(&a)
        );
    })
    .await
    .unwrap();
}
