//! Finding the system's PostgreSQL server binaries.
//!
//! Order: `DBLOAD_PG_BINDIR` (alone, when set); the directory of `initdb` on `PATH`;
//! `pg_config --bindir`; the newest `/usr/lib/postgresql/*/bin`; then
//! `/usr/local/pgsql/bin`. A directory counts only if it holds `initdb`,
//! `pg_ctl` and `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::LocalError;

/// A PostgreSQL installation's server programs.
#[derive(Debug, Clone)]
pub struct PgBins {
    pub bindir: PathBuf,
    /// Major version, e.g. 15.
    pub major: u32,
    /// Full version string, e.g. "15.18".
    pub version: String,
}

impl PgBins {
    pub fn path(&self, prog: &str) -> PathBuf {
        self.bindir.join(prog)
    }

    /// Locate binaries, or say exactly what to install.
    pub fn find() -> Result<Self, LocalError> {
        for dir in candidates() {
            if is_server_bindir(&dir)
                && let Some((major, version)) = version_of(&dir)
            {
                return Ok(PgBins {
                    bindir: dir,
                    major,
                    version,
                });
            }
        }
        Err(LocalError::NoBinaries)
    }

    /// The server's `pkglibdir` (extension libraries), found next to the
    /// binaries; used to tell whether HypoPG is installed.
    pub fn pkglibdir(&self) -> Option<PathBuf> {
        let pg_config = self.path("pg_config");
        let out = Command::new(&pg_config).arg("--pkglibdir").output().ok()?;
        if out.status.success() {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if p.is_dir() {
                return Some(p);
            }
        }
        // Debian layout: /usr/lib/postgresql/15/bin -> /usr/lib/postgresql/15/lib
        let guess = self.bindir.parent()?.join("lib");
        guess.is_dir().then_some(guess)
    }

    /// Whether a server extension library is installed.
    pub fn has_library(&self, name: &str) -> bool {
        self.pkglibdir()
            .is_some_and(|d| d.join(format!("{name}.so")).exists())
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(d) = std::env::var("DBLOAD_PG_BINDIR") {
        // An explicit choice is the only candidate: no silent fallback.
        return vec![PathBuf::from(d)];
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.exists() {
                // Follow symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb.
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                if let Some(parent) = real.parent() {
                    out.push(parent.to_path_buf());
                }
            }
        }
    }
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output()
        && o.status.success()
    {
        out.push(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|d| std::cmp::Reverse(d.0));
    out.extend(debian.into_iter().map(|(_, p)| p));
    out.push(PathBuf::from("/usr/local/pgsql/bin"));
    out
}

fn is_server_bindir(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|p| dir.join(p).exists())
}

fn version_of(dir: &Path) -> Option<(u32, String)> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?.to_string();
    let major = version.split('.').next()?.parse().ok()?;
    Some((major, version))
}
