//! Round trips through this crate's parser: what the encoder writes reads back as the same values,
//! for every column type it writes, any NULL pattern and the edges of each format; values that do
//! not fit their column are refused and leave the event as it was.

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;
use crate::column::ColumnType as T;
use crate::temporal::Timestamp;
use crate::decimal::Decimal;
use crate::reader::Reader;
use crate::{EventData, Parser, Status};

fn def(t: ColumnType, meta: u16, nullable: bool, unsigned: bool) -> ColumnDef {
    ColumnDef::new(t, meta, nullable, unsigned).unwrap()
}

/// Every change of the events in `buf`, with the schema and table names of its table map;
/// integers of the UNSIGNED columns of `cols` read as such (the encoder writes no signedness
/// metadata, as MariaDB by default does not).
fn parse_all(buf: &[u8], cols: &[ColumnDef]) -> Vec<(String, RowChange)> {
    let unsigned = |v: Option<Vec<Value<'static>>>| {
        v.map(|v| {
            v.into_iter()
                .zip(cols)
                .map(|(v, c)| match (c.kind, &v) {
                    (Kind::Int(w), Value::Int(_)) if c.unsigned => Value::UInt(v.to_unsigned(w).unwrap()),
                    _ => v,
                })
                .collect()
        })
    };
    let mut parser = Parser::new();
    let mut at = 0;
    let mut out = Vec::new();
    while at < buf.len() {
        let Status::Complete((event, used)) = parser.parse(&buf[at..]).unwrap() else { panic!("partial event") };
        if let EventData::Rows(r) = &event.data {
            let table = parser.table_for(r).unwrap();
            for change in r.rows(table).unwrap() {
                let c = change.unwrap();
                out.push((table.full_name(), RowChange { before: unsigned(own(c.before)), after: unsigned(own(c.after)) }));
            }
        }
        at += used;
    }
    out
}

#[derive(Debug, PartialEq)]
struct RowChange {
    before: Option<Vec<Value<'static>>>,
    after: Option<Vec<Value<'static>>>,
}

fn own(v: Option<Vec<Value<'_>>>) -> Option<Vec<Value<'static>>> {
    v.map(|v| v.into_iter().map(Value::into_owned).collect())
}

fn decimal(bytes: &[u8], p: u8, s: u8) -> Value<'static> {
    Value::Decimal(Decimal::read(&mut Reader::new(bytes), p, s).unwrap().into_owned())
}

fn bytes(b: &[u8]) -> Value<'static> {
    Value::Bytes(Cow::Owned(b.to_vec()))
}

/// One table of every type the encoder writes, and rows at the edges of each.
fn every_type() -> (Vec<ColumnDef>, Vec<Vec<Value<'static>>>) {
    let cols = vec![
        def(T::Long, 0, false, false),
        def(T::Tiny, 0, true, false),
        def(T::Tiny, 0, true, true),
        def(T::Short, 0, true, false),
        def(T::Int24, 0, true, true),
        def(T::LongLong, 0, true, true),
        def(T::LongLong, 0, true, false),
        def(T::Float, 4, true, false),
        def(T::Double, 8, true, false),
        def(T::NewDecimal, 10 << 8 | 2, true, false),
        def(T::Year, 0, true, false),
        def(T::Date, 0, true, false),
        def(T::Time2, 0, true, false),
        def(T::Time2, 2, true, false),
        def(T::Time2, 4, true, false),
        def(T::Time2, 6, true, false),
        def(T::DateTime2, 3, true, false),
        def(T::Timestamp2, 6, true, false),
        def(T::VarChar, 1020, true, false),
        def(T::String, 0xfe << 8 | 40, true, false),
        def(T::Blob, 2, true, false),
        def(T::Blob, 4, true, false),
        def(T::Bit, 2 << 8 | 3, true, false), // BIT(19): 3 bits + 2 bytes
        def(T::String, 0xf7 << 8 | 2, true, false),
        def(T::String, 0xf8 << 8 | 8, true, false),
    ];
    let time = |negative, hour, minute, second, micros, fsp| Value::Time(Time { negative, hour, minute, second, micros, fsp });
    let rows = vec![
        vec![
            Value::Int(1),
            Value::Int(-128),
            Value::UInt(255),
            Value::Int(-32768),
            Value::UInt(16_777_215),
            Value::UInt(u64::MAX),
            Value::Int(i64::MIN),
            Value::Float(-1.5e-7),
            Value::Double(f64::MAX),
            decimal(&[0x7f, 0xff, 0xff, 0xf6, 0xfe], 10, 2),
            Value::Year(2155),
            Value::Date(Date { year: 9999, month: 12, day: 31 }),
            time(true, 838, 59, 59, 0, 0),
            time(true, 0, 0, 1, 500_000, 2),
            time(true, 12, 0, 0, 1_200, 4),
            time(true, 1, 2, 3, 999_999, 6),
            Value::DateTime(DateTime { year: 2026, month: 12, day: 7, hour: 23, minute: 59, second: 58, micros: 123_000, fsp: 3 }),
            Value::Timestamp(Timestamp { seconds: u32::MAX, micros: 999_999, fsp: 6 }),
            bytes(&[0xe2, 0x82, 0xac].repeat(300)),
            bytes(b"forty bytes at most, CHAR(10) utf8mb4"),
            bytes(&[0, 1, 2, 255].repeat(1000)),
            bytes(b""),
            Value::Bit((1 << 19) - 1),
            Value::Enum(300),
            Value::Set(u64::MAX),
        ],
        vec![
            Value::Int(-1),
            Value::Int(127),
            Value::UInt(0),
            Value::Int(32767),
            Value::UInt(0),
            Value::UInt(5),
            Value::Int(i64::MAX),
            Value::Float(f32::INFINITY),
            Value::Double(-0.0),
            decimal(&[0x80, 0, 0, 0, 0], 10, 2),
            Value::Year(0),
            Value::Date(Date { year: 0, month: 0, day: 0 }),
            time(false, 0, 0, 0, 0, 0),
            time(false, 838, 59, 59, 990_000, 2),
            time(true, 0, 0, 0, 100, 4),
            time(false, 0, 0, 0, 1, 6),
            Value::DateTime(DateTime { year: 1000, month: 1, day: 1, hour: 0, minute: 0, second: 0, micros: 0, fsp: 3 }),
            Value::Timestamp(Timestamp { seconds: 0, micros: 0, fsp: 6 }),
            bytes(b"x"),
            bytes(b""),
            bytes(b"a"),
            bytes(&[7; 70_000]),
            Value::Bit(0),
            Value::Enum(0),
            Value::Set(0),
        ],
        // Every nullable column NULL.
        std::iter::once(Value::Int(2)).chain(std::iter::repeat_n(Value::Null, 24)).collect(),
    ];
    (cols, rows)
}

