//! Reaching a real server through each kind of target: Unix socket,
//! conninfo string, the libpq environment variables, the service and password
//! files, psql's -h/-p/-U/-d flags; and a bounded start-up against a server
//! that never answers.

use dbload::db::local::{LocalCluster, default_home};
use dbload::db::{Target, connect};

use crate::common::{TestDb, dbload};

#[tokio::test]
async fn unix_socket_and_conninfo() {
    let db = TestDb::new().await;
    if std::env::var("DBLOAD_TEST_URL").is_ok() {
        eprintln!(
            "not applicable: DBLOAD_TEST_URL names a server whose socket directory is unknown"
        );
        return;
    }
    let cluster = LocalCluster::new(default_home()).unwrap();
    let sock = cluster.socket_dir();
    let conninfo = format!(
        "host={} port={} user=dbload dbname={}",
        sock.display(),
        db.target.port.unwrap(),
        db.name
    );
    let t = Target::parse(&conninfo).unwrap();
    let c = connect(&t).await.unwrap();
    // An empty inet_server_addr() means the session came over a Unix socket.
    let addr: Option<String> = c
        .query_one("SELECT inet_server_addr()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(addr, None);
    dbload()
        .args(["-d", &conninfo, "migrate"])
        .assert()
        .success();
}

/// The whole schema went into `db` (named `what` in the message).
async fn assert_migrated(db: &TestDb, what: &str) {
    let n: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM dbload_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n as usize,
        dbload::db::migrate::MIGRATIONS.len(),
        "the schema went into {what}"
    );
}

#[tokio::test]
async fn pg_environment_variables_are_honoured() {
    let db = TestDb::new().await;
    let t = &db.target;
    dbload()
        .env("PGHOST", t.host.as_deref().unwrap())
        .env("PGPORT", t.port.unwrap().to_string())
        .env("PGUSER", t.user.as_deref().unwrap())
        .env("PGDATABASE", &db.name)
        .env("PGSSLMODE", "disable")
        .arg("migrate")
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("/{}", db.name)));
    assert_migrated(&db, "PGDATABASE").await;
    // DATABASE_URL is used too.
    dbload()
        .env("DATABASE_URL", db.url())
        .arg("migrate")
        .assert()
        .success()
        .stdout(predicates::str::contains("up to date"));
}

/// The stderr of a finished command, as text.
fn stderr_of(a: assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers
/// (a hung server, a firewall that black-holes after the handshake). Its
/// thread lives as long as the test binary.
fn never_answering_listener() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

#[test]
fn a_server_that_never_answers_times_out_naming_host_and_timeout() {
    let port = never_answering_listener();
    let url = format!("postgres://bob:n3ver-shown@127.0.0.1:{port}/x");
    // PGCONNECT_TIMEOUT, and connect_timeout in the URL (which wins).
    for (url, env) in [
        (url.clone(), Some("2")),
        (format!("{url}?connect_timeout=2"), Some("300")),
    ] {
        let mut cmd = dbload();
        if let Some(v) = env {
            cmd.env("PGCONNECT_TIMEOUT", v);
        }
        let err = stderr_of(
            cmd.args(["-d", &url, "migrate"])
                // Generous: a hang would be killed here and fail the test.
                .timeout(std::time::Duration::from_secs(60))
                .assert()
                .code(2),
        );
        assert!(
            err.contains(&format!("127.0.0.1:{port}")) && err.contains("within 2s"),
            "{err}"
        );
        assert!(!err.contains("n3ver-shown"), "{err}");
    }
}

#[tokio::test]
async fn pooled_and_single_connections_are_bounded_too() {
    use dbload::db::ConnectError;
    let port = never_answering_listener();
    let t = Target::parse(&format!(
        "postgres://bob@127.0.0.1:{port}/x?connect_timeout=2&sslmode=disable"
    ))
    .unwrap();
    let bound = std::time::Duration::from_secs(60);
    let single = tokio::time::timeout(bound, connect(&t))
        .await
        .expect("bounded");
    assert!(
        matches!(single, Err(ConnectError::Timeout { .. })),
        "{:?}",
        single.err()
    );
    let pool = dbload::db::pool(&t, 4).unwrap();
    let pooled = tokio::time::timeout(bound, dbload::db::connect::check_pool(&t, &pool))
        .await
        .expect("bounded");
    let e = pooled.unwrap_err().to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("within 2s"),
        "{e}"
    );
}

/// A role with a password on the test server, owning the test database so
/// that `migrate` can create its tables; dropped at the end.
async fn role_with_password(db: &TestDb, password: &str) -> String {
    let role = format!("{}_r", db.name);
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; \
             ALTER DATABASE {} OWNER TO {role}",
            db.name
        ))
        .await
        .unwrap();
    role
}

