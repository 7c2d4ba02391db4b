//! Candidate btree indexes for one statement: resolve each column use to a
//! base table with the catalog (partitions map to their partitioned
//! parent), group the uses per table reference, and build single- and
//! multi-column candidates — equality columns first, then one range column
//! or the ORDER BY columns with their directions — dropping any that an
//! existing valid index already serves as a leading prefix. A key is a
//! column or `lower()`/`upper()` of one (an expression index).

use std::collections::BTreeMap;
use std::fmt;

use super::catalog::{Catalog, Index};
use super::model::IndexColumn;
use super::names::{RelName, quote_ident};
use super::sql::{ColumnUse, Owner, UseKind};

/// One index key: a column, or a function (`lower`/`upper`) of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub column: String,
    pub func: Option<String>,
}

impl Key {
    /// A plain column key.
    pub fn col(c: &str) -> Key {
        Key {
            column: c.to_string(),
            func: None,
        }
    }
}

impl From<&str> for Key {
    fn from(c: &str) -> Key {
        Key::col(c)
    }
}

impl fmt::Display for Key {
    /// The key as SQL: `name`, `"Name"`, `lower(name)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func {
            Some(func) => write!(f, "{func}({})", quote_ident(&self.column)),
            None => f.write_str(&quote_ident(&self.column)),
        }
    }
}

/// How one table reference of a statement uses its columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// Equality and join keys, in order of appearance.
    pub eq: Vec<Key>,
    pub range: Vec<Key>,
    /// ORDER BY keys with DESC flags (only when all belong to this table).
    pub order: Vec<(Key, bool)>,
    pub group: Vec<Key>,
}

/// A candidate index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Candidate {
    /// The table the index goes on (a partitioned parent, not a partition).
    pub table: RelName,
    /// Keys with DESC flags.
    pub columns: Vec<(Key, bool)>,
    /// How many leading columns are equality columns (their direction is irrelevant).
    pub n_eq: usize,
}

impl Candidate {
    pub fn index_columns(&self) -> Vec<IndexColumn> {
        self.columns
            .iter()
            .map(|(k, d)| IndexColumn {
                name: k.column.clone(),
                desc: *d,
                function: k.func.clone(),
            })
            .collect()
    }

    /// `(a, lower(b), c DESC)`.
    pub fn column_list(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(k, d)| {
                if *d {
                    format!("{k} DESC")
                } else {
                    k.to_string()
                }
            })
            .collect();
        format!("({})", cols.join(", "))
    }

    /// The statement that creates it; plain on a partitioned parent
    /// (PostgreSQL cannot build those concurrently).
    pub fn ddl(&self, partitioned: bool) -> String {
        format!(
            "CREATE INDEX {}ON {} {}",
            if partitioned { "" } else { "CONCURRENTLY " },
            self.table,
            self.column_list()
        )
    }

    /// `CREATE INDEX ON t (…)` for HypoPG, on `table`.
    pub fn hypo_ddl(&self, table: &RelName) -> String {
        format!("CREATE INDEX ON {} {}", table, self.column_list())
    }

    /// Short form for messages: `table(a, b DESC)`.
    pub fn label(&self) -> String {
        format!("{}{}", self.table, self.column_list())
    }
}

