//! Index and table health, PgHero-style: duplicate, unused and invalid
//! indexes, foreign keys without a supporting index on big tables, tables
//! dominated by sequential scans, and slow statements.

use tokio_postgres::Client;

use super::catalog::{Catalog, Index, TableStats};
use super::model::{
    DuplicateIndex, Health, InvalidIndex, SeqScanTable, SlowStatement, UnindexedForeignKey,
    UnusedIndex,
};
use super::names::{RelName, quote_ident};
use super::source::WorkloadStatement;

/// Thresholds for the health checks.
#[derive(Debug, Clone, Copy)]
pub struct HealthSettings {
    /// Unused indexes smaller than this are not reported.
    pub unused_min_bytes: i64,
    /// Tables with fewer rows are not "big" (unindexed FKs, sequential scans).
    pub big_table_rows: f64,
    /// Slow statements: at least this many calls…
    pub slow_min_calls: u64,
    /// …and at least this mean time.
    pub slow_mean_ms: f64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            unused_min_bytes: 1 << 20,
            big_table_rows: 10_000.0,
            slow_min_calls: 1,
            slow_mean_ms: 100.0,
        }
    }
}

/// `a` is redundant given `b`: same table, method, predicate and
/// expression-ness; `a`'s key columns (with directions and operator
/// classes) a leading prefix of `b`'s. A unique `a` is kept unless `b` has exactly its columns and is
/// unique too; a primary key is never redundant.
pub fn redundant(a: &Index, b: &Index) -> bool {
    if a.name == b.name || a.table != b.table || a.method != b.method {
        return false;
    }
    if a.predicate != b.predicate || !a.valid || !b.valid || a.primary {
        return false;
    }
    if a.keys.len() > b.keys.len() || a.keys.len() != a.columns.len() {
        return false;
    }
    // Keys as PostgreSQL prints them: columns and expressions alike.
    // …with the same operator classes (`name text_pattern_ops` serves LIKE
    // prefixes, `name` ordering: neither replaces the other).
    let prefix = a.keys.iter().zip(&b.keys).all(|(x, y)| x == y)
        && a.desc.iter().zip(&b.desc).all(|(x, y)| x == y)
        && a.opclasses.iter().zip(&b.opclasses).all(|(x, y)| x == y);
    if !prefix {
        return false;
    }
    if a.unique && !(b.unique && a.keys.len() == b.keys.len()) {
        return false;
    }
    // Identical indexes: report only one of the pair (the later name), unless
    // the other one is the primary key or a unique one.
    if a.keys.len() == b.keys.len() && a.unique == b.unique && !b.primary {
        return a.name > b.name;
    }
    true
}

/// Duplicate indexes among the catalog's.
pub fn duplicates(cat: &Catalog) -> Vec<DuplicateIndex> {
    let mut out = Vec::new();
    for a in &cat.indexes {
        if let Some(b) = cat.indexes.iter().find(|b| redundant(a, b)) {
            out.push(DuplicateIndex {
                table: a.table.to_string(),
                index: a.name.to_string(),
                definition: a.definition.clone(),
                covered_by: b.name.to_string(),
                covered_by_definition: b.definition.clone(),
                size_bytes: a.size_bytes,
            });
        }
    }
    out.sort_by(|x, y| x.index.cmp(&y.index));
    out
}

