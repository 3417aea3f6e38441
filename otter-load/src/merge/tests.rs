//! Merge rules checked against a model: random valid histories (inserts, updates, key changes,
//! deletes; FULL and MINIMAL images; row and column mode) give the same final table whether the
//! changes are applied one by one or merged and applied as "deletes, then writes in order".

use std::collections::BTreeMap;
use std::sync::Arc;

use otter_binlog::Value;
use otter_core::change::{ChangeId, ChangeKind, RowChange};
use otter_core::position::BinlogCoord;
use otter_core::schema::{Column, SqlType, TableSchema};
use proptest::prelude::*;

use super::*;


fn schema() -> Arc<TableSchema> {
    Arc::new(TableSchema::new(
        "d",
        "t",
        vec![Column::new("id", SqlType::Int), Column::new("v", SqlType::Int), Column::new("w", SqlType::Int)],
        vec![0],
    ))
}

type Model = BTreeMap<i64, [i64; 2]>;

fn full(id: i64, r: [i64; 2]) -> Row {
    vec![Value::Int(id), Value::Int(r[0]), Value::Int(r[1])]
}

fn int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("{other:?}"),
    }
}

/// Applies a (possibly partial) image's present columns to a model row.
fn set_cols(row: &mut [i64; 2], img: &Row, cols: &[usize]) {
    for &c in cols {
        if c >= 1 && !matches!(img[c], Value::Absent) {
            row[c - 1] = int(&img[c]);
        }
    }
}

fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Upsert { after, .. } | Op::Insert { after, .. } => {
            model.insert(int(&after[0]), [int(&after[1]), int(&after[2])]);
        }
        Op::Delete { before, .. } => {
            model.remove(&int(&before[0]));
        }
        Op::Update { key_image, after, set, .. } => {
            let k = int(&key_image[0]);
            if let Some(mut row) = model.remove(&k) {
                let new_k = if set.contains(&0) && !matches!(after[0], Value::Absent) { int(&after[0]) } else { k };
                set_cols(&mut row, after, set);
                model.insert(new_k, row);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Insert(i64, [i64; 2]),
    Update(usize, [i64; 2], bool),
    Rekey(usize, i64),
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0i64..6, any::<[i8; 2]>()).prop_map(|(k, v)| Step::Insert(k, [i64::from(v[0]), i64::from(v[1])])),
        (any::<usize>(), any::<[i8; 2]>(), any::<bool>()).prop_map(|(i, v, only_v)| Step::Update(i, [i64::from(v[0]), i64::from(v[1])], only_v)),
        (any::<usize>(), 0i64..6).prop_map(|(i, k)| Step::Rekey(i, k)),
        any::<usize>().prop_map(Step::Delete),
    ]
}

