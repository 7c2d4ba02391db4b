//! The terminal tables every `*_table` renderer draws (comfy-table): one
//! style, and right-aligned number columns.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

/// How a table uses the width it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Never wrap: rows of figures stay one line each.
    Natural,
    /// Wrap long text cells to the terminal (140 columns when not a terminal).
    Wrap,
}

/// An empty table with `header`.
pub fn table(header: Vec<&str>, width: Width) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(header);
    match width {
        Width::Natural => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        Width::Wrap => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            if !t.is_tty() {
                t.set_width(140);
            }
        }
    }
    t
}

/// Right-align columns `cols` (figures).
pub fn right_align(t: &mut Table, cols: impl IntoIterator<Item = usize>) {
    for c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Right-align every column from `from` on.
pub fn right_align_from(t: &mut Table, from: usize) {
    let n = t.column_count();
    right_align(t, from..n);
}
