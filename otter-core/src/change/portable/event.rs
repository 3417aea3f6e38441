//! The serialised forms of events and their parts: [`PortableEvent`] and what it holds (row
//! changes by schema id, transaction metadata, DDL, progress marks, positions).
//!
//! # Format (version 1)
//! An event is an externally tagged variant, `{"rows": chunk}`, `{"ddl": ddl}` or
//! `{"progress": progress}`. Field names are those of the in-memory types
//! ([`crate::change`]), except that a row change names its schema by id (`table`, an index into
//! the batch's `schemas`) and binlog coordinates and GTID states have the forms below:
//!
//! - coordinate: `{file, offset}`;
//! - position: `{coord, gtid, skip_rows}`, `gtid` null or `{"mysql": set}` / `{"mariadb": pos}`
//!   holding the state's canonical text (`uuid:1-100,uuid:tag:1-5`, `0-1-100,1-2-7`);
//! - change id: `{txn: coordinate, row}`;
//! - a row image: an array of values, one per column of the schema (see [`super::value`]).
//!
//! Every field is always written (optional ones as null), so formats without field names work
//! too; nothing is flattened or untagged.
//!
//! # Invariants
//! Reading checks what the in-memory model relies on: a row change's schema id is in the
//! batch and each of its images has exactly one value per column of that schema; GTID texts
//! parse. Anything else is an [`ErrorKind::Parse`] error naming the place, never a panic.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::schemas::SchemaIds;
use super::value::PortableValue;
use crate::change::{ChangeId, ChangeKind, DdlEvent, Event, Progress, Row, RowChange, TxnChunk, TxnMeta};
use crate::error::{Error, ErrorKind, Result};
use crate::position::{BinlogCoord, GtidState, Position};
use crate::schema::{SqlMode, TableSchema};

/// One event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortableEvent {
    /// Row changes of a transaction ([`Event::Rows`]).
    Rows(PortableChunk),
    /// A DDL statement ([`Event::Ddl`]).
    Ddl(PortableDdl),
    /// A position advance without data ([`Event::Progress`]).
    Progress(PortableProgress),
}

/// A [`TxnChunk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableChunk {
    /// The transaction.
    pub meta: PortableTxnMeta,
    /// 0 for the first chunk of the transaction.
    pub index: u32,
    /// True for the last chunk.
    pub last: bool,
    /// The row changes, in order.
    pub changes: Vec<PortableChange>,
    /// Where to resume after this chunk.
    pub position: Option<PortablePosition>,
}

/// A [`RowChange`], its schema given by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableChange {
    /// Index of the table's schema in the batch's `schemas`.
    pub table: usize,
    /// `insert`, `update` or `delete`.
    pub kind: ChangeKind,
    /// Before image (update, delete).
    pub before: Option<Vec<PortableValue>>,
    /// After image (insert, update).
    pub after: Option<Vec<PortableValue>>,
    /// Where this change sits in the stream.
    pub id: PortableChangeId,
}

/// A [`ChangeId`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableChangeId {
    /// Where the transaction begins.
    pub txn: PortableCoord,
    /// Index of the row change within the transaction.
    pub row: u64,
}

/// A [`TxnMeta`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableTxnMeta {
    /// The GTID, as text.
    pub gtid: Option<String>,
    /// The originating server id.
    pub server_id: u32,
    /// Coordinate of the transaction's first event.
    pub begin: PortableCoord,
    /// Coordinate after the transaction's last event.
    pub end: Option<PortableCoord>,
    /// Commit time, Unix seconds.
    pub commit_ts: u32,
    /// Commit time in microseconds, when recorded.
    pub commit_ts_micros: Option<u64>,
    /// The two-way origin mark.
    pub origin: Option<String>,
}

/// A [`DdlEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableDdl {
    /// The statement's origin.
    pub meta: PortableTxnMeta,
    /// The default database the statement ran in.
    pub schema: String,
    /// The statement text as logged.
    pub statement: String,
    /// The session's numeric `sql_mode`.
    pub sql_mode: u64,
    /// The server's `collation_server` id.
    pub collation_server: Option<u16>,
    /// The session's `time_zone`, when not the server's default.
    pub time_zone: Option<String>,
    /// The tables the statement changed, as `[db, table]` pairs.
    pub tables: Vec<(String, String)>,
    /// Where to resume after it.
    pub position: PortablePosition,
    /// A statement an online snapshot made (see [`DdlEvent::snapshot`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
}

