//! Load shapes and capacity planning. Shapes over time: `stages` (the
//! `--stages` parser, profiles, per-stage results), `soak`, and
//! `closed_stages` (client-count stages for the closed model). Measured
//! steps: `step` (one run with CPU readings from `procstat`, the server
//! context from `server_context`, the SLO verdict and what limited it),
//! `breakpoint` (the `--find-max` search), `sweep` (per pool size, and the
//! recommendation), `concurrency` (the closed-model sweep behind
//! `--capacity`). Pure math: `usl` (the Universal Scalability Law fit) and
//! `plan` (the capacity plan). `pools` parses `--pool` lists and ranges.
//! Nothing here prints or imports clap.

pub mod breakpoint;
pub mod closed_stages;
pub mod concurrency;
pub mod plan;
pub mod pools;
pub mod procstat;
pub mod server_context;
pub mod soak;
pub mod stages;
pub mod step;
pub mod sweep;
pub mod usl;
