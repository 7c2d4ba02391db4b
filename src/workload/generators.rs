//! Parameter generators: the functions a `-- @param` line may call, their
//! argument parsing (`int(1, 100)`, `zipf(1, 10000, 1.1)`,
//! `choice('dog':5, 'cat':3)`, `timestamp(-30d, +7d)`, `pet_of(clinic)`,
//! `pick(users)` …) and their evaluation with a caller-owned RNG.

use fake::Fake;
use rand::RngExt;
use rand::rngs::SmallRng;

use super::model::{ModelSet, RunData};
use super::value::Value;

/// Names of every generator, for "unknown generator" messages.
pub const NAMES: &[&str] = &[
    "int",
    "float",
    "zipf",
    "choice",
    "bool",
    "uuid",
    "word",
    "words",
    "sentence",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "now",
    "timestamp",
    "const",
    "clinic",
    "pet_of",
    "user_of",
    "vet_of",
    "owner_of",
    "service_of",
    "pick",
];

static UUID_SALT: std::sync::OnceLock<u128> = std::sync::OnceLock::new();

/// A parsed generator.
#[derive(Debug, Clone)]
pub enum Generator {
    Int {
        lo: i64,
        hi: i64,
    },
    Float {
        lo: f64,
        hi: f64,
    },
    Zipf {
        lo: i64,
        zipf: Zipf,
    },
    Choice {
        values: Vec<Value>,
        cumulative: Vec<f64>,
    },
    Bool {
        p: f64,
    },
    Uuid,
    Word,
    Words {
        n: usize,
    },
    Sentence,
    FirstName,
    LastName,
    Name,
    Email,
    Phone,
    /// `now()` plus an offset in seconds.
    Now {
        offset: f64,
    },
    /// Uniform between two offsets from now, in seconds.
    Timestamp {
        from: f64,
        to: f64,
    },
    Const(Value),
    /// A clinic id, weighted by the clinic's number of pets.
    Clinic,
    /// An id of `set` belonging to the clinic in slot `clinic`.
    OfClinic {
        set: ModelSet,
        clinic: usize,
    },
    /// A random row of start-up sample `sample` (one column per target slot).
    Pick {
        sample: usize,
    },
}

/// Zipf distribution over ranks 1..=n with exponent s (rejection-inversion,
/// Hörmann & Derflinger; as in Apache Commons RNG). O(1) memory, any n.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    sv: f64,
}

fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

impl Zipf {
    /// `n` ≥ 1 ranks, exponent `s` > 0.
    pub fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            sv: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.sv = 2.0 - z.h_integral_inv(z.h_integral(2.5) - z.h(2.0));
        z
    }
    fn h_integral(&self, x: f64) -> f64 {
        let lx = x.ln();
        helper2((1.0 - self.s) * lx) * lx
    }
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }
    fn h_integral_inv(&self, x: f64) -> f64 {
        let mut t = x * (1.0 - self.s);
        if t < -1.0 {
            t = -1.0;
        }
        (helper1(t) * x).exp()
    }
    /// A rank in 1..=n; rank 1 is the most likely.
    pub fn sample(&self, rng: &mut SmallRng) -> u64 {
        loop {
            let u: f64 = self.h_n + rng.random::<f64>() * (self.h_x1 - self.h_n);
            let x = self.h_integral_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.sv || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// A token of a generator's argument list.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Num(f64),
    Str(String),
    Ident(String),
    /// A duration in seconds, written like `-30d`, `+2h`, `15m`, `90s`, `1w`.
    Dur(f64),
    Weighted(Box<Arg>, f64),
}

fn parse_scalar(t: &str) -> Result<Arg, String> {
    let t = t.trim();
    if t.is_empty() {
        return Err("empty argument".into());
    }
    if let Some(inner) = t.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| format!("unterminated string {t}"))?;
        return Ok(Arg::Str(inner.replace("''", "'")));
    }
    if let Ok(n) = t.parse::<f64>() {
        if !n.is_finite() {
            return Err(format!("{t}: numbers must be finite"));
        }
        return Ok(Arg::Num(n));
    }
    let units = [
        ("ms", 0.001),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
        ("d", 86400.0),
        ("w", 604800.0),
    ];
    for (u, mult) in units {
        if let Some(num) = t.strip_suffix(u)
            && let Ok(n) = num.parse::<f64>()
        {
            if !(n * mult).is_finite() {
                return Err(format!("{t}: durations must be finite"));
            }
            return Ok(Arg::Dur(n * mult));
        }
    }
    if t.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Ok(Arg::Ident(t.to_string()));
    }
    Err(format!("cannot read argument {t:?}"))
}

