//! A small SQL lexer for workload files: splits the text into statements at
//! top-level `;` (respecting quotes, dollar quotes and comments) and rewrites
//! psql-style `:name` / `:'name'` placeholders into `$1…$n`.

/// A statement as found in the file, before variables are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RawStatement {
    /// Text as written, without the final `;`, trimmed.
    pub source: String,
    /// Text with `$n` in place of placeholders.
    pub sql: String,
    /// Placeholder names in `$n` order, with the line of first use.
    pub placeholders: Vec<(String, usize)>,
    /// Line of the first non-blank SQL text.
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Normal,
    Single,
    Double,
    Block,
}

/// Incremental splitter fed one line at a time.
#[derive(Debug)]
pub struct Splitter {
    state: State,
    dollar: Option<String>,
    source: String,
    sql: String,
    placeholders: Vec<(String, usize)>,
    start_line: Option<usize>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Splitter {
    pub fn new() -> Self {
        Splitter {
            state: State::Normal,
            dollar: None,
            source: String::new(),
            sql: String::new(),
            placeholders: Vec::new(),
            start_line: None,
        }
    }

    /// True when text of an unfinished statement is pending.
    pub fn in_statement(&self) -> bool {
        self.start_line.is_some()
    }

    /// Line where the pending statement starts.
    pub fn pending_line(&self) -> Option<usize> {
        self.start_line
    }

    fn placeholder(&mut self, name: &str, line: usize) {
        let idx = match self.placeholders.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.placeholders.push((name.to_string(), line));
                self.placeholders.len() - 1
            }
        };
        self.sql.push('$');
        self.sql.push_str(&(idx + 1).to_string());
    }

    /// Feed one line (without its newline); returns statements completed on it.
    pub fn feed_line(&mut self, line: &str, lineno: usize) -> Vec<RawStatement> {
        let mut out = Vec::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if let Some(tag) = &self.dollar {
                // Inside a dollar-quoted string: look for the closing tag.
                let rest: String = chars[i..].iter().collect();
                if rest.starts_with(tag.as_str()) {
                    let t = tag.clone();
                    self.push_str(&t);
                    i += t.chars().count();
                    self.dollar = None;
                } else {
                    self.push(c);
                    i += 1;
                }
                continue;
            }
            match self.state {
                State::Single => {
                    self.push(c);
                    if c == '\'' {
                        self.state = State::Normal;
                    }
                    i += 1;
                }
                State::Double => {
                    self.push(c);
                    if c == '"' {
                        self.state = State::Normal;
                    }
                    i += 1;
                }
                State::Block => {
                    self.push(c);
                    if c == '*' && next == Some('/') {
                        self.push('/');
                        i += 2;
                        self.state = State::Normal;
                    } else {
                        i += 1;
                    }
                }
                State::Normal => {
                    if c == '-' && next == Some('-') {
                        // Line comment: keep it in the text only when inside a statement.
                        if self.in_statement() {
                            let rest: String = chars[i..].iter().collect();
                            self.push_str(&rest);
                        }
                        break;
                    }
                    if c.is_whitespace() && !self.in_statement() {
                        i += 1;
                        continue;
                    }
                    if self.start_line.is_none() && c != ';' {
                        self.start_line = Some(lineno);
                    }
                    match c {
                        ';' => {
                            if let Some(s) = self.finish() {
                                out.push(s);
                            }
                            i += 1;
                        }
                        '\'' => {
                            self.state = State::Single;
                            self.push(c);
                            i += 1;
                        }
                        '"' => {
                            self.state = State::Double;
                            self.push(c);
                            i += 1;
                        }
                        '/' if next == Some('*') => {
                            self.state = State::Block;
                            self.push_str("/*");
                            i += 2;
                        }
                        '$' if next.is_some_and(|n| n == '$' || ident_start(n)) => {
                            // Dollar quote opening `$tag$`?
                            let mut j = i + 1;
                            while j < chars.len() && ident_char(chars[j]) {
                                j += 1;
                            }
                            if j < chars.len() && chars[j] == '$' {
                                let tag: String = chars[i..=j].iter().collect();
                                self.push_str(&tag);
                                self.dollar = Some(tag);
                                i = j + 1;
                            } else {
                                self.push(c);
                                i += 1;
                            }
                        }
                        ':' => {
                            let prev_colon = i > 0 && chars[i - 1] == ':';
                            if next == Some(':') || prev_colon {
                                self.push(c);
                                i += 1;
                            } else if next.is_some_and(ident_start) {
                                let mut j = i + 1;
                                while j < chars.len() && ident_char(chars[j]) {
                                    j += 1;
                                }
                                let name: String = chars[i + 1..j].iter().collect();
                                self.source
                                    .push_str(&chars[i..j].iter().collect::<String>());
                                self.placeholder(&name, lineno);
                                i = j;
                            } else if next == Some('\'') {
                                // :'name' (psql's quoted-literal form)
                                let mut j = i + 2;
                                while j < chars.len() && ident_char(chars[j]) {
                                    j += 1;
                                }
                                if j > i + 2 && j < chars.len() && chars[j] == '\'' {
                                    let name: String = chars[i + 2..j].iter().collect();
                                    self.source
                                        .push_str(&chars[i..=j].iter().collect::<String>());
                                    self.placeholder(&name, lineno);
                                    i = j + 1;
                                } else {
                                    self.push(c);
                                    i += 1;
                                }
                            } else {
                                self.push(c);
                                i += 1;
                            }
                        }
                        _ => {
                            self.push(c);
                            i += 1;
                        }
                    }
                }
            }
        }
        if self.in_statement() {
            self.push('\n');
        }
        out
    }

    fn push(&mut self, c: char) {
        self.source.push(c);
        self.sql.push(c);
    }
    fn push_str(&mut self, s: &str) {
        self.source.push_str(s);
        self.sql.push_str(s);
    }

    fn finish(&mut self) -> Option<RawStatement> {
        let line = self.start_line.take()?;
        let s = RawStatement {
            source: self.source.trim().to_string(),
            sql: self.sql.trim().to_string(),
            placeholders: std::mem::take(&mut self.placeholders),
            line,
        };
        self.source.clear();
        self.sql.clear();
        if s.sql.is_empty() { None } else { Some(s) }
    }
}

