//! `dbload analyze` against a real server with HypoPG: proposals from
//! pg_stat_statements verified on generic plans, a table of statement
//! cases (expected index or expected reason), the no-HypoPG heuristic,
//! index-health checks, `--fail-on-proposals` and `--apply`.

use dbload::analyze::model::{SkipReason, StatementStatus};
use dbload::analyze::{self, Input, Settings};
use dbload::db::migrate;
use serde_json::Value;

use crate::common::{TestDb, dbload};

const VET_DATA: &str = include_str!("../../fixtures/analyze/vet_data.sql");
const WORKLOAD: &str = "fixtures/analyze/workload.sql";

/// The vet schema with deterministic data, analysed.
async fn vet_db(db: &TestDb) -> tokio_postgres::Client {
    let mut c = db.client().await;
    migrate::apply(&mut c, migrate::MIGRATIONS).await.unwrap();
    c.batch_execute(VET_DATA).await.unwrap();
    c
}

fn settings(input: Input) -> Settings {
    Settings {
        input,
        min_savings_pct: analyze::DEFAULT_MIN_SAVINGS_PCT,
        min_cost: analyze::DEFAULT_MIN_COST,
        use_hypopg: true,
        verify_build: false,
        verify_build_max_bytes: analyze::DEFAULT_VERIFY_BUILD_MAX_BYTES,
        write_sample_secs: None,
        max_indexes: None,
        max_size_bytes: None,
        health: Default::default(),
    }
}

fn json_of(out: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&out.get_output().stdout).expect("JSON on stdout")
}

/// Proposals as `table(col, col DESC)` strings.
fn proposal_labels(v: &Value) -> Vec<String> {
    v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let cols: Vec<String> = p["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let n = c["name"].as_str().unwrap().to_string();
                    if c["desc"].as_bool().unwrap() {
                        format!("{n} DESC")
                    } else {
                        n
                    }
                })
                .collect();
            format!("{}({})", p["table"].as_str().unwrap(), cols.join(", "))
        })
        .collect()
}

#[tokio::test]
async fn proposes_verified_indexes_from_pg_stat_statements() {
    let db = TestDb::new().await;
    let c = vet_db(&db).await;
    c.batch_execute("CREATE INDEX pets_owner_dup ON pets (owner_id)")
        .await
        .unwrap();
    // The data load is not the workload: forget this database's statements
    // so far (its bulk INSERTs would otherwise count as the write rate).
    c.batch_execute(
        "SELECT pg_stat_statements_reset(0, \
         (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
    )
    .await
    .unwrap();
    // The workload, with parameters so pg_stat_statements normalises it.
    let records = c
        .prepare(
            "SELECT * FROM medical_records WHERE pet_id = $1 ORDER BY recorded_at DESC LIMIT 20",
        )
        .await
        .unwrap();
    let items = c
        .prepare("SELECT * FROM invoice_items WHERE invoice_id = $1")
        .await
        .unwrap();
    let calendar = c
        .prepare(
            "SELECT * FROM appointments WHERE clinic_id = $1 AND starts_at >= $2 \
             ORDER BY starts_at LIMIT 50",
        )
        .await
        .unwrap();
    // Valid PostgreSQL that sqlparser cannot parse.
    let locking = c
        .prepare("SELECT * FROM pets WHERE id = $1 FOR NO KEY UPDATE")
        .await
        .unwrap();
    let since = chrono::DateTime::parse_from_rfc3339("2026-01-10T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for i in 0..15i64 {
        c.query(&records, &[&(1 + i)]).await.unwrap();
        c.query(&items, &[&(100 + i)]).await.unwrap();
        c.query(&calendar, &[&(1 + i), &since]).await.unwrap();
        c.query(&locking, &[&(1 + i)]).await.unwrap();
    }

    let out = dbload()
        .args(["-d", &db.url(), "analyze", "--format", "json"])
        .assert()
        .success();
    let v = json_of(&out);
    assert_eq!(v["schema"], "dbload.analyze/1");
    assert_eq!(v["verification"], "hypopg");
    let labels = proposal_labels(&v);
    assert!(
        labels.contains(&"public.medical_records(pet_id, recorded_at)".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"public.invoice_items(invoice_id)".to_string()),
        "{labels:?}"
    );
    assert!(
        !labels
            .iter()
            .any(|l| l.starts_with("public.appointments(clinic_id")),
        "an existing index must not be proposed again: {labels:?}"
    );
    for p in v["proposals"].as_array().unwrap() {
        assert_eq!(p["verified"], true);
        assert!(
            p["ddl"]
                .as_str()
                .unwrap()
                .starts_with("CREATE INDEX CONCURRENTLY ON public.")
        );
        for h in p["statements"].as_array().unwrap() {
            let (b, a) = (
                h["cost_before"].as_f64().unwrap(),
                h["cost_after"].as_f64().unwrap(),
            );
            assert!(a < b, "{h}");
        }
    }
    let mr = v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.medical_records")
        .unwrap();
    assert!(mr["statements"][0]["calls"].as_u64().unwrap() >= 15);
    assert!(mr["est_time_saved_ms"].as_f64().unwrap() > 0.0);
    // Every statement is accounted for; the unparsable one has a diagnostic.
    let stmts = v["statements"].as_array().unwrap();
    let lock = stmts
        .iter()
        .find(|s| s["query"].as_str().unwrap().contains("FOR NO KEY UPDATE"))
        .expect("the locking statement is listed");
    assert_eq!(lock["reason"], "parse_error", "{lock}");
    let cal = stmts
        .iter()
        .find(|s| {
            s["query"]
                .as_str()
                .unwrap()
                .contains("FROM appointments WHERE clinic_id")
        })
        .unwrap();
    assert_eq!(cal["status"], "skipped", "{cal}");
    // Health: the duplicate we created.
    let dups = v["health"]["duplicate_indexes"].as_array().unwrap();
    assert!(
        dups.iter()
            .any(|d| d["index"] == "public.pets_owner_dup"
                || d["index"] == "public.pets_owner_id_idx"),
        "{dups:?}"
    );

    // CI mode: proposals make it fail.
    dbload()
        .args(["-d", &db.url(), "analyze", "--fail-on-proposals"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("CREATE INDEX CONCURRENTLY"));

    // --apply --yes creates them; afterwards nothing is proposed for these.
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "analyze",
            "--apply",
            "--yes",
            "--format",
            "markdown",
        ])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("created: CREATE INDEX CONCURRENTLY ON public.invoice_items (invoice_id)"),
        "{err}"
    );
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename IN ('invoice_items', 'medical_records')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n >= 4, "two primary keys and two new indexes: {n}");
    let out = dbload()
        .args(["-d", &db.url(), "analyze", "--format", "json"])
        .assert()
        .success();
    let labels = proposal_labels(&json_of(&out));
    assert!(
        !labels.iter().any(|l| l.contains("invoice_items(invoice_id") || l.contains("medical_records(pet_id")),
        "{labels:?}"
    );
}

