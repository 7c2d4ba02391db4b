//! What a run is asked to do, checked once: [`Settings`] (what a user gave,
//! from flags, a suite's run or a capacity step, with gaps) become a
//! validated [`StressConfig`] by [`StressConfig::from_settings`], the one
//! place that applies the defaults and the limits. A mistake names the
//! [`Field`] at fault; callers render it as their flag (`--qps`) or key
//! (`qps = …` at `file:line`).

use std::time::Duration;

use super::profile::{ClientRamp, RateProfile};
use super::schedule::Arrival;
use super::segment::Segment;
pub use super::think::ThinkTime;

/// Highest target rate one process accepts, arrivals per second. The
/// driver starts about 10^4–10^5 scenarios per second per CPU; beyond this
/// rate a run would only count dropped arrivals (segments spread more
/// across machines).
pub const MAX_QPS: f64 = 1_000_000.0;
/// Why [`MAX_QPS`] bounds a segmented run's whole rate, not a worker's share.
const RATE_LIMIT_NOTE: &str =
    "every worker of a segmented run draws the run's whole schedule, so the limit is the run's";
/// Most closed-model clients in one process.
pub const MAX_CLIENTS: usize = 100_000;
/// Most connections in one pool.
pub const MAX_POOL: usize = 10_000;
/// Most scenarios in flight (open model).
pub const MAX_INFLIGHT: usize = 1_000_000;
/// Most driver threads.
pub const MAX_THREADS: usize = 256;
/// The longest duration (run, warm-up, drain) accepted: 7 days.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 86400);
/// The coarsest `--timer-resolution`.
pub const MAX_TIMER_RESOLUTION: Duration = Duration::from_millis(100);

/// Defaults, used by every way of asking for a run.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(5);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_INFLIGHT: usize = 1000;

/// Connections when none are asked for: the closed model gives each
/// client one; the open model `max(8, 4 × CPUs)`.
pub fn default_pool(load: &Load) -> usize {
    match load {
        Load::Closed { clients, .. } => *clients,
        Load::Open { .. } => (4 * crate::sys::cpus()).max(8),
    }
}

/// Driver threads when none are asked for: one per 4 CPUs, since the
/// server usually shares the machine (pgbench's -j defaults to 1), and at
/// least 2 for the closed model. On 2 CPUs (pgbench_select.sql, 16
/// connections) two threads ran 50k queries/s against one's 41k, and 99k
/// against 85k with 64 clients pipelined; the open model at 10,000/s
/// needed about the same driver CPU per query either way, so it keeps one.
pub fn default_threads(load: &Load) -> usize {
    let per_cpus = (crate::sys::cpus() / 4).max(1);
    match load {
        Load::Closed { .. } => per_cpus.max(2),
        Load::Open { .. } => per_cpus,
    }
}

/// How load is offered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Load {
    /// Open model: arrivals on a schedule, whatever the server does.
    Open {
        /// The target arrival rate profile.
        profile: RateProfile,
        arrival: Arrival,
        /// Scenarios in flight at most; arrivals beyond are dropped (counted).
        max_inflight: usize,
    },
    /// Closed model: `clients` loops, each starting when the previous ended.
    Closed {
        clients: usize,
        /// `--client-stages`: how many of the clients run over time (not
        /// written to results files, which carry the stages instead).
        #[serde(skip)]
        ramp: Option<ClientRamp>,
        /// `--think-time`: a pause between one client's scenarios, not
        /// counted as latency.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        think: Option<ThinkTime>,
    },
}

impl Load {
    /// The closed model with `clients` clients throughout.
    pub fn closed(clients: usize) -> Load {
        Load::Closed {
            clients,
            ramp: None,
            think: None,
        }
    }

    /// Worker tasks the load needs: clients, or in-flight slots.
    pub fn workers(&self) -> usize {
        match self {
            Load::Open { max_inflight, .. } => (*max_inflight).max(1),
            Load::Closed { clients, .. } => (*clients).max(1),
        }
    }
}

