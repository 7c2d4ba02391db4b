//! Reaching a real server through each kind of target: Unix socket,
//! conninfo string, and the libpq environment variables.

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
        "the schema went into PGDATABASE"
    );
    // DATABASE_URL is used too.
    dbload()
        .env("DATABASE_URL", db.url())
        .arg("migrate")
        .assert()
        .success()
        .stdout(predicates::str::contains("up to date"));
}
