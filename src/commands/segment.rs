//! Glue of segmented runs (`--segment K/N`, `--segments N` with
//! `JOB_COMPLETION_INDEX`, `--run-id`, `--start-at`, `--rendezvous`): the
//! flags become a segment and a run id before the configuration is made
//! (the seed may come from the run id), then, once the session is open, a
//! [`Plan`] (the clock offset to the server, the `--start-at` instant) and,
//! with `--rendezvous`, the meeting the engine holds once the worker's
//! connections are open.

use crate::cli::{SegmentArgs, StressArgs};
use crate::stress::segment::{self, JOB_INDEX_ENV, Plan, Segment};
use crate::stress::{Session, Settings, rendezvous};

/// The default `--rendezvous-timeout`.
pub const DEFAULT_RENDEZVOUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A segment and the run it belongs to, as the flags ask.
#[derive(Debug, Clone)]
pub struct Request {
    pub segment: Segment,
    pub run_id: String,
}

impl Request {
    /// Make `s` this segment's: limits per worker, the seed from the run id
    /// when none was given.
    pub fn apply(&self, s: &mut Settings) {
        s.segments = Some(self.segment.count);
        if s.seed.is_none() {
            s.seed = Some(segment::seed_of_run(&self.run_id));
        }
    }
}

/// The segment the flags ask for (None: a one-process run).
pub fn request(args: &StressArgs) -> anyhow::Result<Option<Request>> {
    let a = &args.segments;
    let segment = match (&a.segment, a.segments) {
        (Some(s), _) => Segment::parse(s).map_err(|e| anyhow::anyhow!("--segment {e}"))?,
        (None, Some(n)) => {
            let v = std::env::var(JOB_INDEX_ENV).ok();
            Segment::from_job_index(n, v.as_deref())
                .map_err(|e| anyhow::anyhow!("--segments: {e}"))?
        }
        (None, None) => {
            if a.start_at.is_some() || a.rendezvous {
                anyhow::bail!(
                    "--start-at and --rendezvous start the workers of a segmented run together: \
                     give --segment K/N or --segments N"
                );
            }
            return Ok(None);
        }
    };
    let run_id = match (&a.run_id, args.seed) {
        (Some(id), _) => {
            segment::check_run_id(id)
                .map_err(|e| anyhow::anyhow!("--run-id (DBLOAD_RUN_ID) {e}"))?;
            id.clone()
        }
        (None, Some(seed)) => format!("seed-{seed}"),
        (None, None) => anyhow::bail!(
            "a segmented run needs --seed N or --run-id ID (or DBLOAD_RUN_ID): every worker must \
             draw the same global schedule"
        ),
    };
    if a.rendezvous && a.run_id.is_none() {
        anyhow::bail!(
            "--rendezvous needs --run-id ID (or DBLOAD_RUN_ID), one per run, so that workers of \
             different runs never meet (in Kubernetes: the Job's controller uid)"
        );
    }
    Ok(Some(Request { segment, run_id }))
}

/// Multi-step modes (`--find-max`, `--pool` lists, `--capacity`) decide each
/// step from the last one's results: a split of them makes no sense.
pub fn refuse_multi_step(a: &SegmentArgs) -> anyhow::Result<()> {
    if a.segment.is_some() || a.segments.is_some() {
        anyhow::bail!(
            "--segment/--segments split one run's load; --find-max, --profile breakpoint, --pool \
             lists and --capacity choose each step from the previous one's results and cannot be \
             split: run them from one process"
        );
    }
    Ok(())
}

/// Who this worker is, for the others' rendezvous messages.
fn worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "?".into());
    format!("{host} pid {}", std::process::id())
}

/// The plan of worker `req` on `session`: the clock offset to the server
/// (measured now) and the `--start-at` instant; with `--rendezvous`, the
/// meeting at which the start will be agreed.
pub async fn plan(
    a: &SegmentArgs,
    session: &Session,
    req: Request,
) -> anyhow::Result<(Plan, Option<rendezvous::Meeting>)> {
    let offset = session
        .clock_offset()
        .await
        .map_err(|e| anyhow::anyhow!("reading the server's clock on {}: {e}", session.target()))?;
    let server_now = crate::stress::clock::server_time(chrono::Utc::now(), offset.us);
    let start_at = match &a.start_at {
        Some(t) => Some(
            segment::parse_start_at(t, server_now)
                .map_err(|e| anyhow::anyhow!("--start-at {e}"))?,
        ),
        None => None,
    };
    let clock = format!(
        "this clock is {:+.3} ms off the server's, ±{:.3} ms",
        offset.us / 1000.0,
        offset.rtt.as_secs_f64() * 500.0
    );
    let meeting = a.rendezvous.then(|| rendezvous::Meeting {
        run_id: req.run_id.clone(),
        segment: req.segment,
        timeout: a.rendezvous_timeout.unwrap_or(DEFAULT_RENDEZVOUS_TIMEOUT),
        worker: worker_name(),
    });
    if let Some(m) = &meeting {
        super::say::note(format_args!(
            "dbload: segment {} of run {}: once the connections are open, waiting for the other \
             workers in dbload_rendezvous (up to {:.0} s; {clock})",
            req.segment.label(),
            req.run_id,
            m.timeout.as_secs_f64()
        ));
    }
    if let Some(at) = start_at {
        super::say::note(format_args!(
            "dbload: segment {} of run {} starts at {} (server clock; {clock})",
            req.segment.label(),
            req.run_id,
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ));
    }
    let plan = Plan {
        segment: req.segment,
        run_id: req.run_id,
        start_at,
        clock_offset_us: Some(offset.us),
    };
    Ok((plan, meeting))
}
