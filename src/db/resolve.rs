//! Which server a command talks to, resolved as libpq does. Each parameter
//! takes the first value found in, in order:
//!
//! 1. the connection flags (`-h/--host`, `-p/--port`, `-U/--username`) and
//!    `-d/--url` (a URL, a conninfo string or a bare database name; it must
//!    not contradict the flags), else `DATABASE_URL`;
//! 2. the connection service (`service=` in those, else `PGSERVICE`) from the
//!    service file;
//! 3. the libpq variables (`PGHOST`, `PGPORT`, …).
//!
//! A password still missing is then looked up in the password file. When
//! nothing at all names a server, the caller may use its own default (the
//! managed local cluster); anything that names one — a flag, a URL, a
//! service, `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE`, `PGUSER` — rules
//! that out.

use super::pgpass;
use super::service;
use super::target::{Target, TargetError, parse_params, parse_port};

/// What the user wrote on the command line.
#[derive(Debug, Clone, Default)]
pub struct Explicit<'a> {
    /// `-d/--url`.
    pub url: Option<&'a str>,
    /// `-h/--host`.
    pub host: Option<&'a str>,
    /// `-p/--port`.
    pub port: Option<&'a str>,
    /// `-U/--username`.
    pub user: Option<&'a str>,
}

/// The resolved target (`None`: nothing named a server) and warnings for
/// the user (e.g. a password file that was ignored).
#[derive(Debug)]
pub struct Resolved {
    pub target: Option<Target>,
    pub warnings: Vec<String>,
}

/// libpq variables and the keyword each one sets. `PGHOSTADDR` comes after
/// `PGHOST` so that, as in libpq, it is the address connected to.
const ENV_PARAMS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "host"),
    ("PGPORT", "port"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGDATABASE", "dbname"),
    ("PGSSLMODE", "sslmode"),
    ("PGAPPNAME", "application_name"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGOPTIONS", "options"),
];

/// Variables that name a server: any of them rules out the local cluster.
const NAMING_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSERVICE",
];

/// One parameter value and where it came from (a flag, a variable,
/// `FILE:LINE`), for messages.
struct Setting {
    key: String,
    value: String,
    origin: String,
}

/// `hostaddr` is the address connected to: one field with `host`.
fn canonical(key: &str) -> &str {
    if key == "hostaddr" { "host" } else { key }
}

/// Resolve the target from the command line and the environment (`env`
/// reads a variable; empty values count as unset, as in libpq).
pub fn resolve(
    explicit: &Explicit,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, TargetError> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let (mut settings, mut named) = explicit_settings(explicit, &env)?;
    let service = take(&mut settings, "service")
        .map(|s| s.value)
        .or_else(|| env("PGSERVICE"));
    if let Some(name) = &service {
        add_service(&mut settings, name, &env)?;
    }
    named = named || service.is_some() || NAMING_VARS.iter().any(|v| env(v).is_some());
    if !named {
        return Ok(Resolved {
            target: None,
            warnings: Vec::new(),
        });
    }
    add_environment(&mut settings, &env);
    let passfile = take(&mut settings, "passfile")
        .map(|s| s.value)
        .or_else(|| env("PGPASSFILE"));
    let mut target = Target::default();
    for s in settings {
        target
            .set(&s.key, s.value)
            .map_err(|e| e.within(&s.origin))?;
    }
    let mut warnings = Vec::new();
    if target.password.as_deref().is_none_or(str::is_empty)
        && let Some(path) = pgpass::path(passfile.as_deref(), &env)
        && let Some(w) = password_from_file(&mut target, path)
    {
        warnings.push(w);
    }
    Ok(Resolved {
        target: Some(target),
        warnings,
    })
}

