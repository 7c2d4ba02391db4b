//! `--hdr-log FILE`: the run as a standard HdrHistogram interval log (the
//! format of HdrHistogram's `HistogramLogWriter`, written with the
//! `hdrhistogram` crate's `interval_log` writer): `#[StartTime: …]`,
//! `#[BaseTime: …]`, the column legend, then per interval one line per
//! scenario (`Tag=NAME,start,length,max,histogram`) and one untagged line
//! over all scenarios. Histograms are latency from the intended start in
//! microseconds, compressed V2, base64 — what HistogramLogAnalyzer and
//! HdrLogProcessing open. Fed once per interval as a `stress::Observer`
//! from the collector (never the hot loop); the caller opens the file
//! before the run, so an unwritable path fails first.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::stress::{IntervalView, Observer};

/// The legend line of HdrHistogram's log format (after the header comments).
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

struct State<W> {
    out: W,
    /// When measuring began (written as StartTime and BaseTime), once known
    /// (at the first interval: its end less its `t`).
    base: Option<SystemTime>,
    /// The first write error; later intervals are not written.
    error: Option<String>,
}

/// Writes a run's intervals to `W` as an HdrHistogram interval log.
pub struct HdrLog<W: Write + Send> {
    state: Mutex<State<W>>,
}

/// A scenario name as a log tag (`,`, spaces and line ends are not allowed).
fn tag_text(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl<W: Write + Send> HdrLog<W> {
    pub fn new(out: W) -> Self {
        HdrLog {
            state: Mutex::new(State {
                out,
                base: None,
                error: None,
            }),
        }
    }

    /// Flush what was written; the first error met, if any.
    pub fn finish(&self) -> Result<(), String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &s.error {
            return Err(e.clone());
        }
        s.out.flush().map_err(|e| e.to_string())
    }

    fn write(s: &mut State<W>, view: &IntervalView<'_>) -> Result<(), String> {
        let t = view.sample.t.max(0.0);
        let secs = view.sample.secs.max(0.0);
        let mut ser = V2DeflateSerializer::new();
        if s.base.is_none() {
            let b = SystemTime::now() - Duration::from_secs_f64(t);
            IntervalLogWriterBuilder::new()
                .add_comment(&format!(
                    "[Logged with dbload {}: latency from the intended start, microseconds]",
                    env!("CARGO_PKG_VERSION")
                ))
                .add_comment("[Histogram log format version 1.3]")
                .with_start_time(b)
                .with_base_time(b)
                .begin_log_with(&mut s.out, &mut ser)
                .map_err(|e| e.to_string())?;
            writeln!(s.out, "{LEGEND}").map_err(|e| e.to_string())?;
            s.base = Some(b);
        }
        let start = Duration::from_secs_f64((t - secs).max(0.0));
        let len = Duration::from_secs_f64(secs);
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut s.out, &mut ser)
            .map_err(|e| e.to_string())?;
        let mut all: Histogram<u64> = crate::stress::stats::new_hist();
        for (sc, st) in view.workload.scenarios.iter().zip(&view.stats.scenarios) {
            let _ = all.add(&st.total);
            let name = tag_text(&sc.name);
            w.write_histogram(&st.total, start, len, Tag::new(&name))
                .map_err(|e| e.to_string())?;
        }
        w.write_histogram(&all, start, len, None)
            .map_err(|e| e.to_string())
    }
}

impl<W: Write + Send> Observer for HdrLog<W> {
    fn interval(&self, view: &IntervalView<'_>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.error.is_some() {
            return;
        }
        if let Err(e) = Self::write(&mut s, view) {
            s.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_never_hold_the_separators() {
        assert_eq!(tag_text("a b,c"), "a_b_c");
        assert!(Tag::new(&tag_text("x\ny")).is_some());
    }
}
