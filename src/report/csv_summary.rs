//! `--format csv`: CSV text (RFC 4180, via the `csv` crate), and the
//! stress summary as CSV: one row per scenario plus a TOTAL row, each
//! duration column in ms, named in its header. (The seed's CSV is built by
//! its glue, `commands::seed`, with [`write`].)

use crate::stress::results::{Latency, StressResults};

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// `header` and `rows` as CSV text.
pub fn write(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A stress run: per scenario and TOTAL, calls, rate, errors, latency
/// percentiles (ms, from the intended start) and where the p99 went.
pub fn stress(r: &StressResults) -> String {
    let row = |name: &str, calls: u64, rate: f64, err: f64, l: &Latency, p: [u64; 3]| {
        vec![
            name.to_string(),
            calls.to_string(),
            format!("{rate:.2}"),
            format!("{err:.6}"),
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p95_us),
            ms(l.p99_us),
            ms(l.p999_us),
            ms(l.max_us),
            format!("{:.3}", l.mean_us / 1000.0),
            ms(p[0]),
            ms(p[1]),
            ms(p[2]),
        ]
    };
    let mut rows: Vec<Vec<String>> = r
        .scenarios
        .iter()
        .map(|s| {
            let p = &s.latency;
            row(
                &s.name,
                s.calls,
                s.rate,
                s.error_rate,
                &p.total,
                [p.lag.p99_us, p.pool_wait.p99_us, p.exec.p99_us],
            )
        })
        .collect();
    let t = &r.totals;
    let p = &t.latency;
    rows.push(row(
        "TOTAL",
        t.calls,
        t.rate,
        t.error_rate,
        &p.total,
        [p.lag.p99_us, p.pool_wait.p99_us, p.exec.p99_us],
    ));
    write(
        &[
            "scenario",
            "calls",
            "rate_per_s",
            "error_rate",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "p99_9_ms",
            "max_ms",
            "mean_ms",
            "lag_p99_ms",
            "pool_wait_p99_ms",
            "exec_p99_ms",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stress_summary_is_one_row_per_scenario_and_a_total() {
        let r: StressResults =
            serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
        let text = stress(&r);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let header = rd.headers().unwrap().clone();
        assert_eq!(&header[0], "scenario");
        assert!(header.iter().all(|h| !h.contains('µ')), "{header:?}");
        let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), r.scenarios.len() + 1);
        assert_eq!(&rows.last().unwrap()[0], "TOTAL");
        let p99: f64 = rows.last().unwrap()[7].parse().unwrap();
        assert_eq!(p99, r.totals.latency.total.p99_us as f64 / 1000.0);
    }
}
