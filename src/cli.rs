//! The command line, as clap derive types only. Each command's glue in
//! `commands/` converts these once into validated settings for an engine.

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Connection target, for the commands that connect (before the command name,
or after it; `report`, `merge`, `local`, `completions` and `man` do not
offer them), as psql:
  -h HOST -p PORT -U USER, and -d/--url: a postgres:// URL, a keyword conninfo
  string (service=NAME works) or a database name; else DATABASE_URL. Missing
  values come from the service (PGSERVICE), then PGHOST, PGPORT, PGUSER,
  PGPASSWORD, PGDATABASE, PGSSLMODE, PGCONNECT_TIMEOUT, …; a missing password
  from ~/.pgpass (PGPASSFILE). With none of these, dbload uses its managed
  local cluster (see `dbload local --help`), starting it if needed. -h is the
  host, as in psql and pgbench: help is --help (or -?).

Examples:
  dbload local start                      start the embedded PostgreSQL
  dbload migrate                          create the vet-clinic schema there
  dbload -d postgres://app@db:5432/app migrate
  dbload -d 'host=/var/run/postgresql dbname=bench' migrate
  dbload -h db.internal -p 5433 -U app -d bench stress --qps 500

Exit codes: 0 success, 1 a check failed (regression, proposals with
--fail-on-proposals), 2 usage, input or connection error, 3 invalid run.";

/// dbload: PostgreSQL load generation, index advice and regression checks.
#[derive(Debug, Parser)]
#[command(
    name = "dbload",
    version,
    about,
    after_help = AFTER_HELP,
    disable_help_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Print help (-h is the host, as in psql and pgbench).
    #[arg(short = '?', long = "help", global = true, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The connection flags, as psql's: accepted before the command
/// (`dbload -d URL stress`, ignored by a command that does not connect) and
/// offered after it only by the commands that connect (`dbload stress -d URL`).
#[derive(Debug, Args, Clone, Default, PartialEq)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// Target database: postgres:// URL, conninfo ("host=… dbname=…",
    /// "service=…") or a database name, as psql -d. Default: DATABASE_URL,
    /// then PGSERVICE and PG* variables, then the managed local cluster.
    #[arg(
        short = 'd',
        long = "url",
        visible_alias = "dbname",
        value_name = "URL|CONNINFO|DBNAME"
    )]
    pub url: Option<String>,
    /// Database server host or socket directory (as psql -h; help is --help).
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Database server port (as psql -p).
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<String>,
    /// Database user name (as psql -U).
    #[arg(short = 'U', long = "username", value_name = "USER")]
    pub username: Option<String>,
}

impl ConnArgs {
    /// These flags, each one not given filled from `outer` (the flags
    /// given before the command name).
    pub fn or(self, outer: &ConnArgs) -> ConnArgs {
        ConnArgs {
            url: self.url.or_else(|| outer.url.clone()),
            host: self.host.or_else(|| outer.host.clone()),
            port: self.port.or_else(|| outer.port.clone()),
            username: self.username.or_else(|| outer.username.clone()),
        }
    }
}

