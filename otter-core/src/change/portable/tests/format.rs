//! The format pinned: a small batch's exact JSON text. A change here is a change of the contract
//! (see the module docs): it needs a new format version, not an edited expectation.

use std::borrow::Cow;
use std::sync::Arc;

use otter_binlog::Value;

use super::super::PortableBatch;
use super::{assert_same_batch, via_cbor};
use crate::change::{ChangeId, ChangeKind, Event, Progress, RowChange, TxnChunk, TxnMeta};
use crate::position::{BinlogCoord, Position};
use crate::schema::{Column, SqlType, TableSchema};
use crate::traits::Batch;

/// A one-row batch and a progress mark.
pub(super) fn small_batch() -> Batch {
    let table = Arc::new(TableSchema::new(
        "shop",
        "items",
        vec![
            Column { nullable: false, unsigned: true, ..Column::new("id", SqlType::BigInt) },
            Column { charset: Some("utf8mb4".into()), collation: Some("utf8mb4_bin".into()), ..Column::new("name", SqlType::VarChar(20)) },
            Column::new("price", SqlType::Decimal { precision: 6, scale: 2 }),
        ],
        vec![0],
    ));
    let begin = BinlogCoord::new("binlog.000001", 100);
    let row = vec![
        Value::UInt(7),
        Value::Bytes(Cow::Borrowed(b"pen\0")),
        Value::Decimal(super::super::decimal::from_text("-12.50", 6, 2).unwrap()),
    ];
    let chunk = TxnChunk {
        meta: Arc::new(TxnMeta {
            gtid: None,
            server_id: 1,
            begin: begin.clone(),
            end: Some(BinlogCoord::new("binlog.000001", 400)),
            commit_ts: 1_700_000_000,
            commit_ts_micros: None,
            origin: None,
        }),
        index: 0,
        last: true,
        changes: vec![RowChange {
            table,
            kind: ChangeKind::Insert,
            before: None,
            after: Some(row),
            id: ChangeId { txn: begin, row: 0 },
        }],
        position: Some(Position { coord: BinlogCoord::new("binlog.000001", 400), gtid: None, skip_rows: 0, snapshot: None, applied: None }),
    };
    let progress = Progress {
        position: Position {
            coord: BinlogCoord::new("binlog.000001", 500),
            gtid: Some("0-1-9".parse().unwrap()),
            skip_rows: 0,
            snapshot: None,
            applied: None,
},
        timestamp: 1_700_000_001,
        passed_over: true,
    };
    Batch { seq: 3, events: vec![Event::Rows(chunk), Event::Progress(progress)], position: None, source_time: 1_700_000_001, committed: None }
}

/// The format of [`small_batch`], field by field.
const SMALL_BATCH_JSON: &str = r#"{
  "version": 1,
  "seq": 3,
  "source_time": 1700000001,
  "position": null,
  "schemas": [
    {
      "db": "shop",
      "name": "items",
      "columns": [
        {"name": "id", "sql_type": "BigInt", "nullable": false, "unsigned": true, "charset": null, "collation": null,
         "generated": null, "invisible": false, "auto_increment": false, "default": null},
        {"name": "name", "sql_type": {"VarChar": 20}, "nullable": true, "unsigned": false, "charset": "utf8mb4",
         "collation": "utf8mb4_bin", "generated": null, "invisible": false, "auto_increment": false, "default": null},
        {"name": "price", "sql_type": {"Decimal": {"precision": 6, "scale": 2}}, "nullable": true, "unsigned": false,
         "charset": null, "collation": null, "generated": null, "invisible": false, "auto_increment": false, "default": null}
      ],
      "primary_key": [0],
      "unique_keys": [],
      "indexes": [],
      "charset": null,
      "collation": null,
      "engine": null
    }
  ],
  "events": [
    {"rows": {
      "meta": {"gtid": null, "server_id": 1, "begin": {"file": "binlog.000001", "offset": 100},
               "end": {"file": "binlog.000001", "offset": 400}, "commit_ts": 1700000000, "commit_ts_micros": null, "origin": null},
      "index": 0,
      "last": true,
      "changes": [
        {"table": 0, "kind": "insert", "before": null,
         "after": [{"uint": 7}, {"bytes": "cGVuAA=="}, {"decimal": {"precision": 6, "scale": 2, "text": "-12.50"}}],
         "id": {"txn": {"file": "binlog.000001", "offset": 100}, "row": 0}}
      ],
      "position": {"coord": {"file": "binlog.000001", "offset": 400}, "gtid": null, "skip_rows": 0}
    }},
    {"progress": {"position": {"coord": {"file": "binlog.000001", "offset": 500}, "gtid": {"mariadb": "0-1-9"}, "skip_rows": 0},
                  "timestamp": 1700000001, "passed_over": true}}
  ]
}"#;

