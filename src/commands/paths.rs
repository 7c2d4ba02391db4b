//! Output paths checked before any load runs: a directory is created (with
//! its parents) and must take a file; a file's directory likewise, and the
//! file must not be a directory. Errors name the flag, so a nightly run
//! fails in its first second, not after the load, when its `--baseline` or
//! `--history` cannot be written.

use std::path::Path;

/// `dir` exists (created with its parents if needed) and takes new files.
pub fn writable_dir(dir: &Path, flag: &str) -> anyhow::Result<()> {
    let named = |e: std::io::Error| anyhow::anyhow!("{flag} {}: {e}", dir.display());
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{flag} {}: exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(dir).map_err(named)?;
    let probe = dir.join(format!(".dbload-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| anyhow::anyhow!("{flag} {}: cannot write there: {e}", dir.display()))?;
    std::fs::remove_file(&probe).map_err(named)
}

/// A file can be written at `path` later: its directory exists (created if
/// needed) and takes new files, and `path` is not a directory.
pub fn writable_file(path: &Path, flag: &str) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!("{flag} {}: is a directory, not a file", path.display());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    writable_dir(dir, flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_files_in_the_way_are_named() {
        let base = std::env::temp_dir().join(format!("dbload-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let file = base.join("a/b/baseline.json");
        writable_file(&file, "--baseline").unwrap();
        assert!(base.join("a/b").is_dir());
        assert!(!file.exists(), "nothing left behind");
        writable_dir(&base.join("h/i"), "--history").unwrap();
        assert!(base.join("h/i").is_dir());

        std::fs::write(base.join("plain"), "x").unwrap();
        let e = writable_dir(&base.join("plain"), "--history").unwrap_err();
        assert!(e.to_string().starts_with("--history "), "{e}");
        assert!(e.to_string().contains("not a directory"), "{e}");
        let e = writable_file(&base.join("plain/baseline.json"), "--baseline").unwrap_err();
        assert!(e.to_string().starts_with("--baseline "), "{e}");
        let e = writable_file(&base.join("a"), "--baseline").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
