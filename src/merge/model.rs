//! What a merge adds to a results file (the `merge` extension) and why a
//! merge is refused.

use serde::{Deserialize, Serialize};

use crate::stress::StressResults;

/// The key of the merge extension in a merged results file.
pub const EXTENSION: &str = "merge";

/// One input of a merge: the name it is known by (its path) and its results.
pub struct Input {
    pub file: String,
    pub results: StressResults,
}

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Merge what is there when segments are missing (the result says so).
    pub allow_partial: bool,
}

/// One worker of the merged run, as it stood on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// The results file it came from.
    pub file: String,
    /// Its segment, 0-based.
    pub index: u32,
    /// Its schedule lag p99, µs (open model: how late it started work).
    pub lag_p99_us: u64,
    pub scheduled: u64,
    pub dropped: u64,
    /// Its clock minus the database server's, µs, if measured.
    pub clock_offset_us: Option<f64>,
    /// CPU its process used during the run, seconds, if measured.
    pub driver_cpu_secs: Option<f64>,
    /// False when the worker could not hold its share of the load (or its
    /// run was otherwise invalid); the merged run is then invalid too.
    pub valid: bool,
    pub invalid_reasons: Vec<String>,
}

/// The `merge` extension of a merged results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// Segments the run was split into (N).
    pub segments: u32,
    /// The run id every worker shared.
    pub run_id: String,
    /// True when segments were missing (`--allow-partial`).
    pub partial: bool,
    /// The missing segments, 0-based.
    pub missing: Vec<u32>,
    /// Each merged worker, by segment.
    pub workers: Vec<WorkerInfo>,
}

/// Why files cannot be merged; every message names the files at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);