/// A validated plan for one stress run (the `config` of results files).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StressConfig {
    #[serde(flatten)]
    pub load: Load,
    /// Measured time (after the warm-up).
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Time run before measuring; its statistics are discarded.
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// Connections in the pool.
    pub pool: usize,
    /// Seed of every random choice (arrivals, scenario mix, parameters).
    pub seed: u64,
    /// How long in-flight work may finish after the end before it is abandoned.
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// Open model: the timer wakes at most once per this long (0: at each
    /// intended start, to the kernel timer's precision); arrivals due within
    /// one period start together. None (`"adaptive"` in a results file, the
    /// default): precise at low rates, a period chosen from the rate at high
    /// ones (at most 500 µs). Files from before it are precise.
    #[serde(default = "precise", with = "timer_secs")]
    pub timer_resolution: Option<Duration>,
}

impl StressConfig {
    /// The configured target rate (open model; the mean rate of stages).
    pub fn target_qps(&self) -> Option<f64> {
        match &self.load {
            Load::Open { profile, .. } => {
                Some(profile.mean_rate((self.warmup + self.duration).as_secs_f64()))
            }
            Load::Closed { .. } => None,
        }
    }

    /// What worker `seg` of a run of this (whole) configuration runs, by
    /// the rule of [`Segment`]: the closed model's clients and pool are its
    /// share (at least one connection), the client ramp still counts global
    /// clients; the open model keeps the whole rate profile (the schedule
    /// hands the worker only its own arrivals), its own pool and in-flight
    /// slots. The one place the rule is applied to a configuration.
    pub fn for_segment(&self, seg: Segment) -> StressConfig {
        let mut c = self.clone();
        if let Load::Closed { clients, .. } = &mut c.load {
            *clients = seg.share(*clients);
            c.pool = seg.share(self.pool).max(1);
        }
        c
    }

    /// The rate profile worker `seg` is expected to carry, for its reports
    /// (target rates): the whole profile over N (open model).
    pub fn share_rate(&self, seg: Segment) -> Option<RateProfile> {
        match &self.load {
            Load::Open { profile, .. } => Some(profile.scaled(1.0 / f64::from(seg.count))),
            Load::Closed { .. } => None,
        }
    }

    /// Check `s` and fill its gaps with the defaults: the one way a
    /// [`StressConfig`] is made from what a user asked for.
    pub fn from_settings(s: &Settings) -> Result<StressConfig, ConfigError> {
        let load = load(s)?;
        if let (Load::Closed { clients, ramp, .. }, Some(n)) = (&load, s.segments)
            && *clients < n as usize
        {
            let (field, what) = match ramp {
                Some(_) => (Field::Stages, "clients at most"),
                None => (Field::Clients, "clients"),
            };
            return Err(field.err(format!(
                "{clients} {what} over {n} segments: a segment would have none (at least one \
                 client per segment)"
            )));
        }
        // The closed model's pool is split over the segments; the open
        // model's is each worker's own.
        let split = matches!(load, Load::Closed { .. });
        let local = |p: usize| if split { per_worker(p, s) } else { p };
        let pool = match s.pool {
            Some(0) => return Err(Field::Pool.err("must be at least 1")),
            Some(p) if local(p) > MAX_POOL => {
                return Err(Field::Pool.err(format!(
                    "{p}: more than {MAX_POOL} connections{}",
                    per_segment(s)
                )));
            }
            Some(p) => p,
            None => {
                let p = default_pool(&load);
                if local(p) > MAX_POOL {
                    return Err(Field::Clients.err(format!(
                        "{p} clients would each get a connection, more than {MAX_POOL}{}: give \
                         --pool N (clients beyond the pool share its connections, pipelined)",
                        per_segment(s)
                    )));
                }
                p
            }
        };
        let duration = s.duration.unwrap_or(DEFAULT_DURATION);
        if duration.is_zero() {
            return Err(Field::Duration.err("must be more than 0"));
        }
        let warmup = s.warmup.unwrap_or(DEFAULT_WARMUP);
        let drain_timeout = s.drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT);
        for (field, d) in [
            (Field::Duration, duration),
            (Field::Warmup, warmup),
            (Field::DrainTimeout, drain_timeout),
        ] {
            if d > MAX_DURATION {
                return Err(field.err(format!("{d:?} is longer than 7 days")));
            }
        }
        let timer_resolution = s.timer_resolution;
        let fixed = timer_resolution.unwrap_or_default();
        if fixed > MAX_TIMER_RESOLUTION {
            return Err(Field::TimerResolution.err(format!(
                "{fixed:?} is too coarse: at most 100ms (every latency would carry up \
                 to that much lag)"
            )));
        }
        if let Load::Open {
            profile,
            max_inflight,
            ..
        } = &load
        {
            // Workers claim arrivals up to one timer period ahead and sleep
            // on them: at the peak rate that many must fit in --max-inflight.
            // (The adaptive default chooses its period within that bound.)
            let asleep = per_worker_rate(profile.peak_rate(), s) * fixed.as_secs_f64();
            if asleep > *max_inflight as f64 / 2.0 {
                return Err(Field::TimerResolution.err(format!(
                    "{fixed:?} at {:.0}/s keeps about {asleep:.0} arrivals waiting for \
                     the next wake-up, more than half of --max-inflight {max_inflight}: use a \
                     finer --timer-resolution or a larger --max-inflight",
                    per_worker_rate(profile.peak_rate(), s)
                )));
            }
        }
        Ok(StressConfig {
            load,
            duration,
            warmup,
            pool,
            seed: s.seed.unwrap_or_else(rand::random),
            drain_timeout,
            timer_resolution,
        })
    }
}

