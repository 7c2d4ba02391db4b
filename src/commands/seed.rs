//! `dbload seed`: validate the flags, resolve the target, run the seed engine
//! with indicatif progress bars (only on a terminal), print the summary. A
//! stop signal (Ctrl-C, SIGTERM, SIGHUP) abandons the seed: its dataset row
//! stays incomplete and the next `dbload seed` repairs it.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ConnArgs, SeedArgs, SeedFormat};
use crate::report::table::{Width, right_align_from, table};
use crate::seed::{self, Progress, SeedPlan, SeedReport, Table, plan::human_bytes};

pub async fn run(conn: &ConnArgs, args: &SeedArgs) -> anyhow::Result<ExitCode> {
    let jobs = args.jobs.unwrap_or_else(crate::sys::cpus);
    // Bad flags fail here, before any connection.
    let plan = SeedPlan::new(args.scale, args.seed, jobs, args.force)?;
    let target = super::resolve_target(conn).await?;
    let mut stop = super::signals::stop_flag("stopping the seed")?;
    eprintln!(
        "dbload: seeding {target}: scale {}, seed {}, {} jobs",
        plan.scale, plan.seed, plan.jobs
    );
    let bars = Arc::new(Bars::new());
    let result = tokio::select! {
        r = seed::seed(&target, &plan, bars.clone()) => r,
        _ = stop.wait_for(|v| *v) => {
            bars.clear();
            eprintln!(
                "error: interrupted; the dataset is marked incomplete in dbload_datasets, \
                 run `dbload seed` again to start clean"
            );
            return Ok(ExitCode::from(crate::EXIT_INVALID_RUN));
        }
    };
    bars.clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            return Err(super::explain_too_many_connections(
                e.into(),
                &target,
                "--jobs",
                plan.jobs,
            )
            .await);
        }
    };
    match args.format {
        SeedFormat::Table => println!("{}", render(&report)),
        SeedFormat::Csv => print!("{}", render_csv(&report)),
        SeedFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary: one line per table, then the phases.
pub fn render(r: &SeedReport) -> String {
    let mut g = table(
        vec![
            "table",
            "rows",
            "size",
            "seconds",
            "rows/s",
            "index s",
            "analyze s",
        ],
        Width::Natural,
    );
    for t in &r.tables {
        g.add_row(vec![
            t.table.clone(),
            t.rows.to_string(),
            human_bytes(t.bytes.max(0) as u64),
            format!("{:.2}", t.load_seconds),
            format!("{:.0}", t.rows as f64 / t.load_seconds.max(1e-9)),
            format!("{:.2}", t.index_seconds),
            format!("{:.2}", t.analyze_seconds),
        ]);
    }
    g.add_row(vec![
        "total".to_string(),
        r.total_rows().to_string(),
        human_bytes(r.total_bytes().max(0) as u64),
        format!("{:.2}", r.total_seconds),
        format!("{:.0}", r.total_rows() as f64 / r.total_seconds.max(1e-9)),
        String::new(),
        String::new(),
    ]);
    right_align_from(&mut g, 1);
    format!(
        "{g}\ntables loaded, indexed and analyzed in {:.1} s ({} at a time), foreign keys {:.1} s; \
         total {:.1} s (the total row counts everything, constraints included)\n\
         dataset #{} (seed {}, scale {}) recorded in dbload_datasets",
        r.load_seconds,
        r.jobs,
        r.foreign_keys_seconds,
        r.total_seconds,
        r.dataset_id,
        r.seed,
        r.scale
    )
}

/// A progress rate: whole rows per second, thousands as k, millions as M.
fn rows_per_sec(r: f64) -> String {
    if !r.is_finite() || r < 0.0 {
        "- rows/s".into()
    } else if r >= 1e6 {
        format!("{:.2}M rows/s", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.0}k rows/s", r / 1e3)
    } else {
        format!("{r:.0} rows/s")
    }
}

/// A seed: per table and TOTAL, rows, bytes, seconds and rows per second.
pub fn render_csv(r: &SeedReport) -> String {
    let per_s = |rows: u64, secs: f64| format!("{:.0}", rows as f64 / secs.max(1e-9));
    let mut rows: Vec<Vec<String>> = r
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.rows.to_string(),
                t.bytes.to_string(),
                format!("{:.3}", t.load_seconds),
                per_s(t.rows, t.load_seconds),
                format!("{:.3}", t.index_seconds),
                format!("{:.3}", t.analyze_seconds),
            ]
        })
        .collect();
    rows.push(vec![
        "TOTAL".into(),
        r.total_rows().to_string(),
        r.total_bytes().to_string(),
        format!("{:.3}", r.total_seconds),
        per_s(r.total_rows(), r.total_seconds),
        String::new(),
        String::new(),
    ]);
    crate::report::csv_summary::write(
        &[
            "table",
            "rows",
            "bytes",
            "load_s",
            "rows_per_s",
            "index_s",
            "analyze_s",
        ],
        rows,
    )
}

