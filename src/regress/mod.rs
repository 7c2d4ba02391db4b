//! Regression checking: suites of stress runs, the environment check that
//! decides whether two runs may be compared, the noise-aware comparison of
//! per-interval samples against a baseline (its tolerance widened by the
//! run-to-run noise the history shows), and the versioned results
//! (`dbload.regress/1`). No CLI or terminal code: renderers live in `report/`.

pub mod assess;
pub mod compare;
pub mod environment;
pub mod history;
pub mod model;
pub mod noise;
pub mod run;
pub mod samples;
pub mod suite;

pub use model::{RegressResults, RunReport};
pub use suite::{RunSpec, Suite, SuiteError};