/// `dbload migrate` flags.
#[derive(Debug, Args, Clone)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the embedded local PostgreSQL cluster.
    #[command(subcommand, after_help = LOCAL_HELP)]
    Local(LocalCommand),
    /// Create or update the vet-clinic schema (migrations/) in the target database.
    #[command(
        after_help = "Examples:\n  dbload migrate\n  dbload -d postgres://me@localhost/bench migrate\n\n\
Re-running is a no-op. A migration file changed after it was applied is an error."
    )]
    Migrate(MigrateArgs),
    /// The whole story in one command: seed a small dataset, run the default
    /// workload, and analyze what it did (on the local cluster unless --url).
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Propose indexes for the workload (pg_stat_statements or SQL files),
    /// verified with HypoPG; report index health.
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Create the vet-clinic schema and fill it with a deterministic, realistic dataset.
    #[command(after_help = SEED_HELP)]
    Seed(SeedArgs),
    /// Drive a weighted workload at a target rate (open model) or concurrency (closed model).
    #[command(after_help = STRESS_HELP)]
    Stress(Box<StressArgs>),
    /// Check workload files.
    #[command(subcommand)]
    Workload(WorkloadCommand),
    /// The nightly job: run a suite, check thresholds, compare with a baseline.
    #[command(after_help = REGRESS_HELP)]
    Regress(RegressArgs),
    /// Render stress or regress results as HTML, Markdown or JUnit XML.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Merge the results files of the workers of one segmented run
    /// (stress --segment K/N) into one exact results file.
    #[command(after_help = MERGE_HELP)]
    Merge(MergeArgs),
    /// Print a shell completion script for dbload (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print dbload's man page (roff), or write one page per command into --dir.
    #[command(after_help = MAN_HELP)]
    Man {
        /// Write dbload.1, dbload-stress.1, … into DIR (created if needed).
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

const COMPLETIONS_HELP: &str = "\
Examples:
  dbload completions bash > ~/.local/share/bash-completion/completions/dbload
  dbload completions zsh > ~/.zfunc/_dbload      # with fpath+=~/.zfunc in ~/.zshrc
  dbload completions fish > ~/.config/fish/completions/dbload.fish";

const MAN_HELP: &str = "\
Examples:
  dbload man | man -l -
  dbload man --dir ~/.local/share/man/man1      # then: man dbload-stress";

const REGRESS_HELP: &str = "\
Examples:
  dbload regress --suite queries/nightly.toml --baseline baseline.json --update-baseline
  dbload regress --suite queries/nightly.toml --baseline baseline.json --out report \\
                 --history history/

Each run's per-second samples (throughput, p50/p95/p99 per scenario) are
compared with the baseline run of the same name by a block bootstrap: a
metric is 'regressed' only when its 95 % interval lies beyond the tolerance
(--tolerance for throughput and p50, the wider --tail-tolerance for p95/p99).
Runs whose dataset, workload or server settings differ are not compared
unless --allow-mismatch. Writes regress.json (dbload.regress/1), report.html,
summary.md and junit.xml into --out; the summary also goes to stdout and is
appended to $GITHUB_STEP_SUMMARY when set.

Exit codes: 0 pass, 1 regression or threshold breached, 2 usage, input or
connection error (also: environment differs from the baseline), 3 invalid run.";

/// `dbload regress` flags.
#[derive(Debug, Args, Clone)]
pub struct RegressArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The suite file (TOML), e.g. queries/nightly.toml.
    #[arg(long, value_name = "FILE")]
    pub suite: std::path::PathBuf,
    /// Baseline results (a regress or stress results file) to compare with.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// Directory for regress.json, report.html, summary.md and junit.xml.
    #[arg(long, value_name = "DIR", default_value = "dbload-report")]
    pub out: std::path::PathBuf,
    /// Write this run's results as the new --baseline (unless a run is invalid).
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
    /// Relative change treated as noise for throughput and p50: 10%, 5%, 0.1
    /// [default: the suite's, else 10%].
    #[arg(long, value_name = "PCT")]
    pub tolerance: Option<String>,
    /// Relative change treated as noise for p95 and p99, which drift more
    /// between runs [default: the suite's, else 25%].
    #[arg(long, value_name = "PCT")]
    pub tail_tolerance: Option<String>,
    /// Compare even when dataset, workload or server settings differ.
    #[arg(long)]
    pub allow_mismatch: bool,
    /// Keep a timestamped copy of the results in DIR; the HTML shows the trend.
    #[arg(long, value_name = "DIR")]
    pub history: Option<std::path::PathBuf>,
    /// Print live progress each second (stderr).
    #[arg(long)]
    pub progress: bool,
    /// Driver threads of every run, as `dbload stress --threads` (default:
    /// one per 4 CPUs; at least 2 for closed-model runs).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// What goes to stdout: the Markdown summary, or regress.json.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: RegressFormat,
}

/// `--format` of `dbload regress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegressFormat {
    Markdown,
    Json,
}

