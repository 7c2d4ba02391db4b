//! Renderers: turn engines' plain result structs into text, one file per
//! command and output (terminal table, Markdown, JSON, live progress line).
//! No engine logic here.

pub mod analyze_fmt;
pub mod analyze_json;
pub mod analyze_markdown;
pub mod analyze_table;
pub mod capacity_markdown;
pub mod capacity_table;
pub mod csv_summary;
pub mod html;
pub mod html_charts;
pub mod junit;
pub mod md;
pub mod merge_table;
pub mod regress_markdown;
pub mod stress_markdown;
pub mod stress_progress;
pub mod stress_table;
pub mod table;

/// Columns of durations (µs) in one unit each, chosen by the column's
/// largest value (µs below 1 ms, ms below 10 s, else s) and named in the
/// header (`p99 ms`): figures in a column compare at a glance.
pub fn duration_columns(header: &[&str], rows: &[Vec<u64>]) -> (Vec<String>, Vec<Vec<String>>) {
    let units: Vec<(&str, f64, usize)> = (0..header.len())
        .map(|c| {
            let max = rows
                .iter()
                .filter_map(|r| r.get(c))
                .max()
                .copied()
                .unwrap_or(0);
            if max < 1_000 {
                ("µs", 1.0, 0)
            } else if max < 10_000_000 {
                ("ms", 1_000.0, 2)
            } else {
                ("s", 1_000_000.0, 3)
            }
        })
        .collect();
    let names = header
        .iter()
        .zip(&units)
        .map(|(h, (u, _, _))| format!("{h} {u}"))
        .collect();
    let cells = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&units)
                .map(|(v, (_, div, dec))| format!("{:.*}", *dec, *v as f64 / div))
                .collect()
        })
        .collect();
    (names, cells)
}

/// A duration in µs for humans: `840µs`, `12.3ms`, `1.24s`.
pub fn us(v: u64) -> String {
    let v = v as f64;
    if v < 1000.0 {
        format!("{v:.0}µs")
    } else if v < 10_000.0 {
        format!("{:.2}ms", v / 1000.0)
    } else if v < 1_000_000.0 {
        format!("{:.1}ms", v / 1000.0)
    } else {
        format!("{:.2}s", v / 1_000_000.0)
    }
}

/// A rate for humans: `1234/s`, `12.5/s`.
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}/s")
    } else {
        format!("{v:.1}/s")
    }
}

/// A fraction as a percentage: `0.12 %`.
pub fn pct(f: f64) -> String {
    if f == 0.0 {
        "0".to_string()
    } else if f < 0.0001 {
        format!("{:.4} %", f * 100.0)
    } else {
        format!("{:.2} %", f * 100.0)
    }
}

/// "segment K/N of run ID" and the share this worker runs of the whole
/// configuration `whole` (by the rule of `stress::segment`).
pub fn segment_line(
    whole: &crate::stress::StressConfig,
    seg: crate::stress::Segment,
    run_id: &str,
) -> String {
    let (k, n) = (seg.index, seg.count);
    let share = match &whole.load {
        crate::stress::Load::Open { .. } => format!(
            "arrivals i with i mod {n} = {k} of the run's schedule at {} (about {})",
            rate(whole.target_qps().unwrap_or(0.0)),
            rate(whole.target_qps().unwrap_or(0.0) / f64::from(n))
        ),
        crate::stress::Load::Closed { clients, .. } => {
            let mine = whole.for_segment(seg);
            format!(
                "clients k with k mod {n} = {k}: {} of {clients} clients on {} of {} connections",
                mine.load.workers(),
                mine.pool,
                whole.pool
            )
        }
    };
    format!("segment {}/{n} of run {run_id}: {share}", k)
}

/// The segment line of a worker's results, with its agreed start and clock
/// offset (None: not a segmented run).
pub fn segment_summary(r: &crate::stress::StressResults) -> Option<String> {
    let s = r.segment.as_ref()?;
    let seg = crate::stress::Segment::new(s.index, s.count).ok()?;
    let mut line = segment_line(&r.config, seg, &s.run_id);
    if let Some(at) = s.start_at {
        line += &format!(
            "; start {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    if let Some(o) = s.clock_offset_us {
        line += &format!("; clock {:+.3} ms off the server's", o / 1000.0);
    }
    Some(line)
}

/// One line describing the dataset fingerprint.
pub fn dataset_line(d: &Option<serde_json::Value>) -> String {
    match d {
        None => "none (no complete row in dbload_datasets)".to_string(),
        Some(v) => {
            let get = |k: &str| {
                v.get(k)
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "?".into())
            };
            format!(
                "id {} seed {} scale {} (dbload {}, schema {})",
                get("id"),
                get("seed"),
                get("scale"),
                get("dbload_version").trim_matches('"'),
                get("schema_version")
            )
        }
    }
}

/// The entity for a character HTML, XML and Markdown must not carry raw
/// (`&`, `<`, `>`, and the quotes attributes need), shared by every escaper.
pub fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        _ => None,
    }
}

/// "passed/checked" of a run's thresholds, or "–" when none were set.
pub fn thresholds_passed(th: &[crate::stress::results::ThresholdResult]) -> String {
    if th.is_empty() {
        "–".into()
    } else {
        format!(
            "{}/{} passed",
            th.iter().filter(|t| t.passed).count(),
            th.len()
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_durations() {
        assert_eq!(super::us(840), "840µs");
        assert_eq!(super::us(1234), "1.23ms");
        assert_eq!(super::us(123_456), "123.5ms");
        assert_eq!(super::us(2_500_000), "2.50s");
    }
}
