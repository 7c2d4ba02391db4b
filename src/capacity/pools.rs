//! `--pool` values: one size (`16`), a list (`4,8,16,32`) or a geometric
//! range (`4..64x2`: 4, 8, 16, 32, 64) — or an additive one (`4..16+4`).
//! Errors name the bad token.

/// Largest pool size accepted.
pub const MAX_POOL: usize = 10_000;

fn size(tok: &str, what: &str) -> Result<usize, String> {
    match tok.trim().parse::<usize>() {
        Ok(0) => Err(format!(
            "pool size {:?} in {what:?}: must be at least 1",
            tok.trim()
        )),
        Ok(n) if n > MAX_POOL => Err(format!(
            "pool size {:?} in {what:?}: more than {MAX_POOL}",
            tok.trim()
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "cannot read pool size {:?} in {what:?} (e.g. 16, 4,8,16 or 4..64x2)",
            tok.trim()
        )),
    }
}

fn range(tok: &str) -> Result<Vec<usize>, String> {
    let (lo, rest) = tok.split_once("..").unwrap();
    let lo = size(lo, tok)?;
    let (hi, step, geometric) = if let Some((h, f)) = rest.split_once('x') {
        (h, f, true)
    } else if let Some((h, f)) = rest.split_once('+') {
        (h, f, false)
    } else {
        (rest, "2", true)
    };
    let hi = size(hi, tok)?;
    if hi < lo {
        return Err(format!("pool range {tok:?}: {hi} is below {lo}"));
    }
    let step: usize = step
        .trim()
        .parse()
        .ok()
        .filter(|s| if geometric { *s >= 2 } else { *s >= 1 })
        .ok_or_else(|| {
            format!(
                "pool range {tok:?}: cannot read the step {:?} (x2 or more, +1 or more)",
                step.trim()
            )
        })?;
    let mut v = Vec::new();
    let mut n = lo;
    while n <= hi {
        v.push(n);
        n = if geometric { n * step } else { n + step };
    }
    Ok(v)
}

/// Parse `--pool`: sizes in the order given, duplicates removed.
pub fn parse(spec: &str) -> Result<Vec<usize>, String> {
    let mut v: Vec<usize> = Vec::new();
    for tok in spec.split(',') {
        let tok = tok.trim();
        if tok.is_empty() {
            return Err(format!("empty pool size in {spec:?}"));
        }
        let sizes = if tok.contains("..") {
            range(tok)?
        } else {
            vec![size(tok, spec)?]
        };
        for s in sizes {
            if !v.contains(&s) {
                v.push(s);
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse("16").unwrap(), vec![16]);
        assert_eq!(parse("4, 8,16,32,64").unwrap(), vec![4, 8, 16, 32, 64]);
        assert_eq!(parse("4..64x2").unwrap(), vec![4, 8, 16, 32, 64]);
        assert_eq!(parse("4..50x2").unwrap(), vec![4, 8, 16, 32]);
        assert_eq!(parse("2..10+4").unwrap(), vec![2, 6, 10]);
        assert_eq!(parse("1..8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(parse("2,1..4x2").unwrap(), vec![2, 1, 4]);
    }

    #[test]
    fn bad_pool_lists_name_the_token() {
        assert!(parse("4,eight,16").unwrap_err().contains("\"eight\""));
        assert!(parse("4,0").unwrap_err().contains("\"0\""));
        assert!(parse("4,,8").unwrap_err().contains("empty pool size"));
        assert!(parse("64..4").unwrap_err().contains("64..4"));
        let e = parse("4..64x1").unwrap_err();
        assert!(e.contains("\"4..64x1\"") && e.contains("step \"1\""), "{e}");
        assert!(parse("4..6y4x2").unwrap_err().contains("\"6y4\""));
    }
}
