//! Byte sizes as users write them on the command line: `100MB`, `1.5GB`,
//! `512kB`, `2GiB`, `1048576` (binary multiples, as PostgreSQL's own
//! `pg_size_pretty` and memory settings use), and back for messages.

/// Parse a size; the error says what is accepted.
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 100MB, 1.5GB, 512kB, 1048576)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        u => return Err(format!("'{s}': unknown unit '{u}' (B, kB, MB, GB, TB)")),
    };
    let v = n * mult;
    if !v.is_finite() || v > i64::MAX as f64 {
        return Err(format!("'{s}' is too large"));
    }
    Ok(v as i64)
}

/// A size for people: `512 kB`, `12.3 MiB`, `1.5 GiB`.
pub fn format_size(b: i64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} kB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100MB"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_size("1.5 GB"), Ok(1536 * 1024 * 1024));
        assert_eq!(parse_size("512kB"), Ok(512 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("ten MB").is_err());
        assert!(
            parse_size("10 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