/// A [`Progress`] mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableProgress {
    /// Where to resume.
    pub position: PortablePosition,
    /// Unix seconds (0 when unknown).
    pub timestamp: u32,
    /// Whether the stretch before it held changes a restart would read again.
    pub passed_over: bool,
}

/// A [`BinlogCoord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableCoord {
    /// File name.
    pub file: String,
    /// Byte offset.
    pub offset: u64,
}

/// A [`Position`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortablePosition {
    /// The next event to read.
    pub coord: PortableCoord,
    /// The executed GTIDs up to `coord`.
    pub gtid: Option<PortableGtid>,
    /// Rows of the transaction at `coord` already applied.
    pub skip_rows: u64,
    /// An online snapshot's progress, while one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::position::snapshot::SnapshotProgress>,
}

/// A [`GtidState`], as its canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortableGtid {
    /// A MySQL GTID set.
    Mysql(String),
    /// A MariaDB GTID position.
    Mariadb(String),
}

/// A [`ErrorKind::Parse`] error saying what is malformed.
pub(super) fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Parse, message)
}

impl From<&BinlogCoord> for PortableCoord {
    fn from(c: &BinlogCoord) -> PortableCoord {
        PortableCoord { file: c.file.clone(), offset: c.offset }
    }
}

impl From<PortableCoord> for BinlogCoord {
    fn from(c: PortableCoord) -> BinlogCoord {
        BinlogCoord { file: c.file, offset: c.offset }
    }
}

impl From<&Position> for PortablePosition {
    fn from(p: &Position) -> PortablePosition {
        let gtid = p.gtid.as_ref().map(|g| match g {
            GtidState::Mysql(set) => PortableGtid::Mysql(set.to_string()),
            GtidState::Mariadb(pos) => PortableGtid::Mariadb(pos.to_string()),
        });
        PortablePosition { coord: (&p.coord).into(), gtid, skip_rows: p.skip_rows, snapshot: p.snapshot.as_deref().cloned() }
    }
}

impl TryFrom<PortablePosition> for Position {
    type Error = Error;

    fn try_from(p: PortablePosition) -> Result<Position> {
        let gtid = match p.gtid {
            None => None,
            Some(PortableGtid::Mysql(text)) => Some(GtidState::Mysql(
                text.parse().map_err(|e: Error| malformed(format!("position GTID state: {}", e.message())))?,
            )),
            Some(PortableGtid::Mariadb(text)) => Some(GtidState::Mariadb(
                text.parse().map_err(|e: Error| malformed(format!("position GTID state: {}", e.message())))?,
            )),
        };
        Ok(Position { coord: p.coord.into(), gtid, skip_rows: p.skip_rows, snapshot: p.snapshot.map(std::sync::Arc::new), applied: None })
    }
}

impl From<&TxnMeta> for PortableTxnMeta {
    fn from(m: &TxnMeta) -> PortableTxnMeta {
        PortableTxnMeta {
            gtid: m.gtid.clone(),
            server_id: m.server_id,
            begin: (&m.begin).into(),
            end: m.end.as_ref().map(Into::into),
            commit_ts: m.commit_ts,
            commit_ts_micros: m.commit_ts_micros,
            origin: m.origin.clone(),
        }
    }
}

impl From<PortableTxnMeta> for TxnMeta {
    fn from(m: PortableTxnMeta) -> TxnMeta {
        TxnMeta {
            gtid: m.gtid,
            server_id: m.server_id,
            begin: m.begin.into(),
            end: m.end.map(Into::into),
            commit_ts: m.commit_ts,
            commit_ts_micros: m.commit_ts_micros,
            origin: m.origin,
        }
    }
}

