//! `dbload regress` and `dbload report` against a real server: a short
//! suite run twice on an unchanged database passes (exit 0), then a real
//! slowdown injected into a statement the workload runs is reported as
//! regressed (exit 1); the history and the reports are written, the HTML
//! report loads in headless Chromium with its charts drawn, a bad suite
//! names file:line (exit 2), and a mismatched baseline is refused (exit 2).

use std::path::{Path, PathBuf};

use dbload::regress::RegressResults;
use dbload::regress::compare::Verdict;

use crate::common::{self, TestDb, dbload};

/// Two scenarios. Both statements wait 5 ms on the server (`regress_wait()`,
/// like I/O), so their latency is not at the mercy of CPU contention from
/// the tests running alongside; `regress_probe()` is the hook the test slows
/// down.
const WORKLOAD: &str = "\
-- @workload regress-test
-- @scenario pet_lookup weight=3
-- @param c = clinic()
-- @param p = pet_of(c)
SELECT id, name, regress_probe() FROM pets WHERE id = :p;

-- @scenario clinic_pets weight=1
-- @param c = clinic()
SELECT count(*), regress_wait() FROM pets WHERE clinic_id = :c;
";

/// One short open-model run. The tolerance is wide because tests share a
/// noisy machine (and run alongside other tests); the injected slowdown is
/// +400 %. scripts/regress-sensitivity.sh measures the defaults (10 %, tail 25 %).
const SUITE: &str = r#"
[suite]
name = "it"
scale = 0.01
tolerance = "90%"
tail_tolerance = "90%"

[[run]]
name = "steady"
workload = "workload.sql"
qps = 100
arrival = "uniform"
duration = "7s"
warmup = "1s"
pool = 6
seed = 3
thresholds = ["error_rate<1%", "pet_lookup:p99<5s"]
"#;

async fn seeded() -> TestDb {
    let db = common::seeded().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE FUNCTION regress_wait() RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN PERFORM pg_sleep(0.005); RETURN true; END$$;
         CREATE FUNCTION regress_probe() RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN PERFORM pg_sleep(0.005); RETURN true; END$$;
         INSERT INTO dbload_datasets (seed, scale, dbload_version, schema_version, row_counts, finished_at, complete)
         VALUES (42, 0.01, 'test', 2, '{\"pets\": 1}', now(), true);",
    )
    .await
    .unwrap();
    db
}

