//! Relation names as PostgreSQL sees them: unquoted identifiers fold to
//! lower case, quoted ones are kept exactly; rendering quotes only when needed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A relation name, optionally schema-qualified, already case-folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelName {
    pub schema: Option<String>,
    pub name: String,
}

impl RelName {
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        RelName {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for RelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{}.", quote_ident(s))?;
        }
        f.write_str(&quote_ident(&self.name))
    }
}

/// Words that must be quoted even when lower case (PostgreSQL reserved
/// keywords plus a few common column names that clash).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// Quote an identifier the way PostgreSQL's `quote_ident` does.
pub fn quote_ident(s: &str) -> String {
    let simple = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&s);
    if simple {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("pets"), "pets");
        assert_eq!(quote_ident("Pets"), "\"Pets\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            RelName::new(Some("My Schema"), "t1").to_string(),
            "\"My Schema\".t1"
        );
    }
}