/// indicatif bars per table, drawn only when stderr is a terminal.
struct Bars {
    multi: MultiProgress,
    tty: bool,
    bars: Mutex<HashMap<Table, ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        let tty = std::io::stderr().is_terminal();
        let target = if tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            tty,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn clear(&self) {
        for b in self.bars.lock().unwrap().values() {
            b.abandon();
        }
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn notice(&self, msg: &str) {
        if self.tty {
            let _ = self.multi.println(format!("dbload: {msg}"));
        } else {
            eprintln!("dbload: {msg}");
        }
    }

    fn phase(&self, name: &str) {
        if self.tty {
            let _ = self.multi.println(format!("dbload: {name}…"));
        }
    }

    fn table_started(&self, table: Table, rows: u64) {
        // indicatif's own {per_sec} prints every decimal of the rate.
        let style = ProgressStyle::with_template(
            "{prefix:>16} [{bar:30}] {human_pos:>10}/{human_len} rows  {rate:>14}  {elapsed}",
        )
        .expect("progress template")
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rows_per_sec(s.per_sec()));
            },
        )
        .progress_chars("=> ");
        let bar = self
            .multi
            .add(ProgressBar::new(rows).with_style(style))
            .with_prefix(table.name());
        self.bars.lock().unwrap().insert(table, bar);
    }

    fn table_rows(&self, table: Table, rows: u64) {
        if let Some(b) = self.bars.lock().unwrap().get(&table) {
            b.inc(rows);
        }
    }

    fn table_done(&self, table: Table) {
        if let Some(b) = self.bars.lock().unwrap().get(&table) {
            b.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::TableReport;

    #[test]
    fn progress_rates_have_no_long_decimals() {
        assert_eq!(rows_per_sec(123.456_789_012_345), "123 rows/s");
        assert_eq!(rows_per_sec(45_678.9), "46k rows/s");
        assert_eq!(rows_per_sec(1_234_567.891_234), "1.23M rows/s");
        assert_eq!(rows_per_sec(f64::NAN), "- rows/s");
    }

    #[test]
    fn summary_has_a_line_per_table_and_a_total() {
        let r = SeedReport {
            dataset_id: 3,
            seed: 42,
            scale: 0.01,
            jobs: 2,
            tables: vec![TableReport {
                table: "pets".into(),
                rows: 10_000,
                bytes: 1_800_000,
                load_seconds: 0.5,
                index_seconds: 0.1,
                analyze_seconds: 0.05,
            }],
            load_seconds: 0.7,
            foreign_keys_seconds: 0.1,
            total_seconds: 1.0,
        };
        let out = render(&r);
        for want in [
            "rows/s",
            "pets",
            "10000",
            "1.8 MB",
            "20000",
            "total",
            "dataset #3",
        ] {
            assert!(out.contains(want), "{want} in\n{out}");
        }
    }
}
