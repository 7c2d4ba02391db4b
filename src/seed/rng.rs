//! The deterministic per-row random stream.
//!
//! Every generated value comes from a [`RowRng`] keyed by (seed, table,
//! row number, purpose): a SplitMix64 counter stream whose start is a hash of
//! that key. Nothing depends on thread, chunk or run, so any row can be made
//! anywhere and re-making it gives the same bytes. The helpers use only
//! integer arithmetic (no float formatting, no platform `libm`), so the data
//! is identical on every machine.

use std::convert::Infallible;

/// The SplitMix64 finalizer: a bijective 64-bit mix.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small, fast, counter-based random stream for one row.
#[derive(Debug, Clone)]
pub struct RowRng {
    state: u64,
}

impl RowRng {
    /// The stream for `row` of table number `table` under `seed`; `purpose`
    /// separates independent streams of the same row (e.g. the key columns
    /// other tables recompute, and the descriptive columns).
    #[inline]
    pub fn new(seed: u64, table: u32, row: u64, purpose: u32) -> Self {
        let k = mix64(seed ^ 0x9e37_79b9_7f4a_7c15);
        let k = mix64(k ^ ((table as u64) << 32 | purpose as u64));
        RowRng {
            state: mix64(k ^ row.wrapping_mul(0xd6e8_feb8_6659_fd93)),
        }
    }

    #[inline]
    pub fn draw(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (bias < n / 2^64).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.draw() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(hi >= lo);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// True with probability `pct` percent.
    #[inline]
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    /// True with probability `permille` per mille.
    #[inline]
    pub fn permille(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }

    /// A uniformly chosen element.
    #[inline]
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An element chosen by integer weights (`(weight, item)` pairs).
    pub fn weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| *w as u64).sum();
        let mut x = self.below(total);
        for (w, item) in items {
            if x < *w as u64 {
                return item;
            }
            x -= *w as u64;
        }
        &items[items.len() - 1].1
    }
}

/// Lets `fake`'s generators (`fake_with_rng`) draw from a row stream.
impl rand::TryRng for RowRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.draw() >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.draw())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.draw().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream_different_key_different_stream() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = RowRng::new(42, 1, 7, 0);
                move |_| r.draw()
            })
            .collect();
        let mut r = RowRng::new(42, 1, 7, 0);
        let b: Vec<u64> = (0..4).map(|_| r.draw()).collect();
        assert_eq!(a, b);
        for other in [
            RowRng::new(43, 1, 7, 0),
            RowRng::new(42, 2, 7, 0),
            RowRng::new(42, 1, 8, 0),
            RowRng::new(42, 1, 7, 1),
        ] {
            let mut o = other;
            assert_ne!(o.draw(), a[0]);
        }
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = RowRng::new(1, 1, 1, 1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
        }
        let w = [(1u32, 'a'), (0, 'b'), (3, 'c')];
        for _ in 0..1000 {
            assert_ne!(*r.weighted(&w), 'b');
        }
    }

    #[test]
    fn fake_generators_accept_the_row_stream() {
        use fake::Fake;
        use fake::faker::name::en::FirstName;
        let name: String = FirstName().fake_with_rng(&mut RowRng::new(1, 2, 3, 4));
        let again: String = FirstName().fake_with_rng(&mut RowRng::new(1, 2, 3, 4));
        assert_eq!(name, again);
    }
}
