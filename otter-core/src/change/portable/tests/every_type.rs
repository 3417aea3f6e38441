//! The whole-batch round trip: tables with every MySQL and MariaDB column type (built by the
//! capture's own DDL catalog), rows with the edge values of each type, DDL and progress events;
//! through JSON and through CBOR, then compared event by event and value by value.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use otter_binlog::temporal::{Date, DateTime, Time, Timestamp};
use otter_binlog::Value;

use super::super::decimal::from_text;
use super::super::PortableBatch;
use super::{assert_same_batch, changes, distinct_arcs, via_cbor, via_json};
use crate::change::{ChangeId, ChangeKind, DdlEvent, Event, Progress, Row, RowChange, TxnChunk, TxnMeta};
use crate::position::{BinlogCoord, Position};
use crate::schema::{Catalog, Column, Flavor, Index, IndexKind, Settings, SqlMode, SqlType, TableSchema};
use crate::traits::Batch;

/// Every MySQL column type, with keys of each kind.
const MYSQL_TABLE: &str = "CREATE TABLE every_type (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED ZEROFILL,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT DEFAULT 7, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), dz DECIMAL(5,5), f FLOAT, db DOUBLE,
  b1 BIT(1), b64 BIT(64),
  dt DATE, tm TIME, tm6 TIME(6), dtm DATETIME, dtm6 DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
  ts TIMESTAMP(3) NULL, y YEAR,
  c CHAR(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci, vc VARCHAR(255) COLLATE utf8mb4_bin DEFAULT 'it''s',
  bn BINARY(4), vb VARBINARY(300),
  tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT CHARACTER SET ascii,
  e ENUM('a','b c','') NOT NULL, s SET('x','y','z'),
  j JSON, g GEOMETRY NOT NULL, pt POINT, v VECTOR(3),
  gs INT AS (i + 1) STORED, gv INT GENERATED ALWAYS AS (i * 2) VIRTUAL, inv INT INVISIBLE,
  parent_id INT,
  PRIMARY KEY (id), UNIQUE KEY uk (vc(10), c), KEY k_i (i), FULLTEXT KEY ft (tx), SPATIAL KEY sp (g),
  FOREIGN KEY (parent_id) REFERENCES parent (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci";

/// MariaDB's own types, a long unique key (and its hidden hash column), a PERSISTENT column.
const MARIADB_TABLE: &str = "CREATE TABLE maria_types (
  id INT NOT NULL PRIMARY KEY, ip4 INET4, ip6 INET6, u UUID, j JSON, blb BLOB NOT NULL,
  p INT AS (id * 2) PERSISTENT, UNIQUE KEY lu (blb)
) ENGINE=InnoDB";

/// The schemas of `every_type` (MySQL), `maria_types` (MariaDB) and a hand-made table with the
/// model's remaining variants (a type it does not know, a VECTOR index).
fn schemas() -> (TableSchema, TableSchema, TableSchema) {
    let mut mysql = Catalog::new(Settings::new(Flavor::MySql, "utf8mb4", "utf8mb4_0900_ai_ci"));
    for sql in ["CREATE DATABASE d", "CREATE TABLE parent (id INT PRIMARY KEY)", MYSQL_TABLE] {
        mysql.apply(Some("d"), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut maria = Catalog::new(Settings::new(Flavor::MariaDb, "utf8mb4", "utf8mb4_general_ci"));
    for sql in ["CREATE DATABASE d", MARIADB_TABLE] {
        maria.apply(Some("d"), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut odd = TableSchema::new(
        "d",
        "odd",
        vec![
            Column { nullable: false, ..Column::new("k", SqlType::Int) },
            Column::new("x", SqlType::Other("mystery".into())),
            Column::new("emb", SqlType::Vector(2)),
        ],
        vec![0],
    );
    odd.indexes.push(Index { name: "vx".into(), kind: IndexKind::Vector, columns: vec![2], prefix_lengths: vec![None] });
    odd.engine = Some("Aria".into());
    let t = |c: &Catalog, name: &str| c.table("d", name).unwrap().clone();
    (t(&mysql, "every_type"), t(&maria, "maria_types"), odd)
}

/// The name of a type's variant (an exhaustive match: a new variant must be covered here).
fn variant(t: &SqlType) -> &'static str {
    use SqlType::*;
    match t {
        TinyInt => "TinyInt", SmallInt => "SmallInt", MediumInt => "MediumInt", Int => "Int", BigInt => "BigInt",
        Decimal { .. } => "Decimal", Float => "Float", Double => "Double", Bit(_) => "Bit", Date => "Date",
        Time(_) => "Time", DateTime(_) => "DateTime", Timestamp(_) => "Timestamp", Year => "Year",
        Char(_) => "Char", VarChar(_) => "VarChar", Binary(_) => "Binary", VarBinary(_) => "VarBinary",
        TinyBlob => "TinyBlob", Blob => "Blob", MediumBlob => "MediumBlob", LongBlob => "LongBlob",
        TinyText => "TinyText", Text => "Text", MediumText => "MediumText", LongText => "LongText",
        Enum(_) => "Enum", Set(_) => "Set", Json => "Json", Geometry(_) => "Geometry", Inet4 => "Inet4",
        Inet6 => "Inet6", Uuid => "Uuid", Vector(_) => "Vector", Other(_) => "Other",
    }
}

#[test]
fn the_schemas_cover_every_type_key_and_attribute() {
    let (a, b, c) = schemas();
    let all: Vec<&Column> = a.columns.iter().chain(&b.columns).chain(&c.columns).collect();
    let types: BTreeSet<&str> = all.iter().map(|c| variant(&c.sql_type)).collect();
    assert_eq!(types.len(), 35, "missing: {types:?}");
    let generated: BTreeSet<String> = all.iter().filter_map(|c| c.generated).map(|g| format!("{g:?}")).collect();
    assert_eq!(generated.len(), 3, "{generated:?}");
    let kinds: BTreeSet<String> = [&a, &b, &c].iter().flat_map(|t| &t.indexes).map(|i| format!("{:?}", i.kind)).collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert!(b.unique_keys.iter().any(|k| k.long_hash));
    assert!(a.unique_keys.iter().any(|k| k.prefix_lengths.contains(&Some(10))));
    assert!(all.iter().any(|c| c.invisible) && all.iter().any(|c| c.auto_increment) && all.iter().any(|c| c.unsigned));
    assert!(all.iter().any(|c| c.default.is_some()) && all.iter().any(|c| c.collation.as_deref() == Some("latin1_swedish_ci")));
    assert!(a.primary_key == [0] && a.engine.is_some() && a.collation.is_some());
}

/// Bytes value.
fn bytes(b: &[u8]) -> Value<'static> {
    Value::Bytes(Cow::Owned(b.to_vec()))
}

/// A DECIMAL value from its text.
fn dec(text: &str, p: u8, s: u8) -> Value<'static> {
    Value::Decimal(from_text(text, p, s).unwrap())
}

/// A TIME value.
fn time(negative: bool, hour: u16, minute: u8, second: u8, micros: u32, fsp: u8) -> Value<'static> {
    Value::Time(Time { negative, hour, minute, second, micros, fsp })
}

/// A DATETIME value.
fn datetime(ymd: (u16, u8, u8), hms: (u8, u8, u8), micros: u32, fsp: u8) -> Value<'static> {
    let ((year, month, day), (hour, minute, second)) = (ymd, hms);
    Value::DateTime(DateTime { year, month, day, hour, minute, second, micros, fsp })
}

