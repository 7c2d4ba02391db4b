//! How the engine reports progress without knowing about terminals: the
//! command implements [`Progress`] (indicatif bars, notices on stderr).

use super::model::Table;

pub trait Progress: Send + Sync {
    /// A message for the user (replacing a dataset, skipped disk check…).
    fn notice(&self, _msg: &str) {}
    /// A new phase started ("loading", "keys and indexes", …).
    fn phase(&self, _name: &str) {}
    /// Loading `table` (`rows` rows) started.
    fn table_started(&self, _table: Table, _rows: u64) {}
    /// `rows` more rows of `table` were sent.
    fn table_rows(&self, _table: Table, _rows: u64) {}
    /// `table` is loaded and committed.
    fn table_done(&self, _table: Table) {}
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {}
