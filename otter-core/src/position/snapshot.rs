//! How far an online snapshot has copied, carried inside every [`super::Position`] handed out
//! while it runs — so the checkpoint a sink stores with its data records the copy's progress
//! together with the binlog position, in the same transaction.
//!
//! Invariants: a table's `after` only moves forward, to the last key of a chunk that was handed
//! out in full before this position; a table leaves the list when its last chunk was handed out;
//! the snapshot is over when the list is empty (positions then carry no progress at all).
//! Resuming at a position re-reads each unfinished table from its `after`: rows of chunks handed
//! out after that position are read again, at a newer snapshot, never skipped.

use serde::{Deserialize, Serialize};

use crate::change::portable::PortableValue;

/// The progress of a snapshot: the tables not copied completely yet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotProgress {
    /// Unfinished tables, in copy order.
    pub tables: Vec<TableProgress>,
    /// Chunks handed out since the snapshot began (over all runs).
    #[serde(default)]
    pub chunks: u64,
    /// Rows copied in tables already finished (over all runs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub done_rows: u64,
    /// The server's estimate of all rows the copy covers, finished tables included (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimate: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One table's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableProgress {
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// The key of the last row copied (`None`: nothing copied yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<PortableValue>>,
    /// The end of this part of the table, inclusive (`None`: to the table's end). A big table
    /// is copied in several parts at once, each an entry of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto: Option<Vec<PortableValue>>,
    /// Rows copied so far.
    #[serde(default)]
    pub rows: u64,
    /// The re-sync request this copy serves (`None`: the initial snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
    /// The server's estimate of the table's rows when the copy began (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimate: u64,
}

impl TableProgress {
    /// `db.table`, nothing copied yet, for the initial snapshot.
    pub fn new(db: impl Into<String>, table: impl Into<String>) -> TableProgress {
        TableProgress { db: db.into(), table: table.into(), after: None, upto: None, rows: 0, request: None, estimate: 0 }
    }
}

impl SnapshotProgress {
    /// A copy of `tables` not begun yet; its estimate is the sum of theirs.
    pub fn of(tables: Vec<TableProgress>) -> SnapshotProgress {
        let estimate = tables.iter().map(|t| t.estimate).sum();
        SnapshotProgress { tables, chunks: 0, done_rows: 0, estimate }
    }

    /// The progress of `db.table`, if it is unfinished.
    pub fn table(&self, db: &str, table: &str) -> Option<&TableProgress> {
        self.tables.iter().find(|t| t.db == db && t.table == table)
    }

    /// Rows copied so far in the unfinished tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Tables not finished (a table copied in parts counts once).
    pub fn tables_left(&self) -> usize {
        let mut names: Vec<(&str, &str)> = self.tables.iter().map(|t| (t.db.as_str(), t.table.as_str())).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }

    /// Rows copied so far, finished tables included.
    pub fn copied(&self) -> u64 {
        self.done_rows + self.rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_json() {
        let p = SnapshotProgress {
            tables: vec![
                TableProgress { after: Some(vec![PortableValue::Int(7), PortableValue::Bytes(b"K".to_vec())]), rows: 10, ..TableProgress::new("shop", "a.b") },
                TableProgress { request: Some(4), ..TableProgress::new("shop", "c") },
            ],
            chunks: 3,
            done_rows: 5,
            estimate: 100,
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotProgress>(&text).unwrap(), p);
        assert_eq!(p.table("shop", "a.b").unwrap().rows, 10);
        assert!(p.table("shop", "a").is_none());
        assert_eq!(p.rows(), 10);
        assert_eq!(p.copied(), 15);
    }
}
