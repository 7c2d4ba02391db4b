//! The history of nightly results (`--history DIR`): each regress run is
//! kept as `DIR/<suite>-<UTC timestamp>.json`, and the key metrics of every
//! stored run (throughput, p50, p99 per suite run) are read back, oldest
//! first, for the HTML trend charts.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{RegressResults, ResultsFile, read_results};

/// The key metrics of one run at one point in time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    /// The suite run's name.
    pub run: String,
    /// Successful scenarios per second.
    pub rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub valid: bool,
}

/// Store `r` in `dir` (created if needed); returns the file written.
pub fn save(dir: &Path, r: &RegressResults) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let safe: String = r
        .suite
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!(
        "{safe}-{}.json",
        r.started_at.format("%Y%m%dT%H%M%SZ")
    ));
    let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(&path, json + "\n")?;
    Ok(path)
}

/// The points of one results file.
pub fn points_of(f: &ResultsFile) -> Vec<Point> {
    f.runs()
        .into_iter()
        .map(|(name, r)| {
            let l = &r.totals.latency.total;
            Point {
                at: r.started_at,
                run: name,
                rate: r.totals.rate,
                p50_ms: l.p50_us as f64 / 1000.0,
                p95_ms: l.p95_us as f64 / 1000.0,
                p99_ms: l.p99_us as f64 / 1000.0,
                valid: r.verdict.valid,
            }
        })
        .collect()
}

/// Every results file in `dir` (`*.json`), as points, oldest first. Files
/// that are not dbload results are skipped with a warning.
pub fn load(dir: &Path) -> std::io::Result<Vec<Point>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match read_results(&p) {
            Ok(f) => out.extend(points_of(&f)),
            Err(e) => tracing::warn!("history: skipping {e}"),
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.run.cmp(&b.run)));
    Ok(out)
}
