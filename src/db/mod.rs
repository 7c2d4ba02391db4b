//! Everything about reaching PostgreSQL: connection targets (URL, conninfo,
//! `PG*` environment), connections and pools, the managed local cluster, and
//! schema migrations.

pub mod connect;
pub mod local;
pub mod migrate;
pub mod target;

pub use connect::{ConnectError, connect, pool};
pub use target::Target;
