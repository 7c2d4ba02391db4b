//! A whole text file in memory, read with a cap: at most [`Limit::bytes`]
//! are ever read, and the content is checked as it arrives, so `/dev/zero`
//! or `/dev/urandom` are refused within the first chunk. Text is UTF-8
//! without NUL bytes; a fault is named as origin:line:column.

use std::io::Read;
use std::path::Path;

use super::{CappedReader, InputError, Limit};

const CHUNK: usize = 64 * 1024;

/// Read the file at `path` (any kind that reads: regular file, device,
/// pipe) as text of at most `limit`. Errors start with the path.
pub fn read(path: &Path, limit: Limit) -> Result<String, InputError> {
    let origin = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(f) => read_from(f, &origin, limit),
        Err(source) => Err(InputError::Io { origin, source }),
    }
}

/// Read `reader` to its end as text of at most `limit`; `origin` names it
/// in errors ("stdin").
pub fn read_from(reader: impl Read, origin: &str, limit: Limit) -> Result<String, InputError> {
    let mut r = CappedReader::new(reader, limit);
    let mut bytes: Vec<u8> = Vec::new();
    // Bytes before `checked` are known to be whole UTF-8 characters.
    let mut checked = 0;
    loop {
        let len = bytes.len();
        bytes.resize(len + CHUNK, 0);
        let n = match r.read(&mut bytes[len..]) {
            Ok(n) => n,
            Err(_) if r.exceeded => {
                return Err(InputError::TooLarge {
                    origin: origin.into(),
                    limit,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(source) => {
                return Err(InputError::Io {
                    origin: origin.into(),
                    source,
                });
            }
        };
        bytes.truncate(len + n);
        checked = check(&bytes, checked, n == 0).map_err(|(at, message)| {
            let (line, column) = line_column(&bytes[..at]);
            InputError::Content {
                origin: origin.into(),
                line,
                column,
                message,
            }
        })?;
        if n == 0 {
            break;
        }
    }
    // `check` has validated every byte: this does not copy (nor is the
    // spare capacity of the last chunk given back, which could).
    String::from_utf8(bytes).map_err(|e| InputError::Content {
        origin: origin.into(),
        line: 1,
        column: 1,
        message: e.to_string(),
    })
}

/// Validate `bytes[from..]`; returns how far it is whole characters, or
/// the offset and description of the first fault. A character cut at the
/// end is only a fault at the end of the input (`eof`).
fn check(bytes: &[u8], from: usize, eof: bool) -> Result<usize, (usize, String)> {
    let new = &bytes[from..];
    let valid = match std::str::from_utf8(new) {
        Ok(_) => new.len(),
        Err(e) => match e.error_len() {
            None if !eof => e.valid_up_to(),
            _ => {
                let at = from + e.valid_up_to();
                // A NUL before the bad byte is the earlier fault.
                if let Some(nul) = new[..e.valid_up_to()].iter().position(|b| *b == 0) {
                    return Err((from + nul, nul_message()));
                }
                return Err((
                    at,
                    format!(
                        "not UTF-8 text (byte 0x{:02x}); convert it first, e.g. iconv -t UTF-8",
                        bytes[at]
                    ),
                ));
            }
        },
    };
    match new[..valid].iter().position(|b| *b == 0) {
        Some(nul) => Err((from + nul, nul_message())),
        None => Ok(from + valid),
    }
}

fn nul_message() -> String {
    "not a text file (NUL byte)".into()
}

/// 1-based line and column (in characters) just after `prefix`, which is
/// valid UTF-8.
fn line_column(prefix: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(prefix).unwrap_or_default();
    let line = text.matches('\n').count() + 1;
    let last = text.rfind('\n').map_or(0, |i| i + 1);
    (line, text[last..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Limit = Limit {
        bytes: 100,
        what: "tests",
    };

    fn err(bytes: &[u8]) -> String {
        read_from(bytes, "f.sql", TINY).unwrap_err().to_string()
    }

    #[test]
    fn text_within_the_limit_is_read_whole() {
        let s = "héllo\nwörld\n".repeat(5);
        assert_eq!(read_from(s.as_bytes(), "f", TINY).unwrap(), s);
        assert_eq!(read_from(&b""[..], "f", TINY).unwrap(), "");
        assert_eq!(read_from(&[b'a'; 100][..], "f", TINY).unwrap().len(), 100);
    }

    #[test]
    fn faults_name_line_and_column() {
        assert_eq!(
            err(b"SELECT 1;\nSELECT '\xe9t\xe9';\n"),
            "f.sql:2:9: not UTF-8 text (byte 0xe9); convert it first, e.g. iconv -t UTF-8"
        );
        assert_eq!(err(b"ab\0c"), "f.sql:1:3: not a text file (NUL byte)");
        // A character cut by the end of the input.
        assert!(err("é".as_bytes().split_last().unwrap().1).starts_with("f.sql:1:1: not UTF-8"));
        assert_eq!(
            err(&[b'a'; 101]),
            "f.sql: larger than 100 bytes, the limit for tests"
        );
    }

    #[test]
    fn a_character_split_across_chunks_is_whole() {
        let mut s = "a".repeat(CHUNK - 1);
        s.push('é');
        s.push('\n');
        let limit = Limit {
            bytes: 1 << 20,
            what: "tests",
        };
        // A reader returning at most CHUNK bytes at a time cuts the é.
        assert_eq!(read_from(s.as_bytes(), "f", limit).unwrap(), s);
    }

    #[test]
    fn endless_devices_are_refused_at_once() {
        let big = Limit {
            bytes: 1 << 30,
            what: "tests",
        };
        let e = read(Path::new("/dev/zero"), big).unwrap_err().to_string();
        assert_eq!(e, "/dev/zero:1:1: not a text file (NUL byte)");
        let e = read(Path::new("/dev/urandom"), big)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/dev/urandom:") && e.contains(": not "),
            "{e}"
        );
        let e = read(Path::new("/no/such/file"), big)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/no/such/file: No such file"), "{e}");
        let e = read(Path::new("/tmp"), big).unwrap_err().to_string();
        assert!(e.starts_with("/tmp: Is a directory"), "{e}");
    }
}
