//! Suite files (TOML): the runs of a nightly job and the dataset they expect.
//! Parsing validates everything a run needs before any load is sent; every
//! mistake names `file:line` (from toml's spans).
//!
//! ```toml
//! [suite]
//! name = "nightly"
//! scale = 0.01              # the `dbload seed --scale` the suite expects (optional)
//! tolerance = "10%"         # default of --tolerance: throughput, p50 (optional)
//! tail_tolerance = "25%"    # default of --tail-tolerance: p95, p99 (optional)
//!
//! [[run]]
//! name = "steady"
//! workload = "default"      # the embedded vet-clinic mix, or a path relative to this file
//! qps = 200                 # open model; or `clients = 8` (closed model)
//! arrival = "poisson"       # or "uniform" (open model)
//! duration = "60s"
//! warmup = "10s"
//! pool = 8                  # optional
//! seed = 1                  # optional (default 1: reruns offer the same arrivals)
//! thresholds = ["p99<50ms", "error_rate<0.1%", "checkout:p95<100ms"]
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::stress::config::parse_duration;
use crate::stress::{Arrival, Field, Settings, StressConfig, Threshold, threshold};
use crate::workload::{self, DEFAULT_WORKLOAD, DEFAULT_WORKLOAD_PATH, Workload};

/// The seed of a run that sets none: the same arrivals and parameters
/// every night, so that reruns are comparable.
pub const DEFAULT_SEED: u64 = 1;

/// A mistake in a suite file, at `path:line`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct SuiteError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// One validated run of a suite.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Unique within the suite; baselines are matched by it.
    pub name: String,
    /// The parsed workload (its `path` is as the suite names it).
    pub workload: Workload,
    pub config: StressConfig,
    pub thresholds: Vec<Threshold>,
}

/// A validated suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    /// The suite file as given.
    pub path: String,
    /// The seed scale the suite expects (`dbload seed --scale`), if stated.
    pub scale: Option<f64>,
    /// Relative tolerance (0.10 = 10 %) if the suite sets one.
    pub tolerance: Option<f64>,
    /// Relative tolerance of p95/p99 if the suite sets one.
    pub tail_tolerance: Option<f64>,
    pub runs: Vec<RunSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    suite: Option<Spanned<RawHeader>>,
    #[serde(default)]
    run: Vec<Spanned<RawRun>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Option<String>,
    scale: Option<Spanned<f64>>,
    tolerance: Option<Spanned<String>>,
    tail_tolerance: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    name: Spanned<String>,
    workload: Option<Spanned<String>>,
    qps: Option<Spanned<f64>>,
    clients: Option<Spanned<i64>>,
    arrival: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    warmup: Option<Spanned<String>>,
    pool: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    max_inflight: Option<Spanned<i64>>,
    drain_timeout: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Vec<Spanned<String>>,
}

/// Parse a tolerance: `10%`, `7.5 %` or a fraction `0.1`.
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(n) => n.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => t.parse::<f64>().ok(),
    };
    match v {
        Some(v) if v.is_finite() && (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "tolerance {s:?}: give a percentage below 100 % (e.g. 10%) or a fraction (0.1)"
        )),
    }
}