fn regress(url: &str, dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = dbload()
        .args(["-d", url, "regress", "--suite"])
        .arg(dir.join("suite.toml"))
        .arg("--baseline")
        .arg(dir.join("baseline.json"))
        .arg("--history")
        .arg(dir.join("history"))
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(path: &Path) -> RegressResults {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn verdict(r: &RegressResults, scenario: &str, metric: &str) -> Verdict {
    r.runs[0]
        .metrics
        .iter()
        .find(|m| m.scenario == scenario && m.metric == metric)
        .unwrap_or_else(|| panic!("no {scenario} {metric}"))
        .verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_database_passes_and_a_slowdown_is_a_regression() {
    let db = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), SUITE).unwrap();
    std::fs::write(dir.path().join("workload.sql"), WORKLOAD).unwrap();
    let url = db.url();
    let d = dir.path().to_path_buf();

    // 1. First run: no baseline yet; --update-baseline creates it.
    let (u, d1) = (url.clone(), d.clone());
    let out1 = d.join("out1");
    let o1 = out1.clone();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        regress(
            &u,
            &d1,
            &["--update-baseline", "--out", o1.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(d.join("baseline.json").exists(), "{err}");
    let first = read(&out1.join("regress.json"));
    assert_eq!(first.schema, "dbload.regress/1");
    assert!(!first.runs[0].compared);
    assert!(first.runs[0].results.dataset.is_some());

    // 2. Same database again: nothing regressed, exit 0.
    let (u, d2) = (url.clone(), d.clone());
    let out2 = d.join("out2");
    let o2 = out2.clone();
    let (code, stdout, err) =
        tokio::task::spawn_blocking(move || regress(&u, &d2, &["--out", o2.to_str().unwrap()]))
            .await
            .unwrap();
    let second = read(&out2.join("regress.json"));
    assert_eq!(code, 0, "{err}\n{stdout}");
    assert!(second.runs[0].compared, "{:?}", second.runs[0].note);
    assert!(second.runs[0].mismatches.is_empty());
    assert_eq!(second.outcome.regressed, 0, "{stdout}");
    for m in &second.runs[0].metrics {
        assert!(
            matches!(
                m.verdict,
                Verdict::Unchanged | Verdict::Inconclusive | Verdict::Improved
            ),
            "{m:?}"
        );
    }
    assert!(stdout.contains("PASS"), "{stdout}");
    for f in ["report.html", "summary.md", "junit.xml"] {
        assert!(out2.join(f).exists(), "{f}");
    }
    assert_eq!(
        std::fs::read_dir(d.join("history")).unwrap().count(),
        2,
        "one history file per run"
    );

    // 3. Inject a real regression: the lookup now waits 25 ms instead of 5.
    db.client()
        .await
        .batch_execute(
            "CREATE OR REPLACE FUNCTION regress_probe() RETURNS boolean LANGUAGE plpgsql AS \
             $$BEGIN PERFORM pg_sleep(0.025); RETURN true; END$$",
        )
        .await
        .unwrap();
    let (u, d3) = (url.clone(), d.clone());
    let out3 = d.join("out3");
    let o3 = out3.clone();
    let (code, stdout, err) =
        tokio::task::spawn_blocking(move || regress(&u, &d3, &["--out", o3.to_str().unwrap()]))
            .await
            .unwrap();
    assert_eq!(code, 1, "{err}\n{stdout}");
    let third = read(&out3.join("regress.json"));
    assert_eq!(verdict(&third, "pet_lookup", "p50"), Verdict::Regressed);
    assert_eq!(verdict(&third, "*", "p50"), Verdict::Regressed);
    assert_ne!(verdict(&third, "clinic_pets", "p50"), Verdict::Regressed);
    assert!(
        stdout.contains("FAIL") && stdout.contains("**regressed**"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(out3.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure type=\"regression\""), "{junit}");

    // The HTML report of the failing run, with baseline and 3 runs of history.
    let html = std::fs::read_to_string(out3.join("report.html")).unwrap();
    assert!(html.contains("History") && html.contains("regressed"));
    check_in_chromium(&out3.join("report.html"));

    // 4. `dbload report` renders the stored files again, against the baseline.
    let md = d.join("again.md");
    let a = dbload()
        .arg("report")
        .arg(out3.join("regress.json"))
        .arg("--baseline")
        .arg(d.join("baseline.json"))
        .arg("--markdown")
        .arg(&md)
        .env_remove("GITHUB_STEP_SUMMARY")
        .assert();
    assert_eq!(a.get_output().status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("**regressed**")
    );
}

/// Load the page in headless Chromium: no console errors, and the DOM it
/// built holds the inline SVG charts with real lines and bars.
fn check_in_chromium(page: &Path) {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|c| which(c))
    else {
        panic!("chromium is not installed (.ci/run installs it: apt-get install chromium)");
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(dom.contains("dbload report"), "{dom:.500}");
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 6, "{svgs} charts");
    // Lines with many points, bars with a width.
    let long_lines = dom
        .split("<polyline")
        .skip(1)
        .filter(|p| {
            p.split("points=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .is_some_and(|pts| pts.split(' ').filter(|x| x.contains(',')).count() >= 5)
        })
        .count();
    assert!(long_lines >= 6, "{long_lines} polylines with ≥5 points");
    assert!(dom.contains("<rect"), "bars");
    assert!(!dom.contains("<script"), "no scripts");
    assert!(
        !dom.contains("http://") || !dom.contains("src=\"http"),
        "nothing fetched"
    );
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(cmd))
            .find(|p| p.is_file())
    })
}

#[test]
fn bad_suite_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[[run]]\nname = \"a\"\nqps = 10\nthresholds = [\"p98<5ms\"]\n",
    )
    .unwrap();
    let a = dbload()
        .args(["regress", "--suite"])
        .arg(&p)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(&format!("{}:4:", p.display())), "{err}");
    assert!(err.contains("unknown metric"), "{err}");
}

#[test]
fn report_renders_a_stress_file_and_refuses_nothing_silently() {
    // A stored stress results file renders to all three formats.
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stress_results.json");
    let (html, md, xml) = (
        dir.path().join("r.html"),
        dir.path().join("r.md"),
        dir.path().join("r.xml"),
    );
    let summary = dir.path().join("step_summary.md");
    dbload()
        .arg("report")
        .arg(&fixture)
        .arg("--html")
        .arg(&html)
        .arg("--markdown")
        .arg(&md)
        .arg("--junit")
        .arg(&xml)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.starts_with("<!DOCTYPE html>"));
    assert!(
        std::fs::read_to_string(&xml)
            .unwrap()
            .contains("<testsuites")
    );
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        std::fs::read_to_string(&md).unwrap()
    );
    // A baseline of a different workload is listed as a mismatch.
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    other["workload"]["sha256"] = "0000".into();
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let a = dbload()
        .arg("report")
        .arg(&fixture)
        .arg("--baseline")
        .arg(&other_path)
        .env_remove("GITHUB_STEP_SUMMARY")
        .assert()
        .code(0);
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        out.contains("NOT COMPARED") && out.contains("workload sha256"),
        "{out}"
    );
}
