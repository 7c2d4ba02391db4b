//! Escaping for the Markdown renderers (`*_markdown.rs`): every string that
//! comes from a user (workload, scenario, suite and run names, SQL, file
//! names, identifiers, messages) goes through [`text`], [`code`] or
//! [`code_cell`], so it shows as written and can neither inject HTML nor
//! break a table.

/// Plain text (also safe in a table cell): HTML characters become
/// entities; Markdown's emphasis, link, code and table characters are
/// backslash-escaped; a newline becomes a space.
pub fn text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '<' | '>' => o.push_str(super::entity(c).unwrap_or_default()),
            '\\' | '`' | '*' | '[' | ']' | '|' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A code span outside a table: shown literally (HTML is not interpreted
/// inside one); fenced with more backticks than the text holds in a row.
pub fn code(s: &str) -> String {
    let flat = s.replace(['\n', '\r'], " ");
    let longest = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span starting or ending with a backtick needs a space inside.
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// A code span inside a table cell: as [`code`], with `|` escaped (GitHub
/// splits cells at a bare `|` even inside a code span).
pub fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_markdown_are_neutralised() {
        assert_eq!(
            text("<script>alert(1)</script> & *x* [a](b) | c\nd"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\*x\\* \\[a\\](b) \\| c d"
        );
        assert_eq!(text("search_pets"), "search_pets");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code("SELECT 1"), "`SELECT 1`");
        assert_eq!(code("a ` b"), "``a ` b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("<b>\nx"), "`<b> x`");
        assert_eq!(code_cell("a || b"), "`a \\|\\| b`");
    }
}