/// Read and validate a suite file.
pub fn load(path: &Path) -> Result<Suite, SuiteError> {
    let shown = path.display().to_string();
    // Capped, UTF-8 checked (a bad byte is named by line and column).
    let text = crate::input::text::read(path, crate::input::SUITE).map_err(|e| SuiteError {
        path: shown.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&shown, &text, &base)
}

/// Validate suite text; `base` is the directory workload paths are relative to.
pub fn parse(path: &str, text: &str, base: &Path) -> Result<Suite, SuiteError> {
    let err = |span: Range<usize>, message: String| SuiteError {
        path: path.to_string(),
        line: line_of(text, span.start),
        message,
    };
    let raw: RawSuite = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        SuiteError {
            path: path.to_string(),
            line,
            message: e.message().trim().to_string(),
        }
    })?;
    let (name, scale, tolerance, tail_tolerance) = match &raw.suite {
        Some(h) => {
            let h = h.get_ref();
            let scale = match &h.scale {
                Some(s) if !(*s.get_ref() > 0.0 && s.get_ref().is_finite()) => {
                    return Err(err(s.span(), "scale must be a positive number".into()));
                }
                Some(s) => Some(*s.get_ref()),
                None => None,
            };
            let tolerance = match &h.tolerance {
                Some(t) => Some(parse_tolerance(t.get_ref()).map_err(|m| err(t.span(), m))?),
                None => None,
            };
            let tail_tolerance = match &h.tail_tolerance {
                Some(t) => Some(parse_tolerance(t.get_ref()).map_err(|m| err(t.span(), m))?),
                None => None,
            };
            (h.name.clone(), scale, tolerance, tail_tolerance)
        }
        None => (None, None, None, None),
    };
    if raw.run.is_empty() {
        return Err(err(
            0..0,
            "no [[run]]: a suite lists at least one run".into(),
        ));
    }
    let mut runs: Vec<RunSpec> = Vec::new();
    for r in &raw.run {
        let span = r.span();
        let r = r.get_ref();
        let rname = r.name.get_ref().trim().to_string();
        if rname.is_empty() {
            return Err(err(r.name.span(), "run name is empty".into()));
        }
        if runs.iter().any(|x| x.name == rname) {
            return Err(err(
                r.name.span(),
                format!("run name {rname:?} is used twice (baselines match runs by name)"),
            ));
        }
        let workload = load_workload(r.workload.as_ref(), base)
            .map_err(|(s, m)| err(s.unwrap_or(span.clone()), m))?;
        let duration = |v: &Option<Spanned<String>>, what: &str| match v {
            Some(d) => parse_duration(d.get_ref())
                .map(Some)
                .map_err(|m| err(d.span(), format!("{what}: {m}"))),
            None => Ok(None),
        };
        // Counts are read as signed numbers so that a negative one gets
        // its own message, not TOML's.
        let count = |v: &Option<Spanned<i64>>, what: &str| match v {
            Some(n) if *n.get_ref() < 1 => Err(err(n.span(), format!("{what} must be at least 1"))),
            Some(n) => Ok(Some(*n.get_ref() as usize)),
            None => Ok(None),
        };
        let arrival = match r.arrival.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
            None => None,
            Some((_, s)) if r.clients.is_some() => {
                return Err(err(
                    s,
                    "arrival applies to the open model (qps) only".into(),
                ));
            }
            Some(("poisson", _)) => Some(Arrival::Poisson),
            Some(("uniform", _)) => Some(Arrival::Uniform),
            Some((other, s)) => {
                return Err(err(
                    s,
                    format!("arrival {other:?}: expected \"poisson\" or \"uniform\""),
                ));
            }
        };
        let seed = match &r.seed {
            Some(s) if *s.get_ref() < 0 => {
                return Err(err(s.span(), "seed must not be negative".into()));
            }
            Some(s) => *s.get_ref() as u64,
            None => DEFAULT_SEED,
        };
        let settings = Settings {
            qps: r.qps.as_ref().map(|q| *q.get_ref()),
            clients: count(&r.clients, "clients")?,
            arrival,
            max_inflight: count(&r.max_inflight, "max_inflight")?,
            pool: count(&r.pool, "pool")?,
            duration: duration(&r.duration, "duration")?,
            warmup: duration(&r.warmup, "warmup")?,
            drain_timeout: duration(&r.drain_timeout, "drain_timeout")?,
            seed: Some(seed),
            ..Settings::default()
        };
        let config = StressConfig::from_settings(&settings).map_err(|e| {
            // The key at fault, or the run when it is missing.
            let at = match e.field {
                Field::Qps => r.qps.as_ref().map(|v| v.span()),
                Field::Clients => r.clients.as_ref().map(|v| v.span()),
                Field::MaxInflight => r.max_inflight.as_ref().map(|v| v.span()),
                Field::Pool => r.pool.as_ref().map(|v| v.span()),
                Field::Duration => r.duration.as_ref().map(|v| v.span()),
                Field::Warmup => r.warmup.as_ref().map(|v| v.span()),
                Field::DrainTimeout => r.drain_timeout.as_ref().map(|v| v.span()),
                _ => None,
            };
            let message = match (e.field, r.qps.is_some(), r.clients.is_some()) {
                (Field::Qps, false, false) => format!(
                    "run {rname:?}: give qps = N (open model) or clients = N (closed model)"
                ),
                (Field::Qps, true, true) => {
                    "give either qps (open model) or clients (closed model), not both".into()
                }
                _ => e.to_string(),
            };
            err(at.unwrap_or(span.clone()), message)
        })?;
        let names: Vec<String> = workload.scenarios.iter().map(|s| s.name.clone()).collect();
        let mut thresholds = Vec::new();
        for t in &r.thresholds {
            let parsed = threshold::parse(t.get_ref()).map_err(|m| err(t.span(), m))?;
            threshold::check_names(std::slice::from_ref(&parsed), &names)
                .map_err(|m| err(t.span(), m))?;
            thresholds.push(parsed);
        }
        runs.push(RunSpec {
            name: rname,
            workload,
            config,
            thresholds,
        });
    }
    let name = name.unwrap_or_else(|| {
        Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".into())
    });
    Ok(Suite {
        name,
        path: path.to_string(),
        scale,
        tolerance,
        tail_tolerance,
        runs,
    })
}

type SpanMsg = (Option<Range<usize>>, String);

