//! The one integration-test binary: every test talks to a real PostgreSQL
//! (the managed local cluster, or the server named by DBLOAD_TEST_URL), each
//! in its own throw-away database so tests run in parallel.

mod common;

mod analyze;
mod capacity;
mod cli_errors;
mod connect;
mod demo;
mod local_cluster;
mod migrations;
mod nightly;
mod observation;
mod output;
mod regress;
mod seed;
mod signals;
mod stress;
mod verdict;
