//! Load shapes and capacity planning, on top of the stress engine (every
//! run goes through `stress::Session`). Shapes over time: `stages` (the
//! `--stages` parser, profiles, client ramps, per-stage results) and `soak`.
//! Measured steps: `step` (one run with CPU readings from `procstat`, the
//! server context from `server_context`, the SLO verdict and what limited
//! it), `breakpoint` (the `--find-max` search), `sweep` (per pool size,
//! and the recommendation), `concurrency` (the closed-model sweep behind
//! `--capacity`). Pure math: `usl` (the Universal Scalability Law fit) and
//! `plan` (the capacity plan). `pools` parses `--pool` lists and ranges.
//! `limit` says what limited a plain run (database, generator, pool,
//! clients, or headroom) from the same evidence, with fitting advice.
//! `model` holds the result types capacity adds to a run's results.
//! Nothing here prints or imports clap.

pub mod breakpoint;
pub mod concurrency;
pub mod limit;
pub mod model;
pub mod plan;
pub mod pools;
pub mod procstat;
pub mod server_context;
pub mod soak;
pub mod stages;
pub mod step;
pub mod sweep;
pub mod usl;