const REPORT_HELP: &str = "\
Examples:
  dbload report results.json --html report.html
  dbload report dbload-report/regress.json --markdown summary.md --junit junit.xml
  dbload report history/*.json --html trend.html      (the last file is the current run)
  dbload report today.json --baseline yesterday.json --html diff.html

With several files, the last is reported and all of them feed the trend
charts. Without --html/--markdown/--junit the Markdown summary goes to stdout.";

const MERGE_HELP: &str = "\
Examples:
  dbload merge worker-*.json --out run.json
  dbload merge worker-*.json --out run.json --threshold 'p99<50ms'
  dbload merge worker-0.json worker-2.json --allow-partial --out partial.json

Histograms are added (totals, scenarios, statements, intervals), counters
summed and rates recomputed over the merged window; percentiles are never
averaged. Every segment 0..N-1 of one run (same run id, workload, seed,
config and dataset) must be given exactly once. Exit codes as for stress:
0 pass, 1 threshold breached, 3 invalid run (a worker could not hold its
share, or a partial merge), 2 bad input.";

/// `dbload merge` flags.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The workers' results files (dbload.stress/1 with a `segment`).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<std::path::PathBuf>,
    /// Write the merged results (JSON, schema dbload.stress/1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Merge what is there when segments are missing (the file and the
    /// summary say so; the merged run is invalid).
    #[arg(long)]
    pub allow_partial: bool,
    /// Fail (exit 1) unless [SCENARIO:]METRIC<VALUE holds on the merged run, as for stress.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: StressFormat,
}

/// `dbload report` flags.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Results files (dbload.stress/1 or dbload.regress/1).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<std::path::PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Write the Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<std::path::PathBuf>,
    /// Write JUnit XML (one test case per scenario × checked metric).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Compare the (last) results with this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// Tolerance for the comparison with --baseline (throughput, p50).
    #[arg(long, value_name = "PCT", default_value = "10%")]
    pub tolerance: String,
    /// Tolerance of p95/p99 in the comparison with --baseline.
    #[arg(long, value_name = "PCT", default_value = "25%")]
    pub tail_tolerance: String,
    /// Compare with --baseline even when environments differ.
    #[arg(long)]
    pub allow_mismatch: bool,
}

const SEED_HELP: &str = "\
Scale 1 is 10,000 clinics, 100,000 users, 1,000,000 pets, and in proportion
200,000 services, 2,000,000 appointments, 1,000,000 medical records, 500,000
prescriptions, 1,000,000 invoices, 2,500,000 invoice items, 300,000 sessions
(about 1.4 GB). The same --seed and --scale give byte-identical tables with
any --jobs. Re-seeding a dbload dataset replaces it; tables of the same names
that dbload did not create are left alone unless --force.

Examples:
  dbload seed --scale 0.01                small dataset on the local cluster
  dbload seed                             scale 1
  dbload seed --scale 10 --jobs 8         large, on a bigger machine
  dbload -d postgres://me@db/bench seed --seed 7 --scale 0.1";

/// `dbload seed` flags.
#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Dataset size; 1.0 = 10,000 clinics, 100,000 users, 1,000,000 pets.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "F",
        allow_negative_numbers = true
    )]
    pub scale: f64,
    /// Seed of every generated value (same seed and scale, same data).
    #[arg(long, default_value_t = crate::seed::DEFAULT_SEED, value_name = "N")]
    pub seed: u64,
    /// Generator threads and database connections [default: number of CPUs].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// DROP existing tables of the same names that dbload did not create.
    #[arg(long)]
    pub force: bool,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SeedFormat,
}

/// `--format` of `dbload seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeedFormat {
    Table,
    Csv,
    Json,
}

const STRESS_HELP: &str = "\
Examples:
  dbload stress --qps 500 --duration 60s                 default vet-clinic mix, open model
  dbload stress --clients 16 --duration 30s              closed model: max throughput
  dbload stress --clients 64 --pool 16                   64 clients pipelined on 16 connections
  dbload stress -w queries/my.sql --qps 2000 --out r.json --threshold 'p99<50ms' \\
                --threshold 'checkout:p95<100ms' --threshold 'error_rate<0.1%'
  dbload stress --stages '30s:1000,2m:10000,30s:0'       ramp the rate through stages
  dbload stress --qps 500 --profile spike --duration 5m  also: stress, soak, breakpoint
  dbload stress --client-stages '10s:16,1m:16,10s:64'    closed model: clients follow stages
  dbload stress --find-max --slo 'p99<50ms' --slo 'error_rate<0.1%' --pool 4,8,16,32
  dbload stress --capacity --slo 'p99<50ms' --target-qps 2000

Latency is measured from each arrival's intended start (open model), so
server stalls show up as queueing, not as fewer samples. Exit codes: 0 pass,
1 a threshold breached, 2 usage/input/connection error, 3 invalid run (the
driver could not hold the rate, or a stop signal: Ctrl-C, SIGTERM, SIGHUP;
partial results are still written; a second signal ends at once).";

/// `dbload stress` flags.
#[derive(Debug, Args, Clone)]
pub struct StressArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Workload file (default: the embedded queries/vetclinic.sql).
    #[arg(short, long, value_name = "FILE")]
    pub workload: Option<std::path::PathBuf>,
    /// Open model: target arrival rate, scenarios per second.
    #[arg(
        long,
        value_name = "N",
        required_unless_present_any = ["clients", "stages", "client_stages", "find_max", "capacity"],
        conflicts_with = "clients"
    )]
    pub qps: Option<f64>,
    /// Closed model: N loops running scenarios back to back.
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Measured duration (after the warm-up): 60s, 5m, 500ms [default: 60s].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Warm-up run before measuring (statistics discarded) [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<std::time::Duration>,
    /// Connections in the pool (default: --clients, or max(8, 4 × CPUs) for --qps).
    /// With fewer connections than --clients, clients share them and pipeline
    /// their statements (a transaction takes its connection to itself).
    /// A list (4,8,16) or range (4..64x2) runs the same shape per pool size.
    #[arg(long, value_name = "N|LIST|RANGE", value_parser = parse_pools)]
    pub pool: Option<PoolSizes>,
    /// Arrival process of the open model.
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrival: ArrivalArg,
    /// Open model: scenarios in flight at most; later arrivals are counted as
    /// dropped [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_inflight: Option<usize>,
    /// Write the results (JSON, schema dbload.stress/1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Also write an HdrHistogram interval log to FILE (one line per interval
    /// per scenario, tagged, plus an untagged total; µs): for
    /// HistogramLogAnalyzer and HdrLogProcessing. A single run only.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<std::path::PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: StressFormat,
    /// Fail (exit 1) unless [SCENARIO:]METRIC<VALUE holds, e.g. 'p99<50ms', 'error_rate<1%'.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Print live progress each second even when stderr is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Print nothing on stderr but errors and warnings (no banner, progress
    /// or verdict lines: the exit code and the results say it). With
    /// --format json, the output is the results alone (e.g. a pod's log).
    #[arg(short, long, conflicts_with_all = ["progress", "progress_interval"])]
    pub quiet: bool,
    /// Print live progress every DURATION (as pgbench -P; implies
    /// --progress): the window's rate and errors, the median of its seconds'
    /// p50 and its worst second's p99.
    #[arg(short = 'P', long = "progress-interval", value_name = "DURATION", value_parser = parse_duration)]
    pub progress_interval: Option<std::time::Duration>,
    /// Seed for arrivals, the scenario mix and parameters (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Open model: wake for intended start times at most once per DURATION
    /// (e.g. 500us, 1ms; at most 100ms); arrivals due within one period start
    /// together. Fewer driver wake-ups (less driver CPU) for up to DURATION
    /// more schedule lag, which is part of every reported latency.
    /// 0 = precise: wake at each intended start (kernel timer precision).
    /// Default: adaptive (precise below 4,000 arrivals/s per driver thread,
    /// above that a period of at most 500us chosen from the rate).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timer_resolution: Option<std::time::Duration>,
    /// Driver threads, each with its own event loop and share of the connections
    /// (default: one per 4 CPUs; at least 2 for --clients).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// How long in-flight work may finish after the end of the run [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub drain_timeout: Option<std::time::Duration>,
    /// Open model: ramp the rate linearly through DURATION:TARGET stages from
    /// 0, e.g. '30s:1000,2m:10000,30s:0' (replaces --qps and --duration).
    #[arg(long, value_name = "STAGES", conflicts_with_all = ["qps", "clients", "profile"])]
    pub stages: Option<String>,
    /// Closed model: the number of clients follows DURATION:CLIENTS stages
    /// from 0, e.g. '10s:16,1m:16,10s:64' (ramps in steps of at most 2 s).
    #[arg(long, value_name = "STAGES", conflicts_with_all = ["qps", "clients", "stages", "profile", "find_max", "capacity"])]
    pub client_stages: Option<String>,
    /// A shape around --qps over --duration: spike (10× for the middle fifth),
    /// stress (150 % for the second half), soak (constant; memory and drift),
    /// breakpoint (same as --find-max, from --qps).
    #[arg(long, value_name = "NAME", requires = "qps")]
    pub profile: Option<String>,
    /// Step the rate up, then bisect, until an --slo breaks or the driver
    /// cannot hold it; report the highest rate meeting the SLO.
    #[arg(long, conflicts_with_all = ["clients", "stages"])]
    pub find_max: bool,
    /// Service-level objective (threshold syntax) for --find-max, --pool
    /// sweeps and --capacity, e.g. 'p99<50ms', 'error_rate<0.1%'.
    #[arg(long = "slo", value_name = "EXPR")]
    pub slos: Vec<String>,
    /// Closed-model concurrency sweep (1, 2, 4, … --max-clients), fitted with
    /// the Universal Scalability Law, and a capacity plan.
    #[arg(long, conflicts_with_all = ["clients", "stages", "find_max", "profile"])]
    pub capacity: bool,
    /// Capacity plan: the rate the system must serve (headroom, 2× growth).
    #[arg(long, value_name = "N")]
    pub target_qps: Option<f64>,
    /// --capacity: the largest number of clients in the sweep.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_clients: usize,
    /// Length of each measured step of --find-max, --pool sweeps and --capacity.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub step_duration: std::time::Duration,
    /// Run the embedded default workload (which inserts and updates rows)
    /// even though the target is not a complete dbload dataset.
    #[arg(long)]
    pub force: bool,
    /// Closed model: pause between one client's scenarios, not counted as
    /// latency ("concurrent users"): 500ms, exp:500ms (exponential mean),
    /// uniform:200ms..800ms.
    #[arg(long, value_name = "DIST", value_parser = parse_think_time, conflicts_with = "qps")]
    pub think_time: Option<ThinkTime>,
    #[command(flatten)]
    pub segments: SegmentArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// Segmented runs: one run's load split over N worker processes.
#[derive(Debug, Args, Clone, Default)]
pub struct SegmentArgs {
    /// Run segment K of N of the load (K is 0-based: 0/3, 1/3, 2/3). Arrival
    /// i of the one global schedule (same --seed) goes to segment i mod N;
    /// closed-model clients and pool split by the same rule.
    #[arg(long, value_name = "K/N", conflicts_with = "segments")]
    pub segment: Option<String>,
    /// Run one of N segments, K read from JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job sets it in each pod).
    #[arg(long, value_name = "N")]
    pub segments: Option<u32>,
    /// The identity shared by every worker of a segmented run (default:
    /// seed-<--seed>); without --seed, the seed is derived from it.
    #[arg(long, value_name = "ID", env = "DBLOAD_RUN_ID")]
    pub run_id: Option<String>,
    /// Segmented run: the first intended start, on the database server's
    /// clock: RFC 3339 (2026-12-02T12:30:00Z) or Unix seconds.
    #[arg(long, value_name = "TIME", conflicts_with = "rendezvous")]
    pub start_at: Option<String>,
    /// Segmented run: meet the other workers in the target database
    /// (table dbload_rendezvous) and start together, a few seconds after the
    /// last one arrives, on the server's clock.
    #[arg(long)]
    pub rendezvous: bool,
    /// Give up the rendezvous (exit 2, naming the missing segments) after
    /// DURATION [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "rendezvous")]
    pub rendezvous_timeout: Option<std::time::Duration>,
}

/// Live metrics flags of `stress` and `regress`.
#[derive(Debug, Args, Clone, Default)]
pub struct MetricsArgs {
    /// Serve live Prometheus metrics (OpenMetrics) on http://ADDR/metrics
    /// while the run goes on, e.g. 127.0.0.1:9464 (port 0: a free one).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Keep serving the metrics this long after the run, so the last
    /// scrape lands [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "metrics_listen")]
    pub metrics_linger: Option<std::time::Duration>,
    /// Push the final metrics to a Prometheus Pushgateway at the end (job
    /// "dbload", grouped by run id), as batch jobs do; plain http:// only.
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
}

/// `--pool`: the sizes given (one, a list, or a range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSizes(pub Vec<usize>);

fn parse_pools(s: &str) -> Result<PoolSizes, String> {
    crate::capacity::pools::parse(s).map(PoolSizes)
}

/// `--arrival`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalArg {
    Poisson,
    Uniform,
}

/// `--format` of `dbload stress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StressFormat {
    Table,
    Json,
    Markdown,
    /// One row per scenario and a TOTAL row (multi-step modes: the
    /// representative step).
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum WorkloadCommand {
    /// Validate a workload file without running it: syntax (file:line), then
    /// that every statement prepares against the target database.
    #[command(
        after_help = "Examples:\n  dbload workload check queries/vetclinic.sql\n  dbload workload check --offline my.sql"
    )]
    Check {
        /// The workload file.
        file: std::path::PathBuf,
        /// Only check the file itself; do not connect to a database.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub use crate::stress::config::{ThinkTime, parse_duration, parse_think_time};

const DEMO_HELP: &str = "\
Runs, in order: `dbload seed --scale F`, `dbload stress --qps N --duration D`
(the default vet-clinic workload), then `dbload analyze`. With no --url it
uses the managed local cluster, starting it if needed. Seeding follows the
seed command's safety rules: it replaces a dbload dataset and refuses tables
that dbload did not create.

Examples:
  cargo run --release -- demo
  dbload demo --scale 0.01 --duration 5s
  dbload -d postgres://me@localhost/scratch demo --qps 200";

/// `dbload demo` flags.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Dataset size for the seed step (1.0 = 1,000,000 pets).
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "F",
        allow_negative_numbers = true
    )]
    pub scale: f64,
    /// Target rate of the stress step, scenarios per second.
    #[arg(
        long,
        default_value_t = 100.0,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub qps: f64,
    /// Measured length of the stress step.
    #[arg(long, default_value = "15s", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: std::time::Duration,
}

const LOCAL_HELP: &str = "\
The cluster lives under $DBLOAD_HOME (default: ~/.local/share/dbload, or
/var/lib/dbload when run as root, where the server runs as the 'postgres'
user). It listens on 127.0.0.1 and a socket in its directory, trusts local
connections, and preloads pg_stat_statements (and HypoPG when installed).

Examples:
  dbload local start && psql \"$(dbload local url)\"
  dbload local status
  dbload local destroy --yes";

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Create (if needed) and start the cluster; does nothing if it runs.
    Start,
    /// Stop the cluster gracefully (fast shutdown).
    Stop,
    /// Show version, address, data size and extensions.
    Status {
        /// Output format (one flag name across commands).
        #[arg(long, value_enum, default_value = "text")]
        format: StatusFormat,
        /// Same as --format json.
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Print the connection URL (for psql, pgbench, your app).
    Url,
    /// Stop the cluster and delete all its data.
    Destroy {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `--format` of `dbload local status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

const ANALYZE_HELP: &str = "\
Examples:
  dbload analyze                                 pg_stat_statements of the target database
  dbload analyze --min-calls 10 --top 200 --format markdown > analyze.md
  dbload analyze --from-file slow.sql --format json     SQL statements separated by ;
  cat slow.sql | dbload analyze --stdin
  dbload analyze --fail-on-proposals             CI: exit 1 when an index is proposed
  dbload analyze --apply                         show the DDL, ask, CREATE INDEX CONCURRENTLY

Candidates are checked with HypoPG hypothetical indexes on generic plans when
the extension exists (CREATE EXTENSION hypopg); otherwise they are estimated
from pg_stats and marked UNVERIFIED. A candidate is kept when the planner uses
it and it saves at least --min-savings percent of the statement's cost.";

/// Output formats of `dbload analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnalyzeFormat {
    Table,
    Json,
    Markdown,
}

/// `dbload analyze` flags.
#[derive(Debug, Args, Clone)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// pg_stat_statements: ignore statements called fewer times.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_calls: u64,
    /// pg_stat_statements: ignore statements with a lower mean time (ms).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub min_mean_ms: f64,
    /// pg_stat_statements: analyse at most N statements (by total time).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub top: usize,
    /// Read SQL statements (separated by ;) from a file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "stdin")]
    pub from_file: Option<std::path::PathBuf>,
    /// Read SQL statements (separated by ;) from standard input instead.
    #[arg(long)]
    pub stdin: bool,
    /// Analyse the statements a `dbload stress --out` results file recorded
    /// (the top statements by server time during the run).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stdin", "from_file"])]
    pub from_results: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Table)]
    pub format: AnalyzeFormat,
    /// Minimum planner-cost saving (percent) for a proposal.
    #[arg(long, default_value_t = 20.0, value_name = "PCT")]
    pub min_savings: f64,
    /// Leave statements whose plan costs less than this alone.
    #[arg(long, default_value_t = 100.0, value_name = "COST")]
    pub min_cost: f64,
    /// Health: report statements with a mean time at least this (ms) as slow.
    #[arg(long, default_value_t = 100.0, value_name = "MS")]
    pub slow_ms: f64,
    /// Health: report unused indexes from this size (bytes) up.
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub unused_min_bytes: i64,
    /// Health: tables with at least this many rows are big (FKs, seq scans).
    #[arg(long, default_value_t = 10_000.0, value_name = "ROWS")]
    pub big_table_rows: f64,
    /// Exit 1 when at least one index is proposed (for CI).
    #[arg(long)]
    pub fail_on_proposals: bool,
    /// Create the proposed indexes (CREATE INDEX CONCURRENTLY) after asking.
    #[arg(long)]
    pub apply: bool,
    /// Forget this database's pg_stat_statements entries (after asking) to
    /// start a clean observation window; run the workload, then analyze.
    #[arg(long, conflicts_with_all = ["apply", "from_file", "stdin", "from_results"])]
    pub reset_stats: bool,
    /// With --apply or --reset-stats: do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Verify GIN candidates (trigram, jsonb, arrays, full text), which HypoPG
    /// cannot simulate, by building each for real inside a transaction that is
    /// rolled back. The build holds a SHARE lock on the table (reads go on,
    /// writes wait) for its duration; lock wait 2 s, build + explain 60 s.
    #[arg(long)]
    pub verify_build: bool,
    /// --verify-build refuses tables larger than this (heap size).
    #[arg(long, default_value = "100MB", value_name = "SIZE",
          value_parser = crate::analyze::size::parse_size)]
    pub verify_build_max_size: i64,
    /// Keep at most N proposals: the best by net saving (reads saved minus
    /// the measured write cost).
    #[arg(long, value_name = "N")]
    pub max_indexes: Option<usize>,
    /// Keep proposals totalling at most SIZE (HypoPG's size estimates):
    /// greedy by net saving per byte, checked against the best single index.
    #[arg(long, value_name = "SIZE", value_parser = crate::analyze::size::parse_size)]
    pub max_size: Option<i64>,
    /// Measure each table's write rate as the change of pg_stat_user_tables
    /// over DURATION (the application keeps running), instead of from the
    /// workload's own INSERT/UPDATE/DELETE statements.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub write_sample: Option<std::time::Duration>,
    /// With --from-results: prove the proposals under the run's load — copy
    /// the database (CREATE DATABASE … TEMPLATE; nobody else may be
    /// connected to it), replay the run there before and after creating the
    /// indexes, and compare. The database itself is never changed.
    #[arg(long, requires = "from_results", conflicts_with = "apply")]
    pub prove: bool,
    /// With --prove: replay in this database instead of a copy (a copy you
    /// made; dbload creates the indexes in it and leaves it).
    #[arg(long, value_name = "NAME", requires = "prove")]
    pub prove_db: Option<String>,
}

/// The command line definition, with negative numbers accepted as values
/// everywhere (so `--qps -1` is refused by name, not as "unexpected argument
/// '-1'").
pub fn command() -> clap::Command {
    fn negatives_are_values(c: clap::Command) -> clap::Command {
        c.allow_negative_numbers(true)
            .mut_subcommands(negatives_are_values)
    }
    negatives_are_values(<Cli as clap::CommandFactory>::command())
}

/// Parse the process's arguments (exits with clap's message on error).
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parse `args` (the first is the program name).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut matches = command().try_get_matches_from(args)?;
    <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_flags_go_before_or_after_a_connecting_command_only() {
        let before = parse_from(["dbload", "-h", "db", "-d", "app", "migrate"]).unwrap();
        let Command::Migrate(m) = &before.command else {
            panic!("{before:?}")
        };
        let conn = m.conn.clone().or(&before.conn);
        assert_eq!(
            (conn.host.as_deref(), conn.url.as_deref()),
            (Some("db"), Some("app"))
        );
        // After the command name, and winning over the same flag before it.
        let after = parse_from([
            "dbload", "-p", "1", "stress", "-p", "5433", "-U", "me", "--qps", "1",
        ])
        .unwrap();
        let Command::Stress(s) = &after.command else {
            panic!("{after:?}")
        };
        let conn = s.conn.clone().or(&after.conn);
        assert_eq!(
            (conn.port.as_deref(), conn.username.as_deref()),
            (Some("5433"), Some("me"))
        );
        // Commands that never connect do not offer them.
        for args in [
            &["dbload", "report", "-d", "x", "r.json"][..],
            &["dbload", "local", "-h", "db", "status"],
            &["dbload", "completions", "-U", "me", "bash"],
        ] {
            let e = parse_from(args.iter().copied()).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{args:?}"
            );
        }
        let check = parse_from(["dbload", "workload", "check", "f.sql", "-d", "x"]).unwrap();
        assert!(matches!(
            check.command,
            Command::Workload(WorkloadCommand::Check { ref conn, .. }) if conn.url.as_deref() == Some("x")
        ));
    }

    #[test]
    fn negative_numbers_are_refused_by_flag_name() {
        for (args, flag) in [
            (&["stress", "--clients", "-1"][..], "--clients"),
            (&["stress", "--qps", "1", "--pool", "-4"], "--pool"),
            (&["seed", "--jobs", "-2"], "--jobs"),
            (&["analyze", "--top", "-5"], "--top"),
        ] {
            let e = parse_from(std::iter::once("dbload").chain(args.iter().copied()))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(flag) && !e.contains("unexpected argument"),
                "{args:?}: {e}"
            );
        }
        // Where a negative value parses, the command's own check names it.
        let cli = parse_from(["dbload", "stress", "--qps", "-1"]).unwrap();
        assert!(matches!(cli.command, Command::Stress(ref a) if a.qps == Some(-1.0)));
    }

    #[test]
    fn durations_are_bounded_instead_of_panicking() {
        assert_eq!(parse_duration("7d").ok(), None);
        assert_eq!(
            parse_duration("168h"),
            Ok(std::time::Duration::from_secs(7 * 86400))
        );
        for s in ["1e300s", "1e20", "169h", "1e306m"] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("at most 7 days"), "{s}: {e}");
        }
        // clap names the flag.
        let e = Cli::try_parse_from(["dbload", "stress", "--qps", "1", "--duration", "1e300s"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--duration") && e.contains("at most 7 days"),
            "{e}"
        );
    }
}