/// Split a whole text (convenience for tests and sample queries).
pub fn split(text: &str) -> Vec<RawStatement> {
    let mut sp = Splitter::new();
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        out.extend(sp.feed_line(l, i + 1));
    }
    out
}

/// The first keyword of `sql`, upper-cased, after leading whitespace,
/// comments and opening parentheses (`None` when the text starts otherwise).
pub fn first_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| ident_char(*c)).collect();
    (!word.is_empty() && ident_start(word.chars().next()?)).then(|| word.to_ascii_uppercase())
}

/// Keywords a plain (row-returning, non-modifying) query starts with.
pub const QUERY_KEYWORDS: [&str; 4] = ["SELECT", "WITH", "VALUES", "TABLE"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_positional() {
        let s = split("SELECT * FROM t\nWHERE a = :a AND b = :'b' AND c = :a::int;");
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].sql,
            "SELECT * FROM t\nWHERE a = $1 AND b = $2 AND c = $1::int"
        );
        assert_eq!(
            s[0].placeholders,
            vec![("a".to_string(), 2), ("b".to_string(), 2)]
        );
        assert_eq!(s[0].line, 1);
    }

    #[test]
    fn quotes_comments_and_casts_are_left_alone() {
        let s = split(
            "SELECT ':x;', $$ :y; $$, x::text -- :z;\n, \"a:b\" /* :w; */ FROM t;\nSELECT 2;",
        );
        assert_eq!(s.len(), 2);
        assert!(s[0].placeholders.is_empty(), "{:?}", s[0]);
        assert_eq!(s[1].sql, "SELECT 2");
        assert_eq!(s[1].line, 3);
    }

    #[test]
    fn first_keyword_skips_comments_and_parentheses() {
        assert_eq!(first_keyword(" select 1").as_deref(), Some("SELECT"));
        assert_eq!(
            first_keyword("/* x */ -- y\n ((With a AS (SELECT 1) TABLE a))").as_deref(),
            Some("WITH")
        );
        assert_eq!(
            first_keyword("DELETE FROM t RETURNING id").as_deref(),
            Some("DELETE")
        );
        assert_eq!(first_keyword("-- only a comment"), None);
        assert_eq!(first_keyword("1 + 1"), None);
    }
}
