//! The results of a stress run as a plain, versioned serde struct
//! (`"schema": "dbload.stress/1"`): configuration, server and dataset
//! fingerprint, totals, per-scenario and per-statement latency summaries,
//! the whole-run histograms (HdrHistogram's compressed V2 encoding, base64:
//! what HdrHistogram's own decoders and tools read), per-statement and
//! per-interval histograms (so that `dbload merge` adds histograms, never
//! percentiles), the per-interval series, server-side statement deltas, thresholds and the verdict.
//! Renderers and `dbload regress` read this struct; JSON is its serde form.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::StressConfig;
use super::server::{ServerInfo, ServerStatement};
use super::stats::{ScenarioStats, Stats};
use crate::workload::Workload;

/// The schema identifier written into every results file.
pub const SCHEMA: &str = "dbload.stress/1";

/// Latency percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// A histogram serialized in HdrHistogram's compressed V2 encoding
/// (cookie `0x1c849314`, a zlib-deflated V2 payload), base64: the form
/// HdrHistogram's Java, Python and Go decoders, its interval logs and
/// HistogramLogAnalyzer read. Mergeable later ([`decode_hist`] + `add`).
pub fn encode_hist(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// [`encode_hist`] of a histogram that may be empty: None when it is (an
/// interval without a sample costs nothing in the file).
pub fn encode_opt(h: &Histogram<u64>) -> Option<String> {
    (!h.is_empty()).then(|| encode_hist(h))
}

/// Decode a histogram written by [`encode_hist`], or by dbload versions
/// that wrote the uncompressed V2 encoding (cookie `0x1c849313`).
///
/// The header is checked before anything is allocated from it: the
/// decoder would otherwise size buffers from a hostile file's fields (up to
/// 4 GiB from a payload length, tens of MB from the bounds), and a
/// compressed payload is inflated to at most [`MAX_DECODED_HIST`] bytes.
pub fn decode_hist(s: &str) -> Result<Histogram<u64>, String> {
    use std::io::Read as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())?;
    let v2 = match be_u32(&bytes, 0)? {
        V2_COOKIE => bytes,
        V2_DEFLATE_COOKIE => {
            let len = be_u32(&bytes, 4)? as usize;
            let deflated = bytes
                .get(8..8 + len)
                .ok_or("compressed histogram: shorter than its header says")?;
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(deflated)
                .take(MAX_DECODED_HIST as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("compressed histogram: {e}"))?;
            if out.len() > MAX_DECODED_HIST {
                return Err(format!(
                    "compressed histogram: inflates to more than {MAX_DECODED_HIST} bytes"
                ));
            }
            out
        }
        c => return Err(format!("not an HdrHistogram V2 encoding (cookie {c:#x})")),
    };
    check_v2_header(&v2)?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut v2.as_slice())
        .map_err(|e| format!("{e:?}"))
}

const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
/// The largest uncompressed V2 histogram accepted (dbload's own are a few
/// KB: 2 significant digits over 1 µs … 1 h).
pub const MAX_DECODED_HIST: usize = 1 << 20;
const V2_HEADER: usize = 40;

fn be_u32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        .ok_or_else(|| "histogram: truncated header".to_string())
}

fn be_u64(b: &[u8], at: usize) -> Result<u64, String> {
    Ok((u64::from(be_u32(b, at)?) << 32) | u64::from(be_u32(b, at + 4)?))
}

/// A V2 header whose sizes fit the bytes that follow and whose bounds are
/// those of a latency histogram in µs.
fn check_v2_header(b: &[u8]) -> Result<(), String> {
    let payload = be_u32(b, 4)? as usize;
    let digits = be_u32(b, 12)?;
    let (low, high) = (be_u64(b, 16)?, be_u64(b, 24)?);
    if b.len() < V2_HEADER || payload > b.len() - V2_HEADER {
        return Err("histogram: payload longer than the data".into());
    }
    if digits > 3 || low == 0 || high > 1000 * super::stats::MAX_US || low > high {
        return Err(format!(
            "histogram: bounds {low}..{high} with {digits} significant digits are not a dbload latency histogram"
        ));
    }
    Ok(())
}

