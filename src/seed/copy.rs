//! A PostgreSQL binary COPY encoder writing straight into a byte buffer.
//!
//! Rows are encoded on the rayon threads that generate them, so the async
//! side only forwards finished [`bytes::Bytes`] to a `CopyInSink`. Format:
//! <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// The stream header: signature, flags, header-extension length.
pub fn header() -> Bytes {
    let mut b = BytesMut::with_capacity(19);
    b.put_slice(b"PGCOPY\n\xff\r\n\0");
    b.put_i32(0);
    b.put_i32(0);
    b.freeze()
}

/// The stream trailer.
pub fn trailer() -> Bytes {
    Bytes::from_static(&[0xff, 0xff])
}

/// Encoded rows of one chunk.
pub struct RowBuf {
    buf: BytesMut,
}

impl RowBuf {
    pub fn with_capacity(bytes: usize) -> Self {
        RowBuf {
            buf: BytesMut::with_capacity(bytes),
        }
    }

    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Start a row of `fields` columns.
    #[inline]
    pub fn row(&mut self, fields: i16) {
        self.buf.put_i16(fields);
    }

    #[inline]
    pub fn null(&mut self) {
        self.buf.put_i32(-1);
    }

    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i32(8);
        self.buf.put_i64(v);
    }

    #[inline]
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(4);
        self.buf.put_i32(v);
    }

    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.buf.put_i32(1);
        self.buf.put_u8(v as u8);
    }

    /// `text`, `varchar`, `char(n)`.
    #[inline]
    pub fn text(&mut self, s: &str) {
        self.buf.put_i32(s.len() as i32);
        self.buf.put_slice(s.as_bytes());
    }

    /// A text value formatted in place (no intermediate `String`).
    #[inline]
    pub fn text_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let at = self.buf.len();
        self.buf.put_i32(0);
        self.buf
            .write_fmt(args)
            .expect("formatting into memory cannot fail");
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// A text value built by a closure writing into the buffer.
    #[inline]
    pub fn text_with(&mut self, f: impl FnOnce(&mut BytesMut)) {
        let at = self.buf.len();
        self.buf.put_i32(0);
        f(&mut self.buf);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// `jsonb` (binary format: version 1, then the JSON text) built by a
    /// closure writing the JSON text; the caller guarantees valid JSON.
    #[inline]
    pub fn jsonb_with(&mut self, f: impl FnOnce(&mut BytesMut)) {
        self.text_with(|b| {
            b.put_u8(1);
            f(b);
        });
    }

    /// `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    #[inline]
    pub fn ts(&mut self, us: i64) {
        self.i64(us);
    }

    /// `date`: days since 2000-01-01.
    #[inline]
    pub fn date(&mut self, days: i32) {
        self.i32(days);
    }

    /// `numeric` holding `units / 10^scale` (scale ≤ 4).
    pub fn numeric(&mut self, units: i64, scale: u16) {
        debug_assert!(scale <= 4);
        let neg = units < 0;
        let abs = units.unsigned_abs();
        let pow = 10u64.pow(scale as u32);
        let (mut int, frac) = (abs / pow, abs % pow);
        let mut groups = [0i16; 6];
        let mut n = 0;
        while int > 0 {
            groups[n] = (int % 10_000) as i16;
            int /= 10_000;
            n += 1;
        }
        let weight = n as i16 - 1;
        let ndigits = n + usize::from(scale > 0);
        self.buf.put_i32(8 + 2 * ndigits as i32);
        self.buf.put_i16(ndigits as i16);
        self.buf.put_i16(weight);
        self.buf.put_u16(if neg { 0x4000 } else { 0 });
        self.buf.put_u16(scale);
        for g in groups[..n].iter().rev() {
            self.buf.put_i16(*g);
        }
        if scale > 0 {
            self.buf
                .put_i16((frac * 10u64.pow(4 - scale as u32)) as i16);
        }
    }

    pub fn uuid(&mut self, b: [u8; 16]) {
        self.buf.put_i32(16);
        self.buf.put_slice(&b);
    }

    /// `inet` holding an IPv4 host address.
    pub fn inet4(&mut self, a: [u8; 4]) {
        self.buf.put_i32(8);
        self.buf.put_slice(&[2, 32, 0, 4]); // PGSQL_AF_INET, /32, not cidr, 4 bytes
        self.buf.put_slice(&a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut RowBuf)) -> Vec<u8> {
        let mut b = RowBuf::with_capacity(64);
        f(&mut b);
        b.finish().to_vec()
    }

    #[test]
    fn numeric_layout() {
        // 12.34 → digits [12, 3400], weight 0, dscale 2
        assert_eq!(
            enc(|b| b.numeric(1234, 2)),
            [0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 13, 72]
        );
        // 0.5 (scale 1) → digits [5000], weight -1
        assert_eq!(
            enc(|b| b.numeric(5, 1)),
            [0, 0, 0, 10, 0, 1, 255, 255, 0, 0, 0, 1, 19, 136]
        );
    }

    #[test]
    fn text_fmt_patches_length() {
        assert_eq!(
            enc(|b| b.text_fmt(format_args!("a{}", 12))),
            [0, 0, 0, 3, b'a', b'1', b'2']
        );
    }
}
