//! `dbload demo`: the end-to-end story in one command — seed, stress,
//! analyze — by running the three commands' own glue in order on one target.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, DemoArgs, GlobalArgs};

pub async fn run(global: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    // Resolve (and start, if needed) the target once; every step reuses it.
    let target = super::resolve_target(global).await?;
    let url = target.to_url_with_password();
    let (scale, qps) = (args.scale.to_string(), args.qps.to_string());
    let duration = format!("{}s", args.duration.as_secs_f64());
    let steps: [(&str, Vec<&str>); 3] = [
        ("seed a dataset", vec!["seed", "--scale", &scale]),
        (
            "run the default workload",
            vec![
                "stress",
                "--qps",
                &qps,
                "--duration",
                &duration,
                "--warmup",
                "2s",
            ],
        ),
        ("analyze what it did", vec!["analyze"]),
    ];
    let mut result = ExitCode::SUCCESS;
    for (i, (what, argv)) in steps.iter().enumerate() {
        eprintln!(
            "\n== dbload demo {}/3: {what} ({}) ==",
            i + 1,
            argv.join(" ")
        );
        let mut full = vec!["dbload", "--url", &url];
        full.extend(argv.iter().copied());
        let cli = Cli::try_parse_from(&full)?;
        let code = match &cli.command {
            Command::Seed(a) => super::seed::run(&cli.global, a).await?,
            Command::Stress(a) => super::stress::run(&cli.global, (**a).clone()).await?,
            Command::Analyze(a) => {
                // Analyze has nothing partial to write: a signal ends it.
                super::signals::exit_on_signal()?;
                super::analyze::run(&cli.global, a).await?
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
    eprintln!(
        "\n== done: the dataset stays in {target}; `dbload stress --help` and `dbload analyze --help` go further =="
    );
    Ok(result)
}