/// Split on top-level commas (not inside quotes).
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut q = false;
    for c in s.chars() {
        match c {
            '\'' => {
                q = !q;
                cur.push(c);
            }
            ',' if !q => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if q {
        return Err("unterminated string".into());
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn parse_arg(t: &str) -> Result<Arg, String> {
    // `value:weight` (choice) — the colon outside quotes.
    let mut q = false;
    for (i, c) in t.char_indices() {
        match c {
            '\'' => q = !q,
            ':' if !q => {
                let v = parse_scalar(&t[..i])?;
                let w: f64 = t[i + 1..]
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad weight {:?}", t[i + 1..].trim()))?;
                if !(w.is_finite() && w > 0.0) {
                    return Err(format!("bad weight {w}: must be a positive number"));
                }
                return Ok(Arg::Weighted(Box::new(v), w));
            }
            _ => {}
        }
    }
    parse_scalar(t)
}

fn value_of(a: &Arg) -> Result<Value, String> {
    Ok(match a {
        Arg::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::Int(*n as i64),
        Arg::Num(n) => Value::Float(*n),
        Arg::Str(s) => Value::Text(s.clone()),
        Arg::Ident(i) if i == "true" => Value::Bool(true),
        Arg::Ident(i) if i == "false" => Value::Bool(false),
        Arg::Ident(i) if i == "null" => Value::Null,
        other => return Err(format!("expected a literal, got {other:?}")),
    })
}

fn num(a: &Arg, what: &str) -> Result<f64, String> {
    match a {
        Arg::Num(n) => Ok(*n),
        _ => Err(format!("{what} must be a number")),
    }
}
/// Integers are read as f64: beyond ±2^53 they are no longer exact.
const MAX_INT: f64 = 9_007_199_254_740_992.0;
/// Time offsets of now()/timestamp() are bounded to ±100 years.
const MAX_OFFSET_SECS: f64 = 100.0 * 365.25 * 86400.0;

fn int(a: &Arg, what: &str) -> Result<i64, String> {
    let n = num(a, what)?;
    if n.fract() != 0.0 {
        return Err(format!("{what} must be an integer"));
    }
    if n.abs() > MAX_INT {
        return Err(format!("{what} {n} is out of range (at most ±2^53)"));
    }
    Ok(n as i64)
}
fn offset(a: &Arg) -> Result<f64, String> {
    match a {
        Arg::Dur(d) if d.abs() > MAX_OFFSET_SECS => {
            Err("offset out of range: at most 100 years either way".into())
        }
        Arg::Dur(d) => Ok(*d),
        Arg::Num(n) if *n == 0.0 => Ok(0.0),
        _ => Err("expected an offset like -30d, +2h, 15m, 90s".into()),
    }
}

/// Parse `name(args)`. `var` resolves a variable name to its slot (only
/// variables defined earlier are visible); `sample` a sample name to its index.
pub fn parse_generator(
    spec: &str,
    var: &dyn Fn(&str) -> Option<usize>,
    sample: &dyn Fn(&str) -> Option<usize>,
) -> Result<Generator, String> {
    let spec = spec.trim();
    let (name, rest) = match spec.find('(') {
        Some(i) => (spec[..i].trim(), &spec[i + 1..]),
        None => return Err(format!("expected generator(args), got {spec:?}")),
    };
    let inner = rest
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(|| format!("missing ')' in {spec:?}"))?;
    let args: Vec<Arg> = split_args(inner)?
        .iter()
        .map(|a| parse_arg(a))
        .collect::<Result<_, _>>()?;
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name}() takes {n} argument{}, got {}",
                if n == 1 { "" } else { "s" },
                args.len()
            ))
        }
    };
    let clinic_var = |set: ModelSet| -> Result<Generator, String> {
        want(1)?;
        match &args[0] {
            Arg::Ident(v) => var(v)
                .map(|clinic| Generator::OfClinic { set, clinic })
                .ok_or_else(|| format!("undefined variable {v} (define it on an earlier line)")),
            _ => Err(format!("{name}() takes a variable holding a clinic id")),
        }
    };
    Ok(match name {
        "int" => {
            want(2)?;
            let (lo, hi) = (int(&args[0], "lo")?, int(&args[1], "hi")?);
            if lo > hi {
                return Err(format!("int({lo}, {hi}): lo > hi"));
            }
            Generator::Int { lo, hi }
        }
        "float" => {
            want(2)?;
            let (lo, hi) = (num(&args[0], "lo")?, num(&args[1], "hi")?);
            if lo > hi {
                return Err(format!("float({lo}, {hi}): lo > hi"));
            }
            if !(hi - lo).is_finite() {
                return Err(format!("float({lo}, {hi}): range too wide"));
            }
            Generator::Float { lo, hi }
        }
        "zipf" => {
            want(3)?;
            let (lo, hi) = (int(&args[0], "lo")?, int(&args[1], "hi")?);
            let s = num(&args[2], "exponent")?;
            if lo > hi {
                return Err(format!("zipf({lo}, {hi}, …): lo > hi"));
            }
            if !(s > 0.0 && s.is_finite()) {
                return Err(format!("zipf exponent {s} must be > 0"));
            }
            let n = hi
                .checked_sub(lo)
                .and_then(|d| d.checked_add(1))
                .ok_or_else(|| format!("zipf({lo}, {hi}, …): range too wide"))?;
            Generator::Zipf {
                lo,
                zipf: Zipf::new(n as u64, s),
            }
        }
        "choice" => {
            if args.is_empty() {
                return Err("choice() needs at least one value".into());
            }
            let mut values = Vec::new();
            let mut cumulative = Vec::new();
            let mut total = 0.0;
            for a in &args {
                let (v, w) = match a {
                    Arg::Weighted(v, w) => (value_of(v)?, *w),
                    other => (value_of(other)?, 1.0),
                };
                total += w;
                values.push(v);
                cumulative.push(total);
            }
            Generator::Choice { values, cumulative }
        }
        "bool" => {
            want(1)?;
            let p = num(&args[0], "probability")?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("bool({p}): probability must be within 0..1"));
            }
            Generator::Bool { p }
        }
        "uuid" => want(0).map(|_| Generator::Uuid)?,
        "word" => want(0).map(|_| Generator::Word)?,
        "words" => {
            want(1)?;
            let n = int(&args[0], "count")?;
            if !(1..=100).contains(&n) {
                return Err("words(n): n must be within 1..100".into());
            }
            Generator::Words { n: n as usize }
        }
        "sentence" => want(0).map(|_| Generator::Sentence)?,
        "first_name" => want(0).map(|_| Generator::FirstName)?,
        "last_name" => want(0).map(|_| Generator::LastName)?,
        "name" => want(0).map(|_| Generator::Name)?,
        "email" => want(0).map(|_| Generator::Email)?,
        "phone" => want(0).map(|_| Generator::Phone)?,
        "now" => match args.len() {
            0 => Generator::Now { offset: 0.0 },
            1 => Generator::Now {
                offset: offset(&args[0])?,
            },
            n => return Err(format!("now() takes 0 or 1 argument, got {n}")),
        },
        "timestamp" => {
            want(2)?;
            let (from, to) = (offset(&args[0])?, offset(&args[1])?);
            if from > to {
                return Err("timestamp(from, to): from is after to".into());
            }
            Generator::Timestamp { from, to }
        }
        "const" => {
            want(1)?;
            Generator::Const(value_of(&args[0])?)
        }
        "clinic" => want(0).map(|_| Generator::Clinic)?,
        "pet_of" => clinic_var(ModelSet::Pets)?,
        "user_of" => clinic_var(ModelSet::Users)?,
        "vet_of" => clinic_var(ModelSet::Vets)?,
        "owner_of" => clinic_var(ModelSet::Owners)?,
        "service_of" => clinic_var(ModelSet::Services)?,
        "pick" => {
            want(1)?;
            match &args[0] {
                Arg::Ident(s) => Generator::Pick {
                    sample: sample(s).ok_or_else(|| {
                        format!(
                            "unknown sample {s} (define it with `-- @sample {s} = SELECT …` above)"
                        )
                    })?,
                },
                _ => return Err("pick() takes a sample name".into()),
            }
        }
        other => {
            return Err(format!(
                "unknown generator {other}(); known: {}",
                NAMES.join(", ")
            ));
        }
    })
}