/// Layer 1: the flags, then the `--url` string (or `DATABASE_URL`), and
/// whether any was given (`postgresql://` alone names libpq's default
/// server, not the local cluster).
fn explicit_settings(
    explicit: &Explicit,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<Setting>, bool), TargetError> {
    let mut settings: Vec<Setting> = Vec::new();
    for (flag, key, value) in [
        ("-h/--host", "host", explicit.host),
        ("-p/--port", "port", explicit.port),
        ("-U/--username", "user", explicit.user),
    ] {
        if let Some(v) = value {
            if key == "port" {
                parse_port(v, "port").map_err(|e| e.within(flag))?;
            }
            settings.push(setting(key, v, flag));
        }
    }
    let (url, origin) = match explicit.url {
        Some(u) => (Some(u.to_string()), "--url"),
        None => (env("DATABASE_URL"), "DATABASE_URL"),
    };
    let Some(url) = url else {
        let named = !settings.is_empty();
        return Ok((settings, named));
    };
    let written = parse_params(&url).map_err(|e| e.within(origin))?;
    if explicit.url.is_some() {
        check_flags_agree(&settings, &written)?;
    }
    for (k, v) in written {
        // Within one string a later value overrides an earlier one; a flag
        // beats DATABASE_URL.
        let k = canonical(&k).to_string();
        settings.retain(|s| s.key != k || s.origin != origin);
        if !settings.iter().any(|s| s.key == k) {
            settings.push(setting(&k, &v, origin));
        }
    }
    Ok((settings, true))
}

