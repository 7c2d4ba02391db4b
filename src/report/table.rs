//! The terminal tables every `*_table` renderer draws (comfy-table): one
//! style (box drawing on a terminal, plain psql-like columns otherwise),
//! and right-aligned number columns.

use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{
    CellAlignment, ContentArrangement, ContentLineStyle, LineStyle, Table, TableStyle,
};

/// Plain tables (no box drawing) for every terminal table of this process.
static PLAIN_TABLES: AtomicBool = AtomicBool::new(false);

/// psql's aligned style: `a | b` columns under a `---+---` rule, nothing
/// else; what logs, pipes and CI get instead of box drawing.
pub const PLAIN: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none().fill('-').junction('+'))
    .content_lines(ContentLineStyle::none().junction('|'));

/// Draw tables plainly ([`PLAIN`]) from now on: the command glue asks for
/// it when stdout is not a terminal.
pub fn plain_tables(on: bool) {
    PLAIN_TABLES.store(on, Ordering::Relaxed);
}

/// The style of every table: box drawing on a terminal, else [`PLAIN`].
pub fn style() -> TableStyle {
    if PLAIN_TABLES.load(Ordering::Relaxed) {
        PLAIN
    } else {
        UTF8_FULL_CONDENSED
    }
}

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
    t.load_style(style()).set_header(header);
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