impl Generator {
    /// Number of variables the generator assigns (`pick` may assign several).
    pub fn multi(&self) -> bool {
        matches!(self, Generator::Pick { .. })
    }

    /// Draw a value into `slots[targets…]`.
    pub fn eval(&self, rng: &mut SmallRng, data: &RunData, slots: &mut [Value], targets: &[usize]) {
        let v = match self {
            Generator::Pick { sample } => {
                let rows = &data.samples[*sample];
                if rows.is_empty() {
                    for t in targets {
                        slots[*t] = Value::Null;
                    }
                    return;
                }
                let row = &rows[rng.random_range(0..rows.len())];
                for (i, t) in targets.iter().enumerate() {
                    slots[*t] = row.get(i).cloned().unwrap_or(Value::Null);
                }
                return;
            }
            Generator::Int { lo, hi } => Value::Int(rng.random_range(*lo..=*hi)),
            Generator::Float { lo, hi } => Value::Float(if lo == hi {
                *lo
            } else {
                rng.random_range(*lo..*hi)
            }),
            Generator::Zipf { lo, zipf } => Value::Int(lo + zipf.sample(rng) as i64 - 1),
            Generator::Choice { values, cumulative } => {
                let total = *cumulative.last().unwrap();
                let x = rng.random::<f64>() * total;
                let i = cumulative
                    .partition_point(|c| *c <= x)
                    .min(values.len() - 1);
                values[i].clone()
            }
            Generator::Bool { p } => Value::Bool(rng.random_bool(*p)),
            Generator::Uuid => {
                // Salted per process: unique keys stay unique across runs
                // that reuse a --seed.
                let salt = *UUID_SALT.get_or_init(rand::random::<u128>);
                let bytes = (rng.random::<u128>() ^ salt).to_le_bytes();
                Value::Uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }
            Generator::Word => Value::Text(fake::faker::lorem::en::Word().fake_with_rng(rng)),
            Generator::Words { n } => {
                let w: Vec<String> = fake::faker::lorem::en::Words(*n..*n + 1).fake_with_rng(rng);
                Value::Text(w.join(" "))
            }
            Generator::Sentence => {
                Value::Text(fake::faker::lorem::en::Sentence(4..10).fake_with_rng(rng))
            }
            Generator::FirstName => {
                Value::Text(fake::faker::name::en::FirstName().fake_with_rng(rng))
            }
            Generator::LastName => {
                Value::Text(fake::faker::name::en::LastName().fake_with_rng(rng))
            }
            Generator::Name => Value::Text(fake::faker::name::en::Name().fake_with_rng(rng)),
            Generator::Email => {
                let e: String = fake::faker::internet::en::SafeEmail().fake_with_rng(rng);
                Value::Text(e.to_lowercase())
            }
            Generator::Phone => {
                Value::Text(fake::faker::phone_number::en::PhoneNumber().fake_with_rng(rng))
            }
            Generator::Now { offset } => Value::Timestamp(
                data.now() + chrono::Duration::milliseconds((offset * 1000.0) as i64),
            ),
            Generator::Timestamp { from, to } => {
                let off = if from == to {
                    *from
                } else {
                    rng.random_range(*from..*to)
                };
                Value::Timestamp(data.now() + chrono::Duration::milliseconds((off * 1000.0) as i64))
            }
            Generator::Const(v) => v.clone(),
            Generator::Clinic => data.model.clinic(rng),
            Generator::OfClinic { set, clinic } => data.model.of_clinic(*set, &slots[*clinic], rng),
        };
        slots[targets[0]] = v;
    }