/// Serialized whole-run histograms of one scenario (or of the totals).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Latency from the intended start (lag + pool wait + execution).
    pub total: String,
    pub lag: String,
    pub pool_wait: String,
    pub exec: String,
}

impl Histograms {
    pub(super) fn of(s: &ScenarioStats) -> Self {
        Histograms {
            total: encode_hist(&s.total),
            lag: encode_hist(&s.lag),
            pool_wait: encode_hist(&s.pool_wait),
            exec: encode_hist(&s.exec),
        }
    }
}

/// Latency parts: the whole, and where the time went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    /// From the intended start to the end: what a user of the system felt.
    pub total: Latency,
    /// Intended start → the driver actually started (open model).
    pub lag: Latency,
    /// Waiting for a pooled connection.
    pub pool_wait: Latency,
    /// Running the statements (round trips, BEGIN/COMMIT included).
    pub exec: Latency,
}

/// One statement of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementResult {
    pub name: String,
    /// `file:line` of the statement.
    pub location: String,
    pub calls: u64,
    pub errors: u64,
    /// Execution time of this statement alone (µs).
    pub exec: Latency,
    /// The histogram `exec` summarises ([`encode_hist`]); absent in files
    /// written before dbload could merge, and when the statement never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_histogram: Option<String>,
}

/// One scenario's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    /// Weight in the workload file.
    pub weight: f64,
    pub transaction: bool,
    /// Successful executions.
    pub calls: u64,
    pub errors: u64,
    /// Executions cut short because a `@bind` statement returned no row.
    pub no_rows: u64,
    /// Share of all executions (calls + errors) that were this scenario.
    pub share: f64,
    /// Successful executions per second: those completed within the
    /// measured window (not while draining) over its length.of the measured window.
    pub rate: f64,
    /// errors / (calls + errors).
    pub error_rate: f64,
    /// Errors by SQLSTATE class (`08` lost connection, `CL` client-side).
    pub errors_by_class: BTreeMap<String, u64>,
    /// Seconds (since measuring began) of the first and last interval with errors.
    pub error_window: Option<(f64, f64)>,
    pub latency: Parts,
    pub statements: Vec<StatementResult>,
    pub histograms: Histograms,
}

/// Totals over all scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Successful executions per second: those completed within the
    /// measured window (not while draining) over its length.
    pub rate: f64,
    /// Configured target rate (open model).
    pub target_rate: Option<f64>,
    /// Arrivals the schedule produced in the measured window (open model);
    /// with Poisson arrivals this differs randomly from target × duration.
    pub scheduled: u64,
    /// Arrivals or executions started.
    pub started: u64,
    /// Arrivals dropped because every in-flight slot was busy.
    pub dropped: u64,
    /// Executions abandoned at the end of the drain timeout.
    pub unfinished: u64,
    /// Highest number of scenarios in flight at an interval boundary.
    pub peak_inflight: i64,
    pub latency: Parts,
    pub histograms: Histograms,
}

/// One scenario within one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalScenario {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// The interval's latency histogram of this scenario ([`encode_hist`]);
    /// absent when nothing completed, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl IntervalScenario {
    /// One scenario's interval from its counters and latency histogram.
    pub fn of(name: &str, calls: u64, errors: u64, total: &Histogram<u64>) -> IntervalScenario {
        let l = Latency::of(total);
        IntervalScenario {
            name: name.to_string(),
            calls,
            errors,
            p50_us: l.p50_us,
            p90_us: l.p90_us,
            p95_us: l.p95_us,
            p99_us: l.p99_us,
            max_us: l.max_us,
            mean_us: l.mean_us,
            histogram: encode_opt(total),
        }
    }
}

/// One (normally 1-second) interval of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalSample {
    /// End of the interval, seconds since measuring began.
    pub t: f64,
    /// Length of the interval, seconds.
    pub secs: f64,
    /// Target arrival rate (open model; absent while draining).
    pub target_rate: Option<f64>,
    /// Completed executions (calls + errors) per second.
    pub rate: f64,
    pub calls: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Scenarios in flight at the end of the interval.
    pub inflight: i64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub lag_p50_us: u64,
    pub lag_p99_us: u64,
    pub scenarios: Vec<IntervalScenario>,
    /// The interval's latency histogram over all scenarios
    /// ([`encode_hist`]); absent when nothing completed, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
    /// The interval's schedule-lag histogram (open model), likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_histogram: Option<String>,
}

