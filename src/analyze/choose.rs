//! Choosing for the workload: what each proposed index costs in writes,
//! measured, and which proposals fit a budget.
//!
//! **Write cost.** The rows written per table come from facts over a known
//! window: the workload's own INSERT/UPDATE/DELETE statements (their rows,
//! from a stress run's results over its measured seconds, or from
//! `pg_stat_statements` since its reset), or `--write-sample DUR`: two
//! snapshots of `pg_stat_user_tables` DUR apart. An index adds one entry per
//! inserted row and per non-HOT update (an update that sets one of the
//! index's columns can never be HOT; the others are HOT at the table's
//! observed share, `n_tup_hot_upd / n_tup_upd`); deletes add none. Each
//! entry is taken as one random leaf-page visit plus its write, i.e.
//! `random_page_cost + seq_page_cost` planner cost units, so the write cost
//! and the read saving (calls × planner cost saved, over the same window)
//! are in one unit. An index whose write cost exceeds its saving is
//! declined.
//!
//! **Budget** (`--max-indexes N`, `--max-size SIZE`): a 0/1 knapsack on
//! the net saving per second (or, without a window, the planner cost saved
//! over the recorded calls). With only a count it is exact (the N best).
//! With a size it is greedy by saving per byte, then compared with the best
//! single index that fits, the textbook fix that keeps greedy within half
//! of the optimum; exact search over subsets would also have to re-plan
//! every subset, because indexes interact (one makes another's saving
//! smaller), which the per-index figures already ignore.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::catalog::Catalog;
use super::model::{Declined, Proposal, WriteCost};
use super::names::RelName;
use super::source::WorkloadStatement;
use super::sql::{self, StmtKind};

/// Rows written to one table over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableWrites {
    pub inserted: f64,
    pub updated: f64,
    pub deleted: f64,
    /// Columns the window's UPDATE statements set (empty when sampled).
    pub set_columns: Vec<String>,
    /// The UPDATEs' columns are known (statement source): an update that
    /// sets none of an index's columns may stay HOT.
    pub columns_known: bool,
}

/// Writes per table over a window of known length.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    pub window_secs: f64,
    pub tables: HashMap<RelName, TableWrites>,
    /// Where the figures come from (for the report).
    pub source: String,
}

/// Rows written per table by the workload's own INSERT/UPDATE/DELETE
/// statements (the first relation a DML statement names is its target).
pub fn from_statements(
    workload: &[WorkloadStatement],
    cat: &Catalog,
    window_secs: f64,
    source: &str,
) -> Writes {
    let mut tables: HashMap<RelName, TableWrites> = HashMap::new();
    for w in workload {
        let Ok(x) = sql::extract(&w.query, &|n: &RelName| cat.view_def(n)) else {
            continue;
        };
        if x.kind == StmtKind::Select {
            continue;
        }
        let Some(rel) = x.relations.first().and_then(|r| cat.resolve(r)) else {
            continue;
        };
        let table = rel
            .partition_root
            .clone()
            .unwrap_or_else(|| rel.name.clone());
        let t = tables.entry(table).or_default();
        t.columns_known = true;
        let rows = w.rows as f64;
        match x.kind {
            StmtKind::Insert => t.inserted += rows,
            StmtKind::Update => {
                t.updated += rows;
                for c in x.set_columns {
                    if !t.set_columns.contains(&c) {
                        t.set_columns.push(c);
                    }
                }
            }
            StmtKind::Delete => t.deleted += rows,
            StmtKind::Select => {}
        }
    }
    Writes {
        window_secs,
        tables,
        source: source.to_string(),
    }
}

/// `pg_stat_user_tables` row counters, per table.
async fn table_counters(c: &Client) -> Result<HashMap<RelName, [i64; 3]>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT schemaname::text, relname::text, n_tup_ins, n_tup_upd, n_tup_del \
             FROM pg_stat_user_tables",
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                RelName::new(Some(r.get::<_, &str>(0)), r.get(1)),
                [r.get(2), r.get(3), r.get(4)],
            )
        })
        .collect())
}

/// Writes measured as the change of `pg_stat_user_tables` over `secs`
/// seconds (the application keeps running meanwhile).
pub async fn sample(c: &Client, secs: f64) -> Result<Writes, tokio_postgres::Error> {
    let before = table_counters(c).await?;
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
    // Counters reach the shared statistics at most once a second or so.
    let _ = c.batch_execute("SELECT pg_stat_clear_snapshot()").await;
    let after = table_counters(c).await?;
    let tables = after
        .into_iter()
        .filter_map(|(t, a)| {
            let b = before.get(&t).copied().unwrap_or([0; 3]);
            let d = |i: usize| (a[i] - b[i]).max(0) as f64;
            (d(0) + d(1) + d(2) > 0.0).then(|| {
                (
                    t,
                    TableWrites {
                        inserted: d(0),
                        updated: d(1),
                        deleted: d(2),
                        ..Default::default()
                    },
                )
            })
        })
        .collect();
    Ok(Writes {
        window_secs: secs,
        tables,
        source: format!("pg_stat_user_tables over {secs:.0} s (--write-sample)"),
    })
}

