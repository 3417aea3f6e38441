//! Golden tests: the exact Oracle statements for each operation the engine asks of a dialect
//! (no Oracle server is reachable here, so the text is what is pinned).

use std::borrow::Cow;

use otter_binlog::temporal::{Date, DateTime};
use otter_binlog::Value;
use otter_core::schema::{Column, SqlType, TableSchema};

use super::OracleDialect;
use crate::dialect::{SqlDialect, TargetTable};

/// `shop.order` (a keyword as a name): id, note (text), raw (binary), day, at, state (enum).
fn schema() -> TableSchema {
    TableSchema::new(
        "shop",
        "order",
        vec![
            Column::new("id", SqlType::Int),
            Column::new("note", SqlType::VarChar(20)),
            Column::new("raw", SqlType::VarBinary(8)),
            Column::new("day", SqlType::Date),
            Column::new("at", SqlType::DateTime(3)),
            Column::new("state", SqlType::Enum(vec!["new".into(), "paid".into()])),
        ],
        vec![0],
    )
}

fn row(id: i64, note: &'static str) -> Vec<Value<'static>> {
    vec![
        Value::Int(id),
        Value::Bytes(Cow::Borrowed(note.as_bytes())),
        Value::Bytes(Cow::Borrowed(&[0x00, 0xab])),
        Value::Date(Date { year: 2024, month: 2, day: 29 }),
        Value::DateTime(DateTime { year: 2024, month: 1, day: 2, hour: 3, minute: 4, second: 5, micros: 600_000, fsp: 3 }),
        Value::Enum(2),
    ]
}

const ALL: [usize; 6] = [0, 1, 2, 3, 4, 5];

fn table<'a>(s: &'a TableSchema, key: &'a [usize], keyless: bool) -> TargetTable<'a> {
    TargetTable { db: &s.db, name: &s.name, schema: s, columns: &ALL, key, keyless }
}

#[test]
fn upsert_is_one_merge_using_dual_without_the_key_in_update_set() {
    let s = schema();
    let (a, b) = (row(1, "it's"), row(2, "b"));
    let mut out = String::new();
    OracleDialect.upsert(&table(&s, &[0], false), &[&a, &b], &mut out).unwrap();
    assert_eq!(
        out,
        "MERGE INTO \"SHOP\".\"ORDER\" t USING (\
         SELECT 1 AS \"ID\", 'it''s' AS \"NOTE\", HEXTORAW('00AB') AS \"RAW\", DATE '2024-02-29' AS \"DAY\", \
         TIMESTAMP '2024-01-02 03:04:05.600' AS \"AT\", 'paid' AS \"STATE\" FROM DUAL \
         UNION ALL SELECT 2 AS \"ID\", 'b' AS \"NOTE\", HEXTORAW('00AB') AS \"RAW\", DATE '2024-02-29' AS \"DAY\", \
         TIMESTAMP '2024-01-02 03:04:05.600' AS \"AT\", 'paid' AS \"STATE\" FROM DUAL) s \
         ON (t.\"ID\" = s.\"ID\") \
         WHEN MATCHED THEN UPDATE SET t.\"NOTE\" = s.\"NOTE\", t.\"RAW\" = s.\"RAW\", t.\"DAY\" = s.\"DAY\", t.\"AT\" = s.\"AT\", t.\"STATE\" = s.\"STATE\" \
         WHEN NOT MATCHED THEN INSERT (\"ID\", \"NOTE\", \"RAW\", \"DAY\", \"AT\", \"STATE\") \
         VALUES (s.\"ID\", s.\"NOTE\", s.\"RAW\", s.\"DAY\", s.\"AT\", s.\"STATE\")"
    );
}

#[test]
fn insert_all_delete_in_and_update_by_key() {
    let s = schema();
    let (a, b) = (row(1, "a"), row(2, "b"));
    let t = table(&s, &[0], false);
    let mut out = String::new();
    OracleDialect.insert(&t, &[&a], &mut out).unwrap();
    assert_eq!(
        out,
        "INSERT ALL INTO \"SHOP\".\"ORDER\" (\"ID\", \"NOTE\", \"RAW\", \"DAY\", \"AT\", \"STATE\") VALUES \
         (1, 'a', HEXTORAW('00AB'), DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.600', 'paid') SELECT 1 FROM DUAL"
    );
    out.clear();
    OracleDialect.delete(&t, &[&a, &b], &mut out).unwrap();
    assert_eq!(out, "DELETE FROM \"SHOP\".\"ORDER\" WHERE (\"ID\") IN ((1), (2))");
    out.clear();
    // The key is never SET (ORA-38104 in MERGE; pointless here), even when asked.
    OracleDialect.update(&t, &a, &b, &[0, 1], &mut out).unwrap();
    assert_eq!(out, "UPDATE \"SHOP\".\"ORDER\" SET \"NOTE\" = 'b' WHERE \"ID\" = 1");
}

#[test]
fn keyless_rows_are_matched_on_every_column_one_at_a_time() {
    let s = schema();
    let mut a = row(1, "a");
    a[1] = Value::Null;
    let t = table(&s, &ALL, true);
    let mut out = String::new();
    OracleDialect.delete(&t, &[&a], &mut out).unwrap();
    assert_eq!(
        out,
        "DELETE FROM \"SHOP\".\"ORDER\" WHERE \"ID\" = 1 AND \"NOTE\" IS NULL AND \"RAW\" = HEXTORAW('00AB') AND \
         \"DAY\" = DATE '2024-02-29' AND \"AT\" = TIMESTAMP '2024-01-02 03:04:05.600' AND \"STATE\" = 'paid' AND ROWNUM = 1"
    );
}

#[test]
fn values_oracle_cannot_take_are_errors_naming_the_column() {
    let s = schema();
    let mut a = row(1, "a");
    a[1] = Value::Bytes(Cow::Borrowed(&[0xff, 0xfe]));
    let mut out = String::new();
    let err = OracleDialect.insert(&table(&s, &[0], false), &[&a], &mut out).unwrap_err();
    assert!(err.to_string().contains("non-UTF-8 text in note"), "{err}");
    assert_eq!(OracleDialect.session_setup(), ["ALTER SESSION SET TIME_ZONE = '+00:00'"]);
}
