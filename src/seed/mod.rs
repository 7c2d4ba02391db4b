//! The seed engine: builds the vet-clinic dataset — deterministic row
//! generation on rayon threads, encoded as binary COPY, loaded over several
//! connections with keys, indexes and foreign keys rebuilt afterwards.
//!
//! `plan` (validated settings) → `model` (counts, skew, id ranges) → `rows`
//! (pure row generators, with `rng` and `lists`) → `copy` (binary encoder) →
//! `load` (orchestration, with `schema` for the catalog work and `metadata`
//! for `dbload_datasets`). Progress goes through the `progress` trait; the
//! engine prints nothing itself.

pub mod copy;
pub mod lists;
pub mod load;
pub mod metadata;
pub mod model;
pub mod plan;
pub mod progress;
pub mod rng;
pub mod rows;
pub mod schema;

pub use load::{SeedError, SeedReport, TableReport, seed};
pub use metadata::{DatasetInfo, fingerprint, fingerprint_json};
pub use model::{Model, Table};
pub use plan::{DEFAULT_SEED, PlanError, SeedPlan};
pub use progress::{Progress, Quiet};