/// The largest share of `n` items one worker of `s` gets (segment 0's,
/// by the rule of [`Segment`]); `n` when the run is not segmented.
fn per_worker(n: usize, s: &Settings) -> usize {
    n.div_ceil(s.segments.unwrap_or(1).max(1) as usize)
}

/// One worker's share of a rate.
fn per_worker_rate(r: f64, s: &Settings) -> f64 {
    r / f64::from(s.segments.unwrap_or(1).max(1))
}

/// " per segment" in a limit's message when the run is segmented.
fn per_segment(s: &Settings) -> &'static str {
    if s.segments.is_some_and(|n| n > 1) {
        " per segment"
    } else {
        ""
    }
}

/// The load of `s`, checked.
fn load(s: &Settings) -> Result<Load, ConfigError> {
    if let Some(ramp) = &s.ramp {
        let clients = ramp.max_clients();
        if clients == 0 {
            return Err(Field::Stages.err("every stage has 0 clients"));
        }
        if per_worker(clients, s) > MAX_CLIENTS {
            return Err(Field::Stages.err(format!(
                "{clients} clients: more than {MAX_CLIENTS}{}",
                per_segment(s)
            )));
        }
        return Ok(Load::Closed {
            clients,
            ramp: Some(ramp.clone()),
            think: s.think,
        });
    }
    let open = |profile: RateProfile| -> Result<Load, ConfigError> {
        if s.think.is_some() {
            return Err(Field::ThinkTime.err(
                "is for the closed model (--clients, --client-stages): an open model's arrivals \
                 follow the schedule, not the clients",
            ));
        }
        let max_inflight = s.max_inflight.unwrap_or(DEFAULT_MAX_INFLIGHT);
        if max_inflight == 0 {
            return Err(Field::MaxInflight.err("must be at least 1"));
        }
        if max_inflight > MAX_INFLIGHT {
            return Err(Field::MaxInflight.err(format!("{max_inflight}: more than {MAX_INFLIGHT}")));
        }
        Ok(Load::Open {
            profile,
            arrival: s.arrival.unwrap_or(Arrival::Poisson),
            max_inflight,
        })
    };
    if let Some(profile) = &s.profile {
        let peak = profile.peak_rate();
        if !(peak.is_finite() && peak <= MAX_QPS) {
            return Err(Field::Stages.err(format!(
                "a peak rate of {peak}/s: more than one process can schedule ({MAX_QPS}/s; \
                 {RATE_LIMIT_NOTE})"
            )));
        }
        return open(profile.clone());
    }
    match (s.qps, s.clients) {
        (Some(_), Some(_)) => {
            Err(Field::Qps
                .err("give either --qps (open model) or --clients (closed model), not both"))
        }
        (Some(q), None) => {
            if !(q > 0.0 && q.is_finite()) {
                return Err(Field::Qps.err(format!("{q}: must be a positive number")));
            }
            if q > MAX_QPS {
                return Err(Field::Qps.err(format!(
                    "{q}: more than one process can schedule ({MAX_QPS}/s; {RATE_LIMIT_NOTE})"
                )));
            }
            open(RateProfile::Constant { qps: q })
        }
        (None, Some(0)) => Err(Field::Clients.err("must be at least 1")),
        (None, Some(c)) if per_worker(c, s) > MAX_CLIENTS => {
            Err(Field::Clients.err(format!("{c}: more than {MAX_CLIENTS}{}", per_segment(s))))
        }
        (None, Some(c)) => Ok(Load::Closed {
            clients: c,
            ramp: None,
            think: s.think,
        }),
        (None, None) => {
            Err(Field::Qps.err("give either --qps N (open model) or --clients N (closed model)"))
        }
    }
}

