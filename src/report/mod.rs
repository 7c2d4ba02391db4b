//! Renderers: plain result structs in, text out (terminal tables, JSON,
//! Markdown). One file per command and format.

pub mod analyze_fmt;
pub mod analyze_json;
pub mod analyze_markdown;
pub mod analyze_table;
