//! Schema migrations: the SQL files of `migrations/`, embedded in the binary,
//! applied in order (one transaction) and recorded in `dbload_migrations` with a checksum.
//!
//! Re-running is a no-op; an applied file whose text changed is an error;
//! a failing statement is reported as `migrations/<file>:<line>`.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// All migrations, in order. `tests` check this matches `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_vetclinic.sql",
        sql: include_str!("../../migrations/0001_vetclinic.sql"),
    },
    Migration {
        version: 2,
        name: "0002_dataset_metadata.sql",
        sql: include_str!("../../migrations/0002_dataset_metadata.sql"),
    },
    Migration {
        version: 3,
        name: "0003_pet_traits.sql",
        sql: include_str!("../../migrations/0003_pet_traits.sql"),
    },
];

/// The schema version a fully migrated database has.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migrations/{name} was changed after it was applied (recorded checksum {recorded}, file now {current}); \
         migrations are append-only: add a new file instead, or migrate a fresh database"
    )]
    Changed {
        name: String,
        recorded: String,
        current: String,
    },
    #[error("migrations/{file}:{line}: {message}")]
    Failed {
        file: String,
        line: usize,
        message: String,
    },
    #[error(
        "database records migration {version} ({name}) that this dbload does not know; it is newer than this binary"
    )]
    Unknown { version: i32, name: String },
    #[error("migration bookkeeping failed: {0}")]
    Db(#[from] tokio_postgres::Error),
}

/// What `apply` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MigrateReport {
    pub applied: Vec<String>,
    pub already: Vec<String>,
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Apply every pending migration of `list` in one transaction, under an
/// advisory lock so concurrent callers do not race.
pub async fn apply(client: &mut Client, list: &[Migration]) -> Result<MigrateReport, MigrateError> {
    let tx = client.transaction().await?;
    // Serialize concurrent migrators for the whole run; all of it is one
    // transaction, so a failure leaves the database as it was.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('dbload_migrations'))",
        &[],
    )
    .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS dbload_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let rows = tx
        .query(
            "SELECT version, name, checksum FROM dbload_migrations ORDER BY version",
            &[],
        )
        .await?;
    let mut report = MigrateReport::default();
    for r in &rows {
        let (version, name, recorded): (i32, String, String) = (r.get(0), r.get(1), r.get(2));
        let Some(m) = list.iter().find(|m| m.version == version) else {
            return Err(MigrateError::Unknown { version, name });
        };
        let current = checksum(m.sql);
        if current != recorded {
            return Err(MigrateError::Changed {
                name: m.name.into(),
                recorded,
                current,
            });
        }
        report.already.push(m.name.into());
    }
    for m in list {
        if rows.iter().any(|r| r.get::<_, i32>(0) == m.version) {
            continue;
        }
        // One statement at a time, so a failure names its own line (a
        // server error carries a position only for some errors, and only
        // within the statement it was sent).
        for range in super::sql_lex::statements(m.sql) {
            let statement = &m.sql[range.clone()];
            if let Err(e) = tx.batch_execute(statement).await {
                // Characters before the statement, to place a position.
                let before = m.sql[..range.start].chars().count();
                let first = line_of(
                    m.sql,
                    m.sql[..super::sql_lex::first_token(m.sql, range.start)]
                        .chars()
                        .count()
                        + 1,
                );
                let (line, message) = match e.as_db_error() {
                    Some(db) => {
                        let line = match db.position() {
                            Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
                                line_of(m.sql, before + *p as usize)
                            }
                            _ => first,
                        };
                        (line, db.message().to_string())
                    }
                    None => (first, e.to_string()),
                };
                return Err(MigrateError::Failed {
                    file: m.name.into(),
                    line,
                    message,
                });
            }
        }
        tx.execute(
            "INSERT INTO dbload_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &checksum(m.sql)],
        )
        .await?;
        report.applied.push(m.name.into());
    }
    tx.commit().await?;
    Ok(report)
}

/// 1-based line of a 1-based character position.
fn line_of(sql: &str, pos: usize) -> usize {
    sql.chars()
        .take(pos.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_list_matches_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, names, "add new migrations/ files to MIGRATIONS");
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 1), 1);
        assert_eq!(line_of("a\nb\nc", 3), 2);
        assert_eq!(line_of("a\nb\nc", 5), 3);
    }
}