/// Run every health check.
pub async fn check(
    c: &Client,
    cat: &Catalog,
    settings: &HealthSettings,
    statements: &[WorkloadStatement],
    from_pgss: bool,
) -> Result<Health, tokio_postgres::Error> {
    let mut h = Health {
        stats_reset: c
            .query_one(
                "SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()",
                &[],
            )
            .await?
            .get(0),
        duplicate_indexes: duplicates(cat),
        ..Default::default()
    };
    for i in &cat.indexes {
        if !i.valid {
            h.invalid_indexes.push(InvalidIndex {
                table: i.table.to_string(),
                index: i.name.to_string(),
                definition: i.definition.clone(),
            });
        } else if i.idx_scan == 0
            && !i.unique
            && !i.primary
            && i.size_bytes >= settings.unused_min_bytes
        {
            h.unused_indexes.push(UnusedIndex {
                table: i.table.to_string(),
                index: i.name.to_string(),
                size_bytes: i.size_bytes,
                idx_scan: i.idx_scan,
            });
        }
    }
    h.unused_indexes
        .sort_by_key(|u| std::cmp::Reverse(u.size_bytes));

    // Foreign keys whose columns no valid index leads with (in any order).
    let rows = c
        .query(
            "SELECT con.conname::text, n.nspname::text, cl.relname::text, \
               rn.nspname::text, rc.relname::text, \
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
                     ORDER BY k.ord) \
             FROM pg_constraint con \
             JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace \
             JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
             WHERE con.contype = 'f' AND NOT cl.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await?;
    for r in rows {
        let table = RelName::new(Some(r.get::<_, &str>(1)), r.get(2));
        let cols: Vec<String> = r.get(5);
        let rows_est = cat
            .relations
            .get(&table)
            .map(|t| t.reltuples)
            .unwrap_or(0.0);
        if rows_est < settings.big_table_rows {
            continue;
        }
        let supported = cat.indexes.iter().any(|i| {
            i.table == table
                && i.valid
                && i.predicate.is_none()
                && i.columns.len() >= cols.len()
                && cols
                    .iter()
                    .all(|c| i.columns[..cols.len()].contains(&Some(c.clone())))
        });
        if !supported {
            let list: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
            h.unindexed_foreign_keys.push(UnindexedForeignKey {
                ddl: format!("CREATE INDEX CONCURRENTLY ON {table} ({})", list.join(", ")),
                table: table.to_string(),
                constraint: r.get(0),
                columns: cols,
                referenced_table: RelName::new(Some(r.get::<_, &str>(3)), r.get(4)).to_string(),
                table_rows: rows_est,
            });
        }
    }
    h.unindexed_foreign_keys
        .sort_by(|a, b| b.table_rows.total_cmp(&a.table_rows));

    for (name, s) in &cat.stats {
        let live = s.n_live_tup as f64;
        if live >= settings.big_table_rows && s.seq_scan > s.idx_scan && s.seq_scan >= 10 {
            h.seq_scan_tables.push(SeqScanTable {
                table: name.to_string(),
                seq_scan: s.seq_scan,
                idx_scan: s.idx_scan,
                seq_tup_read: s.seq_tup_read,
                live_rows: s.n_live_tup,
            });
        }
    }
    h.seq_scan_tables
        .sort_by_key(|t| std::cmp::Reverse(t.seq_tup_read));

    if from_pgss {
        for s in statements {
            if s.calls >= settings.slow_min_calls && s.mean_ms >= settings.slow_mean_ms {
                h.slow_statements.push(SlowStatement {
                    query: s.query.clone(),
                    calls: s.calls,
                    mean_ms: s.mean_ms,
                    total_ms: s.total_ms,
                });
            }
        }
    }
    Ok(h)
}

/// A warning when a table is write-heavy: every index adds write work and
/// can turn HOT updates into regular ones.
pub fn write_warning(cat: &Catalog, table: &RelName) -> Option<String> {
    let s = cat.stats.get(table)?;
    write_heavy(s)
}

