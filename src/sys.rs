//! Facts about the machine dbload runs on, read in one place.

/// CPUs available to this process (1 when it cannot be told).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