#[test]
fn every_type_reads_back_as_written() {
    let (cols, rows) = every_type();
    let all: Vec<usize> = (0..cols.len()).collect();
    let mut buf = format_description(9);
    table_map(&mut buf, 9, 77, b"db", b"every", &cols).unwrap();
    let mut w = RowsWriter::begin(&mut buf, RowsKind::Write, 9, 77, cols.len(), &[], &all);
    for r in &rows {
        w.row(&cols, r).unwrap();
    }
    w.finish(false);
    let mut w = RowsWriter::begin(&mut buf, RowsKind::Update, 9, 77, cols.len(), &[0], &all);
    for r in &rows {
        w.update(&cols, r, r).unwrap();
    }
    w.finish(false);
    let mut w = RowsWriter::begin(&mut buf, RowsKind::Delete, 9, 77, cols.len(), &[0, 2], &[]);
    w.row(&cols, &rows[0]).unwrap();
    w.finish(true);

    let changes = parse_all(&buf, &cols);
    assert_eq!(changes.len(), 2 * rows.len() + 1);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(changes[i].0, "db.every");
        assert_eq!(changes[i].1, RowChange { before: None, after: Some(r.clone()) }, "write {i}");
        let mut key_only = vec![Value::Absent; cols.len()];
        key_only[0] = r[0].clone();
        let update = &changes[rows.len() + i].1;
        assert_eq!(update, &RowChange { before: Some(key_only), after: Some(r.clone()) }, "update {i}");
    }
    let mut before = vec![Value::Absent; cols.len()];
    before[0] = rows[0][0].clone();
    before[2] = rows[0][2].clone();
    assert_eq!(changes.last().unwrap().1, RowChange { before: Some(before), after: None });
}

#[test]
fn the_format_description_is_mariadbs() {
    let buf = format_description(3);
    let mut parser = Parser::new();
    let Status::Complete((event, used)) = parser.parse(&buf).unwrap() else { panic!("partial") };
    assert_eq!(used, buf.len());
    assert!(matches!(event.data, EventData::FormatDescription(_)));
    assert_eq!(parser.checksum(), crate::ChecksumAlg::Crc32);
    assert_eq!(event.header.server_id, 3);
    crate::header::verify_crc32(&buf, true).unwrap();
}

