//! What the stream handed out lately, row by row, so a chunk whose snapshot is older than some
//! of it can be brought up to date instead of read again (DBLog's rule: the stream's changes win
//! over the chunk's rows).
//!
//! A chunk read at `at` holds each row as every transaction ending at or before `at` left it.
//! When transactions beginning at or after `at` already went out before the chunk (the reader's
//! reservation came too late, or the server published them before their commit was visible to
//! new snapshots), handing the chunk out as read would put those rows back as they were. The
//! gate then replays onto the chunk's rows, in stream order, what those transactions did to the
//! same keys ([`Recent::bring_up_to_date`]): a row they updated becomes their newest image, a row
//! they deleted (or moved to another key) leaves the chunk. Rows they inserted are not added:
//! they went out with their transactions. Keys are compared value for value as both readers
//! decode them (the chunk decoder makes exactly the binlog decoder's values — tested in
//! `otter-core/tests/snapshot_values.rs`), which identifies the same stored row.
//!
//! Without this, a table whose rows change faster than a chunk is read and handed out is never
//! copied: every chunk goes stale and is read again, for ever.
//!
//! Invariants:
//! - the log is complete for every begin after `horizon`: it drops its oldest transactions only
//!   (past a byte bound, or once older than [`KEEP`] and before every outstanding read), and a
//!   chunk read at or before the horizon is read again instead of patched;
//! - a change it cannot replay (an incomplete image: MINIMAL/NOBLOB or a partial JSON update; a
//!   definition change; a re-sync signal) is a barrier for its table: a chunk read at or before it
//!   is read again;
//! - a patched row is always a whole row image in the chunk's column layout (else the chunk is
//!   read again).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otter_binlog::Value;

use crate::change::portable::PortableValue;
use crate::change::{ChangeKind, Row, RowChange};
use crate::position::BinlogCoord;
use crate::schema::TableSchema;

/// How long a transaction stays in the log once no outstanding read can need it. Far longer
/// than the time between a binlog write and its commit becoming visible to a new snapshot.
pub const KEEP: Duration = Duration::from_secs(10);

/// Keys and rows the log may hold at most (approximate bytes); past it the oldest entries go.
pub const MAX_BYTES: usize = 32 << 20;

/// A key: the values of the table's key columns.
pub type Key = Vec<PortableValue>;

/// Approximate bytes a key holds in the log.
fn key_bytes(k: &Key) -> usize {
    k.iter()
        .map(|v| {
            48 + match v {
                PortableValue::Bytes(b) => b.len(),
                _ => 0,
            }
        })
        .sum()
}

/// One run of row changes of one table in one handed-out transaction.
#[derive(Debug)]
struct Entry {
    begin: BinlogCoord,
    table: (String, String),
    schema: Arc<TableSchema>,
    /// In stream order: the key a change leaves (delete, or an update that moves the key) with
    /// `None`, or the key it writes with its whole new image.
    writes: Vec<(Key, Option<Row>)>,
    bytes: usize,
    at: Instant,
}

/// The log (see the module docs).
#[derive(Debug, Default)]
pub struct Recent {
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Every transaction beginning after it is in the log (`None`: all since the gate began).
    horizon: Option<BinlogCoord>,
    /// Per table: the newest begin of a change that cannot be replayed.
    barriers: HashMap<(String, String), BinlogCoord>,
}

