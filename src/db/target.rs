//! Connection targets: parse a `postgres://` URL or a libpq keyword conninfo
//! string into libpq parameters, build a [`Target`] from them, and redact the
//! password in every rendering. Layering (flags, service file, `PG*`,
//! `.pgpass`) is `resolve`'s job.
//!
//! The parser is our own (not tokio-postgres's) so that a malformed target
//! names the exact part at fault, and so that the same settings can be shown
//! to the user (redacted) and turned into a `tokio_postgres::Config`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

/// Why a connection string could not be understood. Each variant names the
/// part at fault; none ever contains a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("invalid connection URL: {0}")]
    Url(String),
    #[error("invalid conninfo string: {0}")]
    Conninfo(String),
    #[error("invalid value for {key}: {reason}")]
    Value { key: String, reason: String },
    #[error("unknown connection parameter '{0}'")]
    Unknown(String),
    /// A connection flag (`-h`, `-p`, `-U`) and the `--url` string set the
    /// same parameter to different values.
    #[error(
        "{flag} '{flag_value}' disagrees with {key} '{url_value}' in --url; give the {key} once"
    )]
    Conflict {
        flag: &'static str,
        key: String,
        flag_value: String,
        url_value: String,
    },
    /// A connection service that could not be used (not defined, or its
    /// file is unreadable or malformed); the message names the files.
    #[error("{0}")]
    Service(String),
    /// An error in a value that came from `origin` (a flag, a variable, a
    /// service file line).
    #[error("{origin}: {inner}")]
    In {
        origin: String,
        inner: Box<TargetError>,
    },
}

impl TargetError {
    pub(crate) fn within(self, origin: &str) -> Self {
        TargetError::In {
            origin: origin.to_string(),
            inner: Box::new(self),
        }
    }
}

/// libpq connection parameters in the order they were written: keyword
/// (`host`, `port`, `dbname`, …) and value. Later ones override earlier ones.
pub type Params = Vec<(String, String)>;