    /// The model sets this generator needs loaded at start-up.
    pub fn needs(&self) -> Option<ModelSet> {
        match self {
            Generator::OfClinic { set, .. } => Some(*set),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn gen_of(spec: &str) -> Result<Generator, String> {
        parse_generator(spec, &|v| (v == "c").then_some(0), &|s| {
            (s == "users").then_some(0)
        })
    }

    #[test]
    fn rejects_non_finite_numbers_huge_offsets_and_overflowing_ranges() {
        for (spec, want) in [
            ("float(0, inf)", "finite"),
            ("float(NaN, 1)", "finite"),
            ("float(-1e308, 1e308)", "range too wide"),
            ("zipf(1, 1e999, 1.1)", "finite"),
            ("zipf(1, 10, NaN)", "finite"),
            ("int(-1e300, 1e300)", "out of range"),
            ("bool(NaN)", "finite"),
            ("now(+1e9d)", "100 years"),
            ("timestamp(-1e300s, 0)", "100 years"),
            ("now(infd)", "finite"),
        ] {
            let e = gen_of(spec)
                .err()
                .unwrap_or_else(|| panic!("{spec} accepted"));
            assert!(e.contains(want), "{spec}: {e}");
        }
        // Within the bounds, sampling does not panic.
        let mut rng = SmallRng::seed_from_u64(1);
        let data = RunData::default();
        for spec in [
            "now(-36500d)",
            "timestamp(-36500d, +36500d)",
            "float(-1e300, 1e300)",
            "zipf(-9007199254740992, 9007199254740992, 1.1)",
        ] {
            let g = gen_of(spec).unwrap();
            let mut slots = vec![Value::Null];
            g.eval(&mut rng, &data, &mut slots, &[0]);
        }
    }

    #[test]
    fn time_generators_follow_the_workload_clock() {
        let mut rng = SmallRng::seed_from_u64(1);
        let data = RunData {
            clock_offset_ms: -400 * 86_400_000,
            ..Default::default()
        };
        let wall = chrono::Utc::now();
        for spec in ["now()", "now(+1h)", "timestamp(-1d, +1d)"] {
            let mut slots = vec![Value::Null];
            gen_of(spec)
                .unwrap()
                .eval(&mut rng, &data, &mut slots, &[0]);
            let Value::Timestamp(t) = slots[0] else {
                panic!("{spec}: {:?}", slots[0])
            };
            let days = (wall - t).num_days();
            assert!((398..=401).contains(&days), "{spec}: {days} days back");
        }
    }

    #[test]
    fn parses_known_generators_and_rejects_bad_ones() {
        assert!(matches!(
            gen_of("int(1, 10)"),
            Ok(Generator::Int { lo: 1, hi: 10 })
        ));
        assert!(gen_of("zipf(1, 1000, 1.1)").is_ok());
        assert!(gen_of("choice('dog':5, 'cat':3, 'it''s')").is_ok());
        assert!(
            matches!(gen_of("timestamp(-30d, +2h)"), Ok(Generator::Timestamp { from, to }) if from == -30.0 * 86400.0 && to == 7200.0)
        );
        assert!(matches!(
            gen_of("pet_of(c)"),
            Ok(Generator::OfClinic {
                set: ModelSet::Pets,
                clinic: 0
            })
        ));
        assert!(matches!(
            gen_of("pick(users)"),
            Ok(Generator::Pick { sample: 0 })
        ));
        assert!(
            gen_of("nope(1)")
                .unwrap_err()
                .contains("unknown generator nope()")
        );
        assert!(gen_of("int(5, 1)").unwrap_err().contains("lo > hi"));
        assert!(gen_of("choice('a':0)").unwrap_err().contains("bad weight"));
        assert!(gen_of("choice('a':x)").unwrap_err().contains("bad weight"));
        assert!(
            gen_of("pet_of(d)")
                .unwrap_err()
                .contains("undefined variable d")
        );
        assert!(
            gen_of("pick(pets)")
                .unwrap_err()
                .contains("unknown sample pets")
        );
        assert!(gen_of("int(1)").unwrap_err().contains("takes 2 arguments"));
    }

    #[test]
    fn zipf_is_skewed_like_the_law() {
        let z = Zipf::new(100, 1.0);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0u32; 101];
        let n = 200_000;
        for _ in 0..n {
            let k = z.sample(&mut rng);
            assert!((1..=100).contains(&k));
            counts[k as usize] += 1;
        }
        // P(k) ∝ 1/k: rank 1 about twice rank 2 and ten times rank 10.
        let r2 = counts[1] as f64 / counts[2] as f64;
        let r10 = counts[1] as f64 / counts[10] as f64;
        assert!((r2 - 2.0).abs() < 0.15, "ratio 1:2 = {r2}");
        assert!((r10 - 10.0).abs() < 1.2, "ratio 1:10 = {r10}");
        // Harmonic number H_100 ≈ 5.187: P(1) ≈ 0.193.
        let p1 = counts[1] as f64 / n as f64;
        assert!((p1 - 0.193).abs() < 0.01, "p1 = {p1}");
    }

    #[test]
    fn generators_are_deterministic_with_a_seed() {
        let data = RunData::default();
        let gens = [
            gen_of("int(1, 1000000)").unwrap(),
            gen_of("zipf(1, 1000, 1.2)").unwrap(),
            gen_of("name()").unwrap(),
            gen_of("email()").unwrap(),
            gen_of("uuid()").unwrap(),
            gen_of("choice('a':1, 'b':2)").unwrap(),
        ];
        let draw = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut slots = vec![Value::Null; 1];
            let mut out = Vec::new();
            for _ in 0..20 {
                for g in &gens {
                    g.eval(&mut rng, &data, &mut slots, &[0]);
                    out.push(slots[0].clone());
                }
            }
            out
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn choice_follows_weights() {
        let g = gen_of("choice('a':3, 'b':1)").unwrap();
        let data = RunData::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut slots = vec![Value::Null];
        let mut a = 0;
        for _ in 0..40_000 {
            g.eval(&mut rng, &data, &mut slots, &[0]);
            if slots[0] == Value::Text("a".into()) {
                a += 1;
            }
        }
        let frac = a as f64 / 40_000.0;
        assert!((frac - 0.75).abs() < 0.015, "{frac}");
    }
}
