//! Merging a batch's changes per (table, key) with Otter's rules, so each row is written once:
//!
//! | earlier \ later | INSERT | UPDATE | DELETE |
//! |---|---|---|---|
//! | none | I | U | D |
//! | I | I (replaced; anomaly) | I with merged columns | D |
//! | U | I (anomaly) | U, columns united | D |
//! | D | I | upsert of the after image (anomaly, reported) | D |
//!
//! A snapshot row (`ChangeKind::Snapshot`) is an upsert of the whole row that replaces whatever
//! the batch held for its key before it, with no anomaly.
//!
//! An UPDATE that changes the key is split into a DELETE of the old key and an upsert of the new
//! row when its after image is complete, so chains `1→2→3` end as "delete 1, delete 2, upsert 3"
//! and every key stays in its own partition. With a partial after image (MINIMAL) a key change
//! stays one UPDATE that no later change merges into.
//!
//! Invariants: the merged ops, applied as "every delete, then the other ops in the order of their
//! last change", leave the table exactly as applying the changes one by one would (property-tested
//! against a model); keyless tables are never merged or reordered; each op carries the id of the
//! newest change folded into it.

use rustc_hash::FxHashMap;

use otter_binlog::Value;
use otter_core::change::{ChangeId, ChangeKind, Row, RowChange};
use otter_core::schema::{Column, SqlType, TableSchema};

/// How updates are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyMode {
    /// Write the whole after image (insert if missing). Default.
    #[default]
    Row,
    /// Update only the changed columns (fewer conflicts in active-active setups).
    Column,
}

/// One write to the target.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Insert or replace the full row.
    Upsert {
        /// The row.
        after: Row,
        /// Newest change folded in.
        id: ChangeId,
        /// The batch inserted this key and nothing in it shows the row existed before: the row is
        /// expected to be absent on the target. A hint for the `LOAD DATA` fast path only (which
        /// checks and falls back); it never changes what is written.
        fresh: bool,
    },
    /// Set `set` columns of the row whose key is in `key_image`.
    Update {
        /// Image holding the key values (the before image).
        key_image: Row,
        /// Image holding the new values.
        after: Row,
        /// Columns to set.
        set: Vec<usize>,
        /// Newest change folded in.
        id: ChangeId,
    },
    /// Delete the row whose key is in `before`.
    Delete {
        /// Image holding the key values.
        before: Row,
        /// Newest change folded in.
        id: ChangeId,
    },
    /// Plain insert (keyless tables).
    Insert {
        /// The row.
        after: Row,
        /// The change.
        id: ChangeId,
    },
}

impl Op {
    /// The newest change id in this op.
    pub fn id(&self) -> &ChangeId {
        match self {
            Op::Upsert { id, .. } | Op::Update { id, .. } | Op::Delete { id, .. } | Op::Insert { id, .. } => id,
        }
    }

    /// The image its key is read from.
    pub fn key_image(&self) -> &Row {
        match self {
            Op::Upsert { after, .. } | Op::Insert { after, .. } => after,
            Op::Delete { before, .. } => before,
            Op::Update { key_image, .. } => key_image,
        }
    }
}

/// Consecutive integer key values spread to one partition together: 2^10 = 1,024, a few pages
/// of narrow rows.
pub const KEY_BLOCK_BITS: u32 = 10;

/// The block of `image`'s key when the key is one integer column (its value shifted right by
/// [`KEY_BLOCK_BITS`]; equal values of either signedness give equal blocks), else `None`.
pub fn key_block(key: &[usize], image: &Row) -> Option<u64> {
    let [i] = key else { return None };
    match image.get(*i)? {
        Value::Int(x) => Some(u64::from_ne_bytes(x.to_ne_bytes()) >> KEY_BLOCK_BITS),
        Value::UInt(x) => Some(*x >> KEY_BLOCK_BITS),
        _ => None,
    }
}

/// True when no column is absent from the image.
pub fn complete(row: &Row) -> bool {
    row.iter().all(|v| !matches!(v, Value::Absent))
}

/// The columns present (not absent) in an image.
fn present(row: &Row) -> Vec<usize> {
    (0..row.len()).filter(|&i| !matches!(row.get(i), Some(Value::Absent))).collect()
}

/// Overlays the present values of `newer` onto `base`.
fn overlay(base: &mut Row, newer: &Row) {
    for (b, n) in base.iter_mut().zip(newer) {
        if !matches!(n, Value::Absent) {
            *b = n.clone();
        }
    }
}

/// Whether a column compares case-insensitively (a `_ci` collation).
fn case_insensitive(c: &Column) -> bool {
    c.sql_type.is_text() && c.collation.as_deref().is_some_and(|co| co.ends_with("_ci"))
}

/// A canonical byte key of the `key` columns of `image`: equal for values the target considers
/// equal (case-insensitive collations fold case and ignore trailing spaces).
pub fn key_bytes(schema: &TableSchema, key: &[usize], image: &Row) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() * 9);
    key_bytes_into(schema, key, image, &mut out);
    out
}

