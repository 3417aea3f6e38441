//! Write-sets of source transactions, and the schedule they give (`consistency = "transaction"`).
//!
//! A transaction's write-set holds one hash per row identity it touches: for every row image
//! (before and after) the table with its primary key, with each unique key, and the parent row
//! each foreign key points at — the parent hashed as the parent's own key is, so a child insert
//! and its parent's delete share an entry. Two transactions sharing an entry conflict: the later
//! one starts only after the earlier one committed. A transaction on a table without a key, or
//! with an image lacking a key's columns (non-FULL row images), is a barrier: it starts after
//! every earlier one committed, and every later one after it.
//!
//! Invariants: equal keys (as the target compares them: see [`crate::merge::key_bytes`]) always
//! hash equal, so a missed conflict can only come from a collation that equates more than case and
//! trailing spaces (accents); correctness never depends on the write-set — commits follow the
//! source order regardless, and a lock wait the write-set did not foresee is resolved by
//! [`crate::order`] — the write-set only keeps such rollbacks rare.

use std::hash::Hasher;

use otter_binlog::Value;
use otter_core::change::{Row, RowChange};
use otter_core::schema::TableSchema;
use rustc_hash::{FxHashMap, FxHasher};

use crate::merge::key_bytes_into;
use crate::target::TargetInfo;

/// The rows one transaction writes, as hashes.
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    /// One hash per row identity touched (duplicates possible).
    pub hashes: Vec<u64>,
    /// The transaction must run alone in the order (no usable key somewhere).
    pub barrier: bool,
}

/// What to hash for one table's rows, worked out once per table and batch.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// No key to tell rows apart: every change is a barrier.
    barrier: bool,
    keys: Vec<KeyPlan>,
}

/// One key of a row image: its columns in name order, and the hash of the table and names.
#[derive(Debug, Clone)]
struct KeyPlan {
    seed: u64,
    cols: Vec<usize>,
    /// A foreign key: a NULL in it points at no parent.
    optional: bool,
}

impl KeyPlan {
    /// The key of `db.table` made of `named` (lower-case name, column of the row), in name order
    /// so that a foreign key and its parent's own key agree.
    fn new(db: &str, table: &str, mut named: Vec<(String, usize)>, optional: bool) -> KeyPlan {
        named.sort();
        let mut h = FxHasher::default();
        for part in [db, table].into_iter().chain(named.iter().map(|(n, _)| n.as_str())) {
            h.write(part.as_bytes());
            h.write_u8(0);
        }
        KeyPlan { seed: h.finish(), cols: named.into_iter().map(|(_, i)| i).collect(), optional }
    }
}

impl TablePlan {
    /// The keys of `schema`'s rows on the target described by `info`: the key rows are matched
    /// on, the primary key, every unique key, and each foreign key's parent.
    pub fn new(schema: &TableSchema, info: &TargetInfo) -> TablePlan {
        let mut own: Vec<&[usize]> = vec![info.key.as_slice()];
        own.push(&schema.primary_key);
        own.extend(schema.unique_keys.iter().map(|u| u.columns.as_slice()));
        let mut keys: Vec<KeyPlan> = Vec::new();
        let mut seen: Vec<&[usize]> = Vec::new();
        for key in own.into_iter().filter(|k| !k.is_empty()) {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let named: Vec<(String, usize)> = key.iter().filter_map(|&i| schema.columns.get(i).map(|c| (c.name.to_lowercase(), i))).collect();
            if named.len() != key.len() {
                return TablePlan { barrier: true, keys: Vec::new() };
            }
            keys.push(KeyPlan::new(&schema.db, &schema.name, named, false));
        }
        for parent in &info.parents {
            let named = parent.referenced.iter().map(|n| n.to_lowercase()).zip(parent.columns.iter().copied()).collect();
            keys.push(KeyPlan::new(&parent.db, &parent.table, named, true));
        }
        TablePlan { barrier: info.keyless, keys }
    }
}

impl WriteSet {
    /// Adds what `change` (of a table planned as `plan`) touches.
    pub fn add(&mut self, plan: &TablePlan, change: &RowChange, buf: &mut Vec<u8>) {
        if self.barrier {
            return;
        }
        if plan.barrier {
            self.barrier = true;
            return;
        }
        for image in [&change.before, &change.after].into_iter().flatten() {
            if !self.add_image(plan, &change.table, image, buf) {
                self.barrier = true;
                return;
            }
        }
    }

