//! A closed-model connection ("lane") and the clients that share it.
//!
//! With as many clients as connections (the default) each client has a lane
//! to itself, like a pgbench client. With more clients than connections
//! (`--clients 64 --pool 16`) the clients of a lane send their statements on
//! the same connection without waiting for each other's answers:
//! tokio-postgres pipelines them (one write carries several queries, one
//! read returns several answers), the way an application multiplexing
//! requests over a few connections does. A transaction scenario takes its
//! lane exclusively, so no other client's statement lands inside it.
//!
//! The lane opens its connection (and prepares every statement on it) on
//! first use, and drops it when a client reports it lost, so the next
//! client opens a fresh one from the pool.

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::executor::{ConnStatements, discard, pool_class, prepare_all};
use super::stats::ErrorClass;
use crate::workload::Prepared;

/// An open connection of a lane, its prepared statements, and which
/// connection of the lane it is (to drop only the one a client saw fail).
pub struct LaneConn {
    pub client: deadpool_postgres::Object,
    pub statements: ConnStatements,
    generation: u64,
}

#[derive(Default)]
struct Slot {
    conn: Option<LaneConn>,
    generation: u64,
}

/// One pooled connection shared by the clients of a lane.
#[derive(Default)]
pub struct Lane {
    slot: RwLock<Slot>,
}

/// A client's hold on its lane's connection for one scenario: shared, or
/// exclusive for a transaction.
pub struct LaneGuard<'a>(Held<'a>);

enum Held<'a> {
    Shared(RwLockReadGuard<'a, Slot>),
    Exclusive(RwLockWriteGuard<'a, Slot>),
}

impl LaneGuard<'_> {
    /// Close the connection held exclusively (not returned to the pool),
    /// leaving the lane without one; false when held shared (then use
    /// [`Lane::drop_conn`]).
    pub fn discard(&mut self) -> bool {
        match &mut self.0 {
            Held::Exclusive(g) => {
                if let Some(c) = g.conn.take() {
                    discard(c.client);
                }
                true
            }
            Held::Shared(_) => false,
        }
    }

    /// The connection held (always present in a guard from [`Lane::acquire`]).
    pub fn conn(&self) -> &LaneConn {
        let slot = match &self.0 {
            Held::Shared(g) => &**g,
            Held::Exclusive(g) => &**g,
        };
        slot.conn
            .as_ref()
            .expect("a lane guard holds a connection until it is discarded")
    }
}

impl LaneConn {
    /// Which connection of its lane this is.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl Lane {
    /// Hold the lane's connection for one scenario (`exclusive` for a
    /// transaction), opening it first if the lane has none. Errors: the
    /// SQLSTATE class of the failed checkout or prepare.
    pub async fn acquire(
        &self,
        exclusive: bool,
        pool: &deadpool_postgres::Pool,
        prepared: &Prepared,
    ) -> Result<LaneGuard<'_>, ErrorClass> {
        if !exclusive {
            let g = self.slot.read().await;
            if g.conn.is_some() {
                return Ok(LaneGuard(Held::Shared(g)));
            }
        }
        let mut g = self.slot.write().await;
        if g.conn.is_none() {
            let client = pool.get().await.map_err(|e| pool_class(&e))?;
            let statements = prepare_all(&client, prepared)
                .await
                .map_err(|e| super::executor::classify(&e))?;
            g.generation += 1;
            let generation = g.generation;
            g.conn = Some(LaneConn {
                client,
                statements,
                generation,
            });
        }
        Ok(LaneGuard(if exclusive {
            Held::Exclusive(g)
        } else {
            Held::Shared(g.downgrade())
        }))
    }

    /// Give connection `generation` back (lost, or left in an unknown
    /// state): it is discarded — closed, not returned to the pool — when
    /// `close`, else returned to the pool, which replaces a dead one. A
    /// newer connection of the lane is left alone.
    pub async fn drop_conn(&self, generation: u64, close: bool) {
        let mut g = self.slot.write().await;
        if g.conn.as_ref().is_some_and(|c| c.generation == generation)
            && let Some(c) = g.conn.take()
            && close
        {
            discard(c.client);
        }
    }
}

/// Lane of closed-model client `id` among `lanes`.
pub fn lane_of(id: usize, lanes: usize) -> usize {
    id % lanes.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_spread_evenly_over_lanes() {
        let mut per = [0usize; 16];
        for id in 0..64 {
            per[lane_of(id, 16)] += 1;
        }
        assert!(per.iter().all(|n| *n == 4), "{per:?}");
        assert_eq!(lane_of(5, 0), 0);
    }
}
