//! Candidate indexes for one statement: resolve each column use to a base
//! table with the catalog (partitions map to their partitioned parent),
//! group the uses per table reference, and build candidates — btree keys
//! (equality columns first, then one range column or the ORDER BY columns
//! with their directions), pattern-search keys (`text_pattern_ops` for a
//! constant prefix under a non-C collation, else a trigram GIN), GIN keys
//! for jsonb / array / full-text operators, and partial indexes for
//! constant predicates — dropping any that an existing valid index already
//! serves. A key is a column, `lower()`/`upper()` of one, or any other
//! expression over one table's columns (an expression index).

use std::collections::BTreeMap;
use std::fmt;

use super::catalog::{Catalog, Index};
use super::model::IndexColumn;
use super::names::{RelName, quote_ident};
use super::predicates::{GinOp, PatternShape};
use super::sql::{ColumnUse, Constant, Owner, UseKind};

/// The operator class a trigram GIN index uses (extension pg_trgm).
pub const TRGM_OPS: &str = "gin_trgm_ops";
/// The operator class for prefix LIKE under a non-C collation.
pub const PATTERN_OPS: &str = "text_pattern_ops";
/// The smaller jsonb GIN operator class that serves only `@>`.
pub const JSONB_PATH_OPS: &str = "jsonb_path_ops";

/// One index key: a column, a function (`lower`/`upper`) of one, or an
/// expression; optionally with an operator class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The column (for an expression, its first column).
    pub column: String,
    pub func: Option<String>,
    /// An expression key as it goes into `CREATE INDEX` (parenthesised, or
    /// as PostgreSQL prints it once probed).
    pub expr: Option<String>,
    pub opclass: Option<String>,
}

impl Key {
    /// A plain column key.
    pub fn col(c: &str) -> Key {
        Key {
            column: c.to_string(),
            func: None,
            expr: None,
            opclass: None,
        }
    }

    /// The key without its operator class, as PostgreSQL prints index keys.
    pub fn base(&self) -> String {
        match (&self.expr, &self.func) {
            (Some(e), _) => e.clone(),
            (None, Some(func)) => format!("{func}({})", quote_ident(&self.column)),
            (None, None) => quote_ident(&self.column),
        }
    }

    /// The same key with another operator class.
    pub fn with_opclass(&self, opclass: Option<&str>) -> Key {
        Key {
            opclass: opclass.map(str::to_string),
            ..self.clone()
        }
    }
}

impl From<&str> for Key {
    fn from(c: &str) -> Key {
        Key::col(c)
    }
}

impl fmt::Display for Key {
    /// The key as SQL: `name`, `"Name"`, `lower(name)`, `(a ->> 'k')`,
    /// `name text_pattern_ops`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base())?;
        if let Some(o) = &self.opclass {
            write!(f, " {o}")?;
        }
        Ok(())
    }
}

/// A pattern-search use of a key.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternUse {
    pub key: Key,
    pub shape: PatternShape,
    /// The column's collation is C (a plain btree serves a LIKE prefix).
    pub c_collation: bool,
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
    pub patterns: Vec<PatternUse>,
    /// GIN operator uses, with whether the key is a jsonb column.
    pub gin: Vec<(Key, GinOp, bool)>,
    /// Constant predicates (partial-index candidates).
    pub constants: Vec<(Key, Constant)>,
    /// Equality/range keys inside OR branches: ((group, branch), key).
    pub branches: Vec<((u32, u32), Key)>,
    /// Plain columns the statement reads from this reference (SELECT only).
    pub touched: Vec<String>,
    /// `*` reads every column (no covering index).
    pub star: bool,
}

/// The index access method of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Btree,
    Gin,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Btree => "btree",
            Method::Gin => "gin",
        }
    }
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
    pub method: Method,
    /// A partial index's predicate.
    pub predicate: Option<String>,
    /// Non-key columns stored in the index (`INCLUDE`).
    pub include: Vec<String>,
}

impl Candidate {
    /// A plain btree candidate.
    pub fn btree(table: RelName, columns: Vec<(Key, bool)>, n_eq: usize) -> Candidate {
        Candidate {
            table,
            columns,
            n_eq,
            method: Method::Btree,
            predicate: None,
            include: Vec::new(),
        }
    }

    pub fn index_columns(&self) -> Vec<IndexColumn> {
        self.columns
            .iter()
            .map(|(k, d)| IndexColumn {
                name: k.column.clone(),
                desc: *d,
                function: k.func.clone(),
                expression: k.expr.clone(),
                opclass: k.opclass.clone(),
            })
            .collect()
    }