#[test]
fn values_that_do_not_fit_are_refused_and_leave_the_event_as_it_was() {
    let cases: Vec<(ColumnDef, Value<'static>)> = vec![
        (def(T::Tiny, 0, false, false), Value::Int(128)),
        (def(T::Tiny, 0, false, true), Value::Int(-1)),
        (def(T::Int24, 0, false, true), Value::UInt(1 << 24)),
        (def(T::LongLong, 0, false, false), Value::UInt(u64::MAX)),
        (def(T::Long, 0, false, false), Value::Null),
        (def(T::Long, 0, true, false), Value::Absent),
        (def(T::Float, 4, false, false), Value::Double(1.0)),
        (def(T::NewDecimal, 10 << 8 | 3, false, false), decimal(&[0x80, 0, 0, 0, 0], 10, 2)),
        (def(T::Year, 0, false, false), Value::Year(1900)),
        (def(T::DateTime2, 0, false, false), Value::DateTime(DateTime { year: 2020, month: 1, day: 1, hour: 0, minute: 0, second: 0, micros: 500_000, fsp: 1 })),
        (def(T::Time2, 3, false, false), Value::Time(Time { negative: false, hour: 839, minute: 0, second: 0, micros: 0, fsp: 3 })),
        (def(T::Timestamp2, 2, false, false), Value::Timestamp(Timestamp { seconds: 1, micros: 1_000, fsp: 3 })),
        (def(T::VarChar, 3, false, false), bytes(b"four")),
        (def(T::String, 0xfe << 8 | 2, false, false), bytes(b"abc")),
        (def(T::Blob, 1, false, false), bytes(&[0; 256])),
        (def(T::Bit, 3, false, false), Value::Bit(8)),
        (def(T::String, 0xf7 << 8 | 1, false, false), Value::Enum(256)),
        (def(T::String, 0xf8 << 8 | 1, false, false), Value::Set(256)),
        (def(T::Date, 0, false, false), Value::Int(20200101)),
    ];
    for (c, v) in cases {
        let mut buf = vec![1, 2, 3];
        let mut w = RowsWriter::begin(&mut buf, RowsKind::Write, 1, 1, 1, &[], &[0]);
        let len = w.bytes();
        let err = w.row(&[c], std::slice::from_ref(&v)).unwrap_err();
        assert_eq!(err.column, 0);
        assert_eq!(w.bytes(), len, "{c:?} {v:?}: the event grew after a refused value");
    }
    // Types the encoder does not write are refused up front.
    for (t, meta) in [(T::Json, 4), (T::Geometry, 4), (T::DateTime, 0), (T::Timestamp, 0), (T::Time, 0), (T::BlobCompressed, 4)] {
        assert!(ColumnDef::new(t, meta, true, false).is_err(), "{t:?}");
    }
    assert!(ColumnDef::new(T::NewDecimal, 70 << 8, true, false).is_err());
}

fn arb_row() -> impl Strategy<Value = (Vec<ColumnDef>, Vec<Value<'static>>)> {
    let column = prop_oneof![
        (any::<i8>(), any::<bool>()).prop_map(|(v, n)| (def(T::Tiny, 0, n, false), Value::Int(v.into()))),
        any::<u32>().prop_map(|v| (def(T::Long, 0, true, true), Value::UInt(v.into()))),
        any::<i64>().prop_map(|v| (def(T::LongLong, 0, false, false), Value::Int(v))),
        (-8_388_608i64..8_388_608).prop_map(|v| (def(T::Int24, 0, true, false), Value::Int(v))),
        any::<f64>().prop_filter("NaN compares unequal", |f| !f.is_nan()).prop_map(|v| (def(T::Double, 8, true, false), Value::Double(v))),
        (any::<bool>(), 0u16..=838, 0u8..60, 0u8..60, 0u32..1_000_000, 0u8..=6).prop_map(|(neg, h, m, s, us, fsp)| {
            let unit = 10u32.pow(6 - u32::from(fsp));
            let micros = us / unit * unit;
            (def(T::Time2, fsp.into(), true, false), Value::Time(Time { negative: neg && (h, m, s, micros) != (0, 0, 0, 0), hour: h, minute: m, second: s, micros, fsp }))
        }),
        (0u16..=9999, 0u8..=12, 0u8..=31, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000, 0u8..=6).prop_map(|(y, mo, d, h, mi, s, us, fsp)| {
            let unit = 10u32.pow(6 - u32::from(fsp));
            (def(T::DateTime2, fsp.into(), true, false), Value::DateTime(DateTime { year: y, month: mo, day: d, hour: h, minute: mi, second: s, micros: us / unit * unit, fsp }))
        }),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| (def(T::VarChar, 400, true, false), Value::Bytes(Cow::Owned(b)))),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(|b| (def(T::Blob, 1, false, false), Value::Bytes(Cow::Owned(b)))),
        (1u16..=64, any::<u64>()).prop_map(|(bits, v)| {
            let v = if bits == 64 { v } else { v & ((1 << bits) - 1) };
            (def(T::Bit, ((bits / 8) << 8) | (bits % 8), true, false), Value::Bit(v))
        }),
        Just((def(T::Long, 0, true, false), Value::Null)),
    ];
    proptest::collection::vec(column, 1..20).prop_map(|cols| cols.into_iter().unzip())
}

proptest! {
    #[test]
    fn any_row_reads_back((cols, row) in arb_row()) {
        let all: Vec<usize> = (0..cols.len()).collect();
        let mut buf = format_description(1);
        table_map(&mut buf, 1, 5, b"s", b"t", &cols).unwrap();
        let mut w = RowsWriter::begin(&mut buf, RowsKind::Update, 1, 5, cols.len(), &all, &all);
        w.update(&cols, &row, &row).unwrap();
        w.finish(true);
        let changes = parse_all(&buf, &cols);
        prop_assert_eq!(changes.len(), 1);
        prop_assert_eq!(&changes[0].1, &RowChange { before: Some(row.clone()), after: Some(row) });
    }
}