    /// False when a key's column is absent from `image` (a partial row image).
    fn add_image(&mut self, plan: &TablePlan, schema: &TableSchema, image: &Row, buf: &mut Vec<u8>) -> bool {
        for k in &plan.keys {
            if k.optional && k.cols.iter().any(|i| matches!(image.get(*i), Some(Value::Null))) {
                continue;
            }
            if k.cols.iter().any(|i| matches!(image.get(*i), None | Some(Value::Absent))) {
                return false;
            }
            key_bytes_into(schema, &k.cols, image, buf);
            let mut h = FxHasher::default();
            h.write_u64(k.seed);
            h.write(buf);
            self.hashes.push(h.finish());
        }
        true
    }
}

/// Numbers transactions in source order and finds, for each, the one it must wait for.
#[derive(Debug)]
pub struct Scheduler {
    next: u64,
    /// The newest transaction that wrote each entry.
    last_writer: FxHashMap<u64, u64>,
    /// The newest barrier.
    barrier: u64,
}

/// Entries kept before committed ones are dropped.
const PRUNE_AT: usize = 1 << 16;

impl Scheduler {
    /// Numbering from `first` on.
    pub fn new(first: u64) -> Scheduler {
        Scheduler {
            next: first,
            last_writer: FxHashMap::default(),
            barrier: first.saturating_sub(1),
        }
    }

    /// The number the next transaction gets.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Places a transaction with write-set `ws`: its sequence number and the one it waits for
    /// before starting. `committed`: the newest committed number (entries at or below it no
    /// longer constrain anything and may be dropped).
    pub fn place(&mut self, ws: &WriteSet, committed: u64) -> (u64, u64) {
        let seq = self.next;
        self.next += 1;
        if self.last_writer.len() > PRUNE_AT {
            self.last_writer.retain(|_, s| *s > committed);
        }
        if ws.barrier {
            self.barrier = seq;
            return (seq, seq - 1);
        }
        let mut after = self.barrier;
        for h in &ws.hashes {
            // `prev == seq`: an entry this transaction already touched (an update's before and
            // after images share their key), not an earlier writer.
            if let Some(prev) = self.last_writer.insert(*h, seq).filter(|&prev| prev != seq) {
                after = after.max(prev);
            }
        }
        (seq, after)
    }

