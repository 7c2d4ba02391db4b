//! What the analyzer needs to know about the database, read once from the
//! system catalogs: user relations and their columns, existing indexes,
//! view definitions, partition parents, the search path and table
//! statistics.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::names::RelName;

/// One column of a relation.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    /// The type has a default btree operator class (json, xml, point… do not).
    pub btree: bool,
    /// The column's collation is C/POSIX (or it has none): a plain btree
    /// serves `LIKE 'abc%'`, no `text_pattern_ops` needed.
    pub c_collation: bool,
}

/// A relation (table, partitioned table, view, materialized view).
#[derive(Debug, Clone)]
pub struct Relation {
    pub oid: u32,
    pub name: RelName,
    /// `r`, `p`, `v`, `m`, `f`.
    pub kind: char,
    pub columns: Vec<Column>,
    pub reltuples: f64,
    /// For a partition: the root of its partition tree.
    pub partition_root: Option<RelName>,
    pub view_def: Option<String>,
    /// Created by an extension (pg_stat_statements, HypoPG…): treated like
    /// the system catalogs.
    pub extension_owned: bool,
    /// Heap size in bytes (summed over partitions for a partitioned table).
    pub size_bytes: i64,
    /// Share of the heap's pages marked all-visible (`relallvisible /
    /// relpages`): index-only scans skip the heap only on those.
    pub all_visible: f64,
}

impl Relation {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One existing index.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: RelName,
    pub table: RelName,
    /// Key columns in order; `None` for an expression.
    pub columns: Vec<Option<String>>,
    /// DESC per key column.
    pub desc: Vec<bool>,
    /// Each key as PostgreSQL prints it (`name`, `lower(name)`).
    pub keys: Vec<String>,
    /// Each key's operator class when it is not the type's default.
    pub opclasses: Vec<Option<String>>,
    pub method: String,
    pub predicate: Option<String>,
    pub valid: bool,
    pub unique: bool,
    pub primary: bool,
    pub size_bytes: i64,
    pub idx_scan: i64,
    pub definition: String,
}

/// Activity counters of a table (`pg_stat_user_tables`).
#[derive(Debug, Clone, Default)]
pub struct TableStats {
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    pub idx_tup_fetch: i64,
    pub n_tup_ins: i64,
    pub n_tup_upd: i64,
    pub n_tup_hot_upd: i64,
    pub n_tup_del: i64,
    pub n_live_tup: i64,
}

/// A snapshot of the catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub relations: HashMap<RelName, Relation>,
    pub indexes: Vec<Index>,
    pub search_path: Vec<String>,
    pub stats: HashMap<RelName, TableStats>,
    /// `server_version_num`.
    pub server_version: i32,
    pub hypopg: bool,
    pub database: String,
    /// Extensions installed in the database.
    pub extensions: Vec<String>,
    /// Extensions the server could install (`pg_available_extensions`).
    pub available_extensions: Vec<String>,
}

/// Schemas whose relations are "catalog": statements touching only them are skipped.
pub fn is_system_schema(s: &str) -> bool {
    s == "pg_catalog" || s == "information_schema" || s.starts_with("pg_toast")
}