async fn drop_role(db: &TestDb, role: &str) {
    let admin = db.target.user.clone().unwrap_or_default();
    db.client()
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {} OWNER TO {admin}; DROP OWNED BY {role}; DROP ROLE {role}",
            db.name
        ))
        .await
        .ok();
}

#[tokio::test]
async fn password_file_is_used_only_with_safe_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new().await;
    let secret = "Pgp4ss-s3cret";
    let role = role_with_password(&db, secret).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    let host = db.target.host_display();
    let port = db.target.port_or_default();
    // A non-matching line first, then the match with a wildcard database.
    std::fs::write(
        &file,
        format!("# test\n{host}:{port}:*:someone_else:nope\n{host}:{port}:*:{role}:{secret}\n"),
    )
    .unwrap();
    let mut t = db.target.clone();
    t.user = Some(role.clone());
    t.password = None;
    let url = t.to_url_with_password();
    let run = || {
        dbload()
            .env("HOME", dir.path())
            .env("PGPASSFILE", &file)
            .args(["-d", &url, "migrate"])
            .assert()
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ok = run().success();
    let out = String::from_utf8_lossy(&ok.get_output().stdout).into_owned();
    assert!(out.contains(&role) && !out.contains(secret), "{out}");
    // Readable by the group: ignored with libpq's warning, so no password.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = stderr_of(run().code(2));
    assert!(
        err.contains("group or world access") && err.contains("0600"),
        "{err}"
    );
    assert!(
        err.contains("authentication failed") && err.contains("none was given"),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    // A wrong password from the file: the error says where it came from.
    std::fs::write(&file, format!("*:*:*:{role}:wr0ng-{secret}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = stderr_of(run().code(2));
    assert!(
        err.contains("authentication failed")
            && err.contains(&format!(
                "password retrieved from file \"{}\"",
                file.display()
            )),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    drop_role(&db, &role).await;
}

#[tokio::test]
async fn service_file_names_the_target() {
    let db = TestDb::new().await;
    let t = &db.target;
    let home = tempfile::tempdir().unwrap();
    let sysconf = tempfile::tempdir().unwrap();
    let section = |name: &str| {
        format!(
            "[{name}]\nhost={}\nport={}\nuser={}\ndbname={}\nsslmode=disable\n",
            t.host_display(),
            t.port_or_default(),
            t.user_or_default(),
            db.name
        )
    };
    let user_file = home.path().join("svc.conf");
    std::fs::write(&user_file, format!("# mine\n{}", section("bench"))).unwrap();
    std::fs::write(sysconf.path().join("pg_service.conf"), section("sysbench")).unwrap();
    let cmd = || {
        let mut c = dbload();
        c.env("HOME", home.path())
            .env("PGSERVICEFILE", &user_file)
            .env("PGSYSCONFDIR", sysconf.path());
        c
    };
    let db_in_stdout = predicates::str::contains(format!("/{}", db.name));
    cmd()
        .env("PGSERVICE", "bench")
        .arg("migrate")
        .assert()
        .success()
        .stdout(db_in_stdout.clone());
    assert_migrated(&db, "the service's database").await;
    // service= in a conninfo or URL, and a service from the system file.
    for arg in [
        "service=bench",
        "postgresql://?service=bench",
        "service=sysbench",
    ] {
        cmd()
            .args(["-d", arg, "migrate"])
            .assert()
            .success()
            .stdout(db_in_stdout.clone());
    }
    // ~/.pg_service.conf is the user file when PGSERVICEFILE is unset.
    std::fs::rename(&user_file, home.path().join(".pg_service.conf")).unwrap();
    dbload()
        .env("HOME", home.path())
        .env("PGSERVICE", "bench")
        .arg("migrate")
        .assert()
        .success()
        .stdout(db_in_stdout);
}

#[test]
fn a_named_target_never_falls_back_to_the_local_cluster() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("svc.conf");
    std::fs::write(&file, "[other]\nhost=x\n").unwrap();
    let err = stderr_of(
        dbload()
            .env("HOME", home.path())
            .env("PGSERVICEFILE", &file)
            .env("PGSERVICE", "ghost")
            .arg("migrate")
            .assert()
            .code(2),
    );
    assert!(
        err.contains("service \"ghost\"") && err.contains(&file.display().to_string()),
        "{err}"
    );
    assert!(!err.contains("local cluster"), "{err}");
    // PGUSER and PGPORT name a server too (libpq's default host).
    let err = stderr_of(
        dbload()
            .env("HOME", home.path())
            .env("PGUSER", "dbload_nobody")
            .env("PGPORT", "1")
            .arg("migrate")
            .assert()
            .code(2),
    );
    assert!(
        err.contains(":1") && !err.contains("local cluster"),
        "{err}"
    );
}

#[tokio::test]
async fn psql_style_connection_flags() {
    let db = TestDb::new().await;
    let t = &db.target;
    let (host, port, user) = (
        t.host_display(),
        t.port_or_default().to_string(),
        t.user_or_default(),
    );
    // Before the command, as pgbench: -d is a bare database name.
    dbload()
        .args([
            "-h", &host, "-p", &port, "-U", &user, "-d", &db.name, "migrate",
        ])
        .env("PGSSLMODE", "disable")
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("/{}", db.name)));
    // After it, long forms, filling a conninfo that agrees with them.
    dbload()
        .arg("migrate")
        .args(["--host", &host, "--port", &port, "--username", &user])
        .args(["--dbname", &format!("dbname={} port={port}", db.name)])
        .env("PGSSLMODE", "disable")
        .assert()
        .success()
        .stdout(predicates::str::contains("up to date"));
}

#[test]
fn psql_flags_are_connection_flags_and_help_is_long() {
    // -h is the host, as in psql and pgbench: a missing value says how to get help.
    let err = stderr_of(dbload().args(["stress", "-h"]).assert().code(2));
    assert!(
        err.contains("--host <HOST>") && err.contains("--help"),
        "{err}"
    );
    dbload()
        .arg("-?")
        .assert()
        .success()
        .stdout(predicates::str::contains("Examples:"));
    dbload()
        .args(["stress", "--help"])
        .assert()
        .success()
        .stdout(predicates::str::contains("-h, --host <HOST>"));
    // A flag that contradicts --url, and a bad port, are named.
    let err = stderr_of(
        dbload()
            .args(["-h", "db-b", "-d", "postgres://u:s3cr3t@db-a/x", "migrate"])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("-h/--host 'db-b'") && err.contains("'db-a'") && !err.contains("s3cr3t"),
        "{err}"
    );
    let err = stderr_of(dbload().args(["migrate", "-p", "54x"]).assert().code(2));
    assert!(err.contains("-p/--port") && err.contains("'54x'"), "{err}");
}

/// TLS through the open model's own connections (opened by dbload and handed
/// to tokio-postgres's `connect_raw`): a throw-away cluster with `ssl = on`
/// and a self-signed certificate, a run at a rate whose replies are read on
/// the timer's grid, with `sslmode=require` (which refuses a plain session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sessions_of_an_open_model_run_read_on_the_grid() {
    use std::os::unix::fs::MetadataExt;
    let home = crate::common::temp_home();
    let cluster = LocalCluster::new(home.path().to_path_buf()).unwrap();
    let target = cluster.start().await.unwrap().target;
    let data = cluster.data_dir();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "1",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-newkey",
            "rsa:2048",
            "-keyout",
            "server.key",
            "-out",
            "server.crt",
        ])
        .current_dir(&data)
        .output()
        .expect("openssl (installed by .ci/run)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let owner = std::fs::metadata(&data).unwrap();
    for f in ["server.key", "server.crt"] {
        let p = data.join(f);
        nix::unistd::chown(
            &p,
            Some(nix::unistd::Uid::from_raw(owner.uid())),
            Some(nix::unistd::Gid::from_raw(owner.gid())),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    let admin = connect(&target).await.unwrap();
    admin
        .batch_execute("ALTER SYSTEM SET ssl = on")
        .await
        .unwrap();
    admin
        .query_one("SELECT pg_reload_conf()", &[])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let url = target
        .to_url_with_password()
        .replace("sslmode=disable", "sslmode=require");
    assert!(url.contains("sslmode=require"), "{url}");

    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("one.sql");
    std::fs::write(&wl, "-- @scenario one weight=1\nSELECT 1;\n").unwrap();
    let out = dbload()
        .args(["-d", &url, "stress", "-w", wl.to_str().unwrap()])
        .args([
            "--qps",
            "5000",
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "--pool",
            "8",
        ])
        .args(["--format", "json", "--quiet"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let _ = cluster.stop().await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &r["totals"];
    assert!(t["calls"].as_u64().unwrap() > 1000, "{t}");
    assert_eq!(t["errors"].as_u64(), Some(0), "{t}");
    let timer = &r["driver_timer"];
    assert!(timer["grid_reads"].as_u64().unwrap() > 0, "{timer}");
}