/// Planner cost units of one index-entry insert: a random leaf page and its write.
pub async fn entry_cost(c: &Client) -> f64 {
    c.query_one(
        "SELECT current_setting('random_page_cost')::float8 + current_setting('seq_page_cost')::float8",
        &[],
    )
    .await
    .map(|r| r.get::<_, f64>(0))
    .unwrap_or(5.0)
}

/// Index entries per second a proposal would add on its table.
fn index_writes(p: &Proposal, t: &TableWrites, hot_share: f64, secs: f64) -> f64 {
    let mut cols: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
    cols.extend(p.include.iter().map(String::as_str));
    let touches = !t.columns_known || t.set_columns.iter().any(|s| cols.contains(&s.as_str()));
    let non_hot = if touches {
        t.updated
    } else {
        t.updated * (1.0 - hot_share)
    };
    (t.inserted + non_hot) / secs
}

/// Planner cost saved per call summed over the proposal's statements
/// (calls × cost before × saving).
pub fn cost_saved(p: &Proposal) -> f64 {
    p.statements
        .iter()
        .map(|h| h.calls as f64 * h.cost_before * h.saving_pct / 100.0)
        .sum()
}

/// Fill each proposal's write cost; decline (move to the returned list)
/// the verified ones whose write cost exceeds their saving. `read_secs` is
/// the window the statements' calls cover (`None` for SQL files: no read
/// rate, so nothing is declined; the write side is still reported).
pub fn weigh(
    proposals: &mut Vec<Proposal>,
    writes: &Writes,
    read_secs: Option<f64>,
    cat: &Catalog,
    entry_cost: f64,
) -> Vec<Declined> {
    let mut declined = Vec::new();
    if writes.window_secs <= 0.0 {
        return declined;
    }
    let secs = writes.window_secs;
    for p in proposals.iter_mut() {
        let t = writes.tables.get(&p.table_ref).cloned().unwrap_or_default();
        let hot_share = cat
            .stats
            .get(&p.table_ref)
            .filter(|s| s.n_tup_upd > 0)
            .map(|s| s.n_tup_hot_upd as f64 / s.n_tup_upd as f64);
        let iw = index_writes(p, &t, hot_share.unwrap_or(0.0), secs);
        p.write_cost = Some(WriteCost {
            writes_per_sec: (t.inserted + t.updated + t.deleted) / secs,
            index_writes_per_sec: iw,
            hot_update_share: hot_share,
            write_cost_per_sec: iw * entry_cost,
            saved_cost_per_sec: read_secs.filter(|r| *r > 0.0).map(|r| cost_saved(p) / r),
            source: writes.source.clone(),
        });
    }
    proposals.retain(|p| {
        let w = p.write_cost.as_ref().expect("filled above");
        let Some(saved) = w.saved_cost_per_sec else {
            return true;
        };
        let keep = !p.verified || saved >= w.write_cost_per_sec;
        if !keep {
            declined.push(Declined {
                ddl: p.ddl.clone(),
                reason: format!(
                    "write cost: about {:.1} extra index page writes/s at the observed {:.1} rows written/s \
                     ({:.0} cost units/s) outweigh the {:.0} cost units/s it saves reads",
                    w.index_writes_per_sec,
                    w.writes_per_sec,
                    w.write_cost_per_sec,
                    saved
                ),
            });
        }
        keep
    });
    // Rank by net benefit.
    proposals.sort_by(|a, b| net(b).total_cmp(&net(a)));
    declined
}

/// Net saving per second (cost units), or the total planner cost saved
/// when there is no window.
pub fn net(p: &Proposal) -> f64 {
    match &p.write_cost {
        Some(WriteCost {
            saved_cost_per_sec: Some(s),
            write_cost_per_sec,
            ..
        }) => s - write_cost_per_sec,
        _ => cost_saved(p),
    }
}

