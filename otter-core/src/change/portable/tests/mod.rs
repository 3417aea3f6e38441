//! Tests of the portable batch: helpers to round-trip through JSON and CBOR and to compare
//! batches exactly (floats bit for bit), shared by the test files below.

mod errors;
mod every_type;
mod format;
mod props;

use std::sync::Arc;

use otter_binlog::Value;

use super::PortableBatch;
use crate::change::{Event, Row, RowChange};
use crate::traits::Batch;

/// `b` written as JSON and read back.
fn via_json(b: &Batch) -> Batch {
    let json = PortableBatch::from(b).to_json().unwrap();
    PortableBatch::from_json(&json).unwrap().into_batch().unwrap()
}

/// `b` written as CBOR and read back.
fn via_cbor(b: &Batch) -> Batch {
    let mut cbor = Vec::new();
    ciborium::into_writer(&PortableBatch::from(b), &mut cbor).unwrap();
    ciborium::from_reader::<PortableBatch, _>(cbor.as_slice()).unwrap().into_batch().unwrap()
}

/// Whether two values are the same: same variant and payload, floats compared by their bits
/// (so `-0.0 != 0.0` and a NaN equals the same NaN).
fn same_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Decimal(x), Value::Decimal(y)) => {
            (x.precision(), x.scale(), x.raw()) == (y.precision(), y.scale(), y.raw())
        }
        _ => a == b,
    }
}

/// Asserts two row images are the same value for value.
fn assert_same_image(a: &Option<Row>, b: &Option<Row>, at: &str) {
    match (a, b) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: image length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(same_value(x, y), "{at}, column {i}: {x:?} became {y:?}");
            }
        }
        _ => panic!("{at}: image {a:?} became {b:?}"),
    }
}

/// Asserts two row changes are the same in every field.
fn assert_same_change(a: &RowChange, b: &RowChange, at: &str) {
    assert_eq!(*a.table, *b.table, "{at}: schema");
    assert_eq!(a.kind, b.kind, "{at}: kind");
    assert_eq!(a.id, b.id, "{at}: id");
    assert_same_image(&a.before, &b.before, &format!("{at}, before"));
    assert_same_image(&a.after, &b.after, &format!("{at}, after"));
}

/// Asserts two batches are the same in every field, event and value.
fn assert_same_batch(a: &Batch, b: &Batch) {
    assert_eq!((a.seq, &a.position, a.source_time), (b.seq, &b.position, b.source_time));
    assert_eq!(a.events.len(), b.events.len(), "event count");
    for (i, (x, y)) in a.events.iter().zip(&b.events).enumerate() {
        match (x, y) {
            (Event::Rows(x), Event::Rows(y)) => {
                assert_eq!(*x.meta, *y.meta, "event {i}: meta");
                assert_eq!((x.index, x.last, &x.position), (y.index, y.last, &y.position), "event {i}");
                assert_eq!(x.changes.len(), y.changes.len(), "event {i}: change count");
                for (j, (c, d)) in x.changes.iter().zip(&y.changes).enumerate() {
                    assert_same_change(c, d, &format!("event {i}, change {j}"));
                }
            }
            (Event::Ddl(x), Event::Ddl(y)) => {
                assert_eq!(x.meta, y.meta, "event {i}: meta");
                assert_eq!((&x.schema, &x.statement, x.sql_mode), (&y.schema, &y.statement, y.sql_mode), "event {i}");
                assert_eq!((x.collation_server, &x.time_zone), (y.collation_server, &y.time_zone), "event {i}");
                assert_eq!((&x.tables, &x.position), (&y.tables, &y.position), "event {i}");
            }
            (Event::Progress(x), Event::Progress(y)) => {
                assert_eq!((&x.position, x.timestamp, x.passed_over), (&y.position, y.timestamp, y.passed_over), "event {i}");
            }
            _ => panic!("event {i}: {x:?} became {y:?}"),
        }
    }
}

/// Every row change of a batch.
fn changes(b: &Batch) -> impl Iterator<Item = &RowChange> {
    b.events.iter().flat_map(|e| match e {
        Event::Rows(c) => c.changes.as_slice(),
        _ => &[],
    })
}

/// The distinct schema `Arc`s of a batch's changes, by address.
fn distinct_arcs(b: &Batch) -> usize {
    let mut seen: Vec<*const crate::schema::TableSchema> = changes(b).map(|c| Arc::as_ptr(&c.table)).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}