/// Layer 2: the parameters of service `name` not already set.
fn add_service(
    settings: &mut Vec<Setting>,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TargetError> {
    for e in service::lookup(name, env)? {
        let key = canonical(&e.key).to_string();
        if !settings.iter().any(|s| s.key == key) {
            let origin = format!("service \"{name}\" ({})", e.origin);
            settings.push(setting(&key, &e.value, &origin));
        }
    }
    Ok(())
}

/// Layer 3: the libpq variables, for parameters not already set.
fn add_environment(settings: &mut Vec<Setting>, env: &dyn Fn(&str) -> Option<String>) {
    let from_env = |s: &Setting| ENV_PARAMS.iter().any(|(v, _)| *v == s.origin);
    for (var, key) in ENV_PARAMS {
        if let Some(v) = env(var) {
            // A later variable for the same field (PGHOSTADDR) overrides an
            // earlier one, but never a value from layers 1 and 2.
            settings.retain(|s| s.key != *key || !from_env(s));
            if !settings.iter().any(|s| s.key == *key) {
                settings.push(setting(key, &v, var));
            }
        }
    }
}

/// Fill the target's password from the password file at `path`; returns a
/// warning when the file was ignored.
fn password_from_file(target: &mut Target, path: std::path::PathBuf) -> Option<String> {
    let key = pgpass::Key::new(
        target.host.as_deref(),
        target.port_or_default(),
        &target.dbname_or_default(),
        &target.user_or_default(),
    );
    match pgpass::lookup(&path, &key) {
        pgpass::Lookup::Found(p) => {
            target.password = Some(p);
            target.passfile = Some(path);
            None
        }
        pgpass::Lookup::NotFound => None,
        pgpass::Lookup::Ignored(w) => Some(w),
    }
}

fn setting(key: &str, value: &str, origin: &str) -> Setting {
    Setting {
        key: key.to_string(),
        value: value.to_string(),
        origin: origin.to_string(),
    }
}

/// Remove `key`'s setting and return it.
fn take(settings: &mut Vec<Setting>, key: &str) -> Option<Setting> {
    let i = settings.iter().position(|s| s.key == key)?;
    Some(settings.remove(i))
}

/// A flag and `--url` may both set a parameter only to the same value.
fn check_flags_agree(flags: &[Setting], written: &[(String, String)]) -> Result<(), TargetError> {
    for f in flags {
        // The last value the string gives the key is the one it means.
        let url_value = written
            .iter()
            .rev()
            .find(|(k, _)| canonical(k) == f.key)
            .map(|(_, v)| v);
        if let Some(u) = url_value {
            let same = if f.key == "port" {
                u.parse::<u16>().ok() == f.value.parse::<u16>().ok()
            } else {
                *u == f.value
            };
            if !same {
                let flag = match f.key.as_str() {
                    "host" => "-h/--host",
                    "port" => "-p/--port",
                    _ => "-U/--username",
                };
                return Err(TargetError::Conflict {
                    flag,
                    key: f.key.clone(),
                    flag_value: f.value.clone(),
                    url_value: u.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::target::SslMode;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn url(u: &str) -> Explicit<'_> {
        Explicit {
            url: Some(u),
            ..Default::default()
        }
    }

    fn target(e: &Explicit, env: &[(&str, &str)]) -> Option<Target> {
        resolve(e, &env_of(env)).unwrap().target
    }

    #[test]
    fn env_layering() {
        // Nothing set: the caller's default (the local cluster).
        assert_eq!(target(&Explicit::default(), &[]), None);
        // A URL with nothing in it names libpq's default server.
        assert_eq!(target(&url("postgresql://"), &[]), Some(Target::default()));
        // Variables that do not name a server do not count.
        assert_eq!(
            target(
                &Explicit::default(),
                &[("PGPASSWORD", "x"), ("PGSSLMODE", "require")]
            ),
            None
        );
        let t = target(
            &Explicit::default(),
            &[
                ("PGHOST", "/sock"),
                ("PGPORT", "5444"),
                ("PGUSER", "u"),
                ("PGPASSWORD", "pw"),
                ("PGDATABASE", "d"),
                ("PGSSLMODE", "disable"),
            ],
        )
        .unwrap();
        assert_eq!(t.host.as_deref(), Some("/sock"));
        assert_eq!(t.port, Some(5444));
        assert_eq!(t.password.as_deref(), Some("pw"));
        assert_eq!(t.sslmode, SslMode::Disable);
        // DATABASE_URL beats PG*, PG* fills gaps.
        let t = target(
            &Explicit::default(),
            &[
                ("DATABASE_URL", "postgres://h1/d1"),
                ("PGHOST", "h2"),
                ("PGUSER", "u2"),
            ],
        )
        .unwrap();
        assert_eq!(t.host.as_deref(), Some("h1"));
        assert_eq!(t.user.as_deref(), Some("u2"));
        // --url beats DATABASE_URL; its sslmode beats PGSSLMODE.
        let t = target(
            &url("host=h3 sslmode=require"),
            &[
                ("DATABASE_URL", "postgres://h1/d1"),
                ("PGSSLMODE", "disable"),
            ],
        )
        .unwrap();
        assert_eq!(t.host.as_deref(), Some("h3"));
        assert_eq!(t.dbname, None);
        assert_eq!(t.sslmode, SslMode::Require);
        // A value that merely contains "sslmode" does not block PGSSLMODE.
        let t = target(
            &url("host=h dbname=sslmode_tests"),
            &[("PGSSLMODE", "require")],
        )
        .unwrap();
        assert_eq!(t.sslmode, SslMode::Require);
        // PGHOSTADDR is the address connected to.
        let t = target(
            &Explicit::default(),
            &[("PGHOST", "name"), ("PGHOSTADDR", "10.0.0.1")],
        )
        .unwrap();
        assert_eq!(t.host.as_deref(), Some("10.0.0.1"));
        // Bad values name their origin.
        let e = resolve(&Explicit::default(), &env_of(&[("PGPORT", "abc")])).unwrap_err();
        assert!(e.to_string().contains("PGPORT"), "{e}");
        let e = resolve(
            &Explicit::default(),
            &env_of(&[("DATABASE_URL", "postgres://h:x/d")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("DATABASE_URL: ") && e.to_string().contains("port"),
            "{e}"
        );
    }

    #[test]
    fn flags_act_like_psql() {
        let e = Explicit {
            url: Some("bench"),
            host: Some("db1"),
            port: Some("5433"),
            user: Some("me"),
        };
        let t = target(&e, &[("PGHOST", "other"), ("PGUSER", "you")]).unwrap();
        assert_eq!(
            (
                t.host.as_deref(),
                t.port,
                t.user.as_deref(),
                t.dbname.as_deref()
            ),
            (Some("db1"), Some(5433), Some("me"), Some("bench"))
        );
        // Flags alone name a server, and beat DATABASE_URL.
        let e = Explicit {
            host: Some("db2"),
            ..Default::default()
        };
        let t = target(&e, &[("DATABASE_URL", "postgres://h1/d1")]).unwrap();
        assert_eq!(
            (t.host.as_deref(), t.dbname.as_deref()),
            (Some("db2"), Some("d1"))
        );
        // Agreeing with --url is fine; contradicting it is an error naming both.
        let agree = Explicit {
            url: Some("postgres://u@db3:5433/x"),
            port: Some("5433"),
            ..Default::default()
        };
        assert_eq!(target(&agree, &[]).unwrap().port, Some(5433));
        let clash = Explicit {
            url: Some("postgres://u@db3/x"),
            host: Some("db4"),
            ..Default::default()
        };
        let m = resolve(&clash, &env_of(&[])).unwrap_err().to_string();
        assert!(m.contains("-h/--host 'db4'") && m.contains("'db3'"), "{m}");
        let bad = Explicit {
            port: Some("54x"),
            ..Default::default()
        };
        let m = resolve(&bad, &env_of(&[])).unwrap_err().to_string();
        assert!(m.starts_with("-p/--port: ") && m.contains("'54x'"), "{m}");
    }

    #[test]
    fn service_sits_between_explicit_values_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("svc.conf");
        std::fs::write(
            &f,
            "[app]\nhost=svc-host\nport=6000\ndbname=svc-db\nsslmode=require\n[badport]\nport=x\n",
        )
        .unwrap();
        let file = f.display().to_string();
        let base = [("PGSERVICEFILE", file.as_str()), ("HOME", "/nonexistent")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v: Vec<(&str, &str)> = base.to_vec();
            v.extend_from_slice(extra);
            v
        };
        // PGSERVICE alone names a target; the service beats PG*.
        let t = target(
            &Explicit::default(),
            &with(&[
                ("PGSERVICE", "app"),
                ("PGHOST", "env-host"),
                ("PGUSER", "env-user"),
                ("PGSSLMODE", "disable"),
            ]),
        )
        .unwrap();
        assert_eq!(t.host.as_deref(), Some("svc-host"));
        assert_eq!(t.user.as_deref(), Some("env-user"));
        assert_eq!(t.sslmode, SslMode::Require);
        // service= in the string beats PGSERVICE, explicit values beat it.
        let t = target(
            &url("service=app dbname=mine"),
            &with(&[("PGSERVICE", "nope")]),
        )
        .unwrap();
        assert_eq!((t.dbname.as_deref(), t.port), (Some("mine"), Some(6000)));
        let t = target(&url("postgresql://h9/?service=app"), &with(&[])).unwrap();
        assert_eq!(
            (t.host.as_deref(), t.dbname.as_deref()),
            (Some("h9"), Some("svc-db"))
        );
        // A missing service is an error naming it and the files.
        let e = resolve(
            &Explicit::default(),
            &env_of(&with(&[("PGSERVICE", "ghost")])),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"ghost\"") && e.contains(&file), "{e}");
        // A bad value names the service, file and line.
        let e = resolve(&url("service=badport"), &env_of(&with(&[])))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("service \"badport\"") && e.contains(&format!("{file}:7")),
            "{e}"
        );
    }

    #[test]
    fn passwords_come_from_the_password_file_only_when_missing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(&f, "h:5432:d:u:from\\:file\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = f.display().to_string();
        let env = [("PGPASSFILE", file.as_str())];
        let t = target(&url("postgres://u@h/d"), &env).unwrap();
        assert_eq!(t.password.as_deref(), Some("from:file"));
        assert_eq!(t.passfile.as_deref(), Some(f.as_path()));
        assert!(!t.redacted().contains("from:file"));
        let t = target(&url("postgres://u:given@h/d"), &env).unwrap();
        assert_eq!((t.password.as_deref(), t.passfile), (Some("given"), None));
        // passfile= in the string names the file too.
        let t = target(
            &url(&format!("host=h user=u dbname=d passfile={file}")),
            &[],
        )
        .unwrap();
        assert_eq!(t.password.as_deref(), Some("from:file"));
        // Readable by others: ignored, with a warning.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let r = resolve(&url("postgres://u@h/d"), &env_of(&env)).unwrap();
        assert_eq!(r.target.unwrap().password, None);
        assert!(
            r.warnings[0].contains("0640") && !r.warnings[0].contains("from"),
            "{:?}",
            r.warnings
        );
    }
}