/// Build an interval sample from the interval's merged statistics.
pub fn interval_sample(
    w: &Workload,
    s: &Stats,
    t: f64,
    secs: f64,
    target_rate: Option<f64>,
    inflight: i64,
) -> IntervalSample {
    let total = s.all(|x| &x.total);
    let lag = s.all(|x| &x.lag);
    let done = s.calls() + s.errors();
    IntervalSample {
        t: (t * 1000.0).round() / 1000.0,
        secs: (secs * 1000.0).round() / 1000.0,
        target_rate,
        rate: per_second(done, secs),
        calls: s.calls(),
        errors: s.errors(),
        dropped: s.dropped,
        inflight,
        p50_us: if total.is_empty() {
            0
        } else {
            total.value_at_quantile(0.5)
        },
        p99_us: if total.is_empty() {
            0
        } else {
            total.value_at_quantile(0.99)
        },
        lag_p50_us: if lag.is_empty() {
            0
        } else {
            lag.value_at_quantile(0.5)
        },
        lag_p99_us: if lag.is_empty() {
            0
        } else {
            lag.value_at_quantile(0.99)
        },
        scenarios: w
            .scenarios
            .iter()
            .zip(&s.scenarios)
            .map(|(sc, st)| IntervalScenario::of(&sc.name, st.calls, st.errors, &st.total))
            .collect(),
        histogram: encode_opt(&total),
        lag_histogram: encode_opt(&lag),
    }
}

/// The outcome of the checks on a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// False when the driver could not hold the load or the run was interrupted.
    pub valid: bool,
    pub invalid_reasons: Vec<String>,
    pub thresholds: Vec<ThresholdResult>,
    /// 0 pass, 1 threshold breached, 3 invalid run.
    pub exit_code: u8,
}

/// Why a run stopped by a signal is invalid.
pub const INTERRUPTED: &str = "interrupted (Ctrl-C, SIGTERM or SIGHUP): the results are partial";

impl StressResults {
    /// Mark results interrupted (a multi-step mode stopped by a signal whose
    /// representative step had ended before it): partial, invalid, exit 3.
    pub fn mark_interrupted(&mut self) {
        self.interrupted = true;
        if !self
            .verdict
            .invalid_reasons
            .iter()
            .any(|r| r == INTERRUPTED)
        {
            self.verdict.invalid_reasons.insert(0, INTERRUPTED.into());
        }
        self.verdict.valid = false;
        self.verdict.exit_code = 3; // EXIT_INVALID_RUN (the stress engine does not import the crate root)
    }
}

/// One `--threshold` checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    /// The measured value, in the threshold's unit (ms, %, /s).
    pub actual: f64,
    pub limit: f64,
    pub unit: String,
    pub passed: bool,
    /// Why the threshold could not be measured (then it did not pass),
    /// e.g. a latency threshold over a scenario with no successful call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One worker of a segmented run: which segment, of which run, and how its
/// clock stood against the database server's. `dbload merge` checks these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// This worker's segment, 0-based (`--segment K/N`, `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// Segments in the run (N).
    pub count: u32,
    /// Shared by every worker of one run.
    pub run_id: String,
    /// The agreed first intended start (`--start-at`, `--rendezvous`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
    /// This worker's clock minus the database server's, microseconds
    /// (best of several `clock_timestamp()` round trips); None if not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_us: Option<f64>,
    /// CPU time this worker's process used during the run, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_cpu_secs: Option<f64>,
}

