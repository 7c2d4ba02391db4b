//! The glue's informational lines on stderr (banner, progress, where the
//! metrics are, the verdict lines) and `stress --quiet`, which leaves them
//! out: errors and warnings are still printed. With `--format json` the
//! process's output is then the results alone — what a Kubernetes pod's log
//! (stdout and stderr together) should hold for `kubectl logs` to collect.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Leave the informational lines out from now on (or not).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// One informational line on stderr, unless `--quiet`.
pub fn note(line: impl std::fmt::Display) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{line}");
    }
}
