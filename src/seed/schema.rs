//! Catalog work around a load: is the schema dbload's, which keys, indexes
//! and foreign keys to drop before loading and rebuild afterwards (read
//! from the catalog and parked in `dbload_seed_ddl`, so an interrupted seed
//! is repaired by the next one), identity sequences, free disk space.

use tokio_postgres::{Client, GenericClient};

use super::model::Table;
use crate::db::Target;

/// A quoted SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn table_names() -> Vec<String> {
    Table::ALL.iter().map(|t| t.name().to_string()).collect()
}

/// What the target database already holds.
#[derive(Debug, Clone)]
pub struct Existing {
    /// Tables of the vet-clinic schema's names that exist.
    pub present: Vec<String>,
    /// Whether `dbload_migrations` records the vet-clinic schema.
    pub managed: bool,
    /// Present tables that hold at least one row.
    pub non_empty: Vec<String>,
    /// Bytes the present tables take (heap, indexes, TOAST).
    pub bytes: u64,
}

impl Existing {
    /// Tables of our names that dbload did not create.
    pub fn foreign(&self) -> &[String] {
        if self.managed { &[] } else { &self.present }
    }
}

pub async fn inspect(client: &Client) -> Result<Existing, tokio_postgres::Error> {
    let present: Vec<String> = client
        .query(
            "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL",
            &[&table_names()],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let has_migrations: bool = client
        .query_one("SELECT to_regclass('dbload_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    let managed = has_migrations
        && client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM dbload_migrations WHERE version = 1)",
                &[],
            )
            .await?
            .get::<_, bool>(0);
    let mut non_empty = Vec::new();
    for t in &present {
        let q = format!("SELECT EXISTS (SELECT 1 FROM {})", ident(t));
        if client.query_one(&q, &[]).await?.get::<_, bool>(0) {
            non_empty.push(t.clone());
        }
    }
    let bytes: i64 = client
        .query_one(
            "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0)::bigint
             FROM unnest($1::text[]) AS t",
            &[&present],
        )
        .await?
        .get(0);
    Ok(Existing {
        present,
        managed,
        non_empty,
        bytes: bytes.max(0) as u64,
    })
}

/// An object outside `tables` that stops a seed: a foreign key of another
/// table referencing one of them, or a view relying on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    /// "foreign key vet_notes_pet_fkey on vet_notes (references pets)".
    pub what: String,
    /// The statement that removes it (to re-create it after the seed).
    pub remove: String,
}

/// What the seed is about to do to `tables`, which decides what blocks it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// `DROP TABLE` (`--force` over tables dbload did not create): every
    /// view reading them and every foreign key referencing them would need
    /// CASCADE.
    DropTables,
    /// A re-seed: TRUNCATE and dropping and rebuilding keys, which foreign
    /// keys referencing them and views relying on a key forbid.
    Reseed,
}

/// Objects outside `tables` that `change` would need to drop (dbload never
/// uses CASCADE): it refuses before anything changes and names them.
pub async fn blockers(
    client: &Client,
    tables: &[String],
    change: Change,
) -> Result<Vec<Blocker>, tokio_postgres::Error> {
    let rows = client
        .query(
            "WITH t AS (SELECT to_regclass(x)::oid AS oid FROM unnest($1::text[]) AS x \
                        WHERE to_regclass(x) IS NOT NULL), \
                  dep AS (SELECT d.objid, d.refobjid AS rel, NULL::name AS key FROM pg_depend d \
                          WHERE $2 AND d.classid = 'pg_rewrite'::regclass \
                            AND d.refclassid = 'pg_class'::regclass \
                            AND d.refobjid IN (SELECT oid FROM t) \
                          UNION \
                          SELECT d.objid, con.conrelid, con.conname FROM pg_depend d \
                          JOIN pg_constraint con ON d.refclassid = 'pg_constraint'::regclass \
                                                AND d.refobjid = con.oid \
                          WHERE d.classid = 'pg_rewrite'::regclass \
                            AND con.conrelid IN (SELECT oid FROM t)) \
             SELECT format('foreign key %I on %s (references %s)', con.conname, \
                           con.conrelid::regclass, con.confrelid::regclass), \
                    format('ALTER TABLE %s DROP CONSTRAINT %I;', con.conrelid::regclass, con.conname) \
             FROM pg_constraint con \
             WHERE con.contype = 'f' AND con.confrelid IN (SELECT oid FROM t) \
               AND con.conrelid NOT IN (SELECT oid FROM t) \
             UNION \
             SELECT format('%s %s (%s %s)', \
                           CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, \
                           c.oid::regclass, \
                           CASE WHEN dep.key IS NULL THEN 'reads' \
                                ELSE format('relies on %I of', dep.key) END, \
                           dep.rel::regclass), \
                    format('DROP %s %s;', \
                           CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, \
                           c.oid::regclass) \
             FROM dep \
             JOIN pg_rewrite r ON r.oid = dep.objid \
             JOIN pg_class c ON c.oid = r.ev_class \
             WHERE c.oid NOT IN (SELECT oid FROM t) \
             ORDER BY 1",
            &[&tables, &(change == Change::DropTables)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Blocker {
            what: r.get(0),
            remove: r.get(1),
        })
        .collect())
}