/// What a case expects.
enum Expect {
    /// The statement's chosen index label starts with this.
    Index(&'static str),
    /// Skipped for one of these reasons.
    Skip(&'static [SkipReason]),
    /// The chosen index label starts with the first and lacks the second.
    IndexWithout(&'static str, &'static str),
}

use Expect::{Index, IndexWithout, Skip};
use SkipReason::*;

const CASE_SCHEMA: &str = r#"
CREATE SCHEMA "Billing";
CREATE TABLE "Billing"."Invoices" ("Id" bigint PRIMARY KEY, "OwnerId" bigint NOT NULL, "IssuedAt" timestamptz NOT NULL);
INSERT INTO "Billing"."Invoices" SELECT i, 1 + i % 5000, timestamptz '2026-01-01' + i * interval '1 minute'
  FROM generate_series(1, 20000) i;
CREATE TABLE events (id bigint NOT NULL, clinic_id bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL)
  PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT i, 1 + i % 2000, timestamptz '2025-01-01' + i * interval '15 minutes', 'k' || i % 5
  FROM generate_series(1, 30000) i;
CREATE TABLE docs (id bigint PRIMARY KEY, body json NOT NULL, meta jsonb NOT NULL);
INSERT INTO docs SELECT i, json_build_object('k', i), jsonb_build_object('k', i % 100) FROM generate_series(1, 20000) i;
CREATE VIEW open_invoices AS SELECT id, clinic_id, owner_id, total_cents FROM invoices WHERE status = 'open';
CREATE INDEX docs_meta_gin ON docs USING gin (meta);
CREATE TABLE jobs (id bigint PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
  finished_at timestamptz, run_at timestamp NOT NULL, payload jsonb NOT NULL, tags text[] NOT NULL,
  note text NOT NULL, title text COLLATE "und-x-icu" NOT NULL, code text COLLATE "C" NOT NULL,
  grp int NOT NULL);
INSERT INTO jobs SELECT i,
  CASE WHEN i % 100 = 0 THEN 'failed' WHEN i % 10 = 1 THEN 'running' ELSE 'done' END,
  timestamptz '2026-01-01' + i * interval '1 minute',
  CASE WHEN i % 50 <> 0 THEN timestamptz '2026-01-01' + i * interval '1 minute' END,
  timestamp '2026-01-01' + i * interval '1 minute',
  jsonb_build_object('ref', 'r' || i, 'kind', 'k' || i % 50, 'n', i),
  ARRAY['t' || i % 500], 'note about ' || md5(i::text), 'title ' || md5(i::text), md5(i::text),
  i % 500
  FROM generate_series(1, 50000) i;
CREATE TABLE events_log (id bigint PRIMARY KEY, grp int NOT NULL, v int NOT NULL)
  WITH (autovacuum_enabled = off);
INSERT INTO events_log SELECT i, i % 500, i FROM generate_series(1, 50000) i;
CREATE INDEX jobs_kind ON jobs ((payload ->> 'kind'));
CREATE MATERIALIZED VIEW owner_revenue AS
  SELECT clinic_id, owner_id, sum(total_cents) AS total FROM invoices GROUP BY clinic_id, owner_id;
ANALYZE;
"#;

const CASES: &[(&str, &str, Expect)] = &[
    (
        "single column",
        "SELECT * FROM invoice_items WHERE invoice_id = $1",
        Index("public.invoice_items(invoice_id)"),
    ),
    (
        "two-column equality",
        "SELECT * FROM appointments WHERE vet_id = $1 AND status = $2",
        Index("public.appointments(vet_id"),
    ),
    (
        "equality + range",
        "SELECT * FROM appointments WHERE vet_id = $1 AND starts_at >= $2 AND starts_at < $3",
        Index("public.appointments(vet_id"),
    ),
    (
        "equality + ORDER BY … LIMIT",
        "SELECT * FROM medical_records WHERE pet_id = $1 ORDER BY recorded_at DESC LIMIT 20",
        Index("public.medical_records(pet_id, recorded_at)"),
    ),
    (
        "ORDER BY mixed directions",
        "SELECT * FROM invoices ORDER BY issued_at DESC, id LIMIT 10",
        Index("public.invoices(issued_at DESC, id)"),
    ),
    (
        "range only (BETWEEN)",
        "SELECT * FROM invoices WHERE issued_at BETWEEN $1 AND $2",
        Index("public.invoices(issued_at)"),
    ),
    (
        "join: both sides",
        "SELECT i.number, ii.description FROM invoices i JOIN invoice_items ii ON ii.invoice_id = i.id WHERE i.owner_id = $1",
        Index("public.invoice_items(invoice_id) + public.invoices(owner_id)"),
    ),
    (
        "IN subquery",
        "SELECT * FROM pets p WHERE p.id IN (SELECT a.pet_id FROM appointments a WHERE a.vet_id = $1)",
        Index("public.appointments(vet_id"),
    ),
    (
        "correlated EXISTS",
        "SELECT * FROM invoices i WHERE i.clinic_id = $1 AND EXISTS (SELECT 1 FROM invoice_items ii WHERE ii.invoice_id = i.id)",
        Index("public.invoice_items(invoice_id)"),
    ),
    (
        "UPDATE",
        "UPDATE appointments SET status = 'cancelled' WHERE pet_id = $1",
        Index("public.appointments(pet_id)"),
    ),
    (
        "DELETE",
        "DELETE FROM invoice_items WHERE service_id = $1",
        Index("public.invoice_items(service_id)"),
    ),
    (
        "CTE (inlined)",
        "WITH r AS (SELECT * FROM medical_records) SELECT * FROM r WHERE r.vet_id = $1",
        Index("public.medical_records(vet_id)"),
    ),
    (
        "CTE MATERIALIZED is a fence",
        "WITH r AS MATERIALIZED (SELECT * FROM medical_records) SELECT * FROM r WHERE r.vet_id = $1",
        Skip(&[NoCandidates]),
    ),
    (
        "view resolved to its table",
        "SELECT * FROM open_invoices WHERE owner_id = $1",
        Index("public.invoices(owner_id"),
    ),
    (
        "materialized view",
        "SELECT * FROM owner_revenue WHERE owner_id = $1",
        Index("public.owner_revenue(owner_id)"),
    ),
    (
        "partitioned: on the parent",
        "SELECT * FROM events WHERE clinic_id = $1",
        Index("public.events(clinic_id)"),
    ),
    (
        "a partition: on the parent",
        "SELECT * FROM events_2025 WHERE clinic_id = $1",
        Index("public.events(clinic_id)"),
    ),
    (
        "quoted mixed-case identifiers",
        r#"SELECT * FROM "Billing"."Invoices" i WHERE i."OwnerId" = $1"#,
        Index(r#""Billing"."Invoices"("OwnerId")"#),
    ),
    (
        "normalised $n parameters",
        "SELECT * FROM pets WHERE clinic_id = $1 AND species = $2 AND name <> $3",
        Index("public.pets(clinic_id"),
    ),
    (
        "GROUP BY with filter",
        "SELECT vet_id, count(*) FROM medical_records WHERE clinic_id = $1 GROUP BY vet_id",
        Index("public.medical_records(clinic_id"),
    ),
    (
        "row-value equality",
        "SELECT * FROM invoices WHERE (owner_id, status) = ($1, $2)",
        Index("public.invoices(owner_id"),
    ),
    (
        "already indexed",
        "SELECT * FROM pets WHERE owner_id = $1",
        Skip(&[NoCandidates]),
    ),
    (
        "already indexed (unique)",
        "SELECT * FROM users WHERE email = $1",
        Skip(&[NoCandidates]),
    ),
    (
        "cost already low",
        "SELECT * FROM clinics WHERE city = $1",
        Skip(&[CostAlreadyLow]),
    ),
    (
        "catalog only",
        "SELECT relname FROM pg_class WHERE relname = $1",
        Skip(&[CatalogOnly]),
    ),
    (
        "information_schema",
        "SELECT * FROM information_schema.tables WHERE table_name = $1",
        Skip(&[CatalogOnly]),
    ),
    (
        "unparsable",
        "SELECT * FROM pets WHERE id = $1 FOR NO KEY UPDATE",
        Skip(&[ParseError]),
    ),
    (
        "explain error",
        "SELECT * FROM pets WHERE no_such_column = $1",
        Skip(&[ExplainFailed]),
    ),
    (
        "table not present",
        "SELECT * FROM no_such_table WHERE id = $1",
        Skip(&[TableNotPresent]),
    ),
    (
        "jsonb containment: an existing GIN (jsonb_ops) serves it",
        "SELECT * FROM docs WHERE meta @> $1",
        Skip(&[NoCandidates]),
    ),
    (
        "json expression: an expression index",
        "SELECT * FROM docs WHERE body->>'k' = $1",
        Index("public.docs((body ->> 'k'::text))"),
    ),
    (
        "json column: no btree opclass",
        "SELECT * FROM docs WHERE body IS NULL",
        Skip(&[NoCandidates]),
    ),
    (
        "one distinct value",
        "SELECT * FROM invoices WHERE currency = $1",
        Skip(&[SavingBelowThreshold, NotUsedByPlanner]),
    ),
    (
        "expression: lower(column) = …",
        "SELECT * FROM users WHERE lower(email) = lower($1)",
        Index("public.users(lower(email))"),
    ),
    (
        "expression with a tenant column",
        "SELECT * FROM pets WHERE clinic_id = $1 AND lower(name) = $2",
        Index("public.pets(lower(name)"),
    ),
    (
        "LIKE with a parameter pattern: trigram GIN",
        "SELECT * FROM pets WHERE lower(name) LIKE $1",
        Index("public.pets USING gin (lower(name) gin_trgm_ops)"),
    ),
    (
        "expression: jsonb ->> key",
        "SELECT * FROM jobs j WHERE j.payload->>'ref' = $1",
        Index("public.jobs((payload ->> 'ref'::text))"),
    ),
    (
        "expression: date_trunc on timestamp",
        "SELECT * FROM jobs WHERE date_trunc('day', run_at) = $1",
        Index("public.jobs(date_trunc('day'::text, run_at))"),
    ),
    (
        "expression in ORDER BY",
        "SELECT id FROM jobs ORDER BY (payload->>'n')::int DESC LIMIT 10",
        Index("public.jobs(((payload ->> 'n'::text)::integer))"),
    ),
    (
        "non-immutable expression: timestamptz::date",
        "SELECT * FROM jobs WHERE created_at::date = $1",
        Skip(&[NoCandidates]),
    ),
    (
        "expression: an existing expression index serves it",
        "SELECT * FROM jobs WHERE payload->>'kind' = $1",
        Skip(&[NoCandidates]),
    ),
    (
        "prefix LIKE under a non-C collation: text_pattern_ops",
        "SELECT * FROM jobs WHERE title LIKE 'title abc%'",
        Index("public.jobs(title text_pattern_ops)"),
    ),
    (
        "prefix LIKE under the C collation: plain btree",
        "SELECT * FROM jobs WHERE code LIKE 'abc%'",
        Index("public.jobs(code)"),
    ),
    (
        "infix ILIKE: trigram GIN",
        "SELECT * FROM jobs WHERE note ILIKE '%' || $1 || '%'",
        Index("public.jobs USING gin (note gin_trgm_ops)"),
    ),
    (
        "regex: trigram GIN",
        "SELECT * FROM jobs WHERE note ~ $1",
        Index("public.jobs USING gin (note gin_trgm_ops)"),
    ),
    (
        "jsonb @> only: jsonb_path_ops",
        "SELECT * FROM jobs WHERE payload @> $1",
        Index("public.jobs USING gin (payload jsonb_path_ops)"),
    ),
    (
        "jsonb key exists: default jsonb_ops",
        "SELECT * FROM jobs WHERE payload ? $1",
        Index("public.jobs USING gin (payload)"),
    ),
    (
        "array overlap: GIN",
        "SELECT * FROM jobs WHERE tags && $1",
        Index("public.jobs USING gin (tags)"),
    ),
    (
        "full text: GIN on the tsvector expression",
        "SELECT id FROM jobs WHERE to_tsvector('english', note) @@ plainto_tsquery('english', $1)",
        Index("public.jobs USING gin (to_tsvector('english'::regconfig, note))"),
    ),
    (
        "partial: a rare constant",
        "SELECT * FROM jobs WHERE status = 'failed' ORDER BY created_at LIMIT 20",
        Index("public.jobs(created_at) WHERE (status = 'failed'::text)"),
    ),
    (
        "partial: IS NULL on a mostly filled column",
        "SELECT * FROM jobs WHERE finished_at IS NULL ORDER BY created_at LIMIT 20",
        Index("public.jobs(created_at) WHERE (finished_at IS NULL)"),
    ),
    (
        "partial: a common constant gets none",
        "SELECT * FROM jobs WHERE status = 'done' AND run_at >= $1 AND run_at < $2",
        IndexWithout("public.jobs(", " WHERE "),
    ),
    (
        "OR across columns: one index per branch (BitmapOr)",
        "SELECT * FROM jobs WHERE code = $1 OR note = $2",
        Index("public.jobs(code) + public.jobs(note)"),
    ),
    (
        "OR: a branch an existing index serves gets none",
        "SELECT * FROM jobs WHERE id = $1 OR title = $2",
        IndexWithout("public.jobs(title)", "+"),
    ),
    (
        "covering: INCLUDE for an index-only scan",
        "SELECT id, run_at FROM jobs WHERE grp = $1",
        Index("public.jobs(grp) INCLUDE (id, run_at)"),
    ),
    (
        "covering: none on a table that is not all-visible",
        "SELECT id, v FROM events_log WHERE grp = $1",
        IndexWithout("public.events_log(grp)", "INCLUDE"),
    ),
    (
        "covering: none for SELECT *",
        "SELECT * FROM jobs WHERE grp = $1 AND status = 'failed'",
        IndexWithout("public.jobs(grp", "INCLUDE"),
    ),
    ("utility", "SET work_mem = '64MB'", Skip(&[Utility])),
    ("no tables", "SELECT $1::int + 1", Skip(&[NoTables])),
];

#[tokio::test]
async fn statement_cases_give_the_expected_index_or_reason() {
    let db = TestDb::new().await;
    let c = vet_db(&db).await;
    c.batch_execute(CASE_SCHEMA).await.unwrap();
    // All-visible (index-only scans pay off); events_log stays not.
    c.batch_execute("VACUUM (ANALYZE) jobs").await.unwrap();
    let text: String = CASES
        .iter()
        .map(|(_, sql, _)| format!("{sql};\n"))
        .collect();
    let report = analyze::run(
        &c,
        &settings(Input::Sql {
            origin: "cases.sql".into(),
            text,
        }),
    )
    .await
    .unwrap();
    assert_eq!(report.statements.len(), CASES.len());
    let mut failures = Vec::new();
    for ((name, sql, expect), r) in CASES.iter().zip(&report.statements) {
        assert_eq!(r.location, format!("cases.sql:{}", r.id + 1));
        let ok = match expect {
            Index(prefix) => {
                r.status == StatementStatus::Proposed
                    && r.index.as_deref().is_some_and(|i| i.starts_with(prefix))
            }
            Skip(reasons) => r.reason.is_some_and(|x| reasons.contains(&x)),
            IndexWithout(prefix, not) => {
                r.status == StatementStatus::Proposed
                    && r.index
                        .as_deref()
                        .is_some_and(|i| i.starts_with(prefix) && !i.contains(not))
            }
        };
        if !ok {
            failures.push(format!(
                "{name}: {sql}\n    got {:?} {:?} index={:?} cost={:?} {}",
                r.status, r.reason, r.index, r.cost, r.detail
            ));
        }
    }
    for ((name, _, _), r) in CASES.iter().zip(&report.statements) {
        eprintln!(
            "case {name}: {:?} {:?} {:?} cost={:?} {}",
            r.status, r.index, r.reason, r.cost, r.detail
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The explain error carries the server's message.
    let e = &report.statements[CASES.iter().position(|c| c.0 == "explain error").unwrap()];
    assert!(e.detail.contains("no_such_column"), "{}", e.detail);
    // Nothing is left behind in the session: no hypothetical index, no
    // prepared statement, no open transaction.
    let left: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM hypopg_list_indexes) + \
             (SELECT count(*) FROM pg_prepared_statements WHERE name = 'dbload_whatif') + \
             (SELECT count(*) FROM pg_class WHERE relname IN ('dbload_probe', 'dbload_verify_build')) + \
             (SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let at = |name: &str| &report.statements[CASES.iter().position(|c| c.0 == name).unwrap()];
    // A non-immutable expression gets a rewrite hint, no index.
    let date = at("non-immutable expression: timestamptz::date");
    assert!(
        date.hints
            .iter()
            .any(|h| h.contains("created_at >= $1::date")),
        "{:?}",
        date.hints
    );
    assert!(
        at("expression: an existing expression index serves it")
            .detail
            .contains("jobs_kind")
    );
    assert!(
        at("partial: a common constant gets none")
            .detail
            .contains("matches 89%")
    );
    // GIN proposals: unverified (HypoPG cannot build them), with the reason,
    // and pg_trgm listed when the database lacks it.
    let trgm = report
        .proposals
        .iter()
        .find(|p| p.ddl.contains("(note gin_trgm_ops)"))
        .expect("a trigram proposal");
    assert!(!trgm.verified);
    assert!(
        trgm.verification_note
            .as_deref()
            .unwrap()
            .contains("--verify-build")
    );
    assert_eq!(
        trgm.requires,
        vec!["CREATE EXTENSION IF NOT EXISTS pg_trgm"]
    );
    assert_eq!(
        trgm.ddl,
        "CREATE INDEX CONCURRENTLY ON public.jobs USING gin (note gin_trgm_ops)"
    );
    // Consolidation: `@>` alone wanted jsonb_path_ops, `?` needs jsonb_ops;
    // one jsonb_ops index serves both statements.
    let gin: Vec<_> = report
        .proposals
        .iter()
        .filter(|p| p.method == "gin" && p.ddl.contains("(payload"))
        .collect();
    assert_eq!(gin.len(), 1, "{gin:?}");
    assert!(gin[0].ddl.ends_with("USING gin (payload)") && gin[0].requires.is_empty());
    assert_eq!(gin[0].statements.len(), 2);
    let partial = report
        .proposals
        .iter()
        .find(|p| p.predicate.is_some())
        .unwrap();
    assert!(
        partial.verified && partial.kind.contains("partial"),
        "{partial:?}"
    );
    // A saving under --min-savings is reported as such.
    let mut strict = settings(Input::Sql {
        origin: "strict.sql".into(),
        text: "SELECT * FROM invoices WHERE status = $1".into(),
    });
    strict.min_savings_pct = 60.0;
    let r = analyze::run(&c, &strict).await.unwrap();
    let s = &r.statements[0];
    assert_eq!(s.reason, Some(SavingBelowThreshold), "{}", s.detail);
    assert!(s.detail.contains("below 60%"), "{}", s.detail);
    assert!(r.proposals.is_empty());
    // The partitioned proposal is built on the parent, plainly.
    let ev = report
        .proposals
        .iter()
        .find(|p| p.table == "public.events")
        .unwrap();
    assert!(
        ev.partitioned && ev.ddl == "CREATE INDEX ON public.events (clinic_id)",
        "{}",
        ev.ddl
    );
    // Quoted identifiers survive into the DDL.
    assert!(
        report
            .proposals
            .iter()
            .any(|p| p.ddl == r#"CREATE INDEX CONCURRENTLY ON "Billing"."Invoices" ("OwnerId")"#)
    );
    // The join got an index on each side.
    let join = &report.statements[6];
    assert!(
        join.index
            .as_deref()
            .unwrap()
            .contains("invoice_items(invoice_id)"),
        "{:?}",
        join.index
    );
}

#[tokio::test]
async fn without_hypopg_proposals_are_unverified() {
    let db = TestDb::new().await;
    let c = vet_db(&db).await;
    c.batch_execute("DROP EXTENSION hypopg").await.unwrap();
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "analyze",
            "--from-file",
            WORKLOAD,
            "--format",
            "json",
        ])
        .assert()
        .success();
    let v = json_of(&out);
    assert_eq!(v["verification"], "heuristic");
    assert!(v["warnings"][0].as_str().unwrap().contains("UNVERIFIED"));
    let labels = proposal_labels(&v);
    assert!(
        labels.contains(&"public.invoice_items(invoice_id)".to_string()),
        "{labels:?}"
    );
    for p in v["proposals"].as_array().unwrap() {
        assert_eq!(p["verified"], false);
        assert!(p["statements"][0]["cost_after"].is_null());
    }
    // The parse error does not stop the report; its file:line is given.
    let bad = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["reason"] == "parse_error")
        .unwrap();
    assert_eq!(bad["location"], format!("{WORKLOAD}:5"));
    // The same through stdin: locations say stdin:<line>.
    let text = std::fs::read_to_string(WORKLOAD).unwrap();
    let out = dbload()
        .args(["-d", &db.url(), "analyze", "--stdin", "--format", "json"])
        .write_stdin(text)
        .assert()
        .success();
    let v = json_of(&out);
    assert_eq!(v["source"], "stdin");
    assert_eq!(v["statements"][0]["location"], "stdin:2");
    for fmt in ["table", "markdown"] {
        dbload()
            .args([
                "-d",
                &db.url(),
                "analyze",
                "--from-file",
                WORKLOAD,
                "--format",
                fmt,
            ])
            .assert()
            .success()
            .stdout(predicates::str::contains("unverified"))
            .stdout(predicates::str::contains("UNVERIFIED"));
    }
}

#[tokio::test]
async fn health_checks_report_created_conditions() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE parent (id bigint PRIMARY KEY);
         CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent (id), x int);
         INSERT INTO parent SELECT generate_series(1, 100);
         INSERT INTO child SELECT i, 1 + i % 100, i % 50 FROM generate_series(1, 5000) i;
         CREATE INDEX child_x ON child (x);
         CREATE INDEX child_x_id ON child (x, id);
         ANALYZE;",
    )
    .await
    .unwrap();
    // A failed concurrent build leaves an invalid index.
    assert!(
        c.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY child_x_uniq ON child (x)")
            .await
            .is_err()
    );
    // Sequential scans, and a slow statement.
    for _ in 0..12 {
        c.query("SELECT count(*) FROM child WHERE parent_id > 0", &[])
            .await
            .unwrap();
    }
    for _ in 0..3 {
        c.batch_execute("SELECT pg_sleep(0.06)").await.unwrap();
    }
    c.query("SELECT pg_stat_force_next_flush()", &[])
        .await
        .unwrap();
    c.query("SELECT 1", &[]).await.unwrap();

    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "analyze",
            "--format",
            "json",
            "--big-table-rows",
            "1000",
            "--unused-min-bytes",
            "0",
            "--slow-ms",
            "50",
        ])
        .assert()
        .success();
    let v = json_of(&out);
    let h = &v["health"];
    let names = |k: &str, f: &str| -> Vec<String> {
        h[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x[f].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("duplicate_indexes", "index"),
        vec!["public.child_x"],
        "{h}"
    );
    assert_eq!(
        names("duplicate_indexes", "covered_by"),
        vec!["public.child_x_id"]
    );
    assert!(
        names("unused_indexes", "index").contains(&"public.child_x_id".to_string()),
        "{h}"
    );
    assert!(
        !names("unused_indexes", "index").contains(&"public.child_pkey".to_string()),
        "primary keys are never unused"
    );
    assert_eq!(
        names("invalid_indexes", "index"),
        vec!["public.child_x_uniq"]
    );
    assert_eq!(
        names("unindexed_foreign_keys", "constraint"),
        vec!["child_parent_id_fkey"]
    );
    assert_eq!(
        names("seq_scan_tables", "table"),
        vec!["public.child"],
        "{h}"
    );
    assert!(
        names("slow_statements", "query")
            .iter()
            .any(|q| q.contains("pg_sleep")),
        "{h}"
    );
    // And in the terminal report.
    dbload()
        .args(["-d", &db.url(), "analyze", "--big-table-rows", "1000"])
        .assert()
        .success()
        .stdout(predicates::str::contains("FK without index"))
        .stdout(predicates::str::contains("invalid index"));
}

