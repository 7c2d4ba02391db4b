//! Adding encoded histograms: each worker's base64 HdrHistogram decoded
//! and added into one, so merged percentiles are those of the union of the
//! samples, never an average of percentiles.

use hdrhistogram::Histogram;

use super::model::MergeError;
use crate::stress::results::decode_hist;
use crate::stress::stats::new_hist;

/// A histogram being summed from several files.
pub struct Sum(pub Histogram<u64>);

impl Default for Sum {
    fn default() -> Self {
        Sum(new_hist())
    }
}

impl Sum {
    /// Add the histogram `enc` of `file` (`what` names it in messages).
    /// `samples` is the count the file says it holds: a file that has
    /// samples but no histogram (written before dbload could merge) is
    /// refused rather than merged inexactly.
    pub fn add(
        &mut self,
        enc: Option<&str>,
        samples: u64,
        file: &str,
        what: &str,
    ) -> Result<(), MergeError> {
        let Some(enc) = enc.filter(|e| !e.is_empty()) else {
            if samples == 0 {
                return Ok(());
            }
            return Err(MergeError(format!(
                "{file}: {what} has {samples} sample(s) but no histogram (the file was written by a dbload without per-interval and per-statement histograms); it cannot be merged exactly — rerun it with this dbload"
            )));
        };
        let h = decode_hist(enc)
            .map_err(|e| MergeError(format!("{file}: {what}: unreadable histogram: {e}")))?;
        self.0
            .add(&h)
            .map_err(|e| MergeError(format!("{file}: {what}: histogram out of range: {e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::results::{Latency, encode_hist};

    fn hist_of(values: impl Iterator<Item = u64>) -> Histogram<u64> {
        let mut h = new_hist();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn merged_histograms_give_the_percentiles_of_the_union_of_the_samples() {
        // Three workers with very different latencies: averaging their
        // percentiles would be far off; adding histograms is exact.
        let parts: Vec<Vec<u64>> = vec![
            (1..=1000).map(|v| v * 10).collect(),
            (1..=3000).map(|v| 5_000 + v * 3).collect(),
            (1..=50).map(|v| 1_000_000 + v * 1000).collect(),
        ];
        let mut sum = Sum::default();
        for (k, p) in parts.iter().enumerate() {
            let enc = encode_hist(&hist_of(p.iter().copied()));
            sum.add(Some(&enc), p.len() as u64, &format!("w{k}.json"), "totals")
                .unwrap();
        }
        let union = hist_of(parts.iter().flatten().copied());
        assert_eq!(Latency::of(&sum.0), Latency::of(&union));
        // And the union's percentiles are those of the sorted samples
        // (within the histograms' 1 % precision).
        let mut all: Vec<u64> = parts.concat();
        all.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = all[((q * all.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = sum.0.value_at_quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(sum.0.max(), union.max());
        assert_eq!(sum.0.len(), 4050);
    }

    #[test]
    fn samples_without_a_histogram_are_refused_naming_the_file() {
        let mut sum = Sum::default();
        sum.add(None, 0, "a.json", "interval 3").unwrap();
        let e = sum.add(None, 5, "a.json", "interval 3").unwrap_err();
        assert!(e.0.contains("a.json: interval 3 has 5 sample(s)"), "{e}");
        let e = sum.add(Some("!!"), 5, "b.json", "totals").unwrap_err();
        assert!(e.0.contains("b.json: totals: unreadable"), "{e}");
    }
}
