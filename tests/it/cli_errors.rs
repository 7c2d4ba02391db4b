//! Bad input and failures at the CLI: one clear line, exit 2, no panic,
//! never the password.

use crate::common::{TestDb, dbload, stderr_of};

#[test]
fn unreachable_server_names_address() {
    let err = stderr_of(
        &dbload()
            .args(["-d", "postgres://bob:sup3rsecret@127.0.0.1:1/x", "migrate"])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
    assert!(
        !err.contains("sup3rsecret") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn malformed_targets_name_the_bad_part() {
    for (arg, part) in [
        ("postgres://h:abc/db", "'abc'"),
        ("host=x bogus=1", "'bogus'"),
        ("host=x sslmode=maybe", "'maybe'"),
        ("mysql://h/db", "mysql"),
    ] {
        let err = stderr_of(&dbload().args(["-d", arg, "migrate"]).assert().code(2));
        assert!(err.contains(part) && err.contains("--url"), "{arg}: {err}");
    }
    let err = stderr_of(
        &dbload()
            .env("DATABASE_URL", "postgres://h:99999/d")
            .arg("migrate")
            .assert()
            .code(2),
    );
    assert!(
        err.contains("DATABASE_URL") && err.contains("99999"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_password_says_auth_failed_for_user() {
    let db = TestDb::new().await;
    let c = db.client().await;
    let role = format!("{}_r", db.name);
    c.batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'right-pw'"))
        .await
        .unwrap();
    let mut t = db.target.clone();
    t.user = Some(role.clone());
    t.password = Some("wr0ngpassw0rd".into());
    let err = stderr_of(
        &dbload()
            .args(["-d", &t.to_url_with_password(), "migrate"])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("authentication failed") && err.contains(&role),
        "{err}"
    );
    assert!(!err.contains("wr0ngpassw0rd"), "{err}");
    // PGPASSWORD route, and the right password works.
    t.password = None;
    let out = dbload()
        .env("PGPASSWORD", "right-pw")
        .args(["-d", &t.to_url_with_password(), "migrate"])
        .assert();
    let err = stderr_of(&out);
    // The role may not create tables in public on PG15: what matters is that
    // authentication passed.
    assert!(!err.contains("authentication failed"), "{err}");
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await
        .ok();
}

#[test]
fn help_shows_examples() {
    dbload()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("Examples:"));
    dbload()
        .args(["local", "--help"])
        .assert()
        .success()
        .stdout(predicates::str::contains("dbload local start"));
}

#[test]
fn analyze_number_flags_are_checked_before_connecting() {
    for (flag, value) in [
        ("--min-cost", "inf"),
        ("--min-mean-ms", "NaN"),
        ("--slow-ms", "-5"),
        ("--big-table-rows", "-inf"),
        ("--unused-min-bytes", "-1"),
    ] {
        let err = stderr_of(
            &dbload()
                .args(["-d", "postgres://nobody@127.0.0.1:1/none", "analyze"])
                .arg(format!("{flag}={value}"))
                .assert()
                .code(2),
        );
        assert!(
            err.contains(flag) && err.contains("finite number, 0 or more"),
            "{flag}={value}: {err}"
        );
    }
}

#[test]
fn timer_resolution_is_checked_before_connecting() {
    let run = |extra: &[&str]| {
        stderr_of(
            &dbload()
                .args(["-d", "postgres://nobody@127.0.0.1:1/none", "stress"])
                .args(["--qps", "20000"])
                .args(extra)
                .assert()
                .code(2),
        )
    };
    let err = run(&["--timer-resolution", "250ms"]);
    assert!(
        err.contains("--timer-resolution") && err.contains("at most 100ms"),
        "{err}"
    );
    let err = run(&["--timer-resolution", "100ms"]);
    assert!(
        err.contains("--max-inflight 1000") && err.contains("2000 arrivals"),
        "{err}"
    );
    let err = run(&["--timer-resolution", "1 fortnight"]);
    assert!(err.contains("invalid duration"), "{err}");
}

#[test]
fn connection_flags_are_offered_only_by_commands_that_connect() {
    // After the name of a command that never connects: not offered.
    let err = stderr_of(
        &dbload()
            .args(["local", "-h", "db", "status"])
            .assert()
            .code(2),
    );
    assert!(err.contains("'-h'"), "{err}");
    let err = stderr_of(
        &dbload()
            .args(["report", "-d", "postgres://bob:sup3rsecret@db/x", "r.json"])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("'-d'") && !err.contains("sup3rsecret"),
        "{err}"
    );
    // Before it (an alias's habit): ignored — the error is the missing file.
    let err = stderr_of(
        &dbload()
            .args([
                "-d",
                "postgres://bob:sup3rsecret@db/x",
                "report",
                "missing.json",
            ])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("missing.json") && !err.contains("sup3rsecret"),
        "{err}"
    );
    // A connecting command takes them after its name too (psql habit).
    let err = stderr_of(
        &dbload()
            .args(["migrate", "-h", "127.0.0.1", "-p", "1"])
            .assert()
            .code(2),
    );
    assert!(err.contains("127.0.0.1:1"), "{err}");
}