/// Uses resolved to tables: table reference → how it is used. Uses whose
/// owner is ambiguous or unknown, or whose column type has no btree
/// operator class, are dropped.
pub fn resolve_uses(uses: &[ColumnUse], cat: &Catalog) -> BTreeMap<(RelName, u32), Access> {
    let mut per: BTreeMap<(RelName, u32), Access> = BTreeMap::new();
    // ORDER BY / GROUP BY only count when every item lands on one reference.
    let mut order: Vec<(Owner, RelName, Key, bool, usize)> = Vec::new();
    let mut group: Vec<(Owner, RelName, Key)> = Vec::new();
    let mut order_items = 0;
    let mut group_items = 0;
    for u in uses {
        let mut hit = None;
        for tier in &u.owners {
            let found: Vec<_> = tier
                .iter()
                .filter_map(|t| {
                    let rel = cat.resolve(&t.owner.rel)?;
                    let col = rel.column(&t.column)?;
                    Some((t, rel, col))
                })
                .collect();
            if !found.is_empty() {
                if found.len() == 1 {
                    hit = Some(found[0]);
                }
                break;
            }
        }
        if matches!(u.kind, UseKind::OrderBy { .. }) {
            order_items += 1;
        }
        if u.kind == UseKind::GroupBy {
            group_items += 1;
        }
        let Some((t, rel, col)) = hit else { continue };
        if !col.btree || !matches!(rel.kind, 'r' | 'p' | 'm') {
            continue;
        }
        let table = rel
            .partition_root
            .clone()
            .unwrap_or_else(|| rel.name.clone());
        let key = (table.clone(), t.owner.inst);
        let k = Key {
            column: col.name.clone(),
            func: t.func.clone(),
        };
        match u.kind {
            UseKind::Eq | UseKind::Join => {
                let a = per.entry(key).or_default();
                if !a.eq.contains(&k) {
                    a.eq.push(k);
                }
            }
            UseKind::Range => {
                let a = per.entry(key).or_default();
                if !a.range.contains(&k) {
                    a.range.push(k);
                }
            }
            UseKind::OrderBy { desc, pos } => order.push((t.owner.clone(), table, k, desc, pos)),
            UseKind::GroupBy => group.push((t.owner.clone(), table, k)),
        }
    }
    // ORDER BY uses come per query level; accept them when they all resolved
    // to a single reference (positions restart at 0 per query level).
    if !order.is_empty() && order.len() == order_items {
        let first = &order[0].0;
        if order.iter().all(|o| &o.0 == first) {
            let key = (order[0].1.clone(), first.inst);
            let a = per.entry(key).or_default();
            let mut items = order.clone();
            items.sort_by_key(|o| o.4);
            for (_, _, k, desc, _) in items {
                if !a.order.iter().any(|x| x.0 == k) {
                    a.order.push((k, desc));
                }
            }
        }
    }
    if !group.is_empty() && group.len() == group_items {
        let first = &group[0].0;
        if group.iter().all(|g| &g.0 == first) {
            let key = (group[0].1.clone(), first.inst);
            let a = per.entry(key).or_default();
            for (_, _, k) in group {
                if !a.group.contains(&k) {
                    a.group.push(k);
                }
            }
        }
    }
    per
}

/// Most equality columns considered in one candidate.
const MAX_EQ: usize = 4;

/// Ranks equality columns: higher comes first in an index (the number of
/// distinct values, so the most selective column leads).
pub type EqRank<'a> = &'a dyn Fn(&RelName, &str) -> f64;

/// Candidates for one table reference, before coverage filtering.
/// Equality columns are ordered by `rank`, highest first (stable).
pub fn generate(table: &RelName, a: &Access, rank: EqRank<'_>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut add = |cols: Vec<(Key, bool)>, n_eq: usize| {
        if cols.is_empty() {
            return;
        }
        // Drop repeated keys, keeping the first.
        let mut seen: Vec<Key> = Vec::new();
        let mut cols: Vec<_> = cols
            .into_iter()
            .filter(|(k, _)| {
                let new = !seen.contains(k);
                seen.push(k.clone());
                new
            })
            .collect();
        // All-descending tails are served by a backward scan of an ascending index.
        if cols.len() > n_eq && cols[n_eq..].iter().all(|c| c.1) {
            cols.iter_mut().for_each(|c| c.1 = false);
        }
        let c = Candidate {
            table: table.clone(),
            n_eq: n_eq.min(cols.len()),
            columns: cols,
        };
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let mut ranked = a.eq.clone();
    ranked.sort_by(|x, y| rank(table, &y.column).total_cmp(&rank(table, &x.column)));
    let eq: Vec<(Key, bool)> = ranked
        .iter()
        .take(MAX_EQ)
        .map(|k| (k.clone(), false))
        .collect();
    let n = eq.len();
    for e in &eq {
        add(vec![e.clone()], 1);
    }
    if n > 1 {
        add(eq.clone(), n);
    }
    for r in a.range.iter().take(2) {
        let mut v = eq.clone();
        v.push((r.clone(), false));
        add(v, n);
    }
    if !a.order.is_empty() {
        let mut v = eq.clone();
        v.extend(a.order.iter().cloned());
        add(v, n);
    }
    if !a.group.is_empty() && n > 0 {
        let mut v = eq.clone();
        v.extend(a.group.iter().map(|k| (k.clone(), false)));
        add(v, n);
    }
    out
}

/// Whether index key `i` of `idx` is `k`: the same column, or the same
/// expression as PostgreSQL prints it.
fn key_matches(idx: &Index, i: usize, k: &Key) -> bool {
    match &k.func {
        None => idx.columns.get(i).and_then(|c| c.as_deref()) == Some(k.column.as_str()),
        Some(_) => idx.keys.get(i).is_some_and(|e| *e == k.to_string()),
    }
}

