//! Terminal tables for load shapes and capacity planning (comfy-table):
//! per-stage results of a staged run, the steps of a breakpoint search, the
//! pool-size sweep with its recommendation, and the capacity plan.

use std::fmt::Write;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::{pct, rate, us};
use crate::stress::results::StressResults;

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    t
}

fn right_align(t: &mut Table, from: usize) {
    for i in from..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Per-stage results of a staged run; empty when the run had no stages.
pub fn render_stages(r: &StressResults) -> String {
    let Some(stages) = &r.stages else {
        return String::new();
    };
    let mut t = table(vec![
        "stage",
        "from s",
        "to s",
        "target",
        "achieved",
        "calls",
        "err %",
        "dropped",
        "p50",
        "worst p99",
        "worst lag p99",
        "max in-flight",
    ]);
    for s in stages {
        let w = &s.window;
        let target = if (w.from - w.to).abs() < 1e-9 {
            rate(w.to)
        } else {
            format!("{} → {}", rate(w.from), rate(w.to))
        };
        t.add_row(vec![
            w.stage.to_string(),
            format!("{:.1}", w.start_s),
            format!("{:.1}", w.end_s),
            target,
            rate(s.achieved_rate),
            s.calls.to_string(),
            pct(s.error_rate),
            s.dropped.to_string(),
            us(s.p50_us),
            us(s.p99_worst_us),
            us(s.lag_p99_worst_us),
            s.inflight_max.to_string(),
        ]);
    }
    right_align(&mut t, 1);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nStages (p50: median of the seconds' p50; worst p99: the worst second's p99)\n{t}"
    );
    if let Some(s) = &r.soak {
        let _ = writeln!(
            out,
            "\nSoak: driver memory {} KiB → {} KiB (max {}, growth {:+} KiB); p99 {} → {} ({:+.1} %), rate {} → {} ({:+.1} %) over the first and last {} s",
            s.rss_start_kib,
            s.rss_end_kib,
            s.rss_max_kib,
            s.rss_growth_kib,
            us(s.first.p99_us as u64),
            us(s.last.p99_us as u64),
            s.p99_drift_pct,
            rate(s.first.rate),
            rate(s.last.rate),
            s.rate_drift_pct,
            s.window_intervals
        );
    }
    out
}