fn load_workload(w: Option<&Spanned<String>>, base: &Path) -> Result<Workload, SpanMsg> {
    let (path, text) = match w.map(|w| (w.get_ref().as_str(), w.span())) {
        None | Some(("default", _)) => (
            DEFAULT_WORKLOAD_PATH.to_string(),
            DEFAULT_WORKLOAD.to_string(),
        ),
        Some((p, span)) => {
            let full: PathBuf = if Path::new(p).is_absolute() {
                PathBuf::from(p)
            } else {
                base.join(p)
            };
            let text = crate::input::text::read(&full, crate::input::WORKLOAD).map_err(|e| {
                (
                    Some(span.clone()),
                    format!("workload {}: {e}", full.display()),
                )
            })?;
            (full.display().to_string(), text)
        }
    };
    let span = w.map(|w| w.span());
    workload::parse(&path, &text).map_err(|errs| {
        (
            span,
            format!(
                "workload {path} has {} mistake(s):\n{}",
                errs.len(),
                errs.iter()
                    .map(|e| format!("  {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        )
    })
}

/// A duration: `90s`, `5m`, `500ms`, `1h` or plain seconds.
/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::Load;
    use std::time::Duration;

    fn p(text: &str) -> Result<Suite, SuiteError> {
        parse("s.toml", text, Path::new("."))
    }

    #[test]
    fn parses_a_suite() {
        let s = p(r#"
[suite]
name = "nightly"
scale = 0.01
tolerance = "15%"
tail_tolerance = "30%"

[[run]]
name = "open"
qps = 100
arrival = "uniform"
duration = "20s"
warmup = "2s"
thresholds = ["p99<50ms", "checkout:p95<100ms"]

[[run]]
name = "closed"
clients = 4
duration = "10s"
"#)
        .unwrap();
        assert_eq!(s.name, "nightly");
        assert_eq!(s.scale, Some(0.01));
        assert_eq!(s.tolerance, Some(0.15));
        assert_eq!(s.tail_tolerance, Some(0.3));
        assert_eq!(s.runs.len(), 2);
        let o = &s.runs[0];
        assert_eq!(o.workload.path, DEFAULT_WORKLOAD_PATH);
        assert_eq!(o.config.duration, Duration::from_secs(20));
        assert_eq!(o.config.warmup, Duration::from_secs(2));
        assert_eq!(o.config.target_qps(), Some(100.0));
        assert!(matches!(
            o.config.load,
            Load::Open {
                arrival: Arrival::Uniform,
                ..
            }
        ));
        assert_eq!(o.thresholds.len(), 2);
        assert_eq!(o.config.seed, 1);
        assert!(matches!(
            s.runs[1].config.load,
            Load::Closed { clients: 4, .. }
        ));
        assert_eq!(s.runs[1].config.pool, 4);
    }

    #[test]
    fn the_shipped_suite_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let s = load(&dir.join("nightly.toml")).unwrap();
        assert!(!s.runs.is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = p("[[run]]\nname = \"a\"\nqps = 10\nthresholds = [\"p98<5ms\"]\n").unwrap_err();
        assert_eq!((e.path.as_str(), e.line), ("s.toml", 4), "{e}");
        assert!(e.message.contains("unknown metric"), "{e}");

        let e = p("[[run]]\nname = \"a\"\n\nqps = 10\nclients = 3\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("not both"), "{e}");

        let e = p("[[run]]\nname = \"a\"\nqps = 10\nduration = \"soon\"\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");

        let e = p("[[run]]\nname = \"a\"\nqps = 10\nspeed = 3\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("speed"), "{e}");

        let e = p("[suite]\nname = \"x\"\n[[run]]\nname = \"a\"\nqps = \"ten\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");

        let e =
            p("[[run]]\nname = \"a\"\nqps = 10\n[[run]]\nname = \"a\"\nqps = 10\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("twice"), "{e}");

        let e = p("[[run]]\nname = \"a\"\nqps = 10\nworkload = \"nope.sql\"\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");

        let e =
            p("[[run]]\nname = \"a\"\nqps = 10\nthresholds = [\"nope:p99<5ms\"]\n").unwrap_err();
        assert!(e.message.contains("no scenario \"nope\""), "{e}");

        let e = p("[suite]\ntolerance = \"200%\"\n[[run]]\nname = \"a\"\nqps = 1\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");

        let e = p("[[run]]\nname = \"a\"\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("qps = N"), "{e}");

        let e = p("[[run]\nname = 1").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert_eq!(e.to_string().split(':').next(), Some("s.toml"));
    }

    #[test]
    fn tolerances() {
        assert_eq!(parse_tolerance("10%").unwrap(), 0.1);
        assert_eq!(parse_tolerance("0.05").unwrap(), 0.05);
        assert!(parse_tolerance("ten").is_err());
        assert!(parse_tolerance("150%").is_err());
    }
}