/// Parse a duration as flags and suites write it: `90s`, `5m`, `1h`,
/// `500ms`, `250us`, or plain seconds; at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, mult) = [
        ("ms", 0.001),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ]
    .iter()
    .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((t, 1.0));
    let secs = num
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("invalid duration {s:?} (e.g. 30s, 5m, 500ms, 250us)"))?;
    match Duration::try_from_secs_f64(secs * mult) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("duration {s:?} is too long (at most 7 days)")),
    }
}

/// Parse a `--think-time`: `500ms`, `exp:500ms` or `uniform:200ms..800ms`.
pub fn parse_think_time(s: &str) -> Result<ThinkTime, String> {
    let t = s.trim();
    let secs = |v: &str| parse_duration(v).map(|d| d.as_secs_f64());
    let think = if let Some(m) = t.strip_prefix("exp:") {
        ThinkTime::Exp {
            mean_secs: secs(m)?,
        }
    } else if let Some(r) = t.strip_prefix("uniform:") {
        let (lo, hi) = r
            .split_once("..")
            .ok_or_else(|| format!("{s:?}: uniform needs a range, e.g. uniform:200ms..800ms"))?;
        let (lo, hi) = (secs(lo)?, secs(hi)?);
        if lo > hi {
            return Err(format!("{s:?}: the range runs backwards"));
        }
        ThinkTime::Uniform {
            lo_secs: lo,
            hi_secs: hi,
        }
    } else if t.contains(':') {
        return Err(format!(
            "{s:?}: unknown distribution (500ms, exp:500ms or uniform:200ms..800ms)"
        ));
    } else {
        ThinkTime::Constant { secs: secs(t)? }
    };
    Ok(think)
}

/// A number of driver threads asked for, checked.
pub fn check_threads(n: usize) -> Result<usize, ConfigError> {
    match n {
        0 => Err(Field::Threads.err("must be at least 1")),
        n if n > MAX_THREADS => Err(Field::Threads.err(format!("{n}: more than {MAX_THREADS}"))),
        n => Ok(n),
    }
}

/// What a user asked of a run, before defaults and checks. At most one of
/// `ramp` (closed model over time), `profile` (open model over time),
/// `qps` and `clients` describes the load.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub qps: Option<f64>,
    /// A staged open-model rate (overrides `qps`).
    pub profile: Option<RateProfile>,
    pub clients: Option<usize>,
    /// Closed-model clients over time (overrides `clients`).
    pub ramp: Option<ClientRamp>,
    pub arrival: Option<Arrival>,
    pub max_inflight: Option<usize>,
    pub pool: Option<usize>,
    pub duration: Option<Duration>,
    pub warmup: Option<Duration>,
    pub drain_timeout: Option<Duration>,
    pub timer_resolution: Option<Duration>,
    /// None: a random seed.
    pub seed: Option<u64>,
    /// Closed model: a pause between one client's scenarios.
    pub think: Option<ThinkTime>,
    /// Segments of a segmented run (N): the limits that protect one
    /// process apply to one worker's share (the largest, segment 0's).
    pub segments: Option<u32>,
}

/// A setting of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Qps,
    Clients,
    Stages,
    MaxInflight,
    Pool,
    Duration,
    Warmup,
    DrainTimeout,
    TimerResolution,
    Threads,
    ThinkTime,
}