/// Whether an existing index already serves `c`: a valid, non-partial
/// btree whose leading keys are exactly `c`'s, with the directions of the
/// non-equality part all equal or all reversed (a backward scan).
pub fn covered_by(c: &Candidate, idx: &Index) -> bool {
    if idx.method != "btree" || !idx.valid || idx.predicate.is_some() {
        return false;
    }
    if idx.columns.len() < c.columns.len() {
        return false;
    }
    if !c
        .columns
        .iter()
        .enumerate()
        .all(|(i, (k, _))| key_matches(idx, i, k))
    {
        return false;
    }
    let flips: Vec<bool> = c
        .columns
        .iter()
        .zip(&idx.desc)
        .skip(c.n_eq)
        .map(|((_, d), id)| d != id)
        .collect();
    flips.iter().all(|f| *f) || flips.iter().all(|f| !*f)
}

/// All candidates for a statement, minus those existing indexes cover.
/// Returns (candidates, labels of candidates dropped as already covered).
pub fn for_statement(
    accesses: &BTreeMap<(RelName, u32), Access>,
    cat: &Catalog,
    rank: EqRank<'_>,
) -> (Vec<Candidate>, Vec<String>) {
    let mut out: Vec<Candidate> = Vec::new();
    let mut covered = Vec::new();
    for ((table, _), a) in accesses {
        for c in generate(table, a, rank) {
            if let Some(i) = cat.usable_indexes(table).find(|i| covered_by(&c, i)) {
                let l = format!("{} (existing {})", c.label(), i.name.name);
                if !covered.contains(&l) {
                    covered.push(l);
                }
            } else if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    (out, covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> RelName {
        RelName::new(Some("public"), "medical_records")
    }

    fn cols(c: &Candidate) -> String {
        c.column_list()
    }

    fn index(cols: &[&str], desc: &[bool]) -> Index {
        Index {
            name: RelName::new(Some("public"), "i"),
            table: t(),
            columns: cols.iter().map(|c| Some(c.to_string())).collect(),
            desc: desc.to_vec(),
            keys: cols.iter().map(|c| c.to_string()).collect(),
            method: "btree".into(),
            predicate: None,
            valid: true,
            unique: false,
            primary: false,
            size_bytes: 0,
            idx_scan: 0,
            definition: String::new(),
        }
    }

    #[test]
    fn equality_first_then_range_or_order() {
        let a = Access {
            eq: vec!["clinic_id".into(), "pet_id".into()],
            range: vec!["recorded_at".into()],
            order: vec![("recorded_at".into(), true), ("id".into(), false)],
            group: vec![],
        };
        let c: Vec<String> = generate(&t(), &a, &|_, _| 0.0).iter().map(cols).collect();
        assert_eq!(
            c,
            vec![
                "(clinic_id)",
                "(pet_id)",
                "(clinic_id, pet_id)",
                "(clinic_id, pet_id, recorded_at)",
                "(clinic_id, pet_id, recorded_at DESC, id)",
            ]
        );
    }

    #[test]
    fn most_distinct_equality_column_leads() {
        let a = Access {
            eq: vec!["status".into(), "owner_id".into()],
            ..Default::default()
        };
        let rank = |_: &RelName, c: &str| if c == "owner_id" { 10_000.0 } else { 3.0 };
        let c: Vec<String> = generate(&t(), &a, &rank).iter().map(cols).collect();
        assert_eq!(c, vec!["(owner_id)", "(status)", "(owner_id, status)"]);
    }

    #[test]
    fn all_desc_order_becomes_ascending() {
        let a = Access {
            eq: vec!["pet_id".into()],
            order: vec![("recorded_at".into(), true)],
            ..Default::default()
        };
        let c: Vec<String> = generate(&t(), &a, &|_, _| 0.0).iter().map(cols).collect();
        assert_eq!(c, vec!["(pet_id)", "(pet_id, recorded_at)"]);
    }

    #[test]
    fn prefix_coverage_and_directions() {
        let c = Candidate {
            table: t(),
            columns: vec![("pet_id".into(), false), ("recorded_at".into(), false)],
            n_eq: 1,
        };
        assert!(covered_by(
            &c,
            &index(&["pet_id", "recorded_at", "id"], &[false; 3])
        ));
        // Backward scan: all reversed.
        assert!(covered_by(
            &c,
            &index(&["pet_id", "recorded_at"], &[true, true])
        ));
        // Equality column direction does not matter.
        assert!(covered_by(
            &c,
            &index(&["pet_id", "recorded_at"], &[true, false])
        ));
        assert!(!covered_by(
            &c,
            &index(&["recorded_at", "pet_id"], &[false; 2])
        ));
        assert!(!covered_by(&c, &index(&["pet_id"], &[false])));
        let mixed = Candidate {
            table: t(),
            columns: vec![("recorded_at".into(), true), ("id".into(), false)],
            n_eq: 0,
        };
        assert!(!covered_by(
            &mixed,
            &index(&["recorded_at", "id"], &[false, false])
        ));
        assert!(covered_by(
            &mixed,
            &index(&["recorded_at", "id"], &[false, true])
        ));
        let mut partial = index(&["pet_id", "recorded_at"], &[false; 2]);
        partial.predicate = Some("(pet_id > 0)".into());
        assert!(!covered_by(&c, &partial));
    }

    fn catalog() -> Catalog {
        use crate::analyze::catalog::{Column, Relation};
        let col = |n: &str, btree: bool| Column {
            name: n.into(),
            type_name: String::new(),
            btree,
        };
        let rel = |name: &str, kind: char, root: Option<&str>, cols: Vec<Column>| Relation {
            oid: 0,
            name: RelName::new(Some("public"), name),
            kind,
            columns: cols,
            reltuples: 1000.0,
            partition_root: root.map(|r| RelName::new(Some("public"), r)),
            view_def: None,
            extension_owned: false,
        };
        let mut cat = Catalog {
            search_path: vec!["public".into()],
            ..Default::default()
        };
        for r in [
            rel(
                "ev",
                'p',
                None,
                vec![col("clinic_id", true), col("at", true)],
            ),
            rel(
                "ev_1",
                'r',
                Some("ev"),
                vec![col("clinic_id", true), col("at", true)],
            ),
            rel("docs", 'r', None, vec![col("id", true), col("body", false)]),
            rel(
                "pets",
                'r',
                None,
                vec![col("id", true), col("owner_id", true)],
            ),
        ] {
            cat.relations.insert(r.name.clone(), r);
        }
        cat
    }

    fn accesses(sql: &str) -> Vec<(String, Access)> {
        let x = crate::analyze::sql::extract(sql, &|_| None).unwrap();
        resolve_uses(&x.uses, &catalog())
            .into_iter()
            .map(|((t, _), a)| (t.to_string(), a))
            .collect()
    }

    #[test]
    fn resolution_maps_partitions_drops_json_and_needs_one_owner_for_order() {
        let a = accesses("SELECT * FROM ev_1 WHERE clinic_id = $1 ORDER BY at DESC");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, "public.ev");
        assert_eq!(a[0].1.eq, vec![Key::col("clinic_id")]);
        assert_eq!(a[0].1.order[0], (Key::col("at"), true));
        assert!(accesses("SELECT * FROM docs WHERE body IS NULL").is_empty());
        // Unqualified columns go to the one table that has them.
        let a = accesses("SELECT * FROM pets p JOIN docs d ON d.id = p.id WHERE owner_id = $1");
        let pets = a.iter().find(|x| x.0 == "public.pets").unwrap();
        assert!(pets.1.eq.contains(&Key::col("owner_id")), "{a:?}");
        // ORDER BY across two tables serves no single index.
        let a =
            accesses("SELECT * FROM pets p JOIN docs d ON d.id = p.id ORDER BY p.owner_id, d.id");
        assert!(a.iter().all(|x| x.1.order.is_empty()), "{a:?}");
    }

    #[test]
    fn expression_keys_render_and_match_existing_expression_indexes() {
        let lower = Key {
            column: "Name".into(),
            func: Some("lower".into()),
        };
        let c = Candidate {
            table: t(),
            columns: vec![("clinic_id".into(), false), (lower.clone(), false)],
            n_eq: 2,
        };
        assert_eq!(c.column_list(), "(clinic_id, lower(\"Name\"))");
        let mut idx = index(&["clinic_id", "x"], &[false, false]);
        idx.columns[1] = None;
        idx.keys[1] = "lower(\"Name\")".into();
        assert!(covered_by(&c, &idx));
        idx.keys[1] = "upper(\"Name\")".into();
        assert!(!covered_by(&c, &idx));
        // A plain index on the column does not serve lower(column).
        let plain = index(&["clinic_id", "Name"], &[false, false]);
        assert!(!covered_by(&c, &plain));
        let a = accesses("SELECT * FROM pets WHERE lower(owner_id::text) = $1");
        assert!(a.is_empty(), "a cast is not a plain column: {a:?}");
    }

    #[test]
    fn ddl_quotes_and_partitioned_parent() {
        let c = Candidate {
            table: RelName::new(Some("Billing"), "Invoices"),
            columns: vec![("OwnerId".into(), false), ("at".into(), true)],
            n_eq: 1,
        };
        assert_eq!(
            c.ddl(false),
            "CREATE INDEX CONCURRENTLY ON \"Billing\".\"Invoices\" (\"OwnerId\", at DESC)"
        );
        assert!(c.ddl(true).starts_with("CREATE INDEX ON "));
    }
}
