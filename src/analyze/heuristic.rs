//! Without HypoPG: estimate a candidate's selectivity from `pg_stats`
//! (`n_distinct`, `null_frac`) the way the planner does for a generic plan,
//! and call it worthwhile when it reads a small fraction of a big table.
//! Every proposal from here is marked *unverified*.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::candidates::{Candidate, Key};
use super::names::RelName;

/// PostgreSQL's default selectivity of an equality without statistics.
const DEFAULT_EQ_SEL: f64 = 0.005;
/// PostgreSQL's default selectivity of an inequality.
const DEFAULT_INEQ_SEL: f64 = 1.0 / 3.0;
/// A candidate must select at most this fraction of the table.
pub const MAX_SELECTIVITY: f64 = 0.05;
/// Tables smaller than this are read fast enough without an index.
pub const MIN_ROWS: f64 = 1000.0;

/// Per-column statistics of one table.
#[derive(Debug, Clone, Default)]
pub struct ColumnStats {
    pub n_distinct: f64,
    pub null_frac: f64,
    /// Most common values (as text) with their frequencies.
    pub mcv: Vec<(String, f64)>,
}

/// `pg_stats` for a table, keyed by column.
pub async fn load_stats(
    c: &Client,
    table: &RelName,
) -> Result<HashMap<String, ColumnStats>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT attname::text, n_distinct::float8, null_frac::float8, \
               most_common_vals::text::text[], most_common_freqs::float8[] FROM pg_stats \
             WHERE schemaname = $1 AND tablename = $2",
            &[&table.schema.clone().unwrap_or_default(), &table.name],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                ColumnStats {
                    n_distinct: r.get(1),
                    null_frac: r.get(2),
                    mcv: r
                        .get::<_, Option<Vec<String>>>(3)
                        .unwrap_or_default()
                        .into_iter()
                        .zip(r.get::<_, Option<Vec<f64>>>(4).unwrap_or_default())
                        .collect(),
                },
            )
        })
        .collect())
}

/// Estimated number of distinct values of a column.
pub fn distinct(s: &ColumnStats, reltuples: f64) -> f64 {
    if s.n_distinct < 0.0 {
        -s.n_distinct * reltuples
    } else {
        s.n_distinct
    }
}

/// The share of rows where the column equals `value` (`None`: IS NULL),
/// from the most common values, else the rest spread evenly over the
/// other distinct values.
pub fn constant_fraction(s: &ColumnStats, value: Option<&str>, reltuples: f64) -> f64 {
    let Some(v) = value else {
        return s.null_frac;
    };
    if let Some((_, f)) = s.mcv.iter().find(|(x, _)| x == v) {
        return *f;
    }
    let rest = (1.0 - s.null_frac - s.mcv.iter().map(|m| m.1).sum::<f64>()).max(0.0);
    let others = distinct(s, reltuples) - s.mcv.len() as f64;
    if others >= 1.0 { rest / others } else { rest }
}

/// Selectivity of `cand`'s equality columns and (at most one) range column.
/// `None` when the candidate has neither (ORDER BY only): not estimable.
pub fn selectivity(
    cand: &Candidate,
    range_cols: &[Key],
    stats: &HashMap<String, ColumnStats>,
    reltuples: f64,
) -> Option<f64> {
    let mut sel = 1.0;
    let mut any = false;
    for (name, _) in cand.columns.iter().take(cand.n_eq) {
        any = true;
        sel *= match stats.get(&name.column) {
            Some(s) => {
                let nd = distinct(s, reltuples);
                if nd >= 1.0 {
                    (1.0 - s.null_frac) / nd
                } else {
                    DEFAULT_EQ_SEL
                }
            }
            None => DEFAULT_EQ_SEL,
        };
    }
    if let Some((name, _)) = cand.columns.get(cand.n_eq)
        && range_cols.contains(name)
    {
        any = true;
        sel *= DEFAULT_INEQ_SEL;
    }
    any.then_some(sel.clamp(0.0, 1.0))
}

/// The estimated saving fraction for a selectivity, if worth an index: a
/// deliberately rough 1 − 10 × selectivity (an index read costs several
/// times a sequential one per row), only on tables of [`MIN_ROWS`] or more
/// and for at most [`MAX_SELECTIVITY`] of the rows.
pub fn saving(sel: f64, reltuples: f64) -> Option<f64> {
    (reltuples >= MIN_ROWS && sel <= MAX_SELECTIVITY).then(|| (1.0 - sel * 10.0).clamp(0.0, 0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selective_equality_on_big_table_is_worth_it() {
        let cand = Candidate::btree(
            RelName::new(Some("public"), "t"),
            vec![("a".into(), false), ("r".into(), false)],
            1,
        );
        let mut st = HashMap::new();
        st.insert(
            "a".to_string(),
            ColumnStats {
                n_distinct: -0.1,
                null_frac: 0.0,
                mcv: Vec::new(),
            },
        );
        let s = selectivity(&cand, &["r".into()], &st, 100_000.0).unwrap();
        assert!((s - 1.0 / 10_000.0 / 3.0).abs() < 1e-9, "{s}");
        assert!(saving(s, 100_000.0).unwrap() > 0.9);
        assert!(saving(s, 10.0).is_none());
        // Two distinct values: not selective.
        st.insert(
            "a".to_string(),
            ColumnStats {
                n_distinct: 2.0,
                null_frac: 0.0,
                mcv: vec![("ok".into(), 0.99), ("failed".into(), 0.01)],
            },
        );
        let only_a = Candidate {
            columns: vec![("a".into(), false)],
            ..cand
        };
        let s = selectivity(&only_a, &[], &st, 100_000.0).unwrap();
        assert!(saving(s, 100_000.0).is_none());
        // Constant predicates: from the most common values.
        assert_eq!(constant_fraction(&st["a"], Some("failed"), 1e5), 0.01);
        assert_eq!(constant_fraction(&st["a"], None, 1e5), 0.0);
    }
}
