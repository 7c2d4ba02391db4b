//! SQL lexing for the analyzer: the lexer lives in [`crate::db::sql_lex`]
//! (migrations use it too); re-exported here under its old name.

pub use crate::db::sql_lex::skip_opaque;
