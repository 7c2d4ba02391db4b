//! Start-up data a workload draws from: the dataset model (clinic ids
//! weighted by their number of pets — the data's own skew — and the ids of
//! pets, users, vets, owners and services per clinic, read from the target
//! database, so nothing depends on how it was seeded) and the rows of
//! `-- @sample` queries.

use std::collections::{HashMap, HashSet};

use rand::RngExt;
use rand::rngs::SmallRng;
use tokio_postgres::Client;

use super::value::{self, Value};

/// Which per-clinic id list a model generator draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelSet {
    Pets,
    Users,
    Vets,
    Owners,
    Services,
}

/// Ids grouped by clinic: `ids[range]` for each clinic.
#[derive(Debug, Default)]
pub struct ByClinic {
    ranges: HashMap<i64, (usize, usize)>,
    ids: Vec<i64>,
}

impl ByClinic {
    fn from_pairs(pairs: impl Iterator<Item = (i64, i64)>) -> ByClinic {
        // Pairs arrive ordered by clinic.
        let mut b = ByClinic::default();
        let mut cur: Option<(i64, usize)> = None;
        for (clinic, id) in pairs {
            match cur {
                Some((c, _)) if c == clinic => {}
                Some((c, start)) => {
                    b.ranges.insert(c, (start, b.ids.len()));
                    cur = Some((clinic, b.ids.len()));
                }
                None => cur = Some((clinic, 0)),
            }
            b.ids.push(id);
        }
        if let Some((c, start)) = cur {
            b.ranges.insert(c, (start, b.ids.len()));
        }
        b
    }

    fn draw(&self, clinic: i64, rng: &mut SmallRng) -> Value {
        match self.ranges.get(&clinic) {
            Some(&(a, b)) if b > a => Value::Int(self.ids[rng.random_range(a..b)]),
            _ => Value::Null,
        }
    }

    /// Number of ids loaded.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The dataset model derived from the database at start-up.
#[derive(Debug, Default)]
pub struct Model {
    clinic_ids: Vec<i64>,
    /// Cumulative pet counts, for weighted clinic draws.
    clinic_cum: Vec<u64>,
    sets: HashMap<ModelSet, ByClinic>,
}

impl Model {
    /// A clinic id, weighted by its number of pets (Null if no data).
    pub fn clinic(&self, rng: &mut SmallRng) -> Value {
        let Some(&total) = self.clinic_cum.last() else {
            return Value::Null;
        };
        let x = rng.random_range(0..total);
        let i = self.clinic_cum.partition_point(|c| *c <= x);
        Value::Int(self.clinic_ids[i.min(self.clinic_ids.len() - 1)])
    }

    /// An id from `set` belonging to `clinic` (Null if none).
    pub fn of_clinic(&self, set: ModelSet, clinic: &Value, rng: &mut SmallRng) -> Value {
        match (self.sets.get(&set), clinic) {
            (Some(b), Value::Int(c)) => b.draw(*c, rng),
            _ => Value::Null,
        }
    }

    /// Number of clinics known to the model.
    pub fn clinics(&self) -> usize {
        self.clinic_ids.len()
    }
}

/// Everything generators read at run time; built once, shared read-only.
#[derive(Debug, Default)]
pub struct RunData {
    pub model: Model,
    /// Rows of each `-- @sample`, in definition order.
    pub samples: Vec<Vec<Vec<Value>>>,
    /// Added to the wall clock by `now()` and `timestamp()`, ms. On a
    /// complete dbload dataset it is the distance from the wall clock at
    /// start-up to the dataset's "now" ([`crate::seed::model::dataset_now`]):
    /// its data lies around that instant, so the workload reads the same
    /// slice of it (today's calendar, the next fortnight's free slots)
    /// whatever the date of the run. Zero on any other database.
    pub clock_offset_ms: i64,
}

impl RunData {
    /// The workload's clock: the wall clock moved by [`Self::clock_offset_ms`].
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::milliseconds(self.clock_offset_ms)
    }
}

/// Rows kept from a sample query at most.
pub const SAMPLE_ROW_LIMIT: usize = 100_000;

