//! Segmented runs: one run's load split over N worker processes (`--segment
//! K/N`, or `--segments N` with K from `JOB_COMPLETION_INDEX` in a
//! Kubernetes Indexed Job). K is **0-based** (0 ≤ K < N).
//!
//! The one rule: a global item `i` (the open model's arrival `i` in schedule
//! order, the closed model's client `i`, a connection of the closed model's
//! pool) belongs to worker `i mod N`. Worker K's share of `n` items is
//! therefore `n / N` plus one when `K < n mod N` ([`Segment::share`]), and
//! its local item `j` is the global item `j·N + K` ([`Segment::global`]).
//!
//! Every worker records the WHOLE run's `StressConfig` (identical in all
//! of them; `dbload merge` compares it); what the worker runs is derived
//! from it by `StressConfig::for_segment`, the one function that applies
//! the rule to a configuration (the schedule applies it to arrivals:
//! `ArrivalGen::segment`).
//! Fields that describe the worker's own machine, not the run, are listed in
//! [`LOCAL_FIELDS`].

use chrono::{DateTime, Utc};

/// One worker's place in a segmented run: segment `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

/// The environment variable a Kubernetes Indexed Job sets in each pod.
pub const JOB_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Most segments in one run.
pub const MAX_SEGMENTS: u32 = 10_000;

/// Fields of a results file's `config` that describe the worker's own
/// machine rather than the run, and may differ between the workers of one
/// run: `pool` in the open model (each worker's pool serves its own share of
/// the arrivals; its default `max(8, 4 × CPUs)` is the local machine's). In
/// the closed model `pool` is the run's total, split by the rule, so it is
/// the same in every worker anyway. (Driver threads are not in `config`.)
pub const LOCAL_FIELDS: &[&str] = &["pool"];

impl Segment {
    /// A segment, checked: `count` ≥ 1, `index` < `count`.
    pub fn new(index: u32, count: u32) -> Result<Segment, String> {
        if count == 0 {
            return Err("N must be at least 1".into());
        }
        if count > MAX_SEGMENTS {
            return Err(format!("{count} segments: more than {MAX_SEGMENTS}"));
        }
        if index >= count {
            return Err(format!(
                "segment {index} of {count} does not exist: K is 0-based, 0 ≤ K < N \
                 (the last segment of {count} is {})",
                count - 1
            ));
        }
        Ok(Segment { index, count })
    }

    /// Parse `K/N` (0-based K).
    pub fn parse(s: &str) -> Result<Segment, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/3: the first of 3 segments)"))?;
        let num = |v: &str, what: &str| {
            v.trim().parse::<u32>().map_err(|_| {
                format!("{s:?}: {what} {v:?} is not a whole number ≥ 0 (K/N, e.g. 0/3)")
            })
        };
        Segment::new(num(k, "K")?, num(n, "N")?)
    }

    /// Segment K of `count`, K read from [`JOB_INDEX_ENV`] (`value`: its
    /// value, None when unset).
    pub fn from_job_index(count: u32, value: Option<&str>) -> Result<Segment, String> {
        let v = value.ok_or_else(|| {
            format!(
                "{JOB_INDEX_ENV} is not set (a Kubernetes Indexed Job sets it; elsewhere give \
                 --segment K/N)"
            )
        })?;
        let k = v.trim().parse::<u32>().map_err(|_| {
            format!("{JOB_INDEX_ENV}={v:?} is not a whole number ≥ 0 (the 0-based segment index)")
        })?;
        Segment::new(k, count).map_err(|e| format!("{JOB_INDEX_ENV}={v}, --segments {count}: {e}"))
    }

    /// Of `n` global items, how many are this segment's (items `i` with
    /// `i mod N == K`).
    pub fn share(&self, n: usize) -> usize {
        let (k, c) = (self.index as usize, self.count as usize);
        n / c + usize::from(k < n % c)
    }

    /// Whether global item `i` is this segment's.
    pub fn owns(&self, i: u64) -> bool {
        i % u64::from(self.count) == u64::from(self.index)
    }

    /// The global index of this segment's local item `j`.
    pub fn global(&self, j: usize) -> usize {
        j * self.count as usize + self.index as usize
    }

    /// `K/N`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// A worker's run plan beyond its segment: the run's identity and when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub segment: Segment,
    /// Shared by every worker of the run.
    pub run_id: String,
    /// The first intended start, on the database server's clock.
    pub start_at: Option<DateTime<Utc>>,
    /// This machine's clock minus the server's, microseconds.
    pub clock_offset_us: Option<f64>,
}

