//! `dbload demo`: the end-to-end story in one command — seed, stress
//! (before), analyze with the proposals applied, stress again (after), and
//! the two runs side by side — by running the commands' own glue in order
//! on one target (which the demo treats as its own: the seed replaces its
//! tables).

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::capacity::limit::{Limiter, RunLimit};
use crate::cli::{Cli, Command, ConnArgs, DemoArgs};
use crate::stress::results::{Latency, StressResults};

pub async fn run(conn: &ConnArgs, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    // Resolve (and start, if needed) the target once; every step reuses it.
    let target = super::resolve_target(conn).await?;
    let url = target.to_url_with_password();
    let (scale, qps) = (args.scale.to_string(), args.qps.to_string());
    let duration = format!("{}s", args.duration.as_secs_f64());
    let dir = std::env::temp_dir().join(format!("dbload-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let (before, after) = (dir.join("before.json"), dir.join("after.json"));
    let (before_s, after_s) = (before.display().to_string(), after.display().to_string());
    let stress = |out: &str| -> Vec<String> {
        [
            "stress",
            "--qps",
            &qps,
            "--duration",
            &duration,
            "--warmup",
            "2s",
            "--out",
            out,
        ]
        .map(String::from)
        .to_vec()
    };
    let steps: [(&str, Vec<String>); 4] = [
        (
            "seed a dataset",
            ["seed", "--scale", &scale].map(String::from).to_vec(),
        ),
        ("run the default workload (before)", stress(&before_s)),
        (
            "analyze what it did and apply the proposals",
            ["analyze", "--apply", "--yes"].map(String::from).to_vec(),
        ),
        ("run it again (after)", stress(&after_s)),
    ];
    let mut result = ExitCode::SUCCESS;
    for (i, (what, argv)) in steps.iter().enumerate() {
        eprintln!(
            "\n== dbload demo {}/{}: {what} ({}) ==",
            i + 1,
            steps.len(),
            argv.join(" ")
        );
        let mut full = vec!["dbload".to_string(), "--url".into(), url.clone()];
        full.extend(argv.iter().cloned());
        let cli = Cli::try_parse_from(&full)?;
        let code = match &cli.command {
            Command::Seed(a) => super::seed::run(&cli.conn, a).await?,
            Command::Stress(a) => super::stress::run(&cli.conn, (**a).clone()).await?,
            Command::Analyze(a) => {
                // Analyze has nothing partial to write: a signal ends it.
                super::signals::exit_on_signal()?;
                super::analyze::run(&cli.conn, a).await?
            }
            other => anyhow::bail!("internal error: demo step {other:?} is not a demo step"),
        };
        if super::signals::received() {
            eprintln!("\ndbload demo: interrupted; stopping");
            return Ok(code);
        }
        if code != ExitCode::SUCCESS {
            if i == 0 {
                eprintln!("\ndbload demo: the seed step did not complete; stopping");
                return Ok(code);
            }
            // A stress run that breached or was invalid still leaves
            // statistics worth analyzing; report its code at the end.
            result = code;
        }
    }
    let side = side_by_side(&before, &after);
    let _ = std::fs::remove_dir_all(&dir);
    print!("{}", side?);
    eprintln!(
        "\n== done: the dataset stays in {target}; `dbload stress --help` and `dbload analyze --help` go further =="
    );
    Ok(result)
}

/// The before and after runs next to each other, and a saturated
/// "before" called out (its numbers measure the limit, not the queries).
fn side_by_side(before: &Path, after: &Path) -> anyhow::Result<String> {
    let read = |p: &Path| -> anyhow::Result<StressResults> {
        let text =
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let (b, a) = (read(before)?, read(after)?);
    Ok(render_side_by_side(&b, &a))
}

fn limit_of(r: &StressResults) -> Option<RunLimit> {
    r.extensions.get::<RunLimit>("limit").ok().flatten()
}

/// The comparison table and the verdicts of both runs.
pub fn render_side_by_side(b: &StressResults, a: &StressResults) -> String {
    use crate::report::{pct, rate, table, us};
    let mut t = table::table(vec!["", "before", "after"], table::Width::Natural);
    let (tb, ta) = (&b.totals, &a.totals);
    t.add_row(vec!["rate".to_string(), rate(tb.rate), rate(ta.rate)]);
    for (name, f) in [
        ("p50", (|l: &Latency| l.p50_us) as fn(&Latency) -> u64),
        ("p95", |l| l.p95_us),
        ("p99", |l| l.p99_us),
    ] {
        t.add_row(vec![
            name.to_string(),
            us(f(&tb.latency.total)),
            us(f(&ta.latency.total)),
        ]);
    }
    t.add_row(vec![
        "errors".to_string(),
        pct(tb.error_rate),
        pct(ta.error_rate),
    ]);
    table::right_align_from(&mut t, 1);
    let mut o = format!("\nBefore and after the proposed indexes\n{t}\n");
    for (when, r) in [("before", b), ("after", a)] {
        if let Some(l) = limit_of(r) {
            o.push_str(&format!("{when}: {}\n", l.verdict));
        }
    }
    if let Some(l) = limit_of(b).filter(|l| l.limiter != Limiter::Headroom) {
        o.push_str(&format!(
            "Note: the \"before\" run did not hold its target at ease ({}): its latency measures that limit as much as the queries.\n",
            match l.limiter {
                Limiter::Database => "the database was the limit",
                Limiter::Generator => "the generator was the limit",
                Limiter::Pool => "the pool was the limit",
                Limiter::Clients => "the clients were the limit",
                Limiter::Headroom => "",
            }
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saturated_before_is_called_out() {
        let r: StressResults =
            serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap();
        let limit = |limiter, verdict: &str| RunLimit {
            limiter,
            verdict: verdict.into(),
            advice: String::new(),
        };
        let (mut b, mut a) = (r.clone(), r);
        a.extensions
            .set(
                "limit",
                &limit(Limiter::Headroom, "held the target with headroom (…)"),
            )
            .unwrap();
        b.extensions
            .set(
                "limit",
                &limit(Limiter::Headroom, "held the target with headroom (…)"),
            )
            .unwrap();
        let calm = render_side_by_side(&b, &a);
        assert!(calm.contains("before") && calm.contains("p99"), "{calm}");
        assert!(!calm.contains("Note:"), "{calm}");
        b.extensions
            .set(
                "limit",
                &limit(Limiter::Database, "the database is the limit (…)"),
            )
            .unwrap();
        let busy = render_side_by_side(&b, &a);
        assert!(busy.contains("before: the database is the limit"), "{busy}");
        assert!(
            busy.contains("Note: the \"before\" run did not hold"),
            "{busy}"
        );
    }
}