#[test]
fn bad_input_names_the_flag() {
    let out = dbload()
        .args([
            "-d",
            "postgres://127.0.0.1:1/x",
            "analyze",
            "--from-file",
            "/nonexistent/w.sql",
        ])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("--from-file /nonexistent/w.sql"), "{err}");
    dbload()
        .args(["analyze", "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--apply"));
}

/// `--from-results`: the statements a stress run recorded are analysed
/// (a seeded dataset, the default workload, then the results file).
#[tokio::test]
async fn from_results_analyses_the_statements_of_a_stress_run() {
    let db = crate::common::TestDb::new().await;
    let url = db.url();
    crate::common::dbload()
        .args(["-d", &url, "seed", "--scale", "0.01"])
        .assert()
        .success();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    crate::common::dbload()
        .args([
            "-d",
            &url,
            "stress",
            // 'my pets' is 3 % of the mix: ~9 calls at 100/s for 3 s (at
            // 50/s for 2 s it sometimes got none and no index was proposed).
            "--qps",
            "100",
            "--duration",
            "3s",
            "--warmup",
            "0s",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let a = crate::common::dbload()
        .args(["-d", &url, "analyze", "--format", "json", "--from-results"])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let statements = v["statements"].as_array().expect("statements");
    assert!(!statements.is_empty(), "{v}");
    let origin = out.display().to_string();
    assert!(
        statements
            .iter()
            .all(|s| s["location"].as_str().unwrap_or("").starts_with(&origin)),
        "{statements:?}"
    );
    // The 'my pets' look-up (latest appointment per pet) gets its index.
    let ddls: Vec<&str> = v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["ddl"].as_str())
        .collect();
    assert!(
        ddls.iter().any(|d| d.contains("appointments (pet_id")),
        "{ddls:?}"
    );
    // From pg_stat_statements: dbload's own set-up queries (the workload's
    // dataset model) are not part of the analysed workload.
    let a = crate::common::dbload()
        .args(["-d", &url, "analyze", "--format", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let queries: Vec<&str> = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["query"].as_str())
        .collect();
    assert!(
        queries.iter().any(|q| q.contains("appointments")),
        "the workload's own statements are read: {queries:?}"
    );
    assert!(
        !queries.iter().any(
            |q| q.contains("FROM pets ORDER BY clinic_id, id") || q.starts_with("/* dbload */")
        ),
        "{queries:?}"
    );
    // A file that is not a results file names the flag.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    crate::common::dbload()
        .args(["-d", &url, "analyze", "--from-results"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--from-results"));
}

/// A fresh database with `sql` run in it.
async fn db_with(sql: &str) -> (TestDb, tokio_postgres::Client) {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(sql).await.unwrap();
    (db, c)
}

/// `--verify-build`: GIN candidates are built for real in a rolled-back
/// transaction (pg_trgm created inside it when missing) and come out
/// verified; nothing is left in the database. Above the size limit the
/// build is refused and the proposal stays unverified, with the reason.
#[tokio::test]
async fn verify_build_checks_gin_candidates_and_leaves_nothing() {
    let (db, c) = db_with(
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL, attrs jsonb NOT NULL);
         INSERT INTO notes SELECT i, 'note ' || md5(i::text), jsonb_build_object('k', i % 1000)
           FROM generate_series(1, 30000) i;
         ANALYZE notes;",
    )
    .await;
    let sql = "SELECT id FROM notes WHERE body ILIKE '%' || $1 || '%';\n\
               SELECT id FROM notes WHERE attrs @> $1;\n";
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "analyze",
            "--stdin",
            "--verify-build",
            "--format",
            "json",
        ])
        .write_stdin(sql)
        .assert()
        .success();
    let v = json_of(&out);
    let props = v["proposals"].as_array().unwrap();
    let ddls: Vec<&str> = props.iter().map(|p| p["ddl"].as_str().unwrap()).collect();
    assert!(
        ddls.contains(&"CREATE INDEX CONCURRENTLY ON public.notes USING gin (body gin_trgm_ops)"),
        "{ddls:?}"
    );
    assert!(
        ddls.contains(
            &"CREATE INDEX CONCURRENTLY ON public.notes USING gin (attrs jsonb_path_ops)"
        ),
        "{ddls:?}"
    );
    for p in props {
        assert_eq!(p["verified"], true, "{p}");
        assert!(
            p["verification_note"]
                .as_str()
                .unwrap()
                .contains("rolled-back transaction"),
            "{p}"
        );
        let h = &p["statements"][0];
        assert!(h["cost_after"].as_f64().unwrap() < h["cost_before"].as_f64().unwrap());
    }
    let trgm = props
        .iter()
        .find(|p| p["ddl"].as_str().unwrap().contains("gin_trgm_ops"))
        .unwrap();
    assert_eq!(
        trgm["requires"][0],
        "CREATE EXTENSION IF NOT EXISTS pg_trgm"
    );
    // Nothing persists: no index beyond the primary key, no extension.
    let row = c
        .query_one(
            "SELECT (SELECT count(*) FROM pg_indexes WHERE tablename = 'notes'), \
                    (SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, 0));

    // Above --verify-build-max-size: refused, unverified, with the reason.
    let out = dbload()
        .args([
            "-d",
            &db.url(),
            "analyze",
            "--stdin",
            "--verify-build",
            "--verify-build-max-size",
            "64kB",
            "--format",
            "json",
        ])
        .write_stdin(sql)
        .assert()
        .success();
    let v = json_of(&out);
    for p in v["proposals"].as_array().unwrap() {
        assert_eq!(p["verified"], false, "{p}");
    }
    let s = v["statements"][0]["detail"].as_str().unwrap();
    assert!(s.contains("--verify-build refused on public.notes"), "{s}");
    // --apply runs what a proposal requires first: pg_trgm, then the index.
    let out = dbload()
        .args(["-d", &db.url(), "analyze", "--stdin", "--apply", "--yes"])
        .write_stdin(sql)
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("CREATE EXTENSION IF NOT EXISTS pg_trgm;"),
        "{err}"
    );
    let row = c
        .query_one(
            "SELECT (SELECT count(*) FROM pg_indexes WHERE tablename = 'notes' \
                       AND indexdef LIKE '%gin_trgm_ops%'), \
                    (SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (1, 1),
        "{err}"
    );
    // A bad size names the flag.
    dbload()
        .args(["analyze", "--verify-build-max-size", "lots"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--verify-build-max-size"));
}

/// A stress results file whose recorded statements are `stmts`
/// (query, calls, rows) over the fixture's 2 measured seconds.
fn results_with(dir: &std::path::Path, stmts: &[(&str, i64, i64)]) -> std::path::PathBuf {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string("fixtures/stress_results.json").unwrap())
            .unwrap();
    assert_eq!(v["measured_secs"], 2.0);
    v["server_statements"] = stmts
        .iter()
        .map(|(q, calls, rows)| {
            serde_json::json!({"query": q, "calls": calls, "total_ms": *calls as f64,
                               "mean_ms": 1.0, "rows": rows})
        })
        .collect();
    let p = dir.join("run.json");
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// Choosing for the workload: two statements served by one composite
/// index; an index on a write-heavy table declined for its measured write
/// cost (the run's own INSERTs); `--max-indexes` keeps the best by net
/// saving and `--max-size` counts HypoPG's size estimates.
#[tokio::test]
async fn chooses_for_the_workload_with_write_cost_and_budget() {
    let (db, _c) = db_with(
        "CREATE TABLE hot (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, k int NOT NULL, v text);
         INSERT INTO hot (k, v) SELECT i % 5000, 'x' FROM generate_series(1, 50000) i;
         CREATE TABLE cold (id bigint PRIMARY KEY, k int NOT NULL, v int NOT NULL);
         INSERT INTO cold SELECT i, i % 5000, i FROM generate_series(1, 50000) i;
         CREATE TABLE warm (id bigint PRIMARY KEY, k int NOT NULL);
         INSERT INTO warm SELECT i, i % 5000 FROM generate_series(1, 50000) i;
         ANALYZE;",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let run = results_with(
        dir.path(),
        &[
            ("SELECT * FROM hot WHERE k = $1", 20, 200),
            ("INSERT INTO hot (k, v) VALUES ($1, $2)", 20_000, 20_000),
            ("SELECT * FROM cold WHERE k = $1", 400, 4000),
            ("SELECT * FROM cold WHERE k = $1 AND v >= $2", 400, 1000),
            ("SELECT * FROM warm WHERE k = $1", 4, 40),
        ],
    );
    let analyze = |extra: &[&str]| {
        let out = dbload()
            .args([
                "-d",
                &db.url(),
                "analyze",
                "--format",
                "json",
                "--from-results",
            ])
            .arg(&run)
            .args(extra)
            .assert()
            .success();
        json_of(&out)
    };
    let v = analyze(&[]);
    let labels = proposal_labels(&v);
    assert_eq!(
        labels,
        vec!["public.cold(k, v)", "public.warm(k)"],
        "{}",
        v["declined"]
    );
    // Consolidation: one composite for both cold statements.
    assert_eq!(v["proposals"][0]["statements"].as_array().unwrap().len(), 2);
    // The write-heavy table's index is declined, with the measured figures.
    let declined = v["declined"].as_array().unwrap();
    assert_eq!(declined.len(), 1, "{declined:?}");
    assert_eq!(
        declined[0]["ddl"],
        "CREATE INDEX CONCURRENTLY ON public.hot (k)"
    );
    let why = declined[0]["reason"].as_str().unwrap();
    assert!(
        why.contains("10000.0 extra index page writes/s at the observed 10000.0 rows written/s"),
        "{why}"
    );
    // Every kept proposal carries its size and write side.
    for p in v["proposals"].as_array().unwrap() {
        assert!(p["size_bytes"].as_i64().unwrap() > 8192, "{p}");
        let w = &p["write_cost"];
        assert_eq!(w["index_writes_per_sec"], 0.0, "{p}");
        assert!(w["saved_cost_per_sec"].as_f64().unwrap() > 0.0);
    }
    // Budget by count: the best by net saving.
    let v = analyze(&["--max-indexes", "1"]);
    assert_eq!(proposal_labels(&v), vec!["public.cold(k, v)"]);
    assert!(
        v["declined"].as_array().unwrap().iter().any(|d| d["ddl"]
            .as_str()
            .unwrap()
            .contains("warm")
            && d["reason"].as_str().unwrap().contains("--max-indexes 1")),
        "{}",
        v["declined"]
    );
    assert!(
        v["selection"].as_str().unwrap().starts_with("1 of 3"),
        "{}",
        v["selection"]
    );
    // Budget by size: nothing fits in 8 kB.
    let v = analyze(&["--max-size", "8kB"]);
    assert!(v["proposals"].as_array().unwrap().is_empty(), "{v}");
    // In the terminal report too.
    dbload()
        .args(["-d", &db.url(), "analyze", "--from-results"])
        .arg(&run)
        .assert()
        .success()
        .stdout(predicates::str::contains("Declined"))
        .stdout(predicates::str::contains("extra index page writes/s"));
}

/// `--write-sample`: write rates measured as pg_stat_user_tables deltas
/// while the application writes.
#[tokio::test]
async fn write_sample_measures_pg_stat_user_tables_deltas() {
    let (db, _c) = db_with(
        "CREATE TABLE feed (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, k int NOT NULL);
         INSERT INTO feed (k) SELECT i % 5000 FROM generate_series(1, 50000) i;
         ANALYZE feed;",
    )
    .await;
    let writer = db.client().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let w = tokio::spawn(async move {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            writer
                .batch_execute("INSERT INTO feed (k) SELECT i FROM generate_series(1, 200) i")
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let url = db.url();
    let out = tokio::task::spawn_blocking(move || {
        dbload()
            .args([
                "-d",
                &url,
                "analyze",
                "--stdin",
                "--write-sample",
                "3s",
                "--format",
                "json",
            ])
            .write_stdin("SELECT * FROM feed WHERE k = $1;\n")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.await.unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let p = &v["proposals"][0];
    assert_eq!(
        p["ddl"], "CREATE INDEX CONCURRENTLY ON public.feed (k)",
        "{v}"
    );
    let wc = &p["write_cost"];
    assert!(
        wc["source"].as_str().unwrap().contains("--write-sample"),
        "{wc}"
    );
    assert!(wc["writes_per_sec"].as_f64().unwrap() > 100.0, "{wc}");
    assert_eq!(wc["writes_per_sec"], wc["index_writes_per_sec"], "{wc}");
    // A SQL file has no read rate: the write side is reported, nothing declined.
    assert!(wc["saved_cost_per_sec"].is_null(), "{wc}");
}

async fn public_indexes(c: &tokio_postgres::Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// `--prove` end to end on the seeded vet dataset: the run is replayed in a
/// copy before and after creating the proposals; the copy is dropped and
/// the user's database keeps its indexes as they were. With another
/// session connected, the copy is refused with a clear message.
#[tokio::test]
async fn prove_replays_the_run_in_a_copy_before_and_after() {
    let db = TestDb::new().await;
    let url = db.url();
    dbload()
        .args(["-d", &url, "seed", "--scale", "0.01"])
        .assert()
        .success();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run.json");
    dbload()
        .args([
            "-d",
            &url,
            "stress",
            "--qps",
            "50",
            "--duration",
            "3s",
            "--warmup",
            "0s",
        ])
        .arg("--out")
        .arg(&run)
        .assert()
        // A machine busy with the rest of the suite may not hold the rate
        // (exit 3, an invalid run): its results file is still a recording.
        .code(predicates::iter::in_iter([0, 3]));
    let before_count = public_indexes(&db.client().await).await;
    let u2 = url.clone();
    let r2 = run.clone();
    let out = tokio::task::spawn_blocking(move || {
        dbload()
            .args([
                "-d",
                &u2,
                "analyze",
                "--format",
                "json",
                "--prove",
                "--from-results",
            ])
            .arg(&r2)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let p = &v["prove"];
    assert_eq!(p["copied"], true, "{p}");
    let ddls: Vec<&str> = v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ddl"].as_str().unwrap())
        .collect();
    assert!(!ddls.is_empty(), "{v}");
    let created: Vec<&str> = p["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(created, ddls);
    let rows = p["scenarios"].as_array().unwrap();
    assert_eq!(rows[0]["scenario"], "all");
    assert!(rows.len() > 5, "{p}");
    // Both replays ran the mix (the same seed and rate; the exact count can
    // differ by an arrival at the edge of the window on a busy machine).
    let all = &rows[0];
    for (calls, p50) in all["calls"]
        .as_array()
        .unwrap()
        .iter()
        .zip(all["p50_ms"].as_array().unwrap())
    {
        assert!(calls.as_u64().unwrap() > 50, "{p}");
        assert!(p50.as_f64().unwrap() > 0.0, "{p}");
    }
    assert!(
        p["server"][0]["server_ms_per_sec"].as_f64().unwrap() > 0.0,
        "{p}"
    );
    // The copy's own statements wrote WAL (the workload inserts).
    assert!(
        p["server"][1]["wal_bytes_per_sec"].as_f64().unwrap() > 0.0,
        "{p}"
    );
    // The regression comparison's headline (PASS / FAIL / INVALID when a
    // busy machine could not hold the rate in one replay).
    let verdict = p["verdict"].as_str().unwrap();
    assert!(
        ["PASS", "FAIL", "INVALID"]
            .iter()
            .any(|h| verdict.starts_with(h)),
        "{p}"
    );
    assert!(std::path::Path::new(p["comparison"].as_str().unwrap()).exists());
    // The copy is gone; the user's database is unchanged.
    let c = db.client().await;
    let copy = p["database"].as_str().unwrap();
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&copy],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(public_indexes(&c).await, before_count);
    // Another session on the database: no copy, a clear error.
    let out = dbload()
        .args(["-d", &url, "analyze", "--prove", "--from-results"])
        .arg(&run)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("other session(s) are connected"), "{err}");
    assert!(err.contains("--prove-db"), "{err}");
    // --prove-db: a copy the user made; the indexes are created there and
    // it is left in place.
    drop(c);
    let mine = format!("{}_mine", db.name);
    let admin = dbload::db::connect(&db.target.with_dbname("postgres"))
        .await
        .unwrap();
    let mut made = false;
    for _ in 0..50 {
        if admin
            .batch_execute(&format!("CREATE DATABASE {mine} TEMPLATE {}", db.name))
            .await
            .is_ok()
        {
            made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(made, "copying the test database");
    let (u3, r3, m3) = (url.clone(), run.clone(), mine.clone());
    let out = tokio::task::spawn_blocking(move || {
        dbload()
            .args([
                "-d",
                &u3,
                "analyze",
                "--format",
                "json",
                "--prove",
                "--prove-db",
                &m3,
            ])
            .arg("--from-results")
            .arg(&r3)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["prove"]["copied"], false);
    assert_eq!(v["prove"]["database"], mine.as_str());
    let theirs = dbload::db::connect(&db.target.with_dbname(&mine))
        .await
        .unwrap();
    assert!(public_indexes(&theirs).await > before_count);
    drop(theirs);
    for _ in 0..50 {
        if admin
            .batch_execute(&format!("DROP DATABASE {mine}"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