/// Drop the tables of our names (for `--force` over tables dbload did not
/// create). Without CASCADE: anything else depending on them makes it fail.
pub async fn drop_tables(client: &Client, tables: &[String]) -> Result<(), tokio_postgres::Error> {
    let list: Vec<String> = tables.iter().map(|t| ident(t)).collect();
    client
        .batch_execute(&own(&format!("DROP TABLE IF EXISTS {}", list.join(", "))))
        .await
}

/// What kind of object a parked definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Primary key or unique constraint.
    Key,
    /// An index that backs no constraint.
    Index,
    ForeignKey,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Index => "index",
            Kind::ForeignKey => "foreign_key",
        }
    }
    fn parse(s: &str) -> Kind {
        match s {
            "key" => Kind::Key,
            "index" => Kind::Index,
            _ => Kind::ForeignKey,
        }
    }
}

/// One dropped key, index or foreign key, to rebuild after the load.
#[derive(Debug, Clone)]
pub struct Ddl {
    pub table: String,
    pub kind: Kind,
    pub name: String,
    pub definition: String,
}

/// `sql` marked as dbload's own ([`crate::db::OWN_QUERY_MARK`]), so that
/// `dbload analyze` leaves the seed's DDL, COPY and ANALYZE out of the
/// workload it reads from `pg_stat_statements`.
pub fn own(sql: &str) -> String {
    format!("{} {sql}", crate::db::OWN_QUERY_MARK)
}

impl Ddl {
    /// The statement that re-creates it (foreign keys as NOT VALID, to be
    /// validated by [`Ddl::validate_sql`]).
    pub fn create_sql(&self) -> String {
        let sql = match self.kind {
            Kind::Index => self.definition.clone(),
            Kind::Key => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                ident(&self.table),
                ident(&self.name),
                self.definition
            ),
            Kind::ForeignKey => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID",
                ident(&self.table),
                ident(&self.name),
                self.definition
            ),
        };
        own(&sql)
    }

    pub fn validate_sql(&self) -> String {
        own(&format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {}",
            ident(&self.table),
            ident(&self.name)
        ))
    }

    fn drop_sql(&self) -> String {
        own(&match self.kind {
            Kind::Index => format!("DROP INDEX IF EXISTS {}", ident(&self.name)),
            _ => format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                ident(&self.table),
                ident(&self.name)
            ),
        })
    }
}

