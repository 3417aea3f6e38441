//! The change model: what a source hands out and sinks consume.
//!
//! A source emits [`Event`]s in commit order: transactions as one or more [`TxnChunk`]s (a huge
//! transaction streams in several chunks, the last one marked), DDL statements, and progress
//! marks for idle or fully filtered stretches (the MySQL source also announces the position a run
//! starts at with a first progress mark). Every row change carries its table's schema *as of
//! its position* and its place in the stream ([`ChangeId`]), so a loader can apply, merge, split
//! and replay changes while knowing exactly which ones a checkpoint covers.
//!
//! Invariants:
//! - chunks of one transaction arrive consecutively, `index` 0, 1, 2…, and only the last has
//!   `last = true`; nothing of another transaction comes in between;
//! - [`ChangeId`]s increase strictly in stream order (transaction begin coordinate, then row index);
//! - `Event::position()` is where a reader resumes *after* the event: after the transaction for a
//!   last chunk, a DDL or a progress mark; for an earlier chunk (when the source gives it one, as
//!   the MySQL source does) the transaction's begin plus the rows handed out so far
//!   (`skip_rows`), so resuming there neither repeats nor loses a row.
//!
//! These in-memory types are built for speed (values borrow nothing but are never re-encoded,
//! schemas are shared through `Arc`s) and have no serialised form of their own; [`portable`]
//! holds the stable, versioned serialised form of a whole [`crate::traits::Batch`].

pub mod portable;

use std::sync::Arc;

use otter_binlog::Value;

use crate::position::{BinlogCoord, Position};
use crate::schema::TableSchema;

/// A row image: one value per column of the table's schema (`Value::Absent` for columns a
/// MINIMAL/NOBLOB image left out).
pub type Row = Vec<Value<'static>>;

/// Insert, update or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A new row (after image only).
    Insert,
    /// A changed row (before and after images).
    Update,
    /// A removed row (before image only).
    Delete,
    /// A row as an online snapshot read it (after image only): the whole row at that point of
    /// the stream — insert it, or replace the row with the same key. Debezium calls it a read.
    Snapshot,
}

/// The place of a row change in the source stream: totally ordered and stable across restarts.
///
/// Rows of an online snapshot are placed between the binlog transactions around the point they
/// were handed out at: `txn` is one byte before the next transaction's begin and `row` has
/// [`ChangeId::SNAPSHOT_ROW`] set. They are never read again from the binlog, so a restart
/// never has to recognise them as replayed (see [`ChangeId::is_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeId {
    /// Where the transaction begins in the source binlog.
    pub txn: BinlogCoord,
    /// Index of the row change within the transaction (0-based).
    pub row: u64,
}

impl ChangeId {
    /// The bit of `row` that marks a snapshot row.
    pub const SNAPSHOT_ROW: u64 = 1 << 63;

    /// The id of the `n`th snapshot row handed out at stream position `at` (the coordinate the
    /// next binlog transaction begins at, or beyond).
    pub fn snapshot(at: &BinlogCoord, n: u64) -> ChangeId {
        ChangeId { txn: BinlogCoord::new(at.file.clone(), at.offset.saturating_sub(1)), row: Self::SNAPSHOT_ROW | n }
    }

    /// True for a snapshot row's id: such a change is never replayed from the binlog, so a
    /// loader must not drop it as "already applied" after a restart.
    pub fn is_snapshot(&self) -> bool {
        self.row & Self::SNAPSHOT_ROW != 0
    }
}

/// One row change.
#[derive(Debug, Clone)]
pub struct RowChange {
    /// The table's schema at the time of the change (names, types, keys).
    pub table: Arc<TableSchema>,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// Before image (update, delete).
    pub before: Option<Row>,
    /// After image (insert, update).
    pub after: Option<Row>,
    /// Where this change sits in the stream.
    pub id: ChangeId,
}

impl RowChange {
    /// Indexes of the columns an update changed (present in both images with different values);
    /// every present column for inserts and deletes.
    pub fn changed_columns(&self) -> Vec<usize> {
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => (0..a.len())
                .filter(|&i| match (b.get(i), a.get(i)) {
                    (_, Some(Value::Absent)) => false,
                    (Some(x), Some(y)) => x != y,
                    _ => false,
                })
                .collect(),
            (None, Some(img)) | (Some(img), None) => {
                (0..img.len()).filter(|&i| !matches!(img.get(i), Some(Value::Absent))).collect()
            }
            (None, None) => Vec::new(),
        }
    }

    /// Approximate memory held by the row images (for batching by bytes).
    pub fn approx_bytes(&self) -> usize {
        fn img(r: &Option<Row>) -> usize {
            r.as_ref().map_or(0, |r| {
                r.iter()
                    .map(|v| {
                        32 + match v {
                            Value::Bytes(b) | Value::Json(b) | Value::Geometry(b) | Value::Vector(b) => b.len(),
                            Value::JsonDiff(b) | Value::Compressed(b) => b.len(),
                            _ => 0,
                        }
                    })
                    .sum()
            })
        }
        64 + img(&self.before) + img(&self.after)
    }
}

