//! The seed engine: builds the vet-clinic dataset — deterministic row
//! generation on rayon threads, encoded as binary COPY, loaded over several
//! connections with keys, indexes and foreign keys rebuilt afterwards.
//!
//! `model` (counts, skew, id ranges) → `rows` (pure row generators, `rng`,
//! `lists`) → `copy` (binary encoder) → `load` (orchestration, with
//! `schema` for the catalog work and `metadata` for `dbload_datasets`).
//! `plan` validates settings before anything is written.

pub mod copy;
pub mod lists;
pub mod model;
pub mod rng;
pub mod rows;

pub use model::{Model, Table};