    /// `(a, lower(b), c DESC)`, then ` INCLUDE (…)` and ` WHERE …`.
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
        let mut s = format!("({})", cols.join(", "));
        if !self.include.is_empty() {
            let inc: Vec<String> = self.include.iter().map(|c| quote_ident(c)).collect();
            s.push_str(&format!(" INCLUDE ({})", inc.join(", ")));
        }
        if let Some(p) = &self.predicate {
            s.push_str(&format!(" WHERE {p}"));
        }
        s
    }

    fn using(&self) -> &'static str {
        match self.method {
            Method::Btree => "",
            Method::Gin => "USING gin ",
        }
    }

    /// The statement that creates it; plain on a partitioned parent
    /// (PostgreSQL cannot build those concurrently).
    pub fn ddl(&self, partitioned: bool) -> String {
        format!(
            "CREATE INDEX {}ON {} {}{}",
            if partitioned { "" } else { "CONCURRENTLY " },
            self.table,
            self.using(),
            self.column_list()
        )
    }

    /// `CREATE INDEX ON t (…)` for HypoPG, or for a build in a rolled-back
    /// transaction, on `table`.
    pub fn hypo_ddl(&self, table: &RelName) -> String {
        format!(
            "CREATE INDEX ON {} {}{}",
            table,
            self.using(),
            self.column_list()
        )
    }

    /// Whether HypoPG can simulate it (it cannot build GIN or GiST).
    pub fn hypothetical(&self) -> bool {
        self.method == Method::Btree
    }

    /// Extensions the index needs (`pg_trgm` for trigram operator classes).
    pub fn extensions(&self) -> Vec<&'static str> {
        if self
            .columns
            .iter()
            .any(|(k, _)| k.opclass.as_deref() == Some(TRGM_OPS))
        {
            vec!["pg_trgm"]
        } else {
            Vec::new()
        }
    }

    /// What kind of index this is, for the report.
    pub fn kind(&self) -> String {
        let mut parts = Vec::new();
        let ops: Vec<&str> = self
            .columns
            .iter()
            .filter_map(|(k, _)| k.opclass.as_deref())
            .collect();
        if ops.contains(&TRGM_OPS) {
            parts.push("trigram (pattern search)".to_string());
        } else if self.method == Method::Gin {
            parts.push(match ops.first() {
                Some(o) => format!("gin ({o})"),
                None => "gin".to_string(),
            });
        } else if ops.contains(&PATTERN_OPS) {
            parts.push("pattern prefix (text_pattern_ops)".to_string());
        } else {
            parts.push("btree".to_string());
        }
        if self
            .columns
            .iter()
            .any(|(k, _)| k.expr.is_some() || k.func.is_some())
        {
            parts.push("expression".to_string());
        }
        if self.predicate.is_some() {
            parts.push("partial".to_string());
        }
        if !self.include.is_empty() {
            parts.push("covering".to_string());
        }
        parts.join(", ")
    }

    /// Short form for messages: `table(a, b DESC)`, `table USING gin (a)`.
    pub fn label(&self) -> String {
        match self.method {
            Method::Btree => format!("{}{}", self.table, self.column_list()),
            _ => format!("{} {}{}", self.table, self.using(), self.column_list()),
        }
    }
}