impl PortableEvent {
    /// The portable form of `e`, its row changes' schemas registered in `ids`.
    pub(super) fn new(e: &Event, ids: &mut SchemaIds) -> PortableEvent {
        match e {
            Event::Rows(c) => PortableEvent::Rows(PortableChunk {
                meta: c.meta.as_ref().into(),
                index: c.index,
                last: c.last,
                changes: c.changes.iter().map(|rc| PortableChange::new(rc, ids)).collect(),
                position: c.position.as_ref().map(Into::into),
            }),
            Event::Ddl(d) => PortableEvent::Ddl(PortableDdl {
                meta: (&d.meta).into(),
                schema: d.schema.clone(),
                statement: d.statement.clone(),
                sql_mode: d.sql_mode.0,
                collation_server: d.collation_server,
                time_zone: d.time_zone.clone(),
                tables: d.tables.clone(),
                position: (&d.position).into(),
                snapshot: d.snapshot,
            }),
            Event::Progress(p) => PortableEvent::Progress(PortableProgress {
                position: (&p.position).into(),
                timestamp: p.timestamp,
                passed_over: p.passed_over,
            }),
        }
    }

    /// The in-memory event, row changes pointing at `schemas` (indexed by schema id).
    pub(super) fn into_event(self, schemas: &[Arc<TableSchema>]) -> Result<Event> {
        Ok(match self {
            PortableEvent::Rows(c) => {
                let changes = c
                    .changes
                    .into_iter()
                    .enumerate()
                    .map(|(i, rc)| rc.into_change(schemas).map_err(|e| e.context(format_args!("change {i}"))))
                    .collect::<Result<_>>()?;
                Event::Rows(TxnChunk {
                    meta: Arc::new(c.meta.into()),
                    index: c.index,
                    last: c.last,
                    changes,
                    position: c.position.map(Position::try_from).transpose()?,
                })
            }
            PortableEvent::Ddl(d) => Event::Ddl(DdlEvent {
                meta: d.meta.into(),
                schema: d.schema,
                statement: d.statement,
                sql_mode: SqlMode(d.sql_mode),
                collation_server: d.collation_server,
                time_zone: d.time_zone,
                tables: d.tables,
                position: d.position.try_into()?,
                snapshot: d.snapshot,
            }),
            PortableEvent::Progress(p) => Event::Progress(Progress {
                position: p.position.try_into()?,
                timestamp: p.timestamp,
                passed_over: p.passed_over,
            }),
        })
    }
}

impl PortableChange {
    /// The portable form of `rc`, its schema registered in `ids`.
    fn new(rc: &RowChange, ids: &mut SchemaIds) -> PortableChange {
        let image = |r: &Option<Row>| r.as_ref().map(|r| r.iter().map(PortableValue::from).collect());
        PortableChange {
            table: ids.id(&rc.table),
            kind: rc.kind,
            before: image(&rc.before),
            after: image(&rc.after),
            id: PortableChangeId { txn: (&rc.id.txn).into(), row: rc.id.row },
        }
    }

    /// The in-memory row change, its schema taken from `schemas`.
    fn into_change(self, schemas: &[Arc<TableSchema>]) -> Result<RowChange> {
        let table = schemas.get(self.table).ok_or_else(|| {
            malformed(format!(
                "refers to table schema {}, but the batch carries {} schema(s)",
                self.table,
                schemas.len()
            ))
        })?;
        let width = table.columns.len();
        let image = |r: Option<Vec<PortableValue>>, which: &str| -> Result<Option<Row>> {
            let Some(r) = r else { return Ok(None) };
            if r.len() != width {
                return Err(malformed(format!(
                    "{which} image has {} values but table {}.{} has {width} columns",
                    r.len(),
                    table.db,
                    table.name
                )));
            }
            r.into_iter()
                .enumerate()
                .map(|(i, v)| {
                    v.into_value().map_err(|e| {
                        let name = table.columns.get(i).map_or("", |c| c.name.as_str());
                        e.context(format_args!("{which} image, column {i} ({name})"))
                    })
                })
                .collect::<Result<Row>>()
                .map(Some)
        };
        Ok(RowChange {
            table: Arc::clone(table),
            kind: self.kind,
            before: image(self.before, "before")?,
            after: image(self.after, "after")?,
            id: ChangeId { txn: self.id.txn.into(), row: self.id.row },
        })
    }
}