/// How far in the past a `--start-at` may be (it is clamped to now).
pub const START_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How far ahead a `--start-at` may be.
pub const START_HORIZON: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Parse `--start-at`: RFC 3339 (`2026-12-02T12:30:00Z`) or Unix seconds
/// (`1796212200`, `1796212200.5`), no more than [`START_GRACE`] before `now`
/// nor more than [`START_HORIZON`] after it.
pub fn parse_start_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let at = if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        d.with_timezone(&Utc)
    } else if let Some((secs, nanos)) = unix_seconds(t) {
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| format!("{s:?}: not a Unix time in seconds"))?
    } else {
        return Err(format!(
            "{s:?} is neither RFC 3339 (2026-12-02T12:30:00Z) nor Unix seconds (1796212200)"
        ));
    };
    let grace = chrono::Duration::from_std(START_GRACE).unwrap();
    let horizon = chrono::Duration::from_std(START_HORIZON).unwrap();
    if at < now - grace {
        return Err(format!(
            "{s}: {:.1} s in the past (the run must start from now on)",
            (now - at).num_milliseconds() as f64 / 1000.0
        ));
    }
    if at > now + horizon {
        return Err(format!(
            "{s}: more than 24 hours ahead ({:.1} h)",
            (at - now).num_seconds() as f64 / 3600.0
        ));
    }
    Ok(at)
}

/// `1796212200` or `1796212200.125` as (seconds, nanoseconds), read as
/// text (no floating-point rounding of the fraction).
fn unix_seconds(t: &str) -> Option<(i64, u32)> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |v: &str| v.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some((whole.parse().ok()?, nanos))
}

/// The seed of a segmented run that gave none: every worker derives the
/// same one from the run id (the first 8 bytes of its SHA-256).
pub fn seed_of_run(run_id: &str) -> u64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(run_id.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap())
}

/// A run id must be short printable text (it names rows and files).
pub fn check_run_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 200 {
        return Err("must be 1 to 200 characters".into());
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{id:?}: no spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_over_n_parses_0_based_and_names_what_is_wrong() {
        assert_eq!(
            Segment::parse("0/3").unwrap(),
            Segment { index: 0, count: 3 }
        );
        assert_eq!(Segment::parse("2/3").unwrap().label(), "2/3");
        assert!(Segment::parse("3/3").unwrap_err().contains("0-based"));
        assert!(Segment::parse("0/0").unwrap_err().contains("at least 1"));
        assert!(Segment::parse("1").unwrap_err().contains("K/N"));
        assert!(Segment::parse("a/3").unwrap_err().contains("K \"a\""));
        assert!(Segment::parse("-1/3").unwrap_err().contains("K"));
        assert!(Segment::parse("0/99999").unwrap_err().contains("more than"));
    }

    #[test]
    fn the_job_index_variable_is_read_and_checked() {
        assert_eq!(
            Segment::from_job_index(3, Some("2")).unwrap(),
            Segment { index: 2, count: 3 }
        );
        assert!(
            Segment::from_job_index(3, None)
                .unwrap_err()
                .contains("not set")
        );
        assert!(
            Segment::from_job_index(3, Some("x"))
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX=\"x\"")
        );
        assert!(
            Segment::from_job_index(3, Some("3"))
                .unwrap_err()
                .contains("0-based")
        );
    }

    #[test]
    fn shares_add_up_and_global_indices_cover_everything_once() {
        for n in [1u32, 2, 3, 7] {
            for items in [0usize, 1, 2, 5, 100, 100_001] {
                let segs: Vec<Segment> = (0..n).map(|k| Segment::new(k, n).unwrap()).collect();
                assert_eq!(segs.iter().map(|s| s.share(items)).sum::<usize>(), items);
                let mut all: Vec<usize> = segs
                    .iter()
                    .flat_map(|s| (0..s.share(items)).map(|j| s.global(j)))
                    .collect();
                all.sort();
                assert_eq!(all, (0..items).collect::<Vec<_>>());
                for s in &segs {
                    assert!((0..s.share(items)).all(|j| s.owns(s.global(j) as u64)));
                }
            }
        }
    }

    #[test]
    fn start_at_takes_rfc3339_or_unix_seconds_within_bounds() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = parse_start_at("2026-12-02T12:00:10Z", now).unwrap();
        assert_eq!((a - now).num_seconds(), 10);
        let b = parse_start_at(&format!("{}.5", now.timestamp() + 10), now).unwrap();
        assert_eq!((b - now).num_milliseconds(), 10_500);
        assert!(parse_start_at("2026-12-02T13:00:00+01:00", now).is_ok());
        assert!(
            parse_start_at("2026-12-02T11:59:59Z", now).is_ok(),
            "within the grace"
        );
        assert!(
            parse_start_at("2026-12-02T11:59:00Z", now)
                .unwrap_err()
                .contains("past")
        );
        assert!(
            parse_start_at("2026-12-04T12:00:00Z", now)
                .unwrap_err()
                .contains("24 hours")
        );
        assert!(
            parse_start_at("tomorrow", now)
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_start_at("-5", now).unwrap_err().contains("Unix"));
        let c = parse_start_at(&format!("{}.327", now.timestamp() + 10), now).unwrap();
        assert_eq!(c.timestamp_subsec_nanos(), 327_000_000, "no rounding");
        assert!(parse_start_at("1e9", now).is_err());
    }

    #[test]
    fn the_seed_of_a_run_id_is_stable() {
        assert_eq!(seed_of_run("abc"), seed_of_run("abc"));
        assert_ne!(seed_of_run("abc"), seed_of_run("abd"));
        assert!(check_run_id("job-1234").is_ok());
        assert!(check_run_id("").is_err());
        assert!(check_run_id("a b").is_err());
    }
}