/// Geometry bytes: SRID, then a WKB point.
fn point(srid: u32, x: f64, y: f64) -> Value<'static> {
    let mut b = srid.to_le_bytes().to_vec();
    b.push(1);
    b.extend(1u32.to_le_bytes());
    b.extend(x.to_le_bytes());
    b.extend(y.to_le_bytes());
    Value::Geometry(Cow::Owned(b))
}

/// The edge values of each column of `every_type`, by name; row `k` takes value `k % len`.
fn mysql_values(name: &str) -> Vec<Value<'static>> {
    use Value::{Bit, Double, Enum, Float, Int, Set, UInt, Year};
    let all_bytes: Vec<u8> = (0..=255).collect();
    let max65 = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    match name {
        "id" => vec![UInt(0), UInt(u64::MAX), UInt(1)],
        "ti" => vec![Int(-128), Int(127), Int(0)],
        "tiu" => vec![UInt(0), UInt(255)],
        "si" => vec![Int(-32768), Int(32767)],
        "siu" => vec![UInt(0), UInt(65535)],
        "mi" => vec![Int(-8_388_608), Int(8_388_607)],
        "miu" => vec![UInt(0), UInt(16_777_215)],
        "i" | "gs" | "gv" | "inv" | "parent_id" => vec![Int(i64::from(i32::MIN)), Int(i64::from(i32::MAX)), Int(-1)],
        "iu" => vec![UInt(0), UInt(u64::from(u32::MAX))],
        "bi" => vec![Int(i64::MIN), Int(i64::MAX), Int(0)],
        "biu" => vec![UInt(0), UInt(u64::MAX)],
        "d" => vec![
            dec(&format!("-{max65}"), 65, 30),
            dec(&max65, 65, 30),
            dec("0.000000000000000000000000000001", 65, 30),
            dec("-0.000000000000000000000000000000", 65, 30), // a "negative zero": kept as written
            dec("-12345678901234567890123456789012345.000000000000000000000000000001", 65, 30),
        ],
        "dz" => vec![dec("-0.99999", 5, 5), dec("0.99999", 5, 5), dec("0.00000", 5, 5)],
        "f" => vec![
            Float(f32::MIN),
            Float(f32::MAX),
            Float(-0.0),
            Float(f32::from_bits(1)), // the smallest subnormal
            Float(f32::MIN_POSITIVE),
            Float(f32::from_bits(0x7fc0_0001)), // a NaN with a payload
            Float(f32::NEG_INFINITY),
            Float(0.1),
        ],
        "db" => vec![
            Double(f64::MIN),
            Double(f64::MAX),
            Double(-0.0),
            Double(f64::from_bits(1)),
            Double(f64::MIN_POSITIVE),
            Double(f64::from_bits(0xfff8_0000_0000_0042)),
            Double(f64::INFINITY),
            Double(0.1 + 0.2),
        ],
        "b1" => vec![Bit(0), Bit(1)],
        "b64" => vec![Bit(0), Bit(u64::MAX), Bit(0x8000_0000_0000_0001)],
        "dt" => vec![
            Value::Date(Date { year: 0, month: 0, day: 0 }),
            Value::Date(Date { year: 9999, month: 12, day: 31 }),
            Value::Date(Date { year: 2024, month: 2, day: 30 }), // ALLOW_INVALID_DATES
            Value::Date(Date { year: 2024, month: 0, day: 0 }),
        ],
        "tm" => vec![time(true, 838, 59, 59, 0, 0), time(false, 838, 59, 59, 0, 0), time(false, 0, 0, 0, 0, 0)],
        "tm6" => vec![
            time(true, 838, 59, 59, 999_999, 6),
            time(false, 838, 59, 59, 999_999, 6),
            time(true, 0, 0, 0, 1, 6), // -00:00:00.000001
            time(false, 12, 34, 56, 500_000, 6),
        ],
        "dtm" => vec![datetime((0, 0, 0), (0, 0, 0), 0, 0), datetime((9999, 12, 31), (23, 59, 59), 0, 0)],
        "dtm6" => vec![
            datetime((1000, 1, 1), (0, 0, 0), 1, 6),
            datetime((9999, 12, 31), (23, 59, 59), 999_999, 6),
            datetime((0, 0, 0), (0, 0, 0), 0, 6),
        ],
        "ts" => vec![
            Value::Timestamp(Timestamp { seconds: 0, micros: 0, fsp: 3 }),
            Value::Timestamp(Timestamp { seconds: u32::MAX, micros: 999_000, fsp: 3 }),
            Value::Timestamp(Timestamp { seconds: 1, micros: 1_000, fsp: 3 }),
        ],
        "y" => vec![Year(0), Year(1901), Year(2155)],
        "c" => vec![bytes(b"caf\xe9"), bytes(b""), bytes(b"\0\0 ")], // latin1: not UTF-8
        "vc" => vec![bytes("😀 ünïcødé".as_bytes()), bytes(b"\xff\xfe\xc3"), bytes(b"a\0b")],
        "bn" => vec![bytes(&[0; 4]), bytes(&[0xff; 4])],
        "vb" | "tb" | "bl" => vec![bytes(&all_bytes), bytes(b""), bytes(b"\0")],
        "mb" => vec![bytes(&all_bytes.repeat(3))],
        // Longer than CBOR readers' scratch buffers: read as one owned byte string.
        "lb" => vec![bytes(&(0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>()), bytes(b"")],
        "tt" | "tx" | "mt" => vec![bytes("naïve text".as_bytes()), bytes(b""), bytes("\u{10FFFF}".as_bytes())],
        "lt" => vec![bytes(b"plain ascii\n\t\\\"")],
        "e" => vec![Enum(1), Enum(3), Enum(0), Enum(u16::MAX)],
        "s" => vec![Set(0), Set(0b111), Set(u64::MAX)],
        "j" => vec![
            // {"a": 1} and "hello" in MySQL's binary JSON.
            Value::Json(Cow::Owned(vec![0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, b'a'])),
            Value::Json(Cow::Owned(vec![0x0c, 0x05, b'h', b'e', b'l', b'l', b'o'])),
            Value::Json(Cow::Owned(vec![0x04, 0x00])), // JSON null
        ],
        "g" => vec![point(0, 1.0, 2.0), point(4326, -0.0, f64::MAX)],
        "pt" => vec![point(4326, 13.4, 52.5)],
        "v" => vec![Value::Vector(Cow::Owned([1.0f32, -0.0, f32::MIN_POSITIVE].iter().flat_map(|f| f.to_le_bytes()).collect()))],
        other => panic!("no values for column {other}"),
    }
}

