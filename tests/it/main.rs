//! The one integration-test binary: every test talks to a real PostgreSQL
//! (the managed local cluster, or the server named by DBLOAD_TEST_URL), each
//! in its own throw-away database so tests run in parallel.

mod common;

mod analyze;
mod architecture;
mod capacity;
mod cli_errors;
mod connect;
mod demo;
mod driver_threads;
mod faults;
mod hdr_interop;
mod kubernetes;
mod local_cluster;
mod merge;
mod metrics;
mod migrations;
mod nightly;
mod observation;
mod output;
mod regress;
mod seed;
mod segments;
mod signals;
mod stress;

// Hostile input and faults: the malformed-input corpus, property tests,
// and looking without writing, bounded reads, escaping.
mod corpus;
mod fuzz;
mod reliability;
mod verdict;