/// Rows written vs rows read since the statistics were reset: heavy when
/// writes are at least half of all row activity. A table read fewer than
/// [`MIN_SCANS_FOR_WRITE_WARNING`] times (just loaded) is not judged.
pub fn write_heavy(s: &TableStats) -> Option<String> {
    let writes = s.n_tup_ins + s.n_tup_upd + s.n_tup_del;
    let reads = s.seq_tup_read + s.idx_tup_fetch;
    let scans = s.seq_scan + s.idx_scan;
    if writes < 1000 || scans < MIN_SCANS_FOR_WRITE_WARNING || writes * 2 < writes + reads {
        return None;
    }
    let hot = if s.n_tup_upd > 0 {
        format!(
            " ({:.0}% HOT)",
            100.0 * s.n_tup_hot_upd as f64 / s.n_tup_upd as f64
        )
    } else {
        String::new()
    };
    Some(format!(
        "write-heavy: {} inserts, {} updates{hot}, {} deletes vs {} rows read; \
         each index slows writes and can turn HOT updates into regular ones",
        s.n_tup_ins, s.n_tup_upd, s.n_tup_del, reads
    ))
}

/// Scans a table needs before [`write_heavy`] judges it.
pub const MIN_SCANS_FOR_WRITE_WARNING: i64 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(name: &str, cols: &[&str]) -> Index {
        Index {
            name: RelName::new(Some("public"), name),
            table: RelName::new(Some("public"), "t"),
            columns: cols.iter().map(|c| Some(c.to_string())).collect(),
            desc: vec![false; cols.len()],
            keys: cols.iter().map(|c| c.to_string()).collect(),
            opclasses: vec![None; cols.len()],
            method: "btree".into(),
            predicate: None,
            valid: true,
            unique: false,
            primary: false,
            size_bytes: 8192,
            idx_scan: 0,
            definition: String::new(),
        }
    }

    #[test]
    fn prefix_duplicates() {
        let a = idx("t_a", &["a"]);
        let ab = idx("t_ab", &["a", "b"]);
        assert!(redundant(&a, &ab));
        assert!(!redundant(&ab, &a));
        let mut ua = a.clone();
        ua.unique = true;
        assert!(!redundant(&ua, &ab), "a unique index enforces something");
        let mut pa = a.clone();
        pa.predicate = Some("(a > 0)".into());
        assert!(!redundant(&pa, &ab));
        let mut hash = a.clone();
        hash.method = "hash".into();
        assert!(!redundant(&hash, &ab));
        let mut desc = a.clone();
        desc.desc = vec![true];
        assert!(!redundant(&desc, &ab));
        let ba = idx("t_ba", &["b", "a"]);
        assert!(!redundant(&a, &ba));
        // Expression keys compare as printed.
        let la = idx("t_la", &["lower(a)"]);
        let lab = idx("t_lab", &["lower(a)", "b"]);
        assert!(redundant(&la, &lab));
        assert!(!redundant(&la, &ab));
        // Operator classes differ: both serve something.
        let mut pat = idx("t_pat", &["a"]);
        pat.opclasses = vec![Some("text_pattern_ops".into())];
        assert!(!redundant(&pat, &ab));
        assert!(!redundant(&a, &pat) && !redundant(&pat, &a));
    }

    #[test]
    fn write_heavy_needs_reads_to_compare() {
        let mut s = TableStats {
            n_tup_ins: 50_000,
            n_live_tup: 50_000,
            seq_scan: 1,
            ..Default::default()
        };
        assert!(write_heavy(&s).is_none(), "just loaded");
        s.seq_scan = 20;
        s.seq_tup_read = 1_000_000;
        assert!(write_heavy(&s).is_none(), "read-mostly");
        s.n_tup_upd = 2_000_000;
        s.n_tup_hot_upd = 500_000;
        let w = write_heavy(&s).unwrap();
        assert!(w.contains("25% HOT"), "{w}");
    }

    #[test]
    fn identical_pair_reports_one() {
        let x = idx("t_x", &["a", "b"]);
        let y = idx("t_y", &["a", "b"]);
        assert!(redundant(&y, &x) != redundant(&x, &y));
        let mut pk = idx("t_pkey", &["a"]);
        pk.primary = true;
        pk.unique = true;
        let a = idx("t_a", &["a"]);
        assert!(redundant(&a, &pk));
        assert!(!redundant(&pk, &a));
    }
}