impl Catalog {
    /// Read the catalog of the connected database.
    pub async fn load(c: &Client) -> Result<Catalog, tokio_postgres::Error> {
        let mut cat = Catalog::default();
        let row = c
            .query_one(
                "SELECT current_setting('server_version_num')::int, current_database()::text, \
                 current_schemas(true)::text[], \
                 EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'), \
                 ARRAY(SELECT extname::text FROM pg_extension ORDER BY 1), \
                 ARRAY(SELECT name::text FROM pg_available_extensions ORDER BY 1)",
                &[],
            )
            .await?;
        cat.server_version = row.get(0);
        cat.database = row.get(1);
        cat.search_path = row.get(2);
        cat.hypopg = row.get(3);
        cat.extensions = row.get(4);
        cat.available_extensions = row.get(5);

        let rows = c
            .query(
                "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, \
                   c.reltuples::float8, \
                   CASE WHEN c.relkind IN ('v') THEN pg_get_viewdef(c.oid) END, \
                   (SELECT rn.nspname::text FROM pg_partition_root(c.oid) r(oid) \
                      JOIN pg_class rc ON rc.oid = r.oid JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
                      WHERE c.relispartition), \
                   (SELECT rc.relname::text FROM pg_partition_root(c.oid) r(oid) \
                      JOIN pg_class rc ON rc.oid = r.oid WHERE c.relispartition), \
                   EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                           AND d.objid = c.oid AND d.deptype = 'e'), \
                   CASE WHEN c.relkind = 'p' THEN \
                     (SELECT COALESCE(sum(pg_table_size(t.relid)), 0)::int8 FROM pg_partition_tree(c.oid) t) \
                   ELSE pg_table_size(c.oid) END, \
                   c.relallvisible::float8 / greatest(c.relpages, 1) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r','p','v','m','f') \
                   AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
                &[],
            )
            .await?;
        let mut by_oid = HashMap::new();
        for r in rows {
            let oid: u32 = r.get(0);
            let name = RelName::new(Some(r.get::<_, &str>(1)), r.get(2));
            let kind = r.get::<_, &str>(3).chars().next().unwrap_or('r');
            let root = match (r.get::<_, Option<String>>(6), r.get::<_, Option<String>>(7)) {
                (Some(s), Some(t)) => Some(RelName::new(Some(&s), &t)),
                _ => None,
            };
            by_oid.insert(oid, name.clone());
            cat.relations.insert(
                name.clone(),
                Relation {
                    oid,
                    name,
                    kind,
                    columns: Vec::new(),
                    reltuples: r.get::<_, f64>(4).max(0.0),
                    partition_root: root,
                    view_def: r.get(5),
                    extension_owned: r.get(8),
                    size_bytes: r.get::<_, Option<i64>>(9).unwrap_or(0),
                    all_visible: r.get::<_, f64>(10).min(1.0),
                },
            );
        }
        let rows = c
            .query(
                "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                   EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod \
                     WHERE am.amname = 'btree' AND oc.opcdefault AND \
                       (oc.opcintype = COALESCE(NULLIF(t.typbasetype, 0), a.atttypid) \
                        OR (t.typcategory = 'A' AND oc.opcintype = 'anyarray'::regtype) \
                        OR (t.typtype = 'e' AND oc.opcintype = 'anyenum'::regtype) \
                        OR EXISTS (SELECT 1 FROM pg_cast pc WHERE pc.castmethod = 'b' \
                          AND pc.castsource = COALESCE(NULLIF(t.typbasetype, 0), a.atttypid) \
                          AND pc.casttarget = oc.opcintype))), \
                   COALESCE((SELECT co.collname IN ('C', 'POSIX') FROM pg_collation co \
                              WHERE co.oid = a.attcollation AND co.collname <> 'default'), \
                            (SELECT datcollate IN ('C', 'POSIX') FROM pg_database \
                              WHERE datname = current_database())) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m','f') \
                   AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
                 ORDER BY a.attrelid, a.attnum",
                &[],
            )
            .await?;
        for r in rows {
            let oid: u32 = r.get(0);
            if let Some(rel) = by_oid.get(&oid).and_then(|n| cat.relations.get_mut(n)) {
                rel.columns.push(Column {
                    name: r.get(1),
                    type_name: r.get(2),
                    btree: r.get(3),
                    c_collation: r.get::<_, Option<bool>>(4).unwrap_or(true),
                });
            }
        }

        let rows = c
            .query(
                "SELECT i.indexrelid, i.indrelid, ic.relname::text, n.nspname::text, am.amname::text, \
                   pg_get_expr(i.indpred, i.indrelid), i.indisvalid, i.indisunique, i.indisprimary, \
                   pg_relation_size(i.indexrelid), COALESCE(s.idx_scan, 0), \
                   pg_get_indexdef(i.indexrelid), \
                   ARRAY(SELECT CASE WHEN k.attnum = 0 THEN NULL ELSE \
                           (SELECT attname::text FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = k.attnum) END \
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                         WHERE k.ord <= i.indnkeyatts ORDER BY k.ord), \
                   ARRAY(SELECT (o.opt & 1) = 1 FROM unnest(i.indoption::int2[]) WITH ORDINALITY o(opt, ord) \
                         ORDER BY o.ord), \
                   ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                         FROM generate_series(1, i.indnkeyatts) k ORDER BY k), \
                   ARRAY(SELECT CASE WHEN opc.opcdefault THEN NULL ELSE opc.opcname::text END \
                         FROM unnest(i.indclass::oid[]) WITH ORDINALITY u(oid, ord) \
                         JOIN pg_opclass opc ON opc.oid = u.oid ORDER BY u.ord) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = ic.relnamespace \
                 JOIN pg_am am ON am.oid = ic.relam \
                 LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
                &[],
            )
            .await?;
        for r in rows {
            let table_oid: u32 = r.get(1);
            let Some(table) = by_oid.get(&table_oid).cloned() else {
                continue;
            };
            cat.indexes.push(Index {
                name: RelName::new(Some(r.get::<_, &str>(3)), r.get(2)),
                table,
                method: r.get(4),
                predicate: r.get(5),
                valid: r.get(6),
                unique: r.get(7),
                primary: r.get(8),
                size_bytes: r.get(9),
                idx_scan: r.get(10),
                definition: r.get(11),
                columns: r.get(12),
                desc: r.get(13),
                keys: r.get(14),
                opclasses: r.get(15),
            });
        }

        let rows = c
            .query(
                "SELECT schemaname::text, relname::text, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), \
                   n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup, COALESCE(idx_tup_fetch, 0) \
                 FROM pg_stat_user_tables",
                &[],
            )
            .await?;
        for r in rows {
            cat.stats.insert(
                RelName::new(Some(r.get::<_, &str>(0)), r.get(1)),
                TableStats {
                    seq_scan: r.get(2),
                    seq_tup_read: r.get(3),
                    idx_scan: r.get(4),
                    n_tup_ins: r.get(5),
                    n_tup_upd: r.get(6),
                    n_tup_hot_upd: r.get(7),
                    n_tup_del: r.get(8),
                    n_live_tup: r.get(9),
                    idx_tup_fetch: r.get(10),
                },
            );
        }
        Ok(cat)
    }

    /// Resolve a name as written to a relation, following the search path
    /// for unqualified names (pg_catalog is searched first, as PostgreSQL does).
    pub fn resolve(&self, name: &RelName) -> Option<&Relation> {
        match &name.schema {
            Some(_) => self.relations.get(name),
            None => {
                let mut path: Vec<&str> = self.search_path.iter().map(String::as_str).collect();
                if !path.contains(&"pg_catalog") {
                    path.insert(0, "pg_catalog");
                }
                path.iter()
                    .find_map(|s| self.relations.get(&RelName::new(Some(s), &name.name)))
            }
        }
    }

    /// The view definition for a name, if it is a view.
    pub fn view_def(&self, name: &RelName) -> Option<String> {
        self.resolve(name).and_then(|r| r.view_def.clone())
    }

    /// Valid, non-partial indexes of a table.
    pub fn usable_indexes<'a>(&'a self, table: &'a RelName) -> impl Iterator<Item = &'a Index> {
        self.indexes
            .iter()
            .filter(move |i| &i.table == table && i.valid && i.predicate.is_none())
    }
}
