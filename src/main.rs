//! The `dbload` binary: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dbload::cli::parse();
    dbload::init_logging(cli.global.verbose);
    match dbload::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(dbload::EXIT_USAGE)
        }
    }
}