/// Read the keys, indexes and foreign keys of our tables from the catalog.
async fn read_catalog(c: &impl GenericClient) -> Result<Vec<Ddl>, tokio_postgres::Error> {
    let names = table_names();
    let mut out = Vec::new();
    for r in c
        .query(
            "SELECT t, c.conname::text, c.contype = 'f', pg_get_constraintdef(c.oid)
             FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n)
             JOIN pg_constraint c ON c.conrelid = to_regclass(u.t)
             WHERE c.contype IN ('p', 'u', 'f')
             ORDER BY c.contype = 'f', u.n, c.contype, c.conname",
            &[&names],
        )
        .await?
    {
        let fk: bool = r.get(2);
        out.push(Ddl {
            table: r.get(0),
            kind: if fk { Kind::ForeignKey } else { Kind::Key },
            name: r.get(1),
            definition: r.get(3),
        });
    }
    for r in c
        .query(
            "SELECT t, ic.relname::text, pg_get_indexdef(i.indexrelid)
             FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n)
             JOIN pg_index i ON i.indrelid = to_regclass(u.t)
             JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                 AND c.contype IN ('p', 'u', 'x'))
             ORDER BY u.n, ic.relname",
            &[&names],
        )
        .await?
    {
        out.push(Ddl {
            table: r.get(0),
            kind: Kind::Index,
            name: r.get(1),
            definition: r.get(2),
        });
    }
    // Keys first, then plain indexes, then foreign keys: the rebuild order.
    out.sort_by_key(|d| match d.kind {
        Kind::Key => 0,
        Kind::Index => 1,
        Kind::ForeignKey => 2,
    });
    Ok(out)
}

/// Park the definitions in `dbload_seed_ddl` (unless an interrupted seed
/// already did) and drop them, in one transaction. Returns the parked list.
pub async fn drop_for_load(client: &mut Client) -> Result<Vec<Ddl>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("LOCK TABLE dbload_seed_ddl IN EXCLUSIVE MODE", &[])
        .await?;
    let parked: i64 = tx
        .query_one("SELECT count(*) FROM dbload_seed_ddl", &[])
        .await?
        .get(0);
    if parked == 0 {
        for (i, d) in read_catalog(&tx).await?.iter().enumerate() {
            tx.execute(
                "INSERT INTO dbload_seed_ddl (position, table_name, kind, name, definition)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &(i as i32),
                    &d.table,
                    &d.kind.as_str(),
                    &d.name,
                    &d.definition,
                ],
            )
            .await?;
        }
    }
    let ddl: Vec<Ddl> = tx
        .query(
            "SELECT table_name, kind, name, definition FROM dbload_seed_ddl ORDER BY position",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ddl {
            table: r.get(0),
            kind: Kind::parse(r.get(1)),
            name: r.get(2),
            definition: r.get(3),
        })
        .collect();
    // Foreign keys before the keys they depend on.
    for d in ddl.iter().rev() {
        tx.batch_execute(&d.drop_sql()).await?;
    }
    tx.commit().await?;
    Ok(ddl)
}

/// Forget the parked definitions once all are rebuilt.
pub async fn clear_parked(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute("DELETE FROM dbload_seed_ddl").await
}

/// Move each identity sequence past the explicit ids just loaded.
pub async fn reset_sequences(client: &Client) -> Result<(), tokio_postgres::Error> {
    for t in Table::ALL {
        if t == Table::UserSessions {
            continue; // uuid key, no sequence
        }
        let name = ident(t.name());
        client
            .query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 0) + 1, false) FROM {name}"
                ),
                &[&t.name()],
            )
            .await?;
    }
    Ok(())
}

/// Free space where the server keeps its data, when it can be known.
#[derive(Debug, Clone)]
pub enum FreeSpace {
    Known { bytes: u64, path: String },
    Unknown(String),
}

/// Free space in the server's data directory: readable when the server runs
/// on this machine (loopback or Unix socket) and we may read
/// `data_directory`.
#[allow(clippy::unnecessary_cast)] // fsblkcnt_t is not u64 everywhere
pub async fn free_space(client: &Client, target: &Target) -> FreeSpace {
    let host = target.host_display();
    let local = host.starts_with('/')
        || matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]");
    if !local {
        return FreeSpace::Unknown(format!("the server {host} is not on this machine"));
    }
    let dir: String = match client
        .query_one("SELECT current_setting('data_directory')", &[])
        .await
    {
        Ok(r) => r.get(0),
        Err(_) => {
            return FreeSpace::Unknown("this role may not read the server's data_directory".into());
        }
    };
    match nix::sys::statvfs::statvfs(dir.as_str()) {
        Ok(s) => FreeSpace::Known {
            bytes: s.blocks_available() as u64 * s.fragment_size() as u64,
            path: dir,
        },
        Err(e) => FreeSpace::Unknown(format!("cannot inspect {dir}: {e}")),
    }
}
