//! Reading what users hand us, with bounded memory whatever the input:
//! `text` reads a whole text file (workloads, suites, SQL) up to a size
//! limit and rejects what is not UTF-8 text with file:line:column; `json`
//! streams a results file into its typed struct without holding the file
//! or a JSON tree in memory. Devices and pipes (`/dev/zero`, `<(cmd)`,
//! stdin) are read like files, through the same caps.

pub mod json;
pub mod text;

use std::io::{self, Read};

/// The most a kind of input may hold, named in the error when exceeded.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bytes: u64,
    /// The kind of input, for messages ("workload files").
    pub what: &'static str,
}

/// Workload files (`--workload`, `workload check`, a suite's `workload`).
pub const WORKLOAD: Limit = Limit {
    bytes: 16 << 20,
    what: "workload files",
};
/// Regress suites (for `regress::suite::load`, which still reads them whole).
pub const SUITE: Limit = Limit {
    bytes: 1 << 20,
    what: "suite files",
};
/// SQL read by `analyze --from-file` / `--stdin`.
pub const SQL: Limit = Limit {
    bytes: 256 << 20,
    what: "SQL input",
};
/// Stress and regress results files (`report`, `--baseline`,
/// `--from-results`, `--history`): streamed, so memory follows what they
/// hold, not their size.
pub const RESULTS: Limit = Limit {
    bytes: 4 << 30,
    what: "results files",
};

/// What went wrong reading an input. Every message starts with the input's
/// name (and, for content, its line and column).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{origin}: {source}")]
    Io { origin: String, source: io::Error },
    #[error("{origin}: larger than {}, the limit for {}", human(.limit.bytes), .limit.what)]
    TooLarge { origin: String, limit: Limit },
    #[error("{origin}:{line}:{column}: {message}")]
    Content {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b => format!("{b} bytes"),
    }
}

/// A reader that fails with [`CappedReader::exceeded`] set once more than
/// `limit` bytes have come through (so a streaming parser stops there).
pub(crate) struct CappedReader<R> {
    inner: R,
    left: u64,
    pub exceeded: bool,
}

impl<R: Read> CappedReader<R> {
    pub fn new(inner: R, limit: Limit) -> Self {
        CappedReader {
            inner,
            left: limit.bytes,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte more than allowed, to tell "exactly the limit"
        // from "more".
        let want = buf.len().min(self.left.saturating_add(1) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other("input larger than its limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capped_reader_stops_one_byte_past_the_limit() {
        let limit = Limit {
            bytes: 10,
            what: "tests",
        };
        let mut r = CappedReader::new(io::repeat(b'a'), limit);
        let mut v = Vec::new();
        assert!(r.read_to_end(&mut v).is_err());
        assert!(r.exceeded && v.len() <= 10, "{}", v.len());
        let mut r = CappedReader::new(&b"0123456789"[..], limit);
        let mut v = Vec::new();
        assert_eq!(r.read_to_end(&mut v).unwrap(), 10);
        assert!(!r.exceeded);
    }

    #[test]
    fn limits_read_as_sizes() {
        assert_eq!(human(WORKLOAD.bytes), "16 MiB");
        assert_eq!(human(RESULTS.bytes), "4 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