/// The start-up timeout used when neither `connect_timeout` nor
/// `PGCONNECT_TIMEOUT` is set. libpq waits forever; a load tool pointed at a
/// wrong or hung server should say so instead. 10 s is far above a healthy
/// start-up (TCP, TLS and SCRAM take milliseconds, even across regions, and
/// well under a second when hundreds of pool connections open at once).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS policy, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(v: &str) -> Result<Self, TargetError> {
        Ok(match v {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(TargetError::Value {
                    key: "sslmode".into(),
                    reason: format!(
                        "'{other}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    ),
                });
            }
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Fully resolved connection settings for one PostgreSQL database.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// Host name, IP address, or (starting with `/`) a Unix-socket directory.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: SslMode,
    pub application_name: Option<String>,
    /// `connect_timeout` as written: `None` when unset (the default applies),
    /// zero for "wait indefinitely" (libpq's 0 or a negative value). See
    /// [`Target::startup_timeout`].
    pub connect_timeout: Option<Duration>,
    /// Server `options` (e.g. `-c statement_timeout=5s`).
    pub options: Option<String>,
    /// The password file the password was read from, named in
    /// authentication errors as libpq does. Never rendered in URLs.
    pub passfile: Option<PathBuf>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.redacted())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The environment variables a target honours (read through a closure by
/// `resolve`, so tests need not touch the process environment).
pub const ENV_VARS: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGPASSFILE",
];

impl Target {
    /// Parse a URL (`postgres://` or `postgresql://`), a keyword conninfo
    /// string (`host=… port=…`) or a bare database name, with no layering.
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        Self::from_params(&parse_params(s)?)
    }

    /// Build a target from libpq parameters (later ones override earlier).
    pub fn from_params(params: &[(String, String)]) -> Result<Self, TargetError> {
        let mut t = Target::default();
        for (k, v) in params {
            t.set(k, v.clone())?;
        }
        Ok(t)
    }

    /// How long the whole connection start-up (TCP connect, TLS, authentication,
    /// until the server is ready for the first query) may take: `connect_timeout`,
    /// [`DEFAULT_CONNECT_TIMEOUT`] when unset, `None` (no limit) when it is 0 or
    /// negative. As in libpq, 1 s counts as 2 s.
    pub fn startup_timeout(&self) -> Option<Duration> {
        match self.connect_timeout {
            None => Some(DEFAULT_CONNECT_TIMEOUT),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d.max(Duration::from_secs(2))),
        }
    }

    /// The host connected to: the given one, else — as libpq does — the
    /// Unix socket of the port in the usual socket directories
    /// (`/var/run/postgresql`, `/tmp`), else `localhost`.
    pub fn host_display(&self) -> String {
        if let Some(h) = &self.host {
            return h.clone();
        }
        let socket = format!(".s.PGSQL.{}", self.port_or_default());
        ["/var/run/postgresql", "/tmp"]
            .iter()
            .find(|d| std::path::Path::new(d).join(&socket).exists())
            .map_or_else(|| "localhost".into(), |d| d.to_string())
    }

    /// Port, or PostgreSQL's default 5432.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(5432)
    }

    /// User name, or the OS user as libpq would use.
    pub fn user_or_default(&self) -> String {
        self.user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into())
    }

    /// Database name, or the user name as libpq would use.
    pub fn dbname_or_default(&self) -> String {
        self.dbname
            .clone()
            .unwrap_or_else(|| self.user_or_default())
    }

    /// `host:port` (or socket directory and port), for error messages.
    pub fn address(&self) -> String {
        let host = self.host_display();
        if is_socket_dir(&host) {
            format!("socket {host}/.s.PGSQL.{}", self.port_or_default())
        } else {
            format!("{host}:{}", self.port_or_default())
        }
    }

    /// A copy pointing at another database on the same server.
    pub fn with_dbname(&self, dbname: &str) -> Self {
        Self {
            dbname: Some(dbname.to_string()),
            ..self.clone()
        }
    }

    /// A URL that renders every setting, with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        self.to_url(true)
    }

    /// A URL carrying the password. Only for handing to another program
    /// (psql, pgbench) through its environment; never print it.
    pub fn to_url_with_password(&self) -> String {
        self.to_url(false)
    }

    fn to_url(&self, redact: bool) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        // Everything but RFC 3986 unreserved characters.
        const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let enc = |s: &str| utf8_percent_encode(s, COMPONENT).to_string();
        let mut out = String::from("postgresql://");
        if self.user.is_some() || self.password.is_some() {
            out.push_str(&enc(self.user.as_deref().unwrap_or_default()));
            if self.password.is_some() {
                out.push(':');
                if redact {
                    out.push_str("***");
                } else {
                    out.push_str(&enc(self.password.as_deref().unwrap_or_default()));
                }
            }
            out.push('@');
        }
        let mut query: Vec<(String, String)> = Vec::new();
        match &self.host {
            Some(h) if is_socket_dir(h) => query.push(("host".into(), h.clone())),
            Some(h) if h.contains(':') => out.push_str(&format!("[{h}]")),
            Some(h) => out.push_str(h),
            None => {}
        }
        if let Some(p) = self.port {
            out.push_str(&format!(":{p}"));
        }
        out.push('/');
        if let Some(d) = &self.dbname {
            out.push_str(&enc(d));
        }
        if self.sslmode != SslMode::Prefer {
            query.push(("sslmode".into(), self.sslmode.as_str().into()));
        }
        if let Some(a) = &self.application_name {
            query.push(("application_name".into(), a.clone()));
        }
        if let Some(t) = self.connect_timeout {
            query.push(("connect_timeout".into(), t.as_secs().to_string()));
        }
        if let Some(o) = &self.options {
            query.push(("options".into(), o.clone()));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            // Keep '/' readable in socket paths.
            out.push_str(&enc(v).replace("%2F", "/"));
        }
        out
    }

    /// The equivalent tokio-postgres configuration.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        let host = self.host_display();
        if is_socket_dir(&host) {
            c.host_path(PathBuf::from(&host));
        } else {
            c.host(&host);
        }
        c.port(self.port_or_default());
        c.user(self.user_or_default());
        if let Some(p) = &self.password {
            c.password(p.as_bytes());
        }
        c.dbname(self.dbname_or_default());
        c.application_name(self.application_name.as_deref().unwrap_or("dbload"));
        // Bounds each TCP connect; `connect` bounds the whole start-up.
        if let Some(t) = self.startup_timeout() {
            c.connect_timeout(t);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        c
    }

    /// Set one libpq parameter, checking its value.
    pub(crate) fn set(&mut self, key: &str, value: String) -> Result<(), TargetError> {
        match key {
            "host" | "hostaddr" => self.host = Some(value),
            "port" => self.port = Some(parse_port(&value, "port")?),
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "dbname" => self.dbname = Some(value),
            "sslmode" => self.sslmode = SslMode::parse(&value)?,
            "application_name" => self.application_name = Some(value),
            "connect_timeout" => {
                self.connect_timeout = Some(parse_timeout(&value, "connect_timeout")?)
            }
            "options" => self.options = Some(value),
            // Accepted by libpq and harmless to ignore here.
            "fallback_application_name" | "client_encoding" | "target_session_attrs" => {}
            other => return Err(TargetError::Unknown(other.to_string())),
        }
        Ok(())
    }
}

