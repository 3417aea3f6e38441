//! Hand-built schemas, changes and batches for the transforms' unit tests.

use std::sync::Arc;

use otter_binlog::Value;

use crate::change::{ChangeId, ChangeKind, DdlEvent, Event, RowChange, TxnChunk, TxnMeta};
use crate::position::{BinlogCoord, Position};
use crate::schema::{Column, SqlType, TableSchema, UniqueKey};
use crate::traits::Batch;

pub(crate) fn col(name: &str, sql_type: SqlType) -> Column {
    let text = sql_type.is_text();
    Column {
        name: name.into(),
        sql_type,
        nullable: true,
        unsigned: false,
        charset: text.then(|| "utf8mb4".into()),
        collation: None,
        generated: None,
        invisible: false,
        auto_increment: false,
        default: None,
    }
}

/// `db.name (id INT PRIMARY KEY, email VARCHAR(64) UNIQUE, note VARCHAR(64))`.
pub(crate) fn table(db: &str, name: &str) -> Arc<TableSchema> {
    Arc::new(TableSchema {
        db: db.into(),
        name: name.into(),
        columns: vec![col("id", SqlType::Int), col("email", SqlType::VarChar(64)), col("note", SqlType::VarChar(64))],
        primary_key: vec![0],
        unique_keys: vec![UniqueKey { name: "email".into(), columns: vec![1], prefix_lengths: vec![None], long_hash: false }],
        indexes: vec![],
        charset: Some("utf8mb4".into()),
        collation: None,
        engine: Some("InnoDB".into()),
    })
}

pub(crate) fn text(s: &str) -> Value<'static> {
    Value::Bytes(s.as_bytes().to_vec().into())
}

pub(crate) fn row(id: i64, email: &str, note: &str) -> Vec<Value<'static>> {
    vec![Value::Int(id), text(email), text(note)]
}

pub(crate) fn pos(offset: u64) -> Position {
    Position { coord: BinlogCoord::new("bin.000001", offset), gtid: None, skip_rows: 0, snapshot: None, applied: None }
}

pub(crate) fn meta(offset: u64) -> TxnMeta {
    TxnMeta {
        gtid: Some(format!("0-1-{offset}")),
        server_id: 1,
        begin: BinlogCoord::new("bin.000001", offset),
        end: Some(BinlogCoord::new("bin.000001", offset + 100)),
        commit_ts: 1_700_000_000,
        commit_ts_micros: None,
        origin: None,
    }
}

pub(crate) fn change(table: &Arc<TableSchema>, kind: ChangeKind, id: i64, offset: u64, n: u64) -> RowChange {
    let (before, after) = match kind {
        ChangeKind::Insert | ChangeKind::Snapshot => (None, Some(row(id, &format!("u{id}@x"), "new"))),
        ChangeKind::Update => (Some(row(id, &format!("u{id}@x"), "old")), Some(row(id, &format!("u{id}@x"), "new"))),
        ChangeKind::Delete => (Some(row(id, &format!("u{id}@x"), "old")), None),
    };
    RowChange { table: Arc::clone(table), kind, before, after, id: ChangeId { txn: BinlogCoord::new("bin.000001", offset), row: n } }
}

/// One complete transaction at `offset`.
pub(crate) fn txn(offset: u64, changes: Vec<RowChange>) -> Event {
    Event::Rows(TxnChunk { meta: Arc::new(meta(offset)), index: 0, last: true, changes, position: Some(pos(offset + 100)) })
}

pub(crate) fn ddl(offset: u64, schema: &str, statement: &str, tables: &[(&str, &str)]) -> Event {
    Event::Ddl(DdlEvent {
        meta: meta(offset),
        schema: schema.into(),
        statement: statement.into(),
        sql_mode: Default::default(),
        collation_server: None,
        time_zone: None,
        tables: tables.iter().map(|(d, t)| ((*d).to_owned(), (*t).to_owned())).collect(),
        position: pos(offset + 100),
        snapshot: false,
    })
}

pub(crate) fn batch(events: Vec<Event>) -> Batch {
    let position = events.iter().rev().find_map(|e| e.position().cloned());
    Batch { seq: 7, events, position, source_time: 1_700_000_000, committed: None }
}

/// Every change of the batch.
pub(crate) fn changes(b: &Batch) -> Vec<&RowChange> {
    b.events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(c) => Some(c.changes.iter()),
            _ => None,
        })
        .flatten()
        .collect()
}
