//! Regression checking: noise-aware comparison of runs against a baseline.
//! (Suites, the `regress` command and reports build on this.)

pub mod compare;