/// True when a host value names a Unix-socket directory.
pub fn is_socket_dir(host: &str) -> bool {
    host.starts_with('/')
}

pub(crate) fn parse_port(v: &str, key: &str) -> Result<u16, TargetError> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(TargetError::Value {
            key: key.into(),
            reason: format!("'{v}' is not a port number (1-65535)"),
        }),
    }
}

/// A libpq timeout in whole seconds; 0 or negative means "no limit" (zero).
fn parse_timeout(v: &str, key: &str) -> Result<Duration, TargetError> {
    v.trim()
        .parse::<i64>()
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .map_err(|_| TargetError::Value {
            key: key.into(),
            reason: format!("'{v}' is not a whole number of seconds"),
        })
}

/// The libpq parameters written in `s`: a URL, a keyword conninfo string, or
/// (as libpq treats a bare word) a database name.
pub fn parse_params(s: &str) -> Result<Params, TargetError> {
    let s = s.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        parse_url(s)
    } else if s.contains("://") {
        let scheme = s.split("://").next().unwrap_or_default();
        Err(TargetError::Url(format!(
            "scheme '{scheme}' is not supported (use postgres:// or postgresql://)"
        )))
    } else if s.contains('=') {
        parse_conninfo(s)
    } else if s.is_empty() {
        Err(TargetError::Conninfo("empty connection string".into()))
    } else {
        Ok(vec![("dbname".into(), s.to_string())])
    }
}

fn decode(s: &str, what: &str) -> Result<String, TargetError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| TargetError::Url(format!("{what} is not valid percent-encoded UTF-8")))
}

