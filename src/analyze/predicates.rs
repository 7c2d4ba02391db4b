//! Pure helpers that classify predicate pieces for the SQL extractor:
//! which expressions can be index keys (immutable-looking expressions over
//! the columns of one table, written without parameters), the shape of a
//! `LIKE`/`ILIKE`/regex pattern, the GIN operators, and the literal text of
//! constants (for partial-index predicates). Whether an expression really is
//! immutable is the server's call (see `probe`); this module only decides
//! what is worth asking about.

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The shape of a pattern-matching predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatternShape {
    /// Anchored at the start with a fixed leading part (`'abc%'`,
    /// `$1 || '%'`, `'^abc'`): a btree range can serve it.
    pub prefix: bool,
    /// The pattern is a constant, so a generic plan knows its prefix (a
    /// btree serves a LIKE prefix only when the planner sees the constant).
    pub literal: bool,
    /// Case-insensitive (`ILIKE`, `~*`): no btree serves it.
    pub ci: bool,
}

/// An operator a GIN index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GinOp {
    /// `@>` (jsonb, arrays): `jsonb_path_ops` serves it alone.
    Contains,
    /// `?`, `?|`, `?&` (jsonb keys).
    KeyExists,
    /// `&&` (arrays overlap).
    Overlap,
    /// `@@` (full text search).
    TextMatch,
}

impl GinOp {
    /// The GIN operator for a binary operator, if it is one.
    pub fn of(op: &BinaryOperator) -> Option<GinOp> {
        Some(match op {
            BinaryOperator::AtArrow => GinOp::Contains,
            BinaryOperator::Question
            | BinaryOperator::QuestionAnd
            | BinaryOperator::QuestionPipe => GinOp::KeyExists,
            BinaryOperator::PGOverlap => GinOp::Overlap,
            BinaryOperator::AtAt => GinOp::TextMatch,
            _ => return None,
        })
    }
}

/// Operators allowed inside an index-key expression (arithmetic, string
/// concatenation, json access) — not comparisons or boolean connectives.
fn key_operator(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo
            | BinaryOperator::StringConcat
            | BinaryOperator::Arrow
            | BinaryOperator::LongArrow
            | BinaryOperator::HashArrow
            | BinaryOperator::HashLongArrow
    )
}

/// Common aggregates (never index keys; ORDER BY count(*) is not a key).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "every",
];

/// Collect the column references of a candidate key expression into
/// `out`. `false` when the expression holds anything an index key cannot
/// (a parameter, a subquery, an aggregate or window, an unsupported form).
pub fn key_columns<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) -> bool {
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            out.push(e);
            true
        }
        Expr::Value(v) => !matches!(v.value, Value::Placeholder(_)),
        Expr::TypedString { .. } => true,
        Expr::Nested(x) | Expr::UnaryOp { expr: x, .. } => key_columns(x, out),
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            ..
        } => key_columns(expr, out),
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => key_columns(timestamp, out) && key_columns(time_zone, out),
        Expr::Extract { expr, .. } => key_columns(expr, out),
        Expr::BinaryOp { left, op, right } if key_operator(op) => {
            key_columns(left, out) && key_columns(right, out)
        }
        Expr::Function(f) => {
            if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
                return false;
            }
            let name = f.name.to_string().to_lowercase();
            if AGGREGATES.contains(&name.as_str()) {
                return false;
            }
            match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::Subquery(_) => false,
                FunctionArguments::List(l) => {
                    if l.duplicate_treatment.is_some() || !l.clauses.is_empty() {
                        return false;
                    }
                    l.args.iter().all(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x))
                        | FunctionArg::Named {
                            arg: FunctionArgExpr::Expr(x),
                            ..
                        }
                        | FunctionArg::ExprNamed {
                            arg: FunctionArgExpr::Expr(x),
                            ..
                        } => key_columns(x, out),
                        _ => false,
                    })
                }
            }
        }
        _ => false,
    }
}

/// `sql` with qualifiers dropped from dotted names (`p.name` → `name`,
/// `public.t.c` → `c`), as an index on the table writes its columns.
pub fn strip_qualifiers(sql: &str) -> String {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return sql.to_string();
    };
    let mut out: Vec<&Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        // A word followed by `.` and another word: drop the word and the dot.
        if matches!(tokens[i], Token::Word(_))
            && matches!(tokens.get(i + 1), Some(Token::Period))
            && matches!(tokens.get(i + 2), Some(Token::Word(_)))
        {
            i += 2;
            continue;
        }
        out.push(&tokens[i]);
        i += 1;
    }
    out.iter().map(|t| t.to_string()).collect()
}

