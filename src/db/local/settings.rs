//! Server settings of the managed local cluster, sized for benchmarking on
//! the machine it runs on. Written to `dbload.conf` in the data directory
//! (included from `postgresql.conf`); `ALTER SYSTEM` still overrides them.

use std::fmt::Write as _;
use std::path::Path;

/// Facts about the machine the settings are sized from.
#[derive(Debug, Clone, Copy)]
pub struct Machine {
    pub mem_bytes: u64,
    pub cpus: usize,
}

impl Machine {
    /// Read total memory from `/proc/meminfo` and the CPU count.
    pub fn detect() -> Self {
        let mem_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(4 * 1024 * 1024);
        Machine {
            mem_bytes: mem_kb * 1024,
            cpus: crate::sys::cpus(),
        }
    }
}

const MB: u64 = 1024 * 1024;

fn mb(bytes: u64) -> String {
    format!("{}MB", (bytes / MB).max(1))
}

/// The `dbload.conf` contents.
pub fn render(machine: Machine, port: u16, socket_dir: &Path, preload: &[&str]) -> String {
    let mem = machine.mem_bytes;
    // A quarter of RAM for shared buffers (the usual starting point), capped
    // so a throw-away cluster on a shared box stays polite.
    let shared_buffers = (mem / 4).clamp(128 * MB, 4096 * MB);
    let effective_cache = (mem / 2).max(256 * MB);
    let maintenance = (mem / 16).clamp(64 * MB, 1024 * MB);
    let parallel = (machine.cpus / 2).max(1);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by dbload for the managed local cluster; do not edit."
    );
    let _ = writeln!(
        s,
        "# Override with ALTER SYSTEM (postgresql.auto.conf wins)."
    );
    let _ = writeln!(s, "listen_addresses = '127.0.0.1'");
    let _ = writeln!(s, "port = {port}");
    let _ = writeln!(s, "unix_socket_directories = '{}'", socket_dir.display());
    let _ = writeln!(s, "max_connections = 300");
    let _ = writeln!(s, "shared_buffers = {}", mb(shared_buffers));
    let _ = writeln!(s, "effective_cache_size = {}", mb(effective_cache));
    let _ = writeln!(s, "maintenance_work_mem = {}", mb(maintenance));
    let _ = writeln!(s, "work_mem = 16MB");
    let _ = writeln!(s, "wal_buffers = 16MB");
    let _ = writeln!(s, "max_wal_size = 8GB");
    let _ = writeln!(s, "min_wal_size = 1GB");
    let _ = writeln!(s, "checkpoint_timeout = 15min");
    let _ = writeln!(s, "checkpoint_completion_target = 0.9");
    let _ = writeln!(s, "random_page_cost = 1.1");
    let _ = writeln!(s, "effective_io_concurrency = 200");
    let _ = writeln!(s, "max_parallel_workers_per_gather = {parallel}");
    let _ = writeln!(s, "max_parallel_maintenance_workers = {parallel}");
    let _ = writeln!(s, "shared_preload_libraries = '{}'", preload.join(","));
    let _ = writeln!(s, "pg_stat_statements.max = 20000");
    let _ = writeln!(s, "pg_stat_statements.track = top");
    let _ = writeln!(s, "track_io_timing = on");
    let _ = writeln!(s, "track_activity_query_size = 4096");
    let _ = writeln!(s, "timezone = 'UTC'");
    let _ = writeln!(s, "log_line_prefix = '%m [%p] %q%u@%d '");
    let _ = writeln!(s, "log_min_messages = warning");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_from_machine() {
        let m = Machine {
            mem_bytes: 24 * 1024 * MB,
            cpus: 2,
        };
        let s = render(
            m,
            5999,
            Path::new("/x/run"),
            &["pg_stat_statements", "hypopg"],
        );
        assert!(s.contains("shared_buffers = 4096MB"));
        assert!(s.contains("effective_cache_size = 12288MB"));
        assert!(s.contains("port = 5999"));
        assert!(s.contains("shared_preload_libraries = 'pg_stat_statements,hypopg'"));
        let small = render(
            Machine {
                mem_bytes: 256 * MB,
                cpus: 1,
            },
            1,
            Path::new("/r"),
            &[],
        );
        assert!(small.contains("shared_buffers = 128MB"));
        assert!(small.contains("max_parallel_workers_per_gather = 1"));
    }
}