fn parse_url(s: &str) -> Result<Params, TargetError> {
    let rest = s.split_once("://").map(|x| x.1).unwrap_or_default();
    // The user-info ends at the last '@' before the first '?', so a password
    // holding '/' or '@' (base64 secrets) still parses, and no piece of it
    // can end up as a host, port or database name in a message.
    let q_pos = rest.find('?').unwrap_or(rest.len());
    let (userinfo, after_user) = match rest[..q_pos].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => {
            if rest[q_pos..].contains('@') && rest[..q_pos].contains(':') {
                return Err(TargetError::Url(
                    "the user-info part seems to hold a '?': percent-encode reserved characters \
                     of the password (? as %3F, # as %23)"
                        .into(),
                ));
            }
            (None, rest)
        }
    };
    let (main, query) = match after_user.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (after_user, None),
    };
    let (hostport, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let mut t = Params::new();
    let mut put = |k: &str, v: String| t.push((k.to_string(), v));
    if let Some(userinfo) = userinfo {
        let (u, p) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !u.is_empty() {
            put("user", decode(u, "user name")?);
        }
        if let Some(p) = p {
            put("password", decode(p, "password")?);
        }
    }
    if hostport.contains(',') {
        return Err(TargetError::Url(format!(
            "multiple hosts ('{hostport}') are not supported"
        )));
    }
    if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| {
            TargetError::Url(format!("unterminated IPv6 address in '{hostport}'"))
        })?;
        put("host", h.to_string());
        if let Some(p) = after.strip_prefix(':') {
            put("port", p.to_string());
        } else if !after.is_empty() {
            return Err(TargetError::Url(format!(
                "unexpected '{after}' after IPv6 address"
            )));
        }
    } else if !hostport.is_empty() {
        let (h, p) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        if !h.is_empty() {
            put("host", decode(h, "host")?);
        }
        if let Some(p) = p {
            put("port", p.to_string());
        }
    }
    if let Some(p) = path
        && !p.is_empty()
    {
        put("dbname", decode(p, "database name")?);
    }
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                TargetError::Url(format!(
                    "query parameter {} has no '=value'",
                    if pair.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        format!("'{pair}'")
                    } else {
                        "(not shown)".into()
                    }
                ))
            })?;
            put(k, decode(v, k)?);
        }
    }
    Ok(t)
}