/// Keep the proposals that fit `max_indexes` and `max_bytes` (see the
/// module docs); the rest are declined with the reason. Returns a sentence
/// describing the selection.
pub fn budget(
    proposals: &mut Vec<Proposal>,
    max_indexes: Option<usize>,
    max_bytes: Option<i64>,
    declined: &mut Vec<Declined>,
) -> Option<String> {
    if max_indexes.is_none() && max_bytes.is_none() {
        return None;
    }
    let n_max = max_indexes.unwrap_or(usize::MAX);
    let all = std::mem::take(proposals);
    let value = |p: &Proposal| net(p).max(0.0);
    let size = |p: &Proposal| p.size_bytes.unwrap_or(0).max(8192) as f64;
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut unknown = Vec::new();
    if max_bytes.is_some() {
        order.retain(|&i| {
            let known = all[i].size_bytes.is_some();
            if !known {
                unknown.push(i);
            }
            known
        });
        order.sort_by(|&a, &b| {
            (value(&all[b]) / size(&all[b])).total_cmp(&(value(&all[a]) / size(&all[a])))
        });
    } else {
        order.sort_by(|&a, &b| value(&all[b]).total_cmp(&value(&all[a])));
    }
    let limit = max_bytes.unwrap_or(i64::MAX) as f64;
    let mut chosen: Vec<usize> = Vec::new();
    let mut used = 0.0;
    for &i in &order {
        if chosen.len() < n_max && used + size(&all[i]) <= limit {
            used += size(&all[i]);
            chosen.push(i);
        }
    }
    let how = if let Some(mb) = max_bytes {
        // Greedy by density can lose to one big index: keep the better.
        let best_single = order
            .iter()
            .copied()
            .filter(|&i| size(&all[i]) <= mb as f64)
            .max_by(|&a, &b| value(&all[a]).total_cmp(&value(&all[b])));
        let greedy_total: f64 = chosen.iter().map(|&i| value(&all[i])).sum();
        if let Some(b) = best_single
            && value(&all[b]) > greedy_total
        {
            chosen = vec![b];
        }
        "greedy by net saving per byte, checked against the best single index"
    } else {
        "the best by net saving"
    };
    let mut limits = Vec::new();
    if let Some(n) = max_indexes {
        limits.push(format!("--max-indexes {n}"));
    }
    if let Some(b) = max_bytes {
        limits.push(format!("--max-size {}", super::size::format_size(b)));
    }
    let limits = limits.join(", ");
    for (i, p) in all.into_iter().enumerate() {
        if chosen.contains(&i) {
            proposals.push(p);
        } else {
            let reason = if unknown.contains(&i) {
                format!("size unknown (unverified GIN): cannot be counted against {limits}")
            } else {
                format!("outside the budget ({limits})")
            };
            declined.push(Declined { ddl: p.ddl, reason });
        }
    }
    proposals.sort_by(|a, b| net(b).total_cmp(&net(a)));
    Some(format!(
        "{} of {} proposals kept under {limits}: {how}",
        proposals.len(),
        proposals.len() + declined.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, calls: u64, cost: f64, size: i64) -> Proposal {
        Proposal {
            size_bytes: Some(size),
            ..crate::analyze::model::test_proposal("t", &[(name, false)], calls, cost)
        }
    }

    #[test]
    fn count_budget_is_exact_and_size_budget_greedy_with_single_check() {
        let mut v = vec![
            prop("a", 10, 100.0, 8192),
            prop("b", 10, 300.0, 8192),
            prop("c", 10, 200.0, 8192),
        ];
        let mut d = Vec::new();
        let how = budget(&mut v, Some(2), None, &mut d).unwrap();
        let kept: Vec<_> = v.iter().map(|p| p.columns[0].name.as_str()).collect();
        assert_eq!(kept, vec!["b", "c"]);
        assert_eq!(d.len(), 1);
        assert!(how.starts_with("2 of 3"), "{how}");
        // Density picks the two small ones (value 2000 + 1000) but one big
        // index worth 5000 fits alone and is worth more.
        let mut v = vec![
            prop("small1", 10, 200.0, 10_000),
            prop("small2", 10, 100.0, 10_000),
            prop("big", 10, 500.0, 100_000),
        ];
        let mut d = Vec::new();
        budget(&mut v, None, Some(100_000), &mut d).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].columns[0].name, "big");
    }

    #[test]
    fn write_heavy_low_value_index_is_declined() {
        let cat = Catalog::default();
        let mut v = vec![prop("k", 2, 1000.0, 8192)];
        let mut w = Writes {
            window_secs: 10.0,
            source: "test".into(),
            ..Default::default()
        };
        w.tables.insert(
            RelName::new(Some("public"), "t"),
            TableWrites {
                inserted: 10_000.0,
                columns_known: true,
                ..Default::default()
            },
        );
        let d = weigh(&mut v, &w, Some(10.0), &cat, 5.0);
        assert!(v.is_empty());
        assert!(
            d[0].reason.contains("1000.0 extra index page writes/s"),
            "{}",
            d[0].reason
        );
        // Updates that set none of its columns and are all HOT cost nothing.
        let mut v = vec![prop("k", 2, 1000.0, 8192)];
        let t = w.tables.values_mut().next().unwrap();
        t.inserted = 0.0;
        t.updated = 10_000.0;
        t.set_columns = vec!["other".into()];
        let mut cat = Catalog::default();
        cat.stats.insert(
            RelName::new(Some("public"), "t"),
            crate::analyze::catalog::TableStats {
                n_tup_upd: 100,
                n_tup_hot_upd: 100,
                ..Default::default()
            },
        );
        assert!(weigh(&mut v, &w, Some(10.0), &cat, 5.0).is_empty());
        assert_eq!(v[0].write_cost.as_ref().unwrap().index_writes_per_sec, 0.0);
    }
}
