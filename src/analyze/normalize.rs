//! Repairing normalised statement text before it is parsed and planned.
//!
//! `pg_stat_statements` replaces constants by `$n`, which turns a typed
//! literal such as `interval '7 days'` into `interval $2` — not valid SQL, so
//! neither sqlparser nor `PREPARE` accepts it. [`cast_typed_placeholders`]
//! rewrites `<type> $n` into `$n::<type>` for the type names that have the
//! typed-literal syntax, leaving quoted text and comments alone.

/// Type names written before a literal (`date '2024-01-01'`), in lower case.
/// Multi-word names (`timestamp with time zone`) are matched by their last
/// word and kept whole.
const TYPES: &[&str] = &[
    "interval",
    "date",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "zone",
    "uuid",
    "inet",
    "cidr",
    "json",
    "jsonb",
    "numeric",
    "decimal",
    "bigint",
    "int",
    "integer",
    "smallint",
    "real",
    "text",
    "varchar",
    "char",
    "bool",
    "boolean",
    "bytea",
    "money",
];

/// Rewrite every `<type> $n` outside quotes and comments as `$n::<type>`.
pub fn cast_typed_placeholders(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if let Some(next) = super::lex::skip_opaque(sql, i) {
            i = next;
            continue;
        }
        match b[i] {
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut end = i + 1;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if let Some((type_start, type_text)) = typed_prefix(sql, i) {
                    out.push_str(&sql[copied..type_start]);
                    out.push_str(&sql[i..end]);
                    out.push_str("::");
                    out.push_str(type_text);
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// If the text before `dollar` ends with a known type name (after
/// whitespace), its start and text, including `with/without time zone`.
fn typed_prefix(sql: &str, dollar: usize) -> Option<(usize, &str)> {
    let before = sql[..dollar].trim_end();
    if before.len() == sql[..dollar].len() {
        return None; // `interval$1` is not the typed-literal form
    }
    let word_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |p| p + 1);
    let word = &before[word_start..];
    if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(word)) {
        return None;
    }
    if word.eq_ignore_ascii_case("zone") {
        // `timestamp with time zone $1` / `time without time zone $1`
        let lower = before.to_ascii_lowercase();
        for kw in ["timestamp", "time"] {
            for tail in [" with time zone", " without time zone"] {
                let phrase = format!("{kw}{tail}");
                if lower.ends_with(&phrase) {
                    let start = before.len() - phrase.len();
                    let ok = start == 0 || !before.as_bytes()[start - 1].is_ascii_alphanumeric();
                    if ok {
                        return Some((start, &before[start..]));
                    }
                }
            }
        }
        return None;
    }
    // `x::interval $1` is not a typed literal either.
    if before[..word_start].trim_end().ends_with("::") {
        return None;
    }
    Some((word_start, word))
}

#[cfg(test)]
mod tests {
    use super::cast_typed_placeholders as fix;

    #[test]
    fn typed_literals_become_casts() {
        assert_eq!(
            fix("SELECT 1 FROM t WHERE at >= now() - interval $2 AND d = date $3"),
            "SELECT 1 FROM t WHERE at >= now() - $2::interval AND d = $3::date"
        );
        assert_eq!(
            fix("SELECT TIMESTAMP WITH TIME ZONE $1"),
            "SELECT $1::TIMESTAMP WITH TIME ZONE"
        );
        assert_eq!(
            fix("VALUES (now() + INTERVAL  $10)"),
            "VALUES (now() + $10::INTERVAL)"
        );
    }

    #[test]
    fn leaves_everything_else_alone() {
        for s in [
            "SELECT * FROM t WHERE id = $1",
            "SELECT 'interval $1' FROM t",
            "SELECT x::interval FROM t WHERE y = $1",
            "SELECT \"date\" FROM t -- date $1\nWHERE a = $2",
            "SELECT interval$1",
            "SELECT myinterval $1",
        ] {
            assert_eq!(fix(s), s);
        }
    }
}
