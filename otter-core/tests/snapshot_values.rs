//! A snapshot's rows are the binlog's rows: every column type read by the chunk reader (through
//! `snapshot = "initial_only"`) equals, value for value, what the binlog decoder made of the same
//! rows when they were inserted — integers of every width and sign, DECIMAL, FLOAT/DOUBLE, BIT,
//! temporal types with fractions (zero dates, negative TIME, TIMESTAMP in UTC), text in utf8mb4
//! and latin1, binary strings with NUL bytes, ENUM, SET, JSON, spatial, INET4/INET6, UUID, and
//! NULLs everywhere.

mod common;

use std::collections::BTreeMap;

use otter_binlog::Value;
use otter_core::change::{ChangeKind, Event, Row};
use otter_core::source::mysql::snapshot::SnapshotMode;
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_core::source::Source;
use otter_testkit::{MariaDb, ServerConfig};

const TABLE: &str = "CREATE TABLE v.every (
    id INT NOT NULL PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
    de DECIMAL(30,10), fl FLOAT, db DOUBLE, bt BIT(12), dd DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL,
    yr YEAR, ch CHAR(5), vc VARCHAR(30) CHARACTER SET latin1, u8 VARCHAR(30) CHARACTER SET utf8mb4,
    vb VARBINARY(10), bn BINARY(4), tx TEXT, bl BLOB, en ENUM('a','b','c'), st SET('x','y','z'),
    js JSON, geo POINT, i6 INET6, i4 INET4, uu UUID
) DEFAULT CHARSET=utf8mb4";

const ROWS: &[&str] = &[
    "(1, -128, 255, -32768, 16777215, -9223372036854775808, 18446744073709551615, -12345678901234567890.0123456789, -1.5, 2.2250738585072014e-308,
      b'101010101010', '2026-12-06', '-838:59:59.000', '2026-12-06 01:02:03.456789', '2038-01-19 03:14:07.99', 2155,
      'ab', 'caf\\xe9', 'ünï✓😀', x'00ff00', x'00000001', 'long text', x'000102', 'c', 'x,z', '{\"a\": [1, 2.5, null]}',
      ST_GeomFromText('POINT(1 2)'), '2001:db8::1', '192.168.0.1', '123e4567-e89b-12d3-a456-426614174000')",
    "(2, 127, 0, 32767, 0, 9223372036854775807, 0, 0.0000000001, 3.25, -1e300, b'0', '0000-00-00', '838:59:59.999',
      '0000-00-00 00:00:00.000000', '1970-01-01 00:00:01.00', 1901, '', '', '', x'0100', x'01000000', '', '', 'a', '', '[]',
      ST_GeomFromText('POINT(-1.5 0)'), '::', '0.0.0.0', '00000000-0000-0000-0000-000000000000')",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
];

/// Rows by id from events.
fn rows_by_id(events: &[Event], kind: ChangeKind) -> BTreeMap<i64, Row> {
    let mut out = BTreeMap::new();
    for e in events {
        if let Event::Rows(c) = e {
            for ch in &c.changes {
                if ch.kind == kind && ch.table.name == "every" {
                    let row = ch.after.clone().unwrap();
                    let Some(Value::Int(id)) = row.first().cloned() else { panic!("no id in {row:?}") };
                    out.insert(id, row);
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_rows_equal_the_binlog_rows_for_every_column_type() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    a.sql("SET GLOBAL sql_mode = ''; CREATE DATABASE v").unwrap();
    a.sql(TABLE).unwrap();
    let status = a.query("SHOW MASTER STATUS").unwrap();
    let from = format!("{}:{}", status[0][0], status[0][1]);
    for r in ROWS {
        a.sql(&format!("SET SESSION sql_mode = ''; SET time_zone = '+03:00'; INSERT INTO v.every VALUES {r}")).unwrap();
    }
    // The binlog's view of the rows.
    let mut stream = common::start(&a.url(), &from);
    let events = common::collect_until(&mut stream, 30, |ev| rows_by_id(ev, ChangeKind::Insert).len() == ROWS.len()).await;
    let binlog = rows_by_id(&events, ChangeKind::Insert);
    drop(stream);
    // The snapshot's view of the same rows.
    let mut config = common::config(&a.url(), "latest");
    config.include = vec!["v\\.every".into()];
    config.snapshot = SnapshotMode::InitialOnly;
    let mut snap = MysqlSource::start(config, SourceOptions::default());
    let mut events = Vec::new();
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), snap.next()).await {
            Ok(Ok(Some(e))) => events.push(e),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => panic!("snapshot failed: {e}"),
            Err(_) => panic!("the snapshot did not end"),
        }
    }
    let copied = rows_by_id(&events, ChangeKind::Snapshot);
    assert_eq!(copied.len(), ROWS.len(), "rows copied: {copied:?}");
    let schema = events
        .iter()
        .find_map(|e| match e {
            Event::Rows(c) => c.changes.first().map(|ch| ch.table.clone()),
            _ => None,
        })
        .unwrap();
    for (id, row) in &binlog {
        let got = &copied[id];
        for (i, (b, s)) in row.iter().zip(got).enumerate() {
            assert_eq!(b, s, "row {id}, column {} ({:?}): binlog {b:?}, snapshot {s:?}", schema.columns[i].name, schema.columns[i].sql_type);
        }
        assert_eq!(row.len(), got.len());
    }
    // The definitions went out first, as idempotent statements.
    let creates: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Ddl(d) if d.snapshot => Some(d.statement.as_str()),
            _ => None,
        })
        .collect();
    assert!(creates.iter().any(|s| s.starts_with("CREATE DATABASE IF NOT EXISTS `v`")), "{creates:?}");
    assert!(creates.iter().any(|s| s.starts_with("CREATE TABLE IF NOT EXISTS `every`")), "{creates:?}");
}
