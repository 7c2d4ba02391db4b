//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`): lines
//! `hostname:port:database:username:password`, `*` matching anything, `\:`
//! and `\\` escapes, first match wins. A file that group or others may read
//! is ignored with a warning, as libpq does. Nothing here ever returns a
//! line's text in a message.

use std::path::{Path, PathBuf};

/// The connection a password is looked up for, as libpq compares it: the
/// host as written (`localhost` for a Unix-socket connection to the default
/// socket directory or with no host), the port and database as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub host: String,
    pub port: String,
    pub dbname: String,
    pub user: String,
}

/// Socket directories libpq builds treat as "the default" (Debian's and
/// upstream's): a connection there matches `localhost` lines.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/run/postgresql", "/tmp"];

impl Key {
    /// The key for a connection to `host` (`None`: libpq's default host).
    pub fn new(host: Option<&str>, port: u16, dbname: &str, user: &str) -> Self {
        let host = match host {
            None | Some("") => "localhost",
            Some(h) if DEFAULT_SOCKET_DIRS.contains(&h.trim_end_matches('/')) => "localhost",
            Some(h) => h,
        };
        Key {
            host: host.to_string(),
            port: port.to_string(),
            dbname: dbname.to_string(),
            user: user.to_string(),
        }
    }
}

/// What a password-file look-up found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The password of the first matching line.
    Found(String),
    /// No file, or no matching line.
    NotFound,
    /// The file was not used; the warning says why (never its content).
    Ignored(String),
}

/// The password for `key` in the file at `path`, with libpq's checks: the
/// file must be a plain file without group or world permissions.
pub fn lookup(path: &Path, key: &Key) -> Lookup {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::NotFound,
        Err(e) => {
            return Lookup::Ignored(format!(
                "password file \"{}\" cannot be read ({e}); ignored",
                path.display()
            ));
        }
    };
    if !meta.is_file() {
        return Lookup::Ignored(format!(
            "password file \"{}\" is not a plain file; ignored",
            path.display()
        ));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Lookup::Ignored(format!(
            "password file \"{}\" has group or world access ({:04o}); permissions should be \
             u=rw (0600) or less — ignored (chmod 0600 {0})",
            path.display(),
            mode & 0o777
        ));
    }
    match std::fs::read(path) {
        Ok(bytes) => match find(&String::from_utf8_lossy(&bytes), key) {
            Some(p) => Lookup::Found(p),
            None => Lookup::NotFound,
        },
        Err(e) => Lookup::Ignored(format!(
            "password file \"{}\" cannot be read ({e}); ignored",
            path.display()
        )),
    }
}

/// The file libpq would read: `passfile`, else `PGPASSFILE`, else
/// `$HOME/.pgpass`.
pub fn path(passfile: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    passfile
        .map(PathBuf::from)
        .or_else(|| env("PGPASSFILE").map(PathBuf::from))
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))
}

/// The password of the first line of `text` matching `key`.
pub fn find(text: &str, key: &Key) -> Option<String> {
    text.lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| match_line(l, key))
}

/// The password of one line when its first four fields match `key`.
fn match_line(line: &str, key: &Key) -> Option<String> {
    let mut rest = line;
    for want in [&key.host, &key.port, &key.dbname, &key.user] {
        rest = match_field(rest, want)?;
    }
    // The password runs to the first unescaped ':' or the end of the line.
    let mut password = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => password.push(n),
                None => password.push('\\'),
            },
            ':' => break,
            c => password.push(c),
        }
    }
    Some(password)
}

/// When the field at the start of `s` is `*` or equals `want` (after
/// unescaping), the text after its terminating ':'.
fn match_field<'a>(s: &'a str, want: &str) -> Option<&'a str> {
    if let Some(rest) = s.strip_prefix("*:") {
        return Some(rest);
    }
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            ':' => return (value == want).then(|| &s[i + 1..]),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, port: u16, db: &str, user: &str) -> Key {
        Key::new(Some(host), port, db, user)
    }

    #[test]
    fn first_match_wins_with_wildcards() {
        let text = "\
# hostname:port:database:username:password
db.example:5432:app:alice:first
*:*:*:alice:second
*:5433:*:*:third
";
        assert_eq!(
            find(text, &key("db.example", 5432, "app", "alice")).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, &key("db.example", 5432, "other", "alice")).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, &key("x", 5433, "d", "bob")).as_deref(),
            Some("third")
        );
        assert_eq!(find(text, &key("x", 5432, "d", "bob")), None);
    }

    #[test]
    fn escapes_and_short_lines() {
        // An escaped ':' and '\' in a field and in the password; a password
        // ends at the first unescaped ':'.
        let text = "h\\:1:5432:d:u\\\\x:p\\:w\\\\d:ignored\nshort:5432:d\n";
        assert_eq!(
            find(text, &key("h:1", 5432, "d", "u\\x")).as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(find(text, &key("short", 5432, "d", "u")), None);
        // '*' is a wildcard only as the whole field.
        assert_eq!(find("*x:5432:d:u:p\n", &key("ax", 5432, "d", "u")), None);
        assert_eq!(
            find("\\*:5432:d:u:p\n", &key("*", 5432, "d", "u")).as_deref(),
            Some("p")
        );
        // CRLF files work; an empty password is a password.
        assert_eq!(
            find("h:5432:d:u:pw\r\nh:1:d:u:\r\n", &key("h", 5432, "d", "u")).as_deref(),
            Some("pw")
        );
        assert_eq!(
            find("h:1:d:u:\n", &key("h", 1, "d", "u")).as_deref(),
            Some("")
        );
    }

    #[test]
    fn localhost_matches_default_socket_connections() {
        let line = "localhost:5432:*:u:pw\n";
        for host in [
            None,
            Some("/var/run/postgresql"),
            Some("/tmp/"),
            Some("localhost"),
        ] {
            let k = Key::new(host, 5432, "d", "u");
            assert_eq!(find(line, &k).as_deref(), Some("pw"), "{host:?}");
        }
        // Another socket directory is matched by its path, as in libpq.
        let k = Key::new(Some("/srv/pg/run"), 5432, "d", "u");
        assert_eq!(find(line, &k), None);
        assert_eq!(
            find("/srv/pg/run:5432:*:u:sock\n", &k).as_deref(),
            Some("sock")
        );
        // 127.0.0.1 is not "localhost" (libpq compares the text).
        assert_eq!(find(line, &key("127.0.0.1", 5432, "d", "u")), None);
    }

    #[test]
    fn permissions_are_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pgpass");
        std::fs::write(&p, "*:*:*:*:s3cret-pw\n").unwrap();
        let k = key("h", 5432, "d", "u");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&p, &k), Lookup::Found("s3cret-pw".into()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        match lookup(&p, &k) {
            Lookup::Ignored(w) => {
                assert!(
                    w.contains("group or world access") && w.contains("0644"),
                    "{w}"
                );
                assert!(!w.contains("s3cret"), "{w}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lookup(&dir.path().join("none"), &k), Lookup::NotFound);
        assert!(
            matches!(lookup(dir.path(), &k), Lookup::Ignored(w) if w.contains("not a plain file"))
        );
    }
}
