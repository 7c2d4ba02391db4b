//! The smallest SQL lexing dbload needs: stepping over the parts of a text
//! in which `;`, `$n` or keywords mean nothing — string literals (including
//! `E'…'` escapes), quoted identifiers, `--` and nested `/* */` comments,
//! and `$tag$ … $tag$` dollar quotes — and splitting a script into its
//! statements. At the bottom of the layers, so that migrations (here in
//! `db`) and the analyzer (`analyze::lex` re-exports it) share one lexer.

use std::ops::Range;

/// If an opaque part (literal, quoted identifier, comment, dollar quote)
/// starts at byte `i` of `text`, the index just past it; else `None`.
/// A `$1` parameter is not a dollar quote. An unterminated part runs to the
/// end of the text.
pub fn skip_opaque(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    match b[i] {
        b'\'' | b'"' => {
            let q = b[i];
            // E'…' strings take backslash escapes.
            let escapes = q == b'\''
                && i > 0
                && matches!(b[i - 1], b'E' | b'e')
                && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
            let mut j = i + 1;
            while j < b.len() {
                if escapes && b[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if b[j] == q {
                    if j + 1 < b.len() && b[j + 1] == q {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            Some((j + 1).min(b.len()))
        }
        b'-' if b.get(i + 1) == Some(&b'-') => {
            Some(text[i..].find('\n').map_or(b.len(), |p| i + p))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            let mut depth = 1;
            let mut j = i + 2;
            while j < b.len() && depth > 0 {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            Some(j.min(b.len()))
        }
        b'$' => {
            let e = text[i + 1..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map(|p| i + 1 + p)?;
            if b[e] != b'$' || text[i + 1..e].starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            let tag = &text[i..=e];
            Some(
                text[e + 1..]
                    .find(tag)
                    .map_or(b.len(), |p| e + 1 + p + tag.len()),
            )
        }
        _ => None,
    }
}

/// The byte ranges of the statements of `text`, split at top-level `;`
/// (which is left out); a last statement without `;` is included. Ranges
/// holding only blanks and comments are left out.
pub fn statements(text: &str) -> Vec<Range<usize>> {
    let mut ends = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match skip_opaque(text, i) {
            Some(next) => i = next,
            None if text.as_bytes()[i] == b';' => {
                ends.push(i);
                i += 1;
            }
            None => i += 1,
        }
    }
    ends.push(text.len());
    let mut start = 0;
    let mut out = Vec::new();
    for end in ends {
        if first_token(text, start) < end {
            out.push(start..end);
        }
        start = end + 1;
    }
    out
}

/// The byte offset of the first character at or after `from` that is
/// neither blank nor in a comment (`text.len()` when there is none).
pub fn first_token(text: &str, from: usize) -> usize {
    let mut i = from;
    while i < text.len() {
        let rest = &text[i..];
        let blank = rest.len() - rest.trim_start().len();
        if blank > 0 {
            i += blank;
        } else if rest.starts_with("--") || rest.starts_with("/*") {
            i = skip_opaque(text, i).unwrap_or(text.len());
        } else {
            break;
        }
    }
    i.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_over_each_kind() {
        let t = "'a''b' x";
        assert_eq!(skip_opaque(t, 0), Some(6));
        let t = "E'a\\'b' x";
        assert_eq!(skip_opaque(t, 1), Some(7));
        let t = "-- c\nx";
        assert_eq!(skip_opaque(t, 0), Some(4));
        let t = "/* a /* b */ c */x";
        assert_eq!(skip_opaque(t, 0), Some(17));
        let t = "$f$ ; $f$x";
        assert_eq!(skip_opaque(t, 0), Some(9));
        assert_eq!(skip_opaque("$1 x", 0), None);
        assert_eq!(skip_opaque("x", 0), None);
        assert_eq!(skip_opaque("'open", 0), Some(5));
    }

    #[test]
    fn statements_split_at_top_level_semicolons() {
        let t = "-- head\nCREATE TABLE a (x text DEFAULT ';');\n\n/* ; */ SELECT $$;$$;\n-- tail\n";
        let s: Vec<&str> = statements(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(
            s,
            vec![
                "-- head\nCREATE TABLE a (x text DEFAULT ';')",
                "\n\n/* ; */ SELECT $$;$$"
            ]
        );
        assert_eq!(&t[first_token(t, 0)..first_token(t, 0) + 6], "CREATE");
        assert_eq!(statements("SELECT 1").len(), 1);
        assert!(statements(" ;; -- x\n").is_empty());
    }
}