    /// Marks everything placed so far as a barrier for what follows (a DDL or rows applied
    /// outside the order ran after all of them).
    pub fn barrier(&mut self) {
        self.barrier = self.next - 1;
        self.last_writer.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use otter_core::change::{ChangeId, ChangeKind};
    use otter_core::position::BinlogCoord;
    use otter_core::schema::{Column, SqlType, UniqueKey};

    use super::*;
    use crate::target::ParentKey;

    fn owners() -> Arc<TableSchema> {
        let mut email = Column::new("email", SqlType::VarChar(64));
        email.collation = Some("utf8mb4_general_ci".into());
        let mut s = TableSchema::new(
            "bank",
            "owners",
            vec![Column::new("id", SqlType::Int), email],
            vec![0],
        );
        s.unique_keys.push(UniqueKey {
            name: "email".into(),
            columns: vec![1],
            prefix_lengths: vec![None],
            long_hash: false,
        });
        Arc::new(s)
    }

    fn accounts() -> Arc<TableSchema> {
        Arc::new(TableSchema::new(
            "bank",
            "checking",
            vec![
                Column::new("id", SqlType::Int),
                Column::new("OWNER", SqlType::Int),
            ],
            vec![0],
        ))
    }

    fn info(key: Vec<usize>, parents: Vec<ParentKey>) -> TargetInfo {
        TargetInfo {
            columns: vec![0, 1],
            key,
            keyless: false,
            load_data: false,
            parents,
            row_layout: None,
        }
    }

    fn change(
        table: &Arc<TableSchema>,
        kind: ChangeKind,
        before: Option<Row>,
        after: Option<Row>,
    ) -> RowChange {
        RowChange {
            table: Arc::clone(table),
            kind,
            before,
            after,
            id: ChangeId {
                txn: BinlogCoord::new("b.1", 4),
                row: 0,
            },
        }
    }

    fn set(info: &TargetInfo, c: &RowChange) -> WriteSet {
        let mut ws = WriteSet::default();
        ws.add(&TablePlan::new(&c.table, info), c, &mut Vec::new());
        ws
    }

    fn shares(a: &WriteSet, b: &WriteSet) -> bool {
        a.hashes.iter().any(|h| b.hashes.contains(h))
    }

    #[test]
    fn a_child_row_and_its_parent_share_an_entry_and_unique_values_collide_as_the_server_compares()
    {
        let (o, a) = (owners(), accounts());
        let (oi, ai) = (
            info(vec![0], Vec::new()),
            info(
                vec![0],
                vec![ParentKey {
                    columns: vec![1],
                    db: "bank".into(),
                    table: "owners".into(),
                    referenced: vec!["ID".into()],
                }],
            ),
        );
        let delete_owner = set(
            &oi,
            &change(
                &o,
                ChangeKind::Delete,
                Some(vec![Value::Int(5), Value::Bytes(b"A@x".to_vec().into())]),
                None,
            ),
        );
        let new_account = set(
            &ai,
            &change(
                &a,
                ChangeKind::Insert,
                None,
                Some(vec![Value::Int(9), Value::Int(5)]),
            ),
        );
        let other_account = set(
            &ai,
            &change(
                &a,
                ChangeKind::Insert,
                None,
                Some(vec![Value::Int(10), Value::Int(6)]),
            ),
        );
        assert!(
            shares(&delete_owner, &new_account),
            "a child insert must wait for its parent's delete"
        );
        assert!(!shares(&delete_owner, &other_account) && !shares(&new_account, &other_account));
        // Another owner taking the e-mail (case and trailing spaces differ: equal in _ci).
        let reuse = set(
            &oi,
            &change(
                &o,
                ChangeKind::Insert,
                None,
                Some(vec![Value::Int(41), Value::Bytes(b"a@X  ".to_vec().into())]),
            ),
        );
        assert!(shares(&delete_owner, &reuse));
        // A NULL reference points at no parent.
        let orphan = set(
            &ai,
            &change(
                &a,
                ChangeKind::Insert,
                None,
                Some(vec![Value::Int(11), Value::Null]),
            ),
        );
        assert!(!orphan.barrier && orphan.hashes.len() == 1);
        // A before image without its key columns (MINIMAL) makes a barrier.
        let partial = set(
            &oi,
            &change(
                &o,
                ChangeKind::Delete,
                Some(vec![Value::Int(5), Value::Absent]),
                None,
            ),
        );
        assert!(partial.barrier);
        let keyless = TargetInfo {
            keyless: true,
            ..info(vec![0, 1], Vec::new())
        };
        assert!(
            set(
                &keyless,
                &change(
                    &a,
                    ChangeKind::Insert,
                    None,
                    Some(vec![Value::Int(1), Value::Int(2)])
                )
            )
            .barrier
        );
    }

    fn ws(hashes: &[u64]) -> WriteSet {
        WriteSet {
            hashes: hashes.to_vec(),
            barrier: false,
        }
    }

    #[test]
    fn conflicts_wait_for_the_newest_earlier_writer_and_barriers_for_all() {
        let mut s = Scheduler::new(1);
        assert_eq!(s.place(&ws(&[1, 2]), 0), (1, 0));
        assert_eq!(s.place(&ws(&[3]), 0), (2, 0));
        assert_eq!(s.place(&ws(&[2, 3]), 0), (3, 2));
        assert_eq!(s.place(&ws(&[1]), 0), (4, 1));
        assert_eq!(
            s.place(
                &WriteSet {
                    hashes: vec![],
                    barrier: true
                },
                0
            ),
            (5, 4)
        );
        assert_eq!(s.place(&ws(&[9]), 0), (6, 5));
        s.barrier();
        assert_eq!(s.place(&ws(&[1]), 0), (7, 6));
    }

    #[test]
    fn updates_of_different_rows_are_independent() {
        // An update's before and after images hash its key twice: the transaction must not
        // count as its own earlier writer (which made every update wait for the one before).
        let o = owners();
        let oi = info(vec![0], Vec::new());
        let update = |id: i64, from: &[u8], to: &[u8]| {
            let image = |mail: &[u8]| vec![Value::Int(id), Value::Bytes(mail.to_vec().into())];
            set(&oi, &change(&o, ChangeKind::Update, Some(image(from)), Some(image(to))))
        };
        let mut s = Scheduler::new(1);
        assert_eq!(s.place(&update(1, b"a@x", b"b@x"), 0), (1, 0));
        assert_eq!(s.place(&update(2, b"c@x", b"d@x"), 0), (2, 0));
        assert_eq!(s.place(&ws(&[7, 7, 8]), 0), (3, 0));
        // The same row again, or the e-mail another row held: after that one.
        assert_eq!(s.place(&update(1, b"b@x", b"e@x"), 0), (4, 1));
        assert_eq!(s.place(&update(3, b"f@x", b"D@X"), 0), (5, 2));
    }
}