impl Field {
    /// Its name in a suite file (`max_inflight`); the flag is `--` and the
    /// name with dashes.
    pub fn key(self) -> &'static str {
        match self {
            Field::Qps => "qps",
            Field::Clients => "clients",
            Field::Stages => "stages",
            Field::MaxInflight => "max_inflight",
            Field::Pool => "pool",
            Field::Duration => "duration",
            Field::Warmup => "warmup",
            Field::DrainTimeout => "drain_timeout",
            Field::TimerResolution => "timer_resolution",
            Field::Threads => "threads",
            Field::ThinkTime => "think_time",
        }
    }

    /// Its command-line flag (`--max-inflight`).
    pub fn flag(self) -> String {
        format!("--{}", self.key().replace('_', "-"))
    }

    fn err(self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: self,
            message: message.into(),
        }
    }
}

/// A setting that cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} {message}", field.key())]
pub struct ConfigError {
    pub field: Field,
    pub message: String,
}

impl ConfigError {
    /// The message as the command line says it: `--qps 0: must be …`.
    pub fn as_flag(&self) -> String {
        format!("{} {}", self.field.flag(), self.message)
    }
}

/// Durations as seconds (f64) in JSON.
/// A results file without `timer_resolution` was written by a precise timer.
fn precise() -> Option<Duration> {
    Some(Duration::ZERO)
}