/// Information about the workload that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// Everything a stress run produced (`--out results.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressResults {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub dbload_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Length of the measured window, seconds.
    pub measured_secs: f64,
    /// Ended by a stop signal: Ctrl-C, SIGTERM or SIGHUP (the results are partial).
    pub interrupted: bool,
    pub config: StressConfig,
    pub workload: WorkloadInfo,
    pub server: ServerInfo,
    /// Latest complete row of `dbload_datasets`, if the table exists.
    pub dataset: Option<serde_json::Value>,
    pub totals: Totals,
    pub scenarios: Vec<ScenarioResult>,
    pub intervals: Vec<IntervalSample>,
    /// Top statements by server execution time during the run
    /// (`pg_stat_statements` delta); None when the extension is unavailable.
    pub server_statements: Option<Vec<ServerStatement>>,
    /// Why the server-side view is missing or incomplete, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_statements_note: Option<String>,
    pub verdict: Verdict,
    /// This worker's place in a segmented run (`--segment K/N`); absent
    /// for a one-process run and for a merged file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentInfo>,
    /// What load shapes and multi-step modes add to a run's results
    /// (`stages`, `soak`, `sweep`, `capacity`: `capacity::model`), carried
    /// as top-level fields without the engine knowing them.
    #[serde(flatten)]
    pub extensions: Extensions,
}

/// Top-level fields of a results file that other engines add, in the
/// order they were added (and read back in the file's order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extensions(Vec<(String, serde_json::Value)>);

impl Extensions {
    /// The field `key`, read as a `T` (None when absent).
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| T::deserialize(v).map_err(|e| format!("{key}: {e}")))
            .transpose()
    }

    /// Set (or replace) the field `key`.
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), String> {
        let v = serde_json::to_value(value).map_err(|e| format!("{key}: {e}"))?;
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key.to_string(), v)),
        }
        Ok(())
    }
}

impl Serialize for Extensions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Extensions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the other top-level fields of a results file")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Extensions, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, serde_json::Value>()? {
                    v.push(entry);
                }
                Ok(Extensions(v))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// `count` over `secs` seconds, per second (0 over no time): the rate of
/// every interval, stage and run.
pub fn per_second(count: u64, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::stats::new_hist;

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = new_hist();
        for v in [1u64, 10, 100, 1000, 123_456] {
            h.record(v).unwrap();
        }
        let back = decode_hist(&encode_hist(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.max(), h.max());
        // HdrHistogram's compressed V2 envelope.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encode_hist(&h))
            .unwrap();
        assert_eq!(raw[..4], 0x1c84_9314u32.to_be_bytes());
    }

    #[test]
    fn uncompressed_v2_histograms_of_older_files_still_decode() {
        let mut h = new_hist();
        for v in 1..=1000u64 {
            h.record(v * 7).unwrap();
        }
        let mut buf = Vec::new();
        hdrhistogram::serialization::V2Serializer::new()
            .serialize(&h, &mut buf)
            .unwrap();
        assert_eq!(buf[..4], 0x1c84_9313u32.to_be_bytes());
        let old = base64::engine::general_purpose::STANDARD.encode(buf);
        let back = decode_hist(&old).unwrap();
        assert_eq!(back, h);
        assert_eq!(encode_opt(&new_hist()), None);
    }

    #[test]
    fn hostile_histogram_headers_are_refused_before_allocating() {
        use std::io::Write as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let header = |payload: u32, digits: u32, low: u64, high: u64| {
            let mut b = Vec::new();
            for x in [0x1c84_9313u32, payload, 0, digits] {
                b.extend(x.to_be_bytes());
            }
            b.extend(low.to_be_bytes());
            b.extend(high.to_be_bytes());
            b.extend(1.0f64.to_be_bytes());
            b
        };
        // A 4 GiB payload length on a 40-byte string; bounds that would
        // size tens of MB of counts; a truncated header; a zlib bomb.
        for bad in [
            header(u32::MAX, 2, 1, 1000),
            header(0, 5, 1, u64::MAX / 4),
            header(0, 2, 0, 1000),
            vec![0x1c, 0x84, 0x93],
        ] {
            assert!(decode_hist(&b64(&bad)).is_err(), "{bad:?}");
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&header(0, 2, 1, 1000)).unwrap();
        z.write_all(&vec![0u8; 8 << 20]).unwrap();
        let inner = z.finish().unwrap();
        let mut bomb = 0x1c84_9314u32.to_be_bytes().to_vec();
        bomb.extend((inner.len() as u32).to_be_bytes());
        bomb.extend(inner);
        let e = decode_hist(&b64(&bomb)).unwrap_err();
        assert!(e.contains("inflates to more than"), "{e}");
        // A good header still decodes.
        assert!(decode_hist(&b64(&header(0, 2, 1, 1000))).is_ok());
    }
}