/// Uses resolved to tables: table reference → how it is used. Uses whose
/// owner is ambiguous or unknown, or whose column type has no btree
/// operator class (for a btree use), are dropped.
pub fn resolve_uses(uses: &[ColumnUse], cat: &Catalog) -> BTreeMap<(RelName, u32), Access> {
    let mut per: BTreeMap<(RelName, u32), Access> = BTreeMap::new();
    // ORDER BY / GROUP BY only count when every item lands on one reference.
    let mut order: Vec<(Owner, RelName, Key, bool, usize)> = Vec::new();
    let mut group: Vec<(Owner, RelName, Key)> = Vec::new();
    let mut order_items = 0;
    let mut group_items = 0;
    for u in uses {
        if u.kind == UseKind::Star {
            for t in u.owners.iter().flatten() {
                if let Some(rel) = cat.resolve(&t.owner.rel) {
                    let table = rel
                        .partition_root
                        .clone()
                        .unwrap_or_else(|| rel.name.clone());
                    per.entry((table, t.owner.inst)).or_default().star = true;
                }
            }
            continue;
        }
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
        let plain = t.func.is_none() && t.expr.is_none();
        let needs_btree = !matches!(
            u.kind,
            UseKind::Pattern(_) | UseKind::Gin(_) | UseKind::Touch
        );
        if (needs_btree && plain && !col.btree) || !matches!(rel.kind, 'r' | 'p' | 'm') {
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
            expr: t.expr.as_ref().map(|e| format!("({e})")),
            opclass: None,
        };
        if let Some(b) = u.branch {
            if matches!(u.kind, UseKind::Eq | UseKind::Range) {
                per.entry(key).or_default().branches.push((b, k));
            }
            continue;
        }
        match u.kind {
            UseKind::Eq | UseKind::Join => {
                let a = per.entry(key).or_default();
                if let Some(c) = &u.constant
                    && !a.constants.iter().any(|(_, x)| x == c)
                {
                    a.constants.push((k.clone(), c.clone()));
                }
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
            UseKind::Pattern(shape) => {
                let p = PatternUse {
                    key: k,
                    shape,
                    c_collation: col.c_collation,
                };
                let a = per.entry(key).or_default();
                if !a.patterns.contains(&p) {
                    a.patterns.push(p);
                }
            }
            UseKind::Gin(op) => {
                let jsonb = plain && col.type_name == "jsonb";
                let a = per.entry(key).or_default();
                if !a.gin.iter().any(|g| g.0 == k && g.1 == op) {
                    a.gin.push((k, op, jsonb));
                }
            }
            UseKind::OrderBy { desc, pos } => order.push((t.owner.clone(), table, k, desc, pos)),
            UseKind::GroupBy => group.push((t.owner.clone(), table, k)),
            UseKind::Touch => {
                let a = per.entry(key).or_default();
                if plain && !a.touched.contains(&col.name) {
                    a.touched.push(col.name.clone());
                }
            }
            UseKind::Star => {}
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

/// Collects candidates without duplicates.
struct Out {
    table: RelName,
    list: Vec<Candidate>,
}

impl Out {
    fn add(
        &mut self,
        cols: Vec<(Key, bool)>,
        n_eq: usize,
        method: Method,
        predicate: Option<&str>,
    ) {
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
            table: self.table.clone(),
            n_eq: n_eq.min(cols.len()),
            columns: cols,
            method,
            predicate: predicate.map(str::to_string),
            include: Vec::new(),
        };
        if !self.list.contains(&c) {
            self.list.push(c);
        }
    }
}

/// Candidates for one table reference, before coverage filtering.
/// Equality columns are ordered by `rank`, highest first (stable).
pub fn generate(table: &RelName, a: &Access, rank: EqRank<'_>) -> Vec<Candidate> {
    let mut out = Out {
        table: table.clone(),
        list: Vec::new(),
    };
    let mut ranked = a.eq.clone();
    ranked.sort_by(|x, y| rank(table, &y.column).total_cmp(&rank(table, &x.column)));
    let eq: Vec<(Key, bool)> = ranked
        .iter()
        .take(MAX_EQ)
        .map(|k| (k.clone(), false))
        .collect();
    let n = eq.len();
    let bt = Method::Btree;
    for e in &eq {
        out.add(vec![e.clone()], 1, bt, None);
    }
    if n > 1 {
        out.add(eq.clone(), n, bt, None);
    }
    for r in a.range.iter().take(2) {
        let mut v = eq.clone();
        v.push((r.clone(), false));
        out.add(v, n, bt, None);
    }
    if !a.order.is_empty() {
        let mut v = eq.clone();
        v.extend(a.order.iter().cloned());
        out.add(v, n, bt, None);
    }
    if !a.group.is_empty() && n > 0 {
        let mut v = eq.clone();
        v.extend(a.group.iter().map(|k| (k.clone(), false)));
        out.add(v, n, bt, None);
    }
    for p in &a.patterns {
        if p.shape.prefix && p.shape.literal && !p.shape.ci {
            // A constant prefix: a btree range (text_pattern_ops unless C).
            let k = p.key.with_opclass((!p.c_collation).then_some(PATTERN_OPS));
            out.add(vec![(k.clone(), false)], 0, bt, None);
            if n > 0 {
                let mut v = eq.clone();
                v.push((k, false));
                out.add(v, n, bt, None);
            }
        } else {
            // Infix, case-insensitive, regex or a parameter pattern: trigrams.
            out.add(
                vec![(p.key.with_opclass(Some(TRGM_OPS)), false)],
                0,
                Method::Gin,
                None,
            );
        }
    }
    let mut gin_keys: Vec<&Key> = Vec::new();
    for (k, _, _) in &a.gin {
        if !gin_keys.contains(&k) {
            gin_keys.push(k);
        }
    }
    for k in gin_keys {
        let uses: Vec<_> = a.gin.iter().filter(|g| &g.0 == k).collect();
        let path_ops = uses.iter().all(|g| g.2 && g.1 == GinOp::Contains);
        let key = k.with_opclass(path_ops.then_some(JSONB_PATH_OPS));
        out.add(vec![(key, false)], 0, Method::Gin, None);
    }
    for (pk, c) in &a.constants {
        // The rest of the statement's keys under the constant's predicate.
        let rest: Vec<(Key, bool)> = eq.iter().filter(|e| &e.0 != pk).cloned().collect();
        let m = rest.len();
        let mut v = rest.clone();
        if let Some(r) = a.range.first() {
            v.push((r.clone(), false));
        } else {
            v.extend(a.order.iter().cloned());
        }
        if v.is_empty() {
            v.push((pk.clone(), false));
            out.add(v, 1, bt, Some(&c.predicate));
        } else {
            out.add(v, m, bt, Some(&c.predicate));
        }
    }
    out.list
}

/// Whether index key `i` of `idx` is `k`: the same column or expression
/// as PostgreSQL prints it, with the same operator class (a jsonb_path_ops
/// key is served by the default jsonb_ops too).
fn key_matches(idx: &Index, i: usize, k: &Key) -> bool {
    let same_key = match (&k.func, &k.expr) {
        (None, None) => idx.columns.get(i).and_then(|c| c.as_deref()) == Some(k.column.as_str()),
        _ => idx.keys.get(i).is_some_and(|e| *e == k.base()),
    };
    let idx_ops = idx.opclasses.get(i).cloned().flatten();
    same_key
        && (idx_ops == k.opclass
            || (k.opclass.as_deref() == Some(JSONB_PATH_OPS) && idx_ops.is_none()))
}

/// Whether an existing index already serves `c`: a valid index of the
/// same method and predicate whose leading keys are exactly `c`'s (btree:
/// with the directions of the non-equality part all equal or all reversed,
/// a backward scan; GIN: the same keys).
pub fn covered_by(c: &Candidate, idx: &Index) -> bool {
    if idx.method != c.method.as_str() || !idx.valid || idx.predicate != c.predicate {
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
    if c.method == Method::Gin {
        return true;
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

/// All candidates for a statement, before coverage filtering.
pub fn for_accesses(
    accesses: &BTreeMap<(RelName, u32), Access>,
    rank: EqRank<'_>,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for ((table, _), a) in accesses {
        for c in generate(table, a, rank) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Candidates minus those existing indexes serve. Returns (candidates,
/// labels of candidates dropped as already served).
pub fn drop_covered(cands: Vec<Candidate>, cat: &Catalog) -> (Vec<Candidate>, Vec<String>) {
    let mut out: Vec<Candidate> = Vec::new();
    let mut covered = Vec::new();
    for c in cands {
        if let Some(i) = cat
            .indexes
            .iter()
            .filter(|i| i.table == c.table)
            .find(|i| covered_by(&c, i))
        {
            let l = format!("{} (existing {})", c.label(), i.name.name);
            if !covered.contains(&l) {
                covered.push(l);
            }
        } else if !out.contains(&c) {
            out.push(c);
        }
    }
    (out, covered)
}

/// All candidates for a statement, minus those existing indexes cover.
/// Returns (candidates, labels of candidates dropped as already covered).
pub fn for_statement(
    accesses: &BTreeMap<(RelName, u32), Access>,
    cat: &Catalog,
    rank: EqRank<'_>,
) -> (Vec<Candidate>, Vec<String>) {
    drop_covered(for_accesses(accesses, rank), cat)
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
            opclasses: vec![None; cols.len()],
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
            ..Default::default()
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
        let c = Candidate::btree(
            t(),
            vec![("pet_id".into(), false), ("recorded_at".into(), false)],
            1,
        );
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
        let mixed = Candidate::btree(
            t(),
            vec![("recorded_at".into(), true), ("id".into(), false)],
            0,
        );
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
            c_collation: true,
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
            size_bytes: 0,
            all_visible: 0.0,
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
            .filter(|(_, a)| {
                !(a.eq.is_empty() && a.range.is_empty() && a.order.is_empty() && a.group.is_empty())
            })
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
            func: Some("lower".into()),
            ..Key::col("Name")
        };
        let c = Candidate::btree(
            t(),
            vec![("clinic_id".into(), false), (lower.clone(), false)],
            2,
        );
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
        // Any other expression over one table's columns is a key too.
        let a = accesses("SELECT * FROM pets WHERE lower(owner_id::text) = $1");
        assert_eq!(
            a[0].1.eq[0].expr.as_deref(),
            Some("(lower(owner_id::TEXT))"),
            "{a:?}"
        );
    }

    #[test]
    fn ddl_quotes_and_partitioned_parent() {
        let c = Candidate::btree(
            RelName::new(Some("Billing"), "Invoices"),
            vec![("OwnerId".into(), false), ("at".into(), true)],
            1,
        );
        assert_eq!(
            c.ddl(false),
            "CREATE INDEX CONCURRENTLY ON \"Billing\".\"Invoices\" (\"OwnerId\", at DESC)"
        );
        assert!(c.ddl(true).starts_with("CREATE INDEX ON "));
    }
}