impl Recent {
    /// Records the changes of one table (a run sharing `changes[0].table`) in a transaction
    /// beginning at `begin`, handed out now.
    pub fn note(&mut self, table: &(String, String), begin: &BinlogCoord, changes: &[RowChange]) {
        let Some(schema) = changes.first().map(|c| Arc::clone(&c.table)) else { return };
        if self.barriers.get(table).is_some_and(|b| b >= begin) {
            return;
        }
        let Some(key_cols) = schema.key_columns() else {
            self.barrier(table, begin);
            return;
        };
        let key = |row: &Row| -> Option<Key> {
            key_cols.iter().map(|&i| row.get(i).filter(|v| !matches!(v, Value::Absent)).map(PortableValue::from)).collect()
        };
        let whole = |row: &Row| row.len() == schema.columns.len() && row.iter().all(|v| !matches!(v, Value::Absent | Value::JsonDiff(_)));
        let mut writes = Vec::with_capacity(changes.len());
        let mut bytes = 0;
        for c in changes {
            let before = c.before.as_ref().map(&key);
            let after = c.after.as_ref().map(|a| (key(a), whole(a)));
            match (c.kind, before, after) {
                (ChangeKind::Delete, Some(Some(k)), _) => {
                    bytes += key_bytes(&k);
                    writes.push((k, None));
                }
                (ChangeKind::Insert | ChangeKind::Update | ChangeKind::Snapshot, before, Some((Some(k), true))) => {
                    match before {
                        Some(Some(b)) if b != k => {
                            bytes += key_bytes(&b);
                            writes.push((b, None));
                        }
                        Some(None) => return self.barrier(table, begin),
                        _ => {}
                    }
                    let row = c.after.clone().unwrap_or_default();
                    bytes += key_bytes(&k) + crate::mysql::chunk::row_bytes(&row);
                    writes.push((k, Some(row)));
                }
                _ => return self.barrier(table, begin),
            }
        }
        self.bytes += bytes;
        self.entries.push_back(Entry { begin: begin.clone(), table: table.clone(), schema, writes, bytes, at: Instant::now() });
    }

    /// A change of `table` at `begin` that cannot be replayed (see the module docs).
    pub fn barrier(&mut self, table: &(String, String), begin: &BinlogCoord) {
        match self.barriers.get_mut(table) {
            Some(b) if *b >= *begin => {}
            Some(b) => *b = begin.clone(),
            None => {
                self.barriers.insert(table.clone(), begin.clone());
            }
        }
    }

    /// Drops the oldest entries past the byte bound, and those older than [`KEEP`] that begin
    /// before `oldest_read` (the earliest snapshot an outstanding read has; `None`: none).
    pub fn prune(&mut self, oldest_read: Option<&BinlogCoord>) {
        let now = Instant::now();
        while let Some(e) = self.entries.front() {
            let old = now.duration_since(e.at) > KEEP && oldest_read.is_none_or(|o| e.begin < *o);
            if self.bytes <= MAX_BYTES && !old {
                break;
            }
            if let Some(e) = self.entries.pop_front() {
                self.bytes -= e.bytes;
                self.horizon = Some(e.begin);
            }
        }
    }

    /// Whether rows of `table` read at `at` can be brought up to date (the log reaches back to
    /// `at` and no barrier of the table is at or after it).
    pub fn can_patch(&self, table: &(String, String), at: &BinlogCoord) -> bool {
        self.horizon.as_ref().is_none_or(|h| h < at) && self.barriers.get(table).is_none_or(|b| b < at)
    }

    /// Replays onto `rows` (of `table` read at `at` with `schema`, keyed by `key`) what
    /// transactions beginning at or after `at` did to their keys. Returns the keys those
    /// transactions left present (a re-sync's purge must keep them), or `None` when the rows
    /// cannot be brought up to date (read them again).
    pub fn bring_up_to_date(&self, table: &(String, String), schema: &TableSchema, key: &[usize], at: &BinlogCoord, rows: &mut Vec<Row>) -> Option<Vec<Key>> {
        if !self.can_patch(table, at) {
            return None;
        }
        let names = |s: &TableSchema| s.columns.iter().map(|c| c.name.to_lowercase()).collect::<Vec<_>>();
        let ours = names(schema);
        // Entries are in stream order: skip those before `at` without looking at them (the log
        // may hold many seconds of a busy stream; a chunk needs only what followed its snapshot).
        let first = self.entries.partition_point(|e| e.begin < *at);
        // One check per schema version, not per entry.
        let mut checked: Option<&Arc<TableSchema>> = None;
        let mut newest: HashMap<&Key, Option<&Row>> = HashMap::new();
        for e in self.entries.range(first..).filter(|e| e.table == *table) {
            if !checked.is_some_and(|s| Arc::ptr_eq(s, &e.schema)) {
                if e.schema.key_columns() != Some(key) || names(&e.schema) != ours {
                    return None;
                }
                checked = Some(&e.schema);
            }
            for (k, row) in &e.writes {
                newest.insert(k, row.as_ref());
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows.drain(..) {
            match newest.get(&crate::mysql::chunk::key_of(&row, key)) {
                None => out.push(row),
                Some(Some(now)) => out.push((*now).clone()),
                Some(None) => {}
            }
        }
        *rows = out;
        Some(newest.into_iter().filter(|(_, r)| r.is_some()).map(|(k, _)| k.clone()).collect())
    }
}
