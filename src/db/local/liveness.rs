//! Whether the postmaster a data directory names is really there. After a
//! `kill -9` the postmaster stays a zombie until its parent (often PID 1,
//! which may never reap it) does so, and both `pg_ctl status` and
//! PostgreSQL's own lock-file check take a zombie for a live server: the
//! cluster then looks "already running" while nothing answers, and cannot
//! be started either.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The lock file of a running postmaster.
pub fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("postmaster.pid")
}

/// The postmaster's pid, from the first line of its lock file.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    pid_in(&pid_file(data_dir))
}

/// The pid on the first line of a PostgreSQL lock file.
fn pid_in(lock_file: &Path) -> Option<i32> {
    let f = std::fs::File::open(lock_file).ok()?;
    let mut line = String::new();
    BufReader::new(f.take(64)).read_line(&mut line).ok()?;
    line.trim().parse().ok().filter(|p| *p > 0)
}

/// Remove the lock files a postmaster that has exited left behind (the
/// data directory's, and each socket's in `socket_dir` with its socket),
/// which its successor would otherwise take for a live server's.
pub fn remove_locks_of(pid: i32, data_dir: &Path, socket_dir: &Path) -> std::io::Result<()> {
    let mut locks = vec![pid_file(data_dir)];
    if let Ok(entries) = std::fs::read_dir(socket_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".s.PGSQL.") && name.ends_with(".lock") {
                locks.push(e.path());
            }
        }
    }
    for lock in locks.into_iter().filter(|l| pid_in(l) == Some(pid)) {
        if let Some(socket) = lock.to_str().and_then(|l| l.strip_suffix(".lock")) {
            let _ = std::fs::remove_file(socket);
        }
        std::fs::remove_file(&lock)?;
    }
    Ok(())
}

/// True when process `pid` has exited: gone, or a zombie not yet reaped.
pub fn has_exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(state_of(&stat), Some('Z' | 'X')),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The state letter of a `/proc/<pid>/stat` line (`pid (comm) S …`; the
/// command may itself hold spaces and parentheses).
fn state_of(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// The pid of a postmaster that has exited but whose lock file remains.
pub fn dead_postmaster(data_dir: &Path) -> Option<i32> {
    postmaster_pid(data_dir).filter(|pid| has_exited(*pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_state_letter_whatever_the_command_name() {
        assert_eq!(state_of("12 (postgres) S 1 12 12"), Some('S'));
        assert_eq!(state_of("12 (a) b) (c) Z 1 12"), Some('Z'));
        assert_eq!(state_of("garbage"), None);
    }

    #[test]
    fn a_live_process_has_not_exited() {
        assert!(!has_exited(std::process::id() as i32));
        // Pids above pid_max (4194304 at most) never exist.
        assert!(has_exited(i32::MAX));
    }

    #[test]
    fn a_zombie_has_exited() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Not waited for: once it exits it is a zombie until reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !has_exited(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(has_exited(pid));
        drop(child);
    }

    #[test]
    fn only_the_dead_postmasters_locks_are_removed() {
        let data = tempfile::tempdir().unwrap();
        let run = tempfile::tempdir().unwrap();
        std::fs::write(pid_file(data.path()), "4242\n").unwrap();
        let ours = run.path().join(".s.PGSQL.5432.lock");
        let theirs = run.path().join(".s.PGSQL.5433.lock");
        std::fs::write(&ours, "4242\n").unwrap();
        std::fs::write(run.path().join(".s.PGSQL.5432"), "").unwrap();
        std::fs::write(&theirs, "77\n").unwrap();
        remove_locks_of(4242, data.path(), run.path()).unwrap();
        assert!(!pid_file(data.path()).exists() && !ours.exists());
        assert!(!run.path().join(".s.PGSQL.5432").exists());
        assert!(theirs.exists());
    }

    #[test]
    fn the_pid_comes_from_the_first_line_of_the_lock_file() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(postmaster_pid(d.path()), None);
        std::fs::write(pid_file(d.path()), "4242\n/var/lib/data\n1700000000\n").unwrap();
        assert_eq!(postmaster_pid(d.path()), Some(4242));
        std::fs::write(pid_file(d.path()), "\0\0\0").unwrap();
        assert_eq!(postmaster_pid(d.path()), None);
    }
}