#[test]
fn json_is_the_documented_format() {
    let batch = small_batch();
    let written: serde_json::Value = serde_json::from_slice(&PortableBatch::from(&batch).to_json().unwrap()).unwrap();
    let expected: serde_json::Value = serde_json::from_str(SMALL_BATCH_JSON).unwrap();
    assert_eq!(written, expected);
    // Field order is part of the contract too (the version first).
    assert_eq!(written.as_object().unwrap().keys().collect::<Vec<_>>(), ["version", "seq", "source_time", "position", "schemas", "events"]);
    // A document written by hand in the format reads as the batch.
    let read = PortableBatch::from_json(SMALL_BATCH_JSON.as_bytes()).unwrap().into_batch().unwrap();
    assert_same_batch(&batch, &read);
    assert_same_batch(&batch, &via_cbor(&batch));
}

#[test]
fn every_value_variant_has_its_documented_name() {
    use super::super::PortableValue as P;
    let names: Vec<String> = [
        P::Null,
        P::Absent,
        P::Int(-1),
        P::Uint(1),
        P::FloatBits(1),
        P::DoubleBits(1),
        P::Year(2000),
        P::Bytes(vec![1]),
        P::Bit(1),
        P::Enum(1),
        P::Set(1),
        P::Json(vec![1]),
        P::JsonDiff(vec![1]),
        P::Geometry(vec![1]),
        P::Vector(vec![1]),
        P::Compressed(vec![1]),
    ]
    .iter()
    .map(|v| serde_json::to_string(v).unwrap())
    .collect();
    assert_eq!(
        names,
        [
            r#""null""#,
            r#""absent""#,
            r#"{"int":-1}"#,
            r#"{"uint":1}"#,
            r#"{"float_bits":1}"#,
            r#"{"double_bits":1}"#,
            r#"{"year":2000}"#,
            r#"{"bytes":"AQ=="}"#,
            r#"{"bit":1}"#,
            r#"{"enum":1}"#,
            r#"{"set":1}"#,
            r#"{"json":"AQ=="}"#,
            r#"{"json_diff":"AQ=="}"#,
            r#"{"geometry":"AQ=="}"#,
            r#"{"vector":"AQ=="}"#,
            r#"{"compressed":"AQ=="}"#,
        ]
    );
    let temporal = [
        P::Date(otter_binlog::temporal::Date { year: 0, month: 0, day: 0 }),
        P::DateTime(otter_binlog::temporal::DateTime { year: 1, month: 2, day: 3, hour: 4, minute: 5, second: 6, micros: 7, fsp: 6 }),
        P::Timestamp(otter_binlog::temporal::Timestamp { seconds: 1, micros: 2, fsp: 3 }),
    ]
    .map(|v| serde_json::to_string(&v).unwrap());
    assert_eq!(
        temporal,
        [
            r#"{"date":{"year":0,"month":0,"day":0}}"#,
            r#"{"datetime":{"year":1,"month":2,"day":3,"hour":4,"minute":5,"second":6,"micros":7,"fsp":6}}"#,
            r#"{"timestamp":{"seconds":1,"micros":2,"fsp":3}}"#,
        ]
    );
}