/// Turns steps into a valid history over `model`, applying them as it goes.
fn history(model: &mut Model, steps: &[Step], minimal: bool) -> Vec<RowChange> {
    let s = schema();
    let mut out = Vec::new();
    let mut n = 0u64;
    let mut push = |kind, before, after| {
        n += 1;
        out.push(RowChange { table: Arc::clone(&s), kind, before, after, id: ChangeId { txn: BinlogCoord::new("b.000001", n), row: 0 } });
    };
    for st in steps {
        let keys: Vec<i64> = model.keys().copied().collect();
        match st {
            Step::Insert(k, r) if !model.contains_key(k) => {
                model.insert(*k, *r);
                push(ChangeKind::Insert, None, Some(full(*k, *r)));
            }
            Step::Update(i, r, only_v) if !keys.is_empty() => {
                let k = keys[i % keys.len()];
                let old = model[&k];
                let new = if *only_v { [r[0], old[1]] } else { *r };
                model.insert(k, new);
                let (before, after) = if minimal {
                    let mut a = vec![Value::Absent, Value::Absent, Value::Absent];
                    for c in 0..2 {
                        if new[c] != old[c] {
                            a[c + 1] = Value::Int(new[c]);
                        }
                    }
                    (vec![Value::Int(k), Value::Absent, Value::Absent], a)
                } else {
                    (full(k, old), full(k, new))
                };
                push(ChangeKind::Update, Some(before), Some(after));
            }
            Step::Rekey(i, nk) if !keys.is_empty() && !model.contains_key(nk) => {
                let k = keys[i % keys.len()];
                let row = model.remove(&k).unwrap();
                model.insert(*nk, row);
                let (before, after) = if minimal {
                    (vec![Value::Int(k), Value::Absent, Value::Absent], vec![Value::Int(*nk), Value::Absent, Value::Absent])
                } else {
                    (full(k, row), full(*nk, row))
                };
                push(ChangeKind::Update, Some(before), Some(after));
            }
            Step::Delete(i) if !keys.is_empty() => {
                let k = keys[i % keys.len()];
                let row = model.remove(&k).unwrap();
                let before = if minimal { vec![Value::Int(k), Value::Absent, Value::Absent] } else { full(k, row) };
                push(ChangeKind::Delete, Some(before), None);
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #[test]
    fn merged_equals_sequential(start in proptest::collection::btree_map(0i64..6, any::<[i8; 2]>(), 0..4),
                                steps in proptest::collection::vec(step(), 0..24),
                                minimal in any::<bool>(), column_mode in any::<bool>()) {
        let start: Model = start.into_iter().map(|(k, v)| (k, [i64::from(v[0]), i64::from(v[1])])).collect();
        let mut expected = start.clone();
        let changes = history(&mut expected, &steps, minimal);
        let mode = if column_mode { ApplyMode::Column } else { ApplyMode::Row };
        let s = schema();
        let merged = merge(&s, Some(&[0]), mode, changes.clone());
        let mut got = start.clone();
        for op in merged.deletes.iter().chain(&merged.writes) {
            apply(&mut got, op);
        }
        prop_assert_eq!(&got, &expected, "merged ops {:?}", merged);
        // Unmerged sequential application agrees too (the keyless path and the reference).
        let seq = sequential(changes, Some(&[0]), mode);
        let mut got2 = start;
        for op in &seq.writes {
            apply(&mut got2, op);
        }
        prop_assert_eq!(&got2, &expected);
    }
}

#[test]
fn key_chain_becomes_deletes_and_one_upsert() {
    let s = schema();
    let mut model: Model = BTreeMap::from([(1, [10, 20])]);
    let changes = history(&mut model, &[Step::Rekey(0, 2), Step::Rekey(0, 3)], false);
    let m = merge(&s, Some(&[0]), ApplyMode::Row, changes);
    let deleted: Vec<i64> = m.deletes.iter().map(|op| if let Op::Delete { before, .. } = op { int(&before[0]) } else { -1 }).collect();
    assert_eq!(deleted, [1, 2]);
    assert_eq!(m.writes.len(), 1);
    assert!(matches!(&m.writes[0], Op::Upsert { after, .. } if int(&after[0]) == 3));
}

#[test]
fn insert_then_update_is_one_insert_and_d_plus_u_is_reported() {
    let s = schema();
    let mut model = Model::new();
    let changes = history(&mut model, &[Step::Insert(1, [1, 1]), Step::Update(0, [5, 6], false)], false);
    let m = merge(&s, Some(&[0]), ApplyMode::Column, changes);
    assert_eq!(m.writes.len(), 1);
    assert!(matches!(&m.writes[0], Op::Upsert { after, .. } if int(&after[1]) == 5 && int(&after[2]) == 6));
    let id = |n| ChangeId { txn: BinlogCoord::new("b.000001", n), row: 0 };
    let d = RowChange { table: Arc::clone(&s), kind: ChangeKind::Delete, before: Some(full(1, [5, 6])), after: None, id: id(10) };
    let u = RowChange { table: Arc::clone(&s), kind: ChangeKind::Update, before: Some(full(1, [5, 6])), after: Some(full(1, [7, 7])), id: id(11) };
    let m = merge(&s, Some(&[0]), ApplyMode::Row, vec![d, u]);
    assert_eq!(m.anomalies.len(), 1);
}

#[test]
fn only_a_second_insert_of_a_key_is_reported() {
    let s = schema();
    let id = |n| ChangeId { txn: BinlogCoord::new("b.000001", n), row: 0 };
    let i = |n, v| RowChange { table: Arc::clone(&s), kind: ChangeKind::Insert, before: None, after: Some(full(1, [v, v])), id: id(n) };
    let u = RowChange { table: Arc::clone(&s), kind: ChangeKind::Update, before: Some(full(1, [1, 1])), after: Some(full(1, [2, 2])), id: id(2) };
    for mode in [ApplyMode::Row, ApplyMode::Column] {
        let m = merge(&s, Some(&[0]), mode, vec![i(1, 1), u.clone()]);
        assert!(m.anomalies.is_empty(), "{mode:?}: {:?}", m.anomalies);
        assert!(matches!(&m.writes[..], [Op::Upsert { after, .. }] if int(&after[1]) == 2));
    }
    let m = merge(&s, Some(&[0]), ApplyMode::Row, vec![i(1, 1), i(3, 3)]);
    assert_eq!(m.anomalies.len(), 1);
}

#[test]
fn case_insensitive_keys_merge() {
    let mut sch = (*schema()).clone();
    sch.columns[0] = Column { collation: Some("utf8mb4_general_ci".into()), charset: Some("utf8mb4".into()), ..Column::new("id", SqlType::VarChar(10)) };
    let a = vec![Value::Bytes(b"Abc".to_vec().into()), Value::Int(1), Value::Int(1)];
    let b = vec![Value::Bytes(b"abc  ".to_vec().into()), Value::Int(1), Value::Int(1)];
    assert_eq!(key_bytes(&sch, &[0], &a), key_bytes(&sch, &[0], &b));
}

#[test]
fn only_rows_the_batch_inserted_are_fresh() {
    let s = schema();
    let id = |n| ChangeId { txn: BinlogCoord::new("b.000001", n), row: 0 };
    let ins = |k, n| RowChange { table: Arc::clone(&s), kind: ChangeKind::Insert, before: None, after: Some(full(k, [1, 1])), id: id(n) };
    let upd = |k, n| RowChange { table: Arc::clone(&s), kind: ChangeKind::Update, before: Some(full(k, [1, 1])), after: Some(full(k, [2, 2])), id: id(n) };
    let del = |k, n| RowChange { table: Arc::clone(&s), kind: ChangeKind::Delete, before: Some(full(k, [1, 1])), after: None, id: id(n) };
    // 1: inserted then updated (fresh); 2: updated (existed); 3: deleted then inserted (existed);
    // 4: inserted twice (anomaly: not fresh).
    let changes = vec![ins(1, 1), upd(1, 2), upd(2, 3), del(3, 4), ins(3, 5), ins(4, 6), ins(4, 7)];
    let m = merge(&s, Some(&[0]), ApplyMode::Row, changes);
    let fresh: Vec<(i64, bool)> = m
        .writes
        .iter()
        .map(|op| match op {
            Op::Upsert { after, fresh, .. } => (int(&after[0]), *fresh),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fresh, [(1, true), (2, false), (3, false), (4, false)]);
    // Keyless tables keep plain inserts.
    let m = merge(&s, None, ApplyMode::Row, vec![ins(5, 8)]);
    assert!(matches!(&m.writes[..], [Op::Insert { .. }]));
}

#[test]
fn integer_keys_spread_in_blocks_of_neighbours_and_other_keys_not_at_all() {
    let block = |v: Value<'static>| key_block(&[0], &vec![v, Value::Int(7)]);
    // 1,024 neighbours share a block; the next value starts the next one.
    assert_eq!(block(Value::Int(0)), block(Value::Int(1023)));
    assert_eq!(block(Value::Int(1024)).zip(block(Value::Int(0))).map(|(a, b)| a - b), Some(1));
    // The same value as signed or unsigned is the same key on the target.
    assert_eq!(block(Value::Int(5000)), block(Value::UInt(5000)));
    // Strings and composite keys are spread by hash.
    assert_eq!(block(Value::Bytes(b"5".to_vec().into())), None);
    assert_eq!(key_block(&[0, 1], &vec![Value::Int(1), Value::Int(2)]), None);
    assert_eq!(key_block(&[3], &vec![Value::Int(1)]), None);
}