fn parse_conninfo(s: &str) -> Result<Params, TargetError> {
    let mut t = Params::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        while i < n && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n || chars[i] != '=' {
            return Err(TargetError::Conninfo(format!(
                "missing '=' after '{key}' (at character {})",
                start + 1
            )));
        }
        i += 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            let mut closed = false;
            while i < n {
                match chars[i] {
                    '\\' if i + 1 < n => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    '\'' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(TargetError::Conninfo(format!(
                    "unterminated quoted value for '{key}'"
                )));
            }
        } else {
            while i < n && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < n {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        if key.is_empty() {
            return Err(TargetError::Conninfo(format!(
                "empty keyword before '=' (at character {})",
                start + 1
            )));
        }
        t.push((key, value));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full() {
        let t = Target::parse("postgres://al%40ice:s3cr%3At@db.example:6543/app%2Fx?sslmode=require&application_name=bench").unwrap();
        assert_eq!(t.user.as_deref(), Some("al@ice"));
        assert_eq!(t.password.as_deref(), Some("s3cr:t"));
        assert_eq!(t.host.as_deref(), Some("db.example"));
        assert_eq!(t.port, Some(6543));
        assert_eq!(t.dbname.as_deref(), Some("app/x"));
        assert_eq!(t.sslmode, SslMode::Require);
        assert_eq!(t.application_name.as_deref(), Some("bench"));
    }

    #[test]
    fn url_socket_and_ipv6() {
        let t = Target::parse("postgresql:///db?host=/var/run/postgresql&port=5433").unwrap();
        assert_eq!(t.host.as_deref(), Some("/var/run/postgresql"));
        assert_eq!(t.port, Some(5433));
        assert_eq!(t.address(), "socket /var/run/postgresql/.s.PGSQL.5433");
        let t = Target::parse("postgres://u@[::1]:5999/d").unwrap();
        assert_eq!(t.host.as_deref(), Some("::1"));
        assert_eq!(t.port, Some(5999));
    }

    #[test]
    fn conninfo_quoted() {
        let t =
            Target::parse("host=/tmp port = 5432 dbname='my db' user=bob password='it\\'s secret'")
                .unwrap();
        assert_eq!(t.host.as_deref(), Some("/tmp"));
        assert_eq!(t.dbname.as_deref(), Some("my db"));
        assert_eq!(t.password.as_deref(), Some("it's secret"));
    }

    #[test]
    fn bad_parts_are_named() {
        let e = Target::parse("postgres://h:99999/db").unwrap_err();
        assert!(
            e.to_string().contains("port") && e.to_string().contains("99999"),
            "{e}"
        );
        let e = Target::parse("host=x bogus=1").unwrap_err();
        assert!(e.to_string().contains("'bogus'"), "{e}");
        let e = Target::parse("host=x port").unwrap_err();
        assert!(e.to_string().contains("'port'"), "{e}");
        let e = Target::parse("mysql://h/db").unwrap_err();
        assert!(e.to_string().contains("mysql"), "{e}");
        let e = Target::parse("postgres://h/db?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
        let e = Target::parse("dbname='unterminated").unwrap_err();
        assert!(e.to_string().contains("dbname"), "{e}");
    }

    #[test]
    fn redaction_never_shows_password() {
        for s in [
            "postgres://u:hunter2@h/db",
            "host=h user=u password=hunter2",
        ] {
            let t = Target::parse(s).unwrap();
            assert!(!t.redacted().contains("hunter2"));
            assert!(!format!("{t}").contains("hunter2"));
            assert!(!format!("{t:?}").contains("hunter2"));
            assert!(t.redacted().contains("***"));
            assert!(t.to_url_with_password().contains("hunter2"));
        }
    }

    #[test]
    fn url_roundtrip() {
        let t =
            Target::parse("host='/tmp/x y' port=5 user=a password=p:w dbname=d sslmode=disable")
                .unwrap();
        let back = Target::parse(&t.to_url_with_password()).unwrap();
        assert_eq!(t, back);
    }

    #[test]
    fn passwords_with_reserved_characters_never_leak() {
        // '/' and '@' in a password (base64 secrets) parse as a password.
        let t = Target::parse("postgres://u:pa/ss@w0rd@h:5433/db").unwrap();
        assert_eq!(t.password.as_deref(), Some("pa/ss@w0rd"));
        assert_eq!(t.host.as_deref(), Some("h"));
        assert_eq!(t.port, Some(5433));
        assert_eq!(t.dbname.as_deref(), Some("db"));
        // '?' cannot be told apart: the error must not quote any piece of it.
        let e = Target::parse("postgres://u:p?w0rd@h/db")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("w0rd") && !e.contains("'p'"), "{e}");
        assert!(e.contains("percent-encode"), "{e}");
    }

    #[test]
    fn password_without_user_round_trips() {
        let t = Target::parse("host=db password=s3cret dbname=x").unwrap();
        let back = Target::parse(&t.to_url_with_password()).unwrap();
        assert_eq!(back.password.as_deref(), Some("s3cret"));
        assert_eq!(t, back);
        assert!(!t.redacted().contains("s3cret"));
    }

    #[test]
    fn connect_timeout_follows_libpq() {
        let t = |s: &str| Target::parse(s).unwrap().startup_timeout();
        assert_eq!(t("host=h"), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(t("host=h connect_timeout=5"), Some(Duration::from_secs(5)));
        // 0 or negative: wait indefinitely; 1 counts as 2 (libpq's minimum).
        assert_eq!(t("host=h connect_timeout=0"), None);
        assert_eq!(t("host=h connect_timeout=-3"), None);
        assert_eq!(
            t("postgres://h/d?connect_timeout=1"),
            Some(Duration::from_secs(2))
        );
        let e = Target::parse("host=h connect_timeout=soon").unwrap_err();
        assert!(e.to_string().contains("'soon'"), "{e}");
        // "wait indefinitely" survives the URL round trip.
        let z = Target::parse("host=h connect_timeout=0").unwrap();
        assert_eq!(Target::parse(&z.to_url_with_password()).unwrap(), z);
    }

    #[test]
    fn params_keep_the_written_order() {
        assert_eq!(
            parse_params("postgres://u@h:5/d?host=/s&port=6").unwrap(),
            [
                ("user", "u"),
                ("host", "h"),
                ("port", "5"),
                ("dbname", "d"),
                ("host", "/s"),
                ("port", "6")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            parse_params("bench").unwrap(),
            [("dbname".to_string(), "bench".to_string())]
        );
        let t = Target::parse("postgres://u@h:5/d?host=/s&port=6").unwrap();
        assert_eq!((t.host.as_deref(), t.port), (Some("/s"), Some(6)));
    }
}
