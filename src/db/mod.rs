//! Everything about reaching PostgreSQL: connection targets (URL, conninfo,
//! flags, service file, `PG*` environment, password file), connections and
//! pools, the managed local cluster, and schema migrations.

pub mod conn_limits;
pub mod connect;
pub mod local;
pub mod migrate;
pub mod pgpass;
pub mod read_only;
pub mod resolve;
pub mod service;
pub mod sql_lex;
pub mod target;

pub use connect::{ConnectError, connect, pool, pool_with};
pub use read_only::read_only;
pub use target::Target;

/// Leading comment of the queries dbload sends for its own set-up (dataset
/// model, samples), so that `dbload analyze` can leave them out of the
/// workload it reads from `pg_stat_statements` (which keeps comments).
pub const OWN_QUERY_MARK: &str = "/* dbload */";
