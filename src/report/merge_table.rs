//! The workers of a merged run (`dbload merge`), after its stress summary:
//! one row per segment with its own lag, drops, clock offset, driver CPU
//! and validity; a partial merge says which segments are missing.

use super::md;
use super::table::{Width, right_align_from, table};
use crate::merge::{MergeInfo, WorkerInfo};

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |x| format!("{x:.digits$}"))
}

fn cells(w: &WorkerInfo, n: u32) -> [String; 8] {
    [
        format!("{}/{n}", w.index),
        w.file.clone(),
        format!("{:.1}", w.lag_p99_us as f64 / 1000.0),
        w.dropped.to_string(),
        w.scheduled.to_string(),
        opt(w.clock_offset_us.map(|u| u / 1000.0), 3),
        opt(w.driver_cpu_secs, 1),
        if w.valid {
            "valid".into()
        } else {
            format!("INVALID: {}", w.invalid_reasons.join("; "))
        },
    ]
}

const HEADER: [&str; 8] = [
    "segment",
    "file",
    "lag p99 ms",
    "dropped",
    "scheduled",
    "clock offset ms",
    "driver CPU s",
    "verdict",
];

fn partial_line(m: &MergeInfo) -> String {
    let missing: Vec<String> = m.missing.iter().map(u32::to_string).collect();
    format!(
        "PARTIAL merge: {} of {} segments; missing segment(s) {} (0-based)\n",
        m.workers.len(),
        m.segments,
        missing.join(", ")
    )
}

/// The workers table (terminal or plain).
pub fn render(m: &MergeInfo) -> String {
    let mut t = table(HEADER.to_vec(), Width::Wrap);
    for w in &m.workers {
        t.add_row(cells(w, m.segments).to_vec());
    }
    right_align_from(&mut t, 2);
    let mut s = format!(
        "\nmerged    {} worker(s) of run {}\n{t}\n",
        m.workers.len(),
        m.run_id
    );
    if m.partial {
        s.push_str(&partial_line(m));
    }
    s
}

/// The workers as a Markdown section.
pub fn markdown(m: &MergeInfo) -> String {
    let mut s = format!(
        "\n### Workers (run {})\n\n| {} |\n|{}\n",
        md::code(&m.run_id),
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    );
    for w in &m.workers {
        let c = cells(w, m.segments).map(|c| md::text(&c));
        s.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    if m.partial {
        s.push_str(&format!("\n**{}**", partial_line(m).trim_end()));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_and_a_partial_merge_are_shown() {
        let m = MergeInfo {
            segments: 3,
            run_id: "r1".into(),
            partial: true,
            missing: vec![1],
            workers: vec![WorkerInfo {
                file: "w|0.json".into(),
                index: 0,
                lag_p99_us: 1500,
                scheduled: 100,
                dropped: 2,
                clock_offset_us: Some(250.0),
                driver_cpu_secs: None,
                valid: false,
                invalid_reasons: vec!["median schedule lag 12 ms".into()],
            }],
        };
        let t = render(&m);
        assert!(
            t.contains("0/3") && t.contains("1.5") && t.contains("0.250"),
            "{t}"
        );
        assert!(t.contains("INVALID: median schedule lag 12 ms"), "{t}");
        assert!(t.contains("missing segment(s) 1"), "{t}");
        let md = markdown(&m);
        assert!(md.contains("w\\|0.json"), "{md}");
        assert!(md.contains("**PARTIAL merge"), "{md}");
    }
}