/// The SQL text of a constant (a literal, possibly cast), not NULL and not
/// a parameter.
pub fn literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Nested(x) => literal(x),
        Expr::Value(v) => match &v.value {
            Value::Null | Value::Placeholder(_) => None,
            _ => Some(e.to_string()),
        },
        Expr::Cast { expr, .. } => literal(expr).map(|_| e.to_string()),
        Expr::TypedString { .. } => Some(e.to_string()),
        _ => None,
    }
}

/// The unquoted value of a string or number literal (to look it up in
/// `pg_stats.most_common_vals`).
pub fn literal_value(e: &Expr) -> Option<String> {
    match e {
        Expr::Nested(x) | Expr::Cast { expr: x, .. } => literal_value(x),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.clone()),
            Value::Boolean(b) => Some(if *b { "true" } else { "false" }.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Nested(x) | Expr::Cast { expr: x, .. } => string_literal(x),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The shape of `pattern` for LIKE (`regex` false) or a regular expression.
pub fn pattern_shape(pattern: &Expr, ci: bool, regex: bool) -> PatternShape {
    let anchored = |s: &str| {
        if regex {
            s.strip_prefix('^')
                .and_then(|r| r.chars().next())
                .is_some_and(|c| c.is_alphanumeric())
        } else {
            s.find(['%', '_']).is_some_and(|i| i > 0) || (!s.is_empty() && !s.contains(['%', '_']))
        }
    };
    if let Some(s) = string_literal(pattern) {
        return PatternShape {
            prefix: anchored(s),
            literal: true,
            ci,
        };
    }
    // `x || '%'`: a prefix search whose prefix is a parameter.
    let prefix = !regex
        && match pattern {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::StringConcat,
                right,
            } => {
                string_literal(right) == Some("%")
                    && !string_literal(left).is_some_and(|l| l.starts_with('%'))
                    && !matches!(left.as_ref(), Expr::BinaryOp { left: l, .. }
                        if string_literal(l).is_some_and(|s| s.starts_with('%')))
            }
            _ => false,
        };
    PatternShape {
        prefix,
        literal: false,
        ci,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::parser::Parser;

    fn expr(s: &str) -> Expr {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(s)
            .unwrap()
            .parse_expr()
            .unwrap()
    }

    #[test]
    fn key_expressions_have_columns_and_no_parameters() {
        for (sql, n) in [
            ("a.payload->>'id'", 1),
            ("date_trunc('day', ts)", 1),
            ("(ts)::date", 1),
            ("a + b * 2", 2),
            ("lower(coalesce(first_name, '') || ' ' || last_name)", 2),
        ] {
            let e = expr(sql);
            let mut cols = Vec::new();
            assert!(key_columns(&e, &mut cols), "{sql}");
            assert_eq!(cols.len(), n, "{sql}");
        }
        for sql in [
            "a + $1",
            "count(a)",
            "(SELECT 1)",
            "a = b",
            "row_number() OVER ()",
        ] {
            let mut cols = Vec::new();
            assert!(!key_columns(&expr(sql), &mut cols), "{sql}");
        }
    }

    #[test]
    fn qualifiers_are_stripped_but_casts_and_strings_kept() {
        assert_eq!(strip_qualifiers("a.payload ->> 'x.y'"), "payload ->> 'x.y'");
        assert_eq!(strip_qualifiers("public.t.ts::date"), "ts::date");
        assert_eq!(
            strip_qualifiers("date_trunc('day', \"T\".ts)"),
            "date_trunc('day', ts)"
        );
    }

    #[test]
    fn pattern_shapes() {
        let s = |p: &str, ci, re| pattern_shape(&expr(p), ci, re);
        assert!(s("'abc%'", false, false).prefix && s("'abc%'", false, false).literal);
        assert!(!s("'%abc%'", false, false).prefix);
        assert!(!s("'_bc'", false, false).prefix);
        assert!(s("$1 || '%'", false, false).prefix);
        assert!(!s("$1 || '%'", false, false).literal);
        assert!(!s("'%' || $1 || '%'", false, false).prefix);
        assert!(!s("$1", false, false).prefix);
        assert!(s("'^abc'", false, true).prefix && !s("'abc'", false, true).prefix);
    }

    #[test]
    fn literals() {
        assert_eq!(literal(&expr("'failed'")).as_deref(), Some("'failed'"));
        assert_eq!(
            literal_value(&expr("'failed'::text")).as_deref(),
            Some("failed")
        );
        assert!(literal(&expr("$1")).is_none() && literal(&expr("NULL")).is_none());
        assert_eq!(GinOp::of(&BinaryOperator::AtArrow), Some(GinOp::Contains));
    }
}
