//! Output habits (issue 12 §5): shell completions and man pages from the
//! clap definitions, plain tables (no box drawing) when stdout is not a
//! terminal, and `--format csv` for the stress and seed summaries.

use crate::common::{TestDb, dbload, seeded};

fn stdout_of(args: &[&str]) -> String {
    let a = dbload().args(args).assert().success();
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(
        bash.contains("_dbload()") && bash.contains("--qps"),
        "{bash}"
    );
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef dbload"));
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c dbload"), "{fish}");
    let a = dbload().args(["completions", "tcsh"]).assert();
    assert_eq!(a.get_output().status.code(), Some(2));
}

#[test]
fn man_pages_are_generated_for_every_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH dbload 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("man1");
    dbload()
        .args(["man", "--dir", d.to_str().unwrap()])
        .assert()
        .success();
    let stress = std::fs::read_to_string(d.join("dbload-stress.1")).unwrap();
    assert!(stress.contains("\\-\\-qps"), "{stress}");
    assert!(d.join("dbload-regress.1").exists() && d.join("dbload-seed.1").exists());
}

fn csv_rows(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let h = rd.headers().unwrap().clone();
    (h, rd.records().map(|r| r.unwrap()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_summaries_are_plain_tables_or_csv_when_piped() {
    let db = TestDb::new().await;
    let url = db.url();
    let (table, csv_text) = tokio::task::spawn_blocking(move || {
        let args = |f: &'static str| {
            let mut v = vec!["-d".to_string(), url.clone(), "seed".into()];
            v.extend(["--scale", "0.001", "--force", "--format", f].map(String::from));
            v
        };
        let run = |a: Vec<String>| {
            let o = dbload().args(a).assert().success();
            String::from_utf8_lossy(&o.get_output().stdout).into_owned()
        };
        (run(args("table")), run(args("csv")))
    })
    .await
    .unwrap();
    assert!(table.contains("pets") && table.contains(" | "), "{table}");
    assert!(
        !table.contains(['│', '┌', '─', '┆']),
        "no box drawing when stdout is not a terminal:\n{table}"
    );
    let (h, rows) = csv_rows(&csv_text);
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [
            "table",
            "rows",
            "bytes",
            "load_s",
            "rows_per_s",
            "index_s",
            "analyze_s"
        ]
    );
    assert!(rows.iter().any(|r| &r[0] == "pets"), "{csv_text}");
    assert_eq!(&rows.last().unwrap()[0], "TOTAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_summary_as_csv() {
    let db = seeded().await;
    let url = db.url();
    let text = tokio::task::spawn_blocking(move || {
        stdout_of(&[
            "-d",
            &url,
            "stress",
            "--force",
            "--qps",
            "20",
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "--format",
            "csv",
        ])
    })
    .await
    .unwrap();
    let (h, rows) = csv_rows(&text);
    assert_eq!(&h[0], "scenario");
    assert!(h.iter().any(|c| c == "p99_ms"), "{h:?}");
    let total = rows.last().unwrap();
    assert_eq!(&total[0], "TOTAL");
    assert!(total[1].parse::<u64>().unwrap() > 0, "{text}");
}

/// `--format json` is the one flag name for JSON (`local status --json`
/// still works).
#[test]
fn local_status_speaks_format_json() {
    let home = crate::common::temp_home();
    for flag in [&["--format", "json"][..], &["--json"][..]] {
        let a = dbload()
            .env("DBLOAD_HOME", home.path())
            .args(["local", "status"])
            .args(flag)
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
        assert_eq!(v["running"], serde_json::json!(false), "{v}");
    }
}

/// `-P 2s` (as pgbench): one progress line per two seconds, not per second;
/// under a second is refused before anything connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_every_interval() {
    let db = seeded().await;
    let url = db.url();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--force", "--qps", "20"])
            .args(["--duration", "4s", "--warmup", "0s", "-P", "2s"])
            .assert()
            .success()
    })
    .await
    .unwrap();
    let err = crate::common::stderr_of(&a);
    let lines = err.lines().filter(|l| l.contains("achieved")).count();
    assert!((1..=3).contains(&lines), "{lines} progress lines:\n{err}");
    let bad = dbload()
        .args([
            "-d",
            "postgresql://nobody@127.0.0.1:1/x",
            "stress",
            "--qps",
            "5",
            "-P",
            "500ms",
        ])
        .assert();
    assert_eq!(bad.get_output().status.code(), Some(2));
    let e = crate::common::stderr_of(&bad);
    assert!(e.contains("--progress-interval must be at least 1s"), "{e}");
}