/// The values of each column of `maria_types`, by name.
fn maria_values(name: &str) -> Vec<Value<'static>> {
    match name {
        "id" | "p" => vec![Value::Int(1), Value::Int(-2)],
        "ip4" => vec![bytes(&[127, 0, 0, 1]), bytes(&[255; 4])],
        "ip6" => vec![bytes(&[0; 16]), bytes(&[0xfe; 16])],
        "u" => vec![bytes(&[0x12; 16])],
        "j" => vec![bytes(br#"{"k": [1, 2.5, "x"]}"#)],
        // A COMPRESSED column arrives in its stored form.
        "blb" => vec![Value::Compressed(Cow::Owned(vec![0x80, 0x01, 0x78, 0x9c, 0x00])), bytes(b"raw")],
        "DB_ROW_HASH_1" => vec![Value::UInt(u64::MAX), Value::UInt(0)],
        other => panic!("no values for column {other}"),
    }
}

/// Row `k` of `t`, each column's value `k % len` of `values(column)`.
fn row(t: &TableSchema, values: fn(&str) -> Vec<Value<'static>>, k: usize) -> Row {
    t.columns
        .iter()
        .map(|c| {
            let v = values(&c.name);
            v[k % v.len()].clone()
        })
        .collect()
}

/// How many rows it takes for every value of every column of `t` to appear.
fn rows_needed(t: &TableSchema, values: fn(&str) -> Vec<Value<'static>>) -> usize {
    t.columns.iter().map(|c| values(&c.name).len()).max().unwrap_or(0)
}

fn coord(offset: u64) -> BinlogCoord {
    BinlogCoord::new("binlog.000042", offset)
}

fn position(offset: u64, gtid: &str, skip_rows: u64) -> Position {
    Position { coord: coord(offset), gtid: Some(gtid.parse().unwrap()), skip_rows, snapshot: None, applied: None }
}

fn meta(begin: u64, end: Option<u64>) -> TxnMeta {
    TxnMeta {
        gtid: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:77".into()),
        server_id: u32::MAX,
        begin: coord(begin),
        end: end.map(coord),
        commit_ts: 1_767_225_600,
        commit_ts_micros: Some(1_767_225_600_123_456),
        origin: None,
    }
}

fn change(table: &Arc<TableSchema>, kind: ChangeKind, before: Option<Row>, after: Option<Row>, txn: u64, row: u64) -> RowChange {
    RowChange { table: Arc::clone(table), kind, before, after, id: ChangeId { txn: coord(txn), row } }
}

/// A batch with every column type and edge value, in a two-chunk transaction, plus a DDL
/// statement, a MariaDB transaction and progress marks.
fn batch() -> (Batch, [Arc<TableSchema>; 3]) {
    let (a, b, c) = schemas();
    let (a, b, c) = (Arc::new(a), Arc::new(b), Arc::new(c));
    // Equal content behind another Arc: written once, read back as the same Arc.
    let a_again = Arc::new(TableSchema::clone(&a));
    let mysql_gtid = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77:80,3e11fa47-71ca-11e1-9e33-c80aa9429563:blue:1-5";

    let inserts: Vec<RowChange> = (0..rows_needed(&a, mysql_values))
        .map(|k| change(&a, ChangeKind::Insert, None, Some(row(&a, mysql_values, k)), 1000, k as u64))
        .collect();
    let n = inserts.len() as u64;
    let first = TxnChunk { meta: Arc::new(meta(1000, None)), index: 0, last: false, changes: inserts, position: Some(position(1000, mysql_gtid, n)) };

    // An update from a full image to a MINIMAL one: NULLs, Absent columns, a JSON partial update.
    let before = row(&a, mysql_values, 1);
    let after: Row = a
        .columns
        .iter()
        .map(|c| match c.name.as_str() {
            "id" => Value::UInt(u64::MAX),
            "j" => Value::JsonDiff(Cow::Owned(vec![0x00, 0x02, b'$', b'a', 0x00, 0x05, 0x02, 0x00])),
            "ti" | "d" | "f" | "dt" | "tm6" | "c" | "lb" | "e" | "g" => Value::Null,
            _ => Value::Absent,
        })
        .collect();
    let last_meta = Arc::new(meta(1000, Some(9000)));
    let second = TxnChunk {
        meta: Arc::clone(&last_meta),
        index: 1,
        last: true,
        changes: vec![
            change(&a, ChangeKind::Update, Some(before), Some(after), 1000, n),
            change(&a_again, ChangeKind::Delete, Some(row(&a, mysql_values, 2)), None, 1000, n + 1),
            change(&b, ChangeKind::Insert, None, Some(row(&b, maria_values, 0)), 1000, n + 2),
            change(&c, ChangeKind::Insert, None, Some(vec![Value::Int(1), bytes(b"?"), Value::Null]), 1000, n + 3),
        ],
        position: Some(position(9000, mysql_gtid, 0)),
    };
    let ddl = DdlEvent {
        meta: TxnMeta { origin: Some("eu-1".into()), commit_ts_micros: None, ..meta(9000, Some(9500)) },
        schema: "d".into(),
        statement: "ALTER TABLE `every_type` ADD COLUMN \"q\" INT COMMENT 'ü\\'\0'".into(),
        sql_mode: SqlMode(u64::MAX),
        collation_server: Some(255),
        time_zone: Some("+02:00".into()),
        tables: vec![("d".into(), "every_type".into()), ("other db".into(), "t`2".into())],
        position: position(9500, mysql_gtid, 0),
        snapshot: true,
    };
    let maria = TxnChunk {
        meta: Arc::new(TxnMeta { gtid: Some("0-1-100".into()), origin: Some("us-2".into()), ..meta(9500, Some(9900)) }),
        index: 0,
        last: true,
        changes: (0..2).map(|k| change(&b, ChangeKind::Insert, None, Some(row(&b, maria_values, k)), 9500, k as u64)).collect(),
        position: Some(Position { coord: coord(9900), gtid: Some("0-1-100,1-2-7".parse().unwrap()), skip_rows: 0, snapshot: None, applied: None }),
    };
    let events = vec![
        Event::Progress(Progress { position: Position { coord: coord(4), gtid: None, skip_rows: 0, snapshot: None, applied: None }, timestamp: 0, passed_over: false }),
        Event::Rows(first),
        Event::Rows(second),
        Event::Ddl(ddl),
        Event::Rows(maria),
        Event::Progress(Progress { position: position(9900, "", 0), timestamp: u32::MAX, passed_over: true }),
    ];
    let batch = Batch { seq: u64::MAX, events, position: Some(position(9900, mysql_gtid, 0)), source_time: 1_767_225_600, committed: None };
    (batch, [a, b, c])
}

#[test]
fn every_type_round_trips_through_json_and_cbor() {
    let (batch, [a, b, c]) = batch();
    assert_eq!(distinct_arcs(&batch), 4);
    let portable = PortableBatch::from(&batch);
    assert_eq!(portable.schemas, vec![(*a).clone(), (*b).clone(), (*c).clone()], "each schema once");
    for (how, back) in [("json", via_json(&batch)), ("cbor", via_cbor(&batch))] {
        assert_same_batch(&batch, &back);
        // Changes of one schema share one Arc, distinct schemas do not.
        assert_eq!(distinct_arcs(&back), 3, "{how}");
        let all: Vec<&RowChange> = changes(&back).collect();
        let arc_of = |t: &TableSchema| all.iter().find(|c| *c.table == *t).map(|c| Arc::clone(&c.table)).unwrap();
        for ch in &all {
            let expected = [&a, &b, &c].into_iter().find(|t| ***t == *ch.table).unwrap();
            assert!(Arc::ptr_eq(&ch.table, &arc_of(expected)), "{how}: change {:?} has its own Arc", ch.id);
        }
        // Borrowed bytes came back owned, and a second round trip changes nothing.
        assert!(changes(&back).flat_map(|c| c.after.iter().flatten()).all(|v| !matches!(v, Value::Bytes(Cow::Borrowed(_)))));
        assert_eq!(PortableBatch::from(&back), portable, "{how}");
    }
}

#[test]
fn binary_form_is_compact_and_json_is_readable() {
    let (batch, _) = batch();
    let portable = PortableBatch::from(&batch);
    let json = portable.to_json().unwrap();
    let mut cbor = Vec::new();
    ciborium::into_writer(&portable, &mut cbor).unwrap();
    assert!(json.starts_with(br#"{"version":1,"seq":18446744073709551615,"#));
    // JSON carries bytes as base64 (4/3 of the raw size); CBOR carries them raw.
    assert!(cbor.len() * 5 < json.len() * 4, "cbor {} bytes, json {} bytes", cbor.len(), json.len());
    let text = String::from_utf8(json).unwrap();
    assert!(text.contains(r#"{"uint":18446744073709551615}"#) && text.contains(r#"{"int":-9223372036854775808}"#));
    assert!(text.contains(r#"{"float_bits":2147483648}"#), "-0.0f32");
    assert!(text.contains(r#"{"decimal":{"precision":65,"scale":30,"text":"-0.000000000000000000000000000000"}}"#));
    assert!(text.contains(r#"{"time":{"negative":true,"hour":838,"minute":59,"second":59,"micros":999999,"fsp":6}}"#));
    assert!(text.contains(r#"{"bytes":"Y2Fm6Q=="}"#), "latin1 café as base64");
    assert!(text.contains(r#""absent""#) && text.contains(r#""null""#));
}
