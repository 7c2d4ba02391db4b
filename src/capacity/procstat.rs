//! What the driver's own process and the host are doing, from `/proc`:
//! the process's CPU time (`/proc/self/stat` utime + stime), its resident
//! memory (`/proc/self/statm`), and the host's busy CPU share
//! (`/proc/stat`). Used to tell a saturated driver from a saturated
//! database, and for the soak profile's memory report. Linux only; on other
//! systems every reading is `None`.

/// CPU seconds (user + system) used by this process so far.
pub use crate::sys::process_cpu_secs;

/// Resident memory of this process, KiB.
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

/// Host CPU counters: (busy, total) ticks over all CPUs.
pub fn host_cpu_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// CPUs available to this process.
pub use crate::sys::cpus;

/// A reading taken at the start of a step, compared at its end.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    at: std::time::Instant,
    proc_secs: Option<f64>,
    host: Option<(u64, u64)>,
}

/// CPU use over a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuUse {
    /// CPU cores the driver process used on average (1.0 = one core busy).
    pub driver_cores: Option<f64>,
    /// Share of all the host's CPU time that was busy (0–1), every process.
    pub host_busy: Option<f64>,
    /// CPUs of the host.
    pub cpus: usize,
}

impl CpuMark {
    pub fn now() -> CpuMark {
        CpuMark {
            at: std::time::Instant::now(),
            proc_secs: process_cpu_secs(),
            host: host_cpu_ticks(),
        }
    }

    /// CPU use since this mark.
    pub fn since(&self) -> CpuUse {
        let end = CpuMark::now();
        let wall = (end.at - self.at).as_secs_f64().max(1e-6);
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        CpuUse {
            driver_cores: match (self.proc_secs, end.proc_secs) {
                (Some(a), Some(b)) => Some(r((b - a) / wall)),
                _ => None,
            },
            host_busy: match (self.host, end.host) {
                (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                    Some(r((b1 - b0) as f64 / (t1 - t0) as f64))
                }
                _ => None,
            },
            cpus: cpus(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let m = CpuMark::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let u = m.since();
        assert!(u.driver_cores.unwrap() >= 0.0);
        assert!((0.0..=1.0).contains(&u.host_busy.unwrap_or(0.0)));
        assert!(rss_kib().unwrap() > 100);
    }
}