/// `timer_resolution`: seconds, or `"adaptive"`.
mod timer_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::secs::serialize(d, s),
            None => s.serialize_str("adaptive"),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(f64),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(v) => Ok(Some(Duration::from_secs_f64(v.clamp(0.0, 1e9)))),
            Raw::Word(w) if w == "adaptive" => Ok(None),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "timer_resolution: {w:?} is neither seconds nor \"adaptive\""
            ))),
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(v.clamp(0.0, MAX_SECS)))
    }

    /// Far beyond any run, and still an `Instant` offset.
    const MAX_SECS: f64 = 1e9;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(qps: f64) -> Settings {
        Settings {
            qps: Some(qps),
            seed: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_applied_once() {
        let c = StressConfig::from_settings(&open(100.0)).unwrap();
        assert_eq!(c.duration, DEFAULT_DURATION);
        assert_eq!(c.warmup, DEFAULT_WARMUP);
        assert_eq!(c.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
        assert_eq!(c.pool, (4 * crate::sys::cpus()).max(8));
        assert!(matches!(
            c.load,
            Load::Open {
                max_inflight: 1000,
                arrival: Arrival::Poisson,
                ..
            }
        ));
        let c = StressConfig::from_settings(&Settings {
            clients: Some(12),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((c.pool, c.load.workers()), (12, 12));
    }

    #[test]
    fn every_limit_names_its_field() {
        let bad = |s: Settings| StressConfig::from_settings(&s).unwrap_err();
        assert_eq!(bad(open(0.0)).field, Field::Qps);
        assert_eq!(bad(open(f64::NAN)).field, Field::Qps);
        let e = bad(open(1e12));
        assert!(
            e.as_flag().starts_with("--qps 1000000000000: more than"),
            "{}",
            e.as_flag()
        );
        let e = bad(Settings {
            clients: Some(100_000),
            ..Default::default()
        });
        assert_eq!(e.field, Field::Clients);
        assert!(e.message.contains("--pool"), "{e}");
        assert!(
            StressConfig::from_settings(&Settings {
                clients: Some(100_000),
                pool: Some(100),
                ..Default::default()
            })
            .is_ok()
        );
        assert_eq!(
            bad(Settings {
                pool: Some(0),
                ..open(1.0)
            })
            .field,
            Field::Pool
        );
        assert_eq!(
            bad(Settings {
                max_inflight: Some(0),
                ..open(1.0)
            })
            .field,
            Field::MaxInflight
        );
        let e = bad(Settings {
            duration: Some(Duration::from_secs(99999 * 3600)),
            ..open(1.0)
        });
        assert_eq!(
            e.as_flag(),
            format!(
                "--duration {:?} is longer than 7 days",
                Duration::from_secs(99999 * 3600)
            )
        );
        assert_eq!(
            bad(Settings {
                duration: Some(Duration::ZERO),
                ..open(1.0)
            })
            .field,
            Field::Duration
        );
        let e = bad(Settings {
            timer_resolution: Some(Duration::from_millis(50)),
            max_inflight: Some(10),
            ..open(10_000.0)
        });
        assert_eq!(e.field, Field::TimerResolution);
        assert_eq!(bad(Settings::default()).field, Field::Qps);
        let e = bad(Settings {
            think: Some(ThinkTime::Constant { secs: 1.0 }),
            ..open(10.0)
        });
        assert!(
            e.as_flag()
                .starts_with("--think-time is for the closed model"),
            "{e}"
        );
        assert_eq!(
            check_threads(0).unwrap_err().as_flag(),
            "--threads must be at least 1"
        );
        assert_eq!(check_threads(257).unwrap_err().field, Field::Threads);
    }

    #[test]
    fn the_closed_model_splits_clients_and_pool_the_open_model_keeps_its_rate() {
        let whole = StressConfig::from_settings(&Settings {
            clients: Some(100_000),
            pool: Some(1000),
            seed: Some(1),
            segments: Some(16),
            ..Default::default()
        })
        .unwrap();
        let w = whole.for_segment(Segment::new(15, 16).unwrap());
        // Limits that protect one process apply to one worker's share:
        // 200,000 clients, one connection each, over 100 workers.
        let many = Settings {
            clients: Some(200_000),
            segments: Some(100),
            ..Default::default()
        };
        let c = StressConfig::from_settings(&many).unwrap();
        assert_eq!((c.pool, c.load.workers()), (200_000, 200_000));
        let last = c.for_segment(Segment::new(99, 100).unwrap());
        assert_eq!((last.pool, last.load.workers()), (2000, 2000));
        let e = StressConfig::from_settings(&Settings {
            segments: None,
            ..many.clone()
        })
        .unwrap_err();
        assert_eq!(e.field, Field::Clients);
        let e = StressConfig::from_settings(&Settings {
            segments: Some(10),
            ..many
        })
        .unwrap_err();
        assert!(e.message.contains("per segment"), "{e}");
        let e = StressConfig::from_settings(&Settings {
            clients: Some(2),
            segments: Some(3),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.as_flag()
                .starts_with("--clients 2 clients over 3 segments"),
            "{e}"
        );
        assert_eq!(w.load.workers(), 6250);
        assert_eq!(w.pool, 62);
        let open = StressConfig::from_settings(&Settings {
            qps: Some(9000.0),
            seed: Some(1),
            ..Default::default()
        })
        .unwrap();
        let seg = Segment::new(1, 3).unwrap();
        assert_eq!(open.for_segment(seg), open);
        assert_eq!(open.share_rate(seg).unwrap().peak_rate(), 3000.0);
    }

    #[test]
    fn the_three_forms_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_think_time("500ms").unwrap(),
            ThinkTime::Constant { secs: 0.5 }
        );
        assert_eq!(
            parse_think_time("exp:2s").unwrap(),
            ThinkTime::Exp { mean_secs: 2.0 }
        );
        assert_eq!(
            parse_think_time("uniform:200ms..800ms").unwrap(),
            ThinkTime::Uniform {
                lo_secs: 0.2,
                hi_secs: 0.8
            }
        );
        assert!(
            parse_think_time("uniform:800ms..200ms")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(
            parse_think_time("uniform:1s")
                .unwrap_err()
                .contains("range")
        );
        assert!(
            parse_think_time("gauss:1s")
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            parse_think_time("soon")
                .unwrap_err()
                .contains("invalid duration")
        );
        for s in ["500ms", "exp:1500ms", "uniform:200ms..800ms"] {
            let t = parse_think_time(s).unwrap();
            assert_eq!(parse_think_time(&t.to_string()).unwrap(), t, "{s}");
        }
    }

    #[test]
    fn a_client_ramp_is_a_closed_load_of_its_most_clients() {
        use super::super::profile::ClientStep;
        let ramp = ClientRamp {
            steps: vec![
                ClientStep {
                    secs: 1.0,
                    clients: 3,
                },
                ClientStep {
                    secs: 1.0,
                    clients: 5,
                },
            ],
        };
        let c = StressConfig::from_settings(&Settings {
            ramp: Some(ramp.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.load,
            Load::Closed {
                clients: 5,
                ramp: Some(ramp),
                think: None,
            }
        );
        assert_eq!(c.pool, 5);
    }
}
