//! Run statistics: HdrHistograms (µs) and counters per scenario and per
//! statement. Workers record into a shard under a short, uncontended lock —
//! no allocation, no channel send per query; the collector swaps each
//! shard's [`Stats`] for an empty one once per interval and merges with
//! `Histogram::add`.

use hdrhistogram::Histogram;

/// Significant digits kept by every histogram (1 % relative precision).
pub const SIGFIG: u8 = 2;
/// Largest value recorded, µs (one hour); larger values saturate.
pub const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("valid histogram bounds")
}

/// An error class: the two-character SQLSTATE class (`"40"`, `"57"`…),
/// `"08"` for lost connections and pool failures, `"CL"` for client-side
/// errors (e.g. a parameter that cannot be converted).
pub type ErrorClass = [u8; 2];

/// Per-statement statistics.
#[derive(Debug, Clone)]
pub struct StatementStats {
    pub exec: Histogram<u64>,
    pub calls: u64,
    pub errors: u64,
}

/// Per-scenario statistics.
#[derive(Debug, Clone)]
pub struct ScenarioStats {
    /// Latency from the intended start to the end (lag + pool wait + exec).
    pub total: Histogram<u64>,
    /// Intended start → worker actually started (open model).
    pub lag: Histogram<u64>,
    /// Waiting for a pooled connection.
    pub pool_wait: Histogram<u64>,
    /// Execution of all statements (round trips), including BEGIN/COMMIT.
    pub exec: Histogram<u64>,
    /// Successful executions.
    pub calls: u64,
    /// Failed executions.
    pub errors: u64,
    /// Executions cut short because a `@bind` statement returned no row.
    pub no_rows: u64,
    /// Errors by class; a handful of entries, searched linearly.
    pub error_classes: Vec<(ErrorClass, u64)>,
    pub statements: Vec<StatementStats>,
}

impl ScenarioStats {
    pub fn new(statements: usize) -> Self {
        ScenarioStats {
            total: new_hist(),
            lag: new_hist(),
            pool_wait: new_hist(),
            exec: new_hist(),
            calls: 0,
            errors: 0,
            no_rows: 0,
            error_classes: Vec::with_capacity(8),
            statements: (0..statements)
                .map(|_| StatementStats {
                    exec: new_hist(),
                    calls: 0,
                    errors: 0,
                })
                .collect(),
        }
    }

    /// Count one error of `class` (allocates only the first time a class is seen).
    pub fn error(&mut self, class: ErrorClass, statement: Option<usize>) {
        self.errors += 1;
        if let Some(i) = statement
            && let Some(s) = self.statements.get_mut(i)
        {
            s.errors += 1;
        }
        match self.error_classes.iter_mut().find(|(c, _)| *c == class) {
            Some((_, n)) => *n += 1,
            None => self.error_classes.push((class, 1)),
        }
    }

    fn merge(&mut self, o: &ScenarioStats) {
        let _ = self.total.add(&o.total);
        let _ = self.lag.add(&o.lag);
        let _ = self.pool_wait.add(&o.pool_wait);
        let _ = self.exec.add(&o.exec);
        self.calls += o.calls;
        self.errors += o.errors;
        self.no_rows += o.no_rows;
        for (c, n) in &o.error_classes {
            match self.error_classes.iter_mut().find(|(x, _)| x == c) {
                Some((_, m)) => *m += n,
                None => self.error_classes.push((*c, *n)),
            }
        }
        for (a, b) in self.statements.iter_mut().zip(&o.statements) {
            let _ = a.exec.add(&b.exec);
            a.calls += b.calls;
            a.errors += b.errors;
        }
    }

    fn reset(&mut self) {
        self.total.reset();
        self.lag.reset();
        self.pool_wait.reset();
        self.exec.reset();
        self.calls = 0;
        self.errors = 0;
        self.no_rows = 0;
        self.error_classes.clear();
        for s in &mut self.statements {
            s.exec.reset();
            s.calls = 0;
            s.errors = 0;
        }
    }
}

/// All statistics of one shard, interval or run.
#[derive(Debug, Clone)]
pub struct Stats {
    pub scenarios: Vec<ScenarioStats>,
    /// Arrivals that found every in-flight slot busy (open model).
    pub dropped: u64,
    /// Arrivals started (open model) or executions started (closed).
    pub started: u64,
}

impl Stats {
    /// Empty statistics for scenarios with these statement counts.
    pub fn new(statements_per_scenario: &[usize]) -> Self {
        Stats {
            scenarios: statements_per_scenario
                .iter()
                .map(|n| ScenarioStats::new(*n))
                .collect(),
            dropped: 0,
            started: 0,
        }
    }

    /// Add `o` into `self` (histograms with `Histogram::add`).
    pub fn merge(&mut self, o: &Stats) {
        for (a, b) in self.scenarios.iter_mut().zip(&o.scenarios) {
            a.merge(b);
        }
        self.dropped += o.dropped;
        self.started += o.started;
    }

    /// Zero everything, keeping the allocations.
    pub fn reset(&mut self) {
        for s in &mut self.scenarios {
            s.reset();
        }
        self.dropped = 0;
        self.started = 0;
    }

    /// Successful executions over all scenarios.
    pub fn calls(&self) -> u64 {
        self.scenarios.iter().map(|s| s.calls).sum()
    }
    /// Failed executions over all scenarios.
    pub fn errors(&self) -> u64 {
        self.scenarios.iter().map(|s| s.errors).sum()
    }
    /// One histogram of a part over all scenarios.
    pub fn all(&self, part: impl Fn(&ScenarioStats) -> &Histogram<u64>) -> Histogram<u64> {
        let mut h = new_hist();
        for s in &self.scenarios {
            let _ = h.add(part(s));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_histograms_and_counters() {
        let mut a = Stats::new(&[2]);
        let mut b = Stats::new(&[2]);
        for v in 1..=500u64 {
            a.scenarios[0].total.record(v * 100).unwrap();
        }
        for v in 501..=1000u64 {
            b.scenarios[0].total.record(v * 100).unwrap();
        }
        a.scenarios[0].calls = 500;
        b.scenarios[0].calls = 500;
        b.scenarios[0].error(*b"40", Some(1));
        b.scenarios[0].error(*b"40", None);
        a.scenarios[0].error(*b"57", Some(0));
        a.dropped = 3;
        let mut m = Stats::new(&[2]);
        m.merge(&a);
        m.merge(&b);
        let s = &m.scenarios[0];
        assert_eq!(s.total.len(), 1000);
        assert_eq!(s.calls, 1000);
        assert_eq!(s.errors, 3);
        assert_eq!(s.statements[1].errors, 1);
        assert_eq!(s.statements[0].errors, 1);
        let p50 = s.total.value_at_quantile(0.5) as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.01, "{p50}");
        let p99 = s.total.value_at_quantile(0.99) as f64;
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.01, "{p99}");
        assert!(s.error_classes.contains(&(*b"40", 2)));
        assert!(s.error_classes.contains(&(*b"57", 1)));
        assert_eq!(m.dropped, 3);
        m.reset();
        assert_eq!(m.scenarios[0].total.len(), 0);
        assert_eq!(m.calls(), 0);
    }
}
