//! The libpq connection service file: `[name]` sections of `keyword=value`
//! lines. The user file (`PGSERVICEFILE`, else `~/.pg_service.conf`) is read
//! first; when it does not define the service, the system file
//! (`PGSYSCONFDIR/pg_service.conf`, else the packaged locations) is. As in
//! libpq, only the named section is checked, the first value of a keyword
//! wins, and a `service` keyword inside a section is an error.

use std::path::{Path, PathBuf};

use super::target::TargetError;

/// Where libpq packages look for `pg_service.conf` when `PGSYSCONFDIR` is
/// unset (Debian/Ubuntu, PGDG RPMs, a source build), in that order.
const SYSCONF_DIRS: &[&str] = &[
    "/etc/postgresql-common",
    "/etc/sysconfig/pgsql",
    "/usr/local/pgsql/etc",
];

/// One `keyword=value` line of a service section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// `FILE:LINE`, for messages.
    pub origin: String,
}

/// The entries of service `name`, from the first file that defines it.
pub fn lookup(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Entry>, TargetError> {
    let mut looked: Vec<String> = Vec::new();
    // The user file: PGSERVICEFILE must exist when set; ~/.pg_service.conf may not.
    let user = match env("PGSERVICEFILE") {
        Some(f) => Some((PathBuf::from(f), true)),
        None => env("HOME").map(|h| (Path::new(&h).join(".pg_service.conf"), false)),
    };
    let system: Vec<PathBuf> = match env("PGSYSCONFDIR") {
        Some(d) => vec![Path::new(&d).join("pg_service.conf")],
        None => SYSCONF_DIRS
            .iter()
            .map(|d| Path::new(d).join("pg_service.conf"))
            .collect(),
    };
    let files = user
        .into_iter()
        .chain(system.into_iter().map(|p| (p, false)));
    for (path, must_exist) in files {
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                looked.push(format!("{} (absent)", path.display()));
                continue;
            }
            Err(e) => {
                return Err(TargetError::Service(format!(
                    "service file \"{}\" (for service \"{name}\") cannot be read: {e}",
                    path.display()
                )));
            }
        };
        let file = path.display().to_string();
        match section(&text, name).map_err(|(line, why)| {
            TargetError::Service(format!("service file {file}:{line}: {why}"))
        })? {
            Some(lines) => {
                return Ok(lines
                    .into_iter()
                    .map(|(line, key, value)| Entry {
                        key,
                        value,
                        origin: format!("{file}:{line}"),
                    })
                    .collect());
            }
            None => looked.push(file),
        }
    }
    Err(TargetError::Service(format!(
        "service \"{name}\" is not defined in any service file (looked in: {}); define a \
         [{name}] section there, or set PGSERVICEFILE",
        looked.join(", ")
    )))
}

/// One line of a section: line number (from 1), keyword, value.
pub type Line = (usize, String, String);

/// The lines of section `[name]` in `text`, or `None` when the section is
/// absent. Errors carry the line number and never the line's text (it may
/// hold a password).
pub fn section(text: &str, name: &str) -> Result<Option<Vec<Line>>, (usize, String)> {
    let mut found: Option<Vec<Line>> = None;
    let mut inside = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            // libpq compares the name up to the ']' and ignores what follows.
            inside = header.split_once(']').is_some_and(|(h, _)| h == name);
            if inside {
                found = Some(Vec::new());
            }
            continue;
        }
        if !inside {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| (n, "syntax error: expected keyword=value".to_string()))?;
        let key = key.trim();
        if key == "service" {
            return Err((n, "nested service specifications are not supported".into()));
        }
        let lines = found.get_or_insert_with(Vec::new);
        // The first value of a keyword wins, as in libpq.
        if !lines.iter().any(|(_, k, _)| k == key) {
            lines.push((n, key.to_string(), value.trim().to_string()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[other]
host=elsewhere
port = not checked here

[mydb]   # trailing text after the name is ignored
host=somehost
  port = 5433
user=admin
host=second-host-ignored
password=s3=cret
[next]
host=next
";

    #[test]
    fn sections_are_found_and_first_value_wins() {
        let s = section(FILE, "mydb").unwrap().unwrap();
        let kv: Vec<(&str, &str)> = s.iter().map(|(_, k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            kv,
            [
                ("host", "somehost"),
                ("port", "5433"),
                ("user", "admin"),
                ("password", "s3=cret")
            ]
        );
        assert_eq!(s[1].0, 8, "line numbers count from 1");
        assert_eq!(section(FILE, "missing").unwrap(), None);
        assert_eq!(section(FILE, "mydb ").unwrap(), None);
        assert_eq!(section("[empty]\n", "empty").unwrap(), Some(vec![]));
    }

    #[test]
    fn bad_lines_in_the_section_are_named_by_number_only() {
        let e = section("[a]\nhost=x\npassword hunter2\n", "a").unwrap_err();
        assert_eq!(e.0, 3);
        assert!(!e.1.contains("hunter2"), "{}", e.1);
        let e = section("[a]\nservice=b\n", "a").unwrap_err();
        assert_eq!(e.0, 2);
        assert!(e.1.contains("nested"), "{}", e.1);
        // Lines outside the section are not checked (libpq neither).
        assert!(section("[b]\ngarbage\n[a]\nhost=x\n", "a").is_ok());
    }

    #[test]
    fn user_file_first_then_system_and_missing_names_files() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.conf");
        std::fs::write(&user, "[u]\nhost=from-user\n[both]\nhost=user-wins\n").unwrap();
        let sys = dir.path().join("sys");
        std::fs::create_dir(&sys).unwrap();
        std::fs::write(
            sys.join("pg_service.conf"),
            "[s]\nhost=from-system\n[both]\nhost=system\n",
        )
        .unwrap();
        let (u, s) = (user.display().to_string(), sys.display().to_string());
        let env = move |k: &str| match k {
            "PGSERVICEFILE" => Some(u.clone()),
            "PGSYSCONFDIR" => Some(s.clone()),
            _ => None,
        };
        let host = |name: &str| lookup(name, &env).map(|e| e[0].value.clone());
        assert_eq!(host("u").unwrap(), "from-user");
        assert_eq!(host("s").unwrap(), "from-system");
        assert_eq!(host("both").unwrap(), "user-wins");
        let e = lookup("nope", &env).unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("user.conf") && e.contains("pg_service.conf"),
            "{e}"
        );
        // An explicit PGSERVICEFILE that does not exist is an error naming it.
        let env2 = |k: &str| (k == "PGSERVICEFILE").then(|| "/nonexistent/svc.conf".to_string());
        let e = lookup("u", &env2).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/svc.conf"), "{e}");
    }
}