/// [`key_bytes`] into a reused buffer (cleared first).
pub fn key_bytes_into(schema: &TableSchema, key: &[usize], image: &Row, out: &mut Vec<u8>) {
    out.clear();
    for &i in key {
        let v = image.get(i).unwrap_or(&Value::Absent);
        match v {
            Value::Int(x) => {
                out.push(1);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::UInt(x) => {
                // Same encoding as a non-negative Int: the values are equal on the target.
                if i64::try_from(*x).is_ok() {
                    out.push(1);
                } else {
                    out.push(2);
                }
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::Bytes(b) => {
                out.push(3);
                let folded;
                let bytes: &[u8] = match schema.columns.get(i) {
                    Some(c) if case_insensitive(c) && b.is_ascii() => {
                        // The same bytes as the general case below, without its allocations.
                        let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
                        let t = b.get(..end).unwrap_or_default();
                        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                        out.extend(t.iter().map(u8::to_ascii_lowercase));
                        continue;
                    }
                    Some(c) if case_insensitive(c) => {
                        folded = String::from_utf8_lossy(b).trim_end_matches(' ').to_lowercase().into_bytes();
                        &folded
                    }
                    Some(c) if matches!(c.sql_type, SqlType::Char(_)) => {
                        let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
                        b.get(..end).unwrap_or(b)
                    }
                    _ => b,
                };
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            other => {
                out.push(4);
                let text = format!("{other:?}");
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
}

/// The merged ops of one table in one batch.
#[derive(Debug, Default)]
pub struct Merged {
    /// Deletes, in change order.
    pub deletes: Vec<Op>,
    /// Upserts, updates and inserts, in the order of their newest change.
    pub writes: Vec<Op>,
    /// Anomalies met (D+U, I+I...), for the log.
    pub anomalies: Vec<String>,
}

/// Merges the changes of one table (in stream order). `key` is the identifying columns; `None`
/// for keyless tables (then nothing is merged).
pub fn merge(schema: &TableSchema, key: Option<&[usize]>, mode: ApplyMode, changes: Vec<RowChange>) -> Merged {
    let Some(key) = key else {
        return sequential(changes, None, mode);
    };
    let mut scratch = (Vec::new(), Vec::new());
    if changes.iter().any(|c| partial_key_change(schema, key, c, &mut scratch)) {
        // A key change without the whole row cannot be split: apply this table's changes in order.
        return sequential(changes, Some(key), mode);
    }
    let mut slots: Vec<Option<Op>> = Vec::with_capacity(changes.len());
    let mut index: FxHashMap<Vec<u8>, usize> = FxHashMap::with_capacity_and_hasher(changes.len(), Default::default());
    let mut k = Vec::new();
    let mut anomalies = Vec::new();
    for c in changes {
        let RowChange { kind, before, after, id, .. } = c;
        let is_update = kind == ChangeKind::Update;
        // A snapshot row is the row's whole state at its point: it replaces whatever came first.
        let replaces = is_update || kind == ChangeKind::Snapshot;
        let incoming: [Option<Op>; 2] = match (kind, before, after) {
            (ChangeKind::Insert, _, Some(a)) => [Some(Op::Upsert { after: a, id, fresh: true }), None],
            (ChangeKind::Snapshot, _, Some(a)) => [Some(Op::Upsert { after: a, id, fresh: false }), None],
            (ChangeKind::Delete, Some(b), _) => [Some(Op::Delete { before: b, id }), None],
            (ChangeKind::Update, Some(b), Some(a)) => {
                if key_moved(schema, key, &b, &a, &mut scratch) {
                    [Some(Op::Delete { before: b, id: id.clone() }), Some(Op::Upsert { after: a, id, fresh: false })]
                } else if mode == ApplyMode::Row && complete(&a) {
                    [Some(Op::Upsert { after: a, id, fresh: false }), None]
                } else {
                    let set = if mode == ApplyMode::Column {
                        changed(&b, &a)
                    } else {
                        present(&a)
                    };
                    [Some(Op::Update { key_image: b, after: a, set, id }), None]
                }
            }
            _ => continue,
        };
        for op in incoming.into_iter().flatten() {
            key_bytes_into(schema, key, op.key_image(), &mut k);
            let next = slots.len();
            match index.get_mut(k.as_slice()) {
                Some(at) => {
                    // Re-append so the op sorts by its newest change.
                    let slot = std::mem::replace(at, next);
                    let prev = slots.get_mut(slot).and_then(Option::take);
                    if is_update && !matches!(op, Op::Delete { .. }) && matches!(prev, Some(Op::Delete { .. })) {
                        anomalies.push("UPDATE after DELETE of the same key: applied as an upsert".into());
                    }
                    let (merged, anomaly) = fold(prev, op);
                    // In row mode an UPDATE arrives as an upsert of its whole after image: only a
                    // second INSERT of a key is an anomaly, not an update of an inserted row.
                    if let Some(a) = anomaly.filter(|_| !replaces) {
                        anomalies.push(a);
                    }
                    slots.push(Some(merged));
                }
                None => {
                    index.insert(k.clone(), next);
                    slots.push(Some(op));
                }
            }
        }
    }
    let mut out = Merged { anomalies, ..Merged::default() };
    for op in slots.into_iter().flatten() {
        match op {
            Op::Delete { .. } => out.deletes.push(op),
            _ => out.writes.push(op),
        }
    }
    out.writes.sort_by(|a, b| a.id().cmp(b.id()));
    out
}

fn changed(before: &Row, after: &Row) -> Vec<usize> {
    (0..after.len())
        .filter(|&i| match (before.get(i), after.get(i)) {
            (_, Some(Value::Absent) | None) => false,
            (Some(x), Some(y)) => x != y,
            _ => true,
        })
        .collect()
}

/// Folds a newer op for the same key into the previous one.
fn fold(prev: Option<Op>, new: Op) -> (Op, Option<String>) {
    match (prev, new) {
        (None, n) => (n, None),
        (Some(Op::Upsert { mut after, fresh, .. }), Op::Update { after: a2, id, .. }) => {
            overlay(&mut after, &a2);
            (Op::Upsert { after, id, fresh }, None)
        }
        // A later INSERT (`fresh` set) of a key the batch already wrote means the row existed; an
        // UPDATE in row mode (a whole-image upsert, `fresh` unset) keeps the first op's hint.
        (Some(Op::Upsert { fresh: f1, .. }), Op::Upsert { after, id, fresh: f2 }) => {
            (Op::Upsert { after, id, fresh: f1 && !f2 }, Some("INSERT after INSERT of the same key".into()))
        }
        (Some(Op::Update { key_image, mut after, mut set, .. }), Op::Update { after: a2, set: s2, id, .. }) => {
            overlay(&mut after, &a2);
            for s in s2 {
                if !set.contains(&s) {
                    set.push(s);
                }
            }
            (Op::Update { key_image, after, set, id }, None)
        }
        // The row existed before these (an update or a delete of it came first).
        (Some(Op::Update { .. } | Op::Delete { .. }), Op::Upsert { after, id, .. }) => (Op::Upsert { after, id, fresh: false }, None),
        (Some(Op::Delete { .. }), Op::Update { key_image, after, set, id }) => {
            if complete(&after) {
                (Op::Upsert { after, id, fresh: false }, None)
            } else {
                (Op::Update { key_image, after, set, id }, None)
            }
        }
        (Some(_), n @ Op::Delete { .. }) => (n, None),
        (Some(_), n) => (n, None),
    }
}

/// True when an update moves the row to another key (the key columns are in the after image
/// and differ).
fn key_moved(schema: &TableSchema, key: &[usize], before: &Row, after: &Row, scratch: &mut (Vec<u8>, Vec<u8>)) -> bool {
    if !key.iter().all(|&i| !matches!(after.get(i), Some(Value::Absent) | None)) {
        return false;
    }
    key_bytes_into(schema, key, after, &mut scratch.0);
    key_bytes_into(schema, key, before, &mut scratch.1);
    scratch.0 != scratch.1
}

fn partial_key_change(schema: &TableSchema, key: &[usize], c: &RowChange, scratch: &mut (Vec<u8>, Vec<u8>)) -> bool {
    match (&c.before, &c.after) {
        (Some(b), Some(a)) if c.kind == ChangeKind::Update && !complete(a) => {
            key.iter().any(|&i| !matches!(a.get(i), Some(Value::Absent) | None)) && key_moved(schema, key, b, a, scratch)
        }
        _ => false,
    }
}

/// Every change as its own op, in order, none merged (keyless tables, or keyed tables whose batch
/// holds a key change that cannot be split). Keyed tables upsert inserts; keyless ones insert.
fn sequential(changes: Vec<RowChange>, key: Option<&[usize]>, mode: ApplyMode) -> Merged {
    let mut out = Merged::default();
    for c in changes {
        let RowChange { kind, before, after, id, .. } = c;
        match (kind, before, after) {
            (ChangeKind::Insert, _, Some(a)) if key.is_some() => out.writes.push(Op::Upsert { after: a, id, fresh: true }),
            (ChangeKind::Snapshot, _, Some(a)) if key.is_some() => out.writes.push(Op::Upsert { after: a, id, fresh: false }),
            // A keyless table's snapshot rows follow the `TRUNCATE` that emptied it: inserts.
            (ChangeKind::Snapshot, _, Some(a)) => out.writes.push(Op::Insert { after: a, id }),
            (ChangeKind::Insert, _, Some(a)) => out.writes.push(Op::Insert { after: a, id }),
            (ChangeKind::Delete, Some(b), _) => out.writes.push(Op::Delete { before: b, id }),
            (ChangeKind::Update, Some(b), Some(a)) => {
                let set = if mode == ApplyMode::Column && key.is_some() { changed(&b, &a) } else { present(&a) };
                out.writes.push(Op::Update { key_image: b, after: a, set, id });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