/// Where a transaction came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMeta {
    /// The GTID (`uuid:gno` or `domain-server-seq`), when the source has one.
    pub gtid: Option<String>,
    /// The server id in the event headers (the server where the transaction originated).
    pub server_id: u32,
    /// Coordinate of the transaction's first event.
    pub begin: BinlogCoord,
    /// Coordinate after the transaction's last event (filled on the last chunk).
    pub end: Option<BinlogCoord>,
    /// Commit time, seconds since the epoch (the commit event's header time).
    pub commit_ts: u32,
    /// Commit time in microseconds when the server records it (MySQL 8 commits; for a DDL
    /// statement, its start time when the server logged the microseconds).
    pub commit_ts_micros: Option<u64>,
    /// The site where the transaction was first written, when otter's loader applied it here in a
    /// two-way setup (its origin mark); `None` for transactions written at the source itself.
    pub origin: Option<String>,
}

/// A slice of a transaction's row changes.
#[derive(Debug, Clone)]
pub struct TxnChunk {
    /// The transaction.
    pub meta: Arc<TxnMeta>,
    /// 0 for the first chunk of the transaction.
    pub index: u32,
    /// True for the last chunk: the transaction is complete after it.
    pub last: bool,
    /// The row changes of this chunk, in order.
    pub changes: Vec<RowChange>,
    /// Where to resume after this chunk: after the commit for the last chunk; for an earlier one,
    /// `None` or the transaction's begin with `skip_rows` = rows handed out so far.
    pub position: Option<Position>,
}

/// A DDL statement (or another non-row statement worth forwarding).
#[derive(Debug, Clone)]
pub struct DdlEvent {
    /// The statement's origin.
    pub meta: TxnMeta,
    /// The default database the statement ran in.
    pub schema: String,
    /// The statement text as the server logged it.
    pub statement: String,
    /// The source session's `sql_mode` when the statement ran: how its text reads (quotes,
    /// backslashes), so a target can apply it in the same terms.
    pub sql_mode: crate::schema::SqlMode,
    /// The source server's `collation_server` (id) when the statement ran: the default of a
    /// `CREATE DATABASE` without its own character set.
    pub collation_server: Option<u16>,
    /// The source session's `time_zone` when it was not the server's default (what
    /// `CURRENT_TIMESTAMP` means for DATETIME columns).
    pub time_zone: Option<String>,
    /// The tables the statement changed (`db`, `table`), as the schema history understood it.
    pub tables: Vec<(String, String)>,
    /// Where to resume after it.
    pub position: Position,
    /// True for a statement an online snapshot made before a table's first rows (`CREATE
    /// DATABASE/TABLE IF NOT EXISTS` with the source's definition): idempotent, not in the
    /// binlog, never recorded in a schema history, and never skipped as "applied before a
    /// restart" (several may share one position).
    pub snapshot: bool,
}

/// Progress without data: the stream is idle, or what it carried was filtered out.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Where to resume.
    pub position: Position,
    /// A moment (Unix seconds) by which the source had committed nothing after `position` that
    /// the stream did not already carry: for a heartbeat on an idle stream, when otter received
    /// it; for passed-over events, the time of the last one. 0 when unknown (the announcement of
    /// a run's start position, a heartbeat that moved the position).
    pub timestamp: u32,
    /// True when the stretch before it held changes a restart would have to read again (filtered
    /// or dropped transactions); false when it only passed otter's own writes or nothing at all,
    /// so a sink need not record it (two sites' loaders would otherwise echo progress writes).
    pub passed_over: bool,
}

/// What a source emits.
#[derive(Debug, Clone)]
pub enum Event {
    /// Row changes of a transaction.
    Rows(TxnChunk),
    /// A DDL statement.
    Ddl(DdlEvent),
    /// A position advance without data.
    Progress(Progress),
}

impl Event {
    /// The resume position after this event, if it has one (see the module invariants).
    pub fn position(&self) -> Option<&Position> {
        match self {
            Event::Rows(c) => c.position.as_ref(),
            Event::Ddl(d) => Some(&d.position),
            Event::Progress(p) => Some(&p.position),
        }
    }

    /// Number of row changes carried.
    pub fn row_count(&self) -> usize {
        match self {
            Event::Rows(c) => c.changes.len(),
            _ => 0,
        }
    }

    /// The source time this event brings the consumer up to, seconds since the epoch: the commit
    /// time of a transaction or DDL, a progress mark's [`Progress::timestamp`] (the receipt time
    /// of an idle heartbeat); 0 when unknown. Lag is now minus this, once the event is applied.
    pub fn source_time(&self) -> u32 {
        match self {
            Event::Rows(c) => c.meta.commit_ts,
            Event::Ddl(d) => d.meta.commit_ts,
            Event::Progress(p) => p.timestamp,
        }
    }
}

/// Events grouped for writing.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Pipeline-assigned sequence number, increasing from 1.
    pub seq: u64,
    /// The events, in source order.
    pub events: Vec<Event>,
    /// Where to resume once this batch (and every earlier one) is durable.
    pub position: Option<Position>,
    /// The newest [`Event::source_time`] of the batch (Unix seconds; a commit time, or the
    /// receipt time of an idle heartbeat), for lag.
    pub source_time: u32,
    /// Set by the pipeline when it sends the batch: the newest position that the batches the
    /// sink acknowledged so far cover (each of them and every earlier one) — a safe resume point
    /// a sink may store with its data. `None` before the first acknowledged batch with a position.
    pub committed: Option<Position>,
}

impl Batch {
    /// Number of row changes.
    pub fn row_count(&self) -> usize {
        self.events.iter().map(Event::row_count).sum()
    }

    /// Number of completed transactions (last chunks) and DDL statements.
    pub fn txn_count(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Rows(c) if c.last) || matches!(e, Event::Ddl(_)))
            .count()
    }
}