/// The query of a per-clinic id set; it starts with [`crate::db::OWN_QUERY_MARK`].
fn set_query(set: ModelSet) -> &'static str {
    match set {
        ModelSet::Pets => "/* dbload */ SELECT clinic_id, id FROM pets ORDER BY clinic_id, id",
        ModelSet::Users => "/* dbload */ SELECT clinic_id, id FROM users ORDER BY clinic_id, id",
        ModelSet::Vets => {
            "/* dbload */ SELECT clinic_id, id FROM users WHERE role = 'vet' ORDER BY clinic_id, id"
        }
        ModelSet::Owners => {
            "/* dbload */ SELECT clinic_id, id FROM users WHERE role = 'owner' ORDER BY clinic_id, id"
        }
        ModelSet::Services => {
            "/* dbload */ SELECT clinic_id, id FROM services WHERE is_active ORDER BY clinic_id, id"
        }
    }
}

/// Load the model parts a workload uses. `clinic()` needs the clinic
/// weights; `*_of()` the per-clinic id lists. Read in one rolled-back READ
/// ONLY transaction (one snapshot, and nothing written).
pub async fn load_model(
    client: &Client,
    clinic_weights: bool,
    sets: &HashSet<ModelSet>,
) -> Result<Model, tokio_postgres::Error> {
    crate::db::read_only(client, async |client| {
        let mut m = Model::default();
        if clinic_weights {
            let rows = client
                .query(
                    "/* dbload */ SELECT clinic_id, count(*)::bigint FROM pets GROUP BY 1 ORDER BY 1",
                    &[],
                )
                .await?;
            let mut total = 0u64;
            for r in rows {
                m.clinic_ids.push(r.get(0));
                total += r.get::<_, i64>(1) as u64;
                m.clinic_cum.push(total);
            }
        }
        for set in sets {
            let rows = client.query(set_query(*set), &[]).await?;
            let b = ByClinic::from_pairs(rows.iter().map(|r| (r.get(0), r.get(1))));
            m.sets.insert(*set, b);
        }
        Ok(m)
    })
    .await
}

/// Run a sample query and keep up to [`SAMPLE_ROW_LIMIT`] rows, with its
/// number of columns. The query runs as a cursor (`DECLARE … CURSOR FOR`,
/// which PostgreSQL accepts only for a plain query: no `DELETE … RETURNING`,
/// no data-modifying `WITH`) inside a rolled-back READ ONLY transaction (so
/// a function it calls cannot write either), and only the rows kept are
/// fetched.
pub async fn load_sample(
    client: &Client,
    sql: &str,
) -> Result<(Vec<Vec<Value>>, usize), tokio_postgres::Error> {
    crate::db::read_only(client, async |client| {
        client
            .execute(
                &format!(
                    "{} DECLARE dbload_sample NO SCROLL CURSOR FOR {sql}\n",
                    crate::db::OWN_QUERY_MARK
                ),
                &[],
            )
            .await?;
        let rows = client
            .query(
                &format!(
                    "{} FETCH FORWARD {SAMPLE_ROW_LIMIT} FROM dbload_sample",
                    crate::db::OWN_QUERY_MARK
                ),
                &[],
            )
            .await?;
        let ncols = rows.first().map(|r| r.len()).unwrap_or(0);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                row.push(value::from_row(r, i)?);
            }
            out.push(row);
        }
        Ok((out, ncols))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn by_clinic_draws_only_that_clinics_ids() {
        let b = ByClinic::from_pairs([(1, 10), (1, 11), (2, 20), (3, 30), (3, 31)].into_iter());
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..100 {
            assert!(matches!(b.draw(1, &mut rng), Value::Int(10 | 11)));
            assert_eq!(b.draw(2, &mut rng), Value::Int(20));
            assert!(matches!(b.draw(3, &mut rng), Value::Int(30 | 31)));
        }
        assert_eq!(b.draw(4, &mut rng), Value::Null);
    }

    #[test]
    fn clinic_draws_follow_pet_counts() {
        let m = Model {
            clinic_ids: vec![1, 2],
            clinic_cum: vec![90, 100],
            sets: HashMap::new(),
        };
        let mut rng = SmallRng::seed_from_u64(3);
        let ones = (0..10_000)
            .filter(|_| m.clinic(&mut rng) == Value::Int(1))
            .count();
        assert!((ones as f64 / 10_000.0 - 0.9).abs() < 0.02, "{ones}");
    }
}

#[cfg(test)]
mod own_query_tests {
    use super::*;

    #[test]
    fn set_queries_carry_the_mark_analyze_filters_on() {
        for set in [
            ModelSet::Pets,
            ModelSet::Users,
            ModelSet::Vets,
            ModelSet::Owners,
            ModelSet::Services,
        ] {
            assert!(set_query(set).starts_with(crate::db::OWN_QUERY_MARK));
        }
    }
}
