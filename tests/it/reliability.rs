//! Reliability under hostile input and faults (issue 13): commands that only
//! look change nothing, reads are bounded, messages name what is at fault.

use crate::common::{TestDb, dbload};

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_modifying_samples_are_refused_and_change_nothing() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE victims (id int);
         INSERT INTO victims SELECT generate_series(1, 5);
         CREATE FUNCTION wipe() RETURNS SETOF int LANGUAGE sql
           AS 'DELETE FROM victims RETURNING id';",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // (sample query, what the message must say)
    let cases = [
        // Refused when read, before any database is reached.
        (
            "DELETE FROM victims RETURNING id",
            "sample s is not a plain query (it starts with DELETE)",
        ),
        // Looks like a query: PostgreSQL refuses it as a cursor.
        (
            "WITH d AS (DELETE FROM victims RETURNING id) SELECT id FROM d",
            "sample s: DECLARE CURSOR must not contain data-modifying statements in WITH",
        ),
        // A plain query calling a function that writes: the READ ONLY
        // transaction refuses it.
        (
            "SELECT * FROM wipe()",
            "sample s: cannot execute DELETE in a read-only transaction (SQLSTATE 25006)",
        ),
    ];
    for (i, (sample, expected)) in cases.into_iter().enumerate() {
        let wl = write(
            &dir,
            &format!("w{i}.sql"),
            &format!(
                "\n-- @sample s = {sample}\n-- @scenario a\n-- @param x = pick(s)\nSELECT :x::int;\n"
            ),
        );
        let url = db.url();
        let a = tokio::task::spawn_blocking(move || {
            dbload()
                .args(["-d", &url, "workload", "check", &wl])
                .assert()
        })
        .await
        .unwrap();
        let err = stderr_of(&a);
        assert_eq!(a.get_output().status.code(), Some(2), "{sample}: {err}");
        assert!(
            err.contains(&format!("w{i}.sql:2")) && err.contains(expected),
            "{sample}: {err}"
        );
        let n: i64 = c
            .query_one("SELECT count(*) FROM victims", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 5, "{sample} changed data");
    }
    // A plain sample still works, and its rows feed pick().
    let wl = write(
        &dir,
        "ok.sql",
        "-- @sample s = SELECT id FROM victims\n-- @scenario a\n-- @param x = pick(s)\nSELECT :x::int;\n",
    );
    let url = db.url();
    tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "workload", "check", &wl])
            .assert()
            .success()
    })
    .await
    .unwrap();
}

/// Endless or binary inputs are refused at once, naming the input and, for
/// content, line and column; nothing is read into memory without bound.
#[test]
fn endless_and_binary_inputs_are_refused_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.sql");
    std::fs::write(&latin1, b"-- @scenario a\nSELECT 'caf\xe9';\n").unwrap();
    let latin1 = latin1.display().to_string();
    // Nothing below reaches a database: an unreachable --url proves it.
    let url = "postgresql://nobody@127.0.0.1:1/none";
    let cases: [(&[&str], &str); 5] = [
        (
            &["workload", "check", "/dev/zero"],
            "workload file /dev/zero:1:1: not a text file (NUL byte)",
        ),
        (
            &["workload", "check", "--offline", &latin1],
            ":2:12: not UTF-8 text (byte 0xe9)",
        ),
        (
            &[
                "stress",
                "-w",
                "/dev/urandom",
                "--qps",
                "1",
                "--duration",
                "1s",
            ],
            "--workload /dev/urandom:",
        ),
        (
            &["analyze", "--from-file", "/dev/zero"],
            "--from-file /dev/zero:1:1: not a text file (NUL byte)",
        ),
        (&["report", "/dev/zero"], "/dev/zero:1:1: expected value"),
    ];
    for (args, expected) in cases {
        let a = dbload()
            .args(["-d", url])
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .assert();
        let err = stderr_of(&a);
        assert_eq!(a.get_output().status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// `report` streams a results file into its struct and never copies its
/// runs: a 34 MB file (20,000 per-second intervals) is reported within a
/// 150 MB data limit (it took 8× the file's size: ~300 MB). The file's keys
/// are sorted (`schema` after `intervals`), the harder case: the fields
/// before `schema` are held as text until it is known.
#[test]
fn report_on_a_long_results_file_stays_within_a_memory_limit() {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
    let base = v["intervals"].as_array().unwrap().clone();
    let intervals: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            let mut x = base[i % base.len()].clone();
            x["t"] = (1.001 + i as f64).into();
            x
        })
        .collect();
    v["intervals"] = intervals.into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.json");

    serde_json::to_writer(std::fs::File::create(&path).unwrap(), &v).unwrap();
    drop(v);
    let bin = assert_cmd::cargo::cargo_bin!("dbload");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -d 150000 && exec "$0" report "$1" --markdown "$2""#)
        .arg(bin)
        .arg(&path)
        .arg(dir.path().join("long.md"))
        // The runtime's threads' stacks count against the limit too.
        .env("TOKIO_WORKER_THREADS", "2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("long.md")).unwrap();
    assert!(md.contains("| vetclinic |"), "{md}");
}

/// Identifiers holding `"` are quoted one way throughout analyze: an index
/// is proposed for table `"we""ird"` (the planner's use of the
/// hypothetical index was looked for in the JSON text, where the name's
/// `"` is escaped, so it was never found).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_proposes_an_index_for_a_table_whose_name_holds_a_quote() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        r#"CREATE TABLE "we""ird" (id int PRIMARY KEY, "x""y" int, z int);
           INSERT INTO "we""ird" SELECT g, g % 5000, g FROM generate_series(1, 100000) g;
           ANALYZE "we""ird";"#,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sql = write(
        &dir,
        "weird.sql",
        "SELECT * FROM \"we\"\"ird\" WHERE \"x\"\"y\" = 42;\n",
    );
    let url = db.url();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args([
                "-d",
                &url,
                "analyze",
                "--format",
                "json",
                "--from-file",
                &sql,
            ])
            .assert()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let ddl: Vec<&str> = report["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["ddl"].as_str())
        .collect();
    assert_eq!(
        ddl,
        vec![r#"CREATE INDEX CONCURRENTLY ON public."we""ird" ("x""y")"#],
        "{out}"
    );
}

/// `report --markdown` escapes names (a workload or scenario named with
/// HTML appeared raw) and titles a stress results file "dbload stress"
/// (it was "dbload regress").
#[test]
fn report_markdown_escapes_names_and_titles_a_stress_file_as_stress() {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
    v["workload"]["name"] = "<script>alert(1)</script>".into();
    v["scenarios"][0]["name"] = "<b>bold</b>|pipe".into();
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "r.json", &v.to_string());
    let md_path = dir.path().join("r.md");
    dbload()
        .args(["report", &path, "--markdown"])
        .arg(&md_path)
        .assert()
        .success();
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(
        md.starts_with("## dbload stress: &lt;script&gt;alert(1)&lt;/script&gt;\n"),
        "{md}"
    );
    // Outside code spans (shown literally), no raw HTML.
    let outside: String = md.split('`').step_by(2).collect();
    assert!(!outside.contains('<'), "{md}");
    assert!(md.contains("`<script>alert(1)</script>`"), "{md}");
    // To stdout, the same.
    let a = dbload().args(["report", &path]).assert().success();
    assert_eq!(String::from_utf8_lossy(&a.get_output().stdout), md);
}
