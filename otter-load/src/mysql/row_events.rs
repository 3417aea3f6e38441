//! Inserts and updates as MariaDB row events: a run of whole-row writes of rows the batch
//! inserted, or of rows the target already holds, is sent as `BINLOG '…'` statements carrying a
//! TABLE_MAP and WRITE_ROWS or UPDATE_ROWS events (encoded by [`otter_binlog::encode`]), which
//! the target applies as its own replicas apply row events: no SQL to parse, each row written by
//! the storage engine directly (an update finds its row once by its primary key and changes it
//! in place, with no failed insert first as with `INSERT … ON DUPLICATE KEY UPDATE`). On MariaDB
//! 10.11 this costs the target about a quarter less CPU per updated row than the bulk-executed
//! upsert, about a tenth less per inserted row than the bulk-executed insert, and otter about
//! 40 % less CPU per inserted row than building the bulk execution (`docs/PERFORMANCE.md`).
//!
//! Invariants:
//! - only for a MariaDB target and a table whose target columns are the source's, one for one in
//!   the same order with the same type, signedness and character set, none generated or hidden,
//!   whose primary key is the source's key and which has no trigger (row events fire none)
//!   ([`RowLayout::of`]); only for runs of upserts of rows the batch inserted (expected absent:
//!   WRITE_ROWS) or did not insert (expected present: UPDATE_ROWS with a key-only before
//!   image); a value that cannot be encoded exactly, or a row of more than [`MAX_ROW`] bytes,
//!   makes the run take the usual path; a statement holds at most
//!   [`crate::mysql::bulk::MAX_PACKET`] bytes of events plus one row, so it fits any
//!   `max_allowed_packet` the bulk runs fit (the writer checks it);
//! - the events carry the target's own server id, so the target logs the rows as it logs the
//!   usual statements' (the two-way marks of the same transaction travel with them);
//! - the run stays in the job's transaction after a savepoint; when the target refuses it — a
//!   row missing (the upsert would insert it), a row already there (the upsert would update it),
//!   a duplicate in another unique key, a type it converts — the run is rolled back to the
//!   savepoint and replaced, in place, by multi-row upserts of the same rows (built only then),
//!   which give the usual result or error; a refusal for want of the `BINLOG REPLAY` privilege
//!   turns the path off for the worker (warned once);
//! - those refusals are what keeps the result the upserts' own: a target whose
//!   `slave_exec_mode` is `IDEMPOTENT` applies row events without them (it skips the update of a
//!   missing row, and replaces, deleting it, a row that holds a written row's unique key), so
//!   the mode is read in the same round trip as the run's savepoint, and under `IDEMPOTENT` the
//!   run goes as upserts (warned once);
//! - each statement of a run takes its turn at the table's gate ([`crate::mysql::bulk::TableGates`]),
//!   as bulk inserts do: two workers writing one table's pages at once cost the target far more
//!   CPU than they gain (measured, B alone, the workload's 400,000 updates: 5.3–5.7 B CPU-s
//!   concurrently against 3.8 taking turns, in the same 3.8–4.0 s; its 400,000 inserts: the bulk
//!   inserts' figures, [`crate::mysql::bulk`]); the other worker encodes its next statement
//!   meanwhile.

use std::ops::Range;
use std::sync::Arc;

use base64::Engine;
use otter_binlog::encode::{self, ColumnDef, RowsWriter};
use otter_binlog::RowsKind;
use otter_core::schema::{names_equal, TableSchema};

use crate::merge::Op;
use crate::mysql::bulk::MAX_ROW;
use crate::mysql::load_data::{same_column, Refused};

/// Default of `row_events_min_rows`.
pub const DEFAULT_MIN_ROWS: usize = 16;

/// The savepoint set before each run.
pub(crate) const SAVEPOINT: &str = "otter_rows";

/// Server errors that mean the session may not run `BINLOG` statements at all: ER_SPECIFIC_ACCESS_DENIED_ERROR
/// (the `BINLOG REPLAY` privilege missing), ER_DBACCESS_DENIED_ERROR, ER_OPTION_PREVENTS_STATEMENT
/// (`read_only`-like settings), ER_UNKNOWN_COM_ERROR.
pub(crate) const DISABLED_CODES: [u16; 4] = [1227, 1044, 1290, 1047];

/// Reads the target's `slave_exec_mode` (global only), sent after each run's savepoint.
pub(crate) const MODE_QUERY: &str = "SELECT @@GLOBAL.slave_exec_mode";

/// Whether a `slave_exec_mode` read by [`MODE_QUERY`] lets row events keep the upserts' result.
pub(crate) fn strict(mode: Option<&str>) -> bool {
    mode.is_some_and(|m| !m.to_ascii_uppercase().contains("IDEMPOTENT"))
}

/// Warned once when the target's `slave_exec_mode` is `IDEMPOTENT`.
pub(crate) static IDEMPOTENT: Refused = Refused::new(
    "The target runs with slave_exec_mode = IDEMPOTENT, under which row events skip missing rows: applying inserts and updates with upserts while it does.",
);

/// Warned once when the target refuses the path.
pub(crate) static REFUSED: Refused = Refused::new(
    "The target refuses BINLOG statements (grant BINLOG REPLAY to otter's user for cheaper updates): applying updates with upserts only.",
);

/// Rows events are cut at this size (the server's own default `binlog_row_event_max_size` is 8 KiB;
/// larger ones save headers).
const MAX_EVENT: usize = 64 << 10;

/// Runs of inserts whose row images average more bytes than this go as bulk executions: the
/// target lexes and base64-decodes every byte of a `BINLOG` statement, which for wide rows costs
/// it more than a bulk execution's binary values save (MariaDB 10.11, B alone, per inserted row:
/// row events 0.5 µs cheaper for the workload's 26-byte `perf.narrow` rows, 1.4 µs dearer for
/// sysbench's ~190-byte rows; with otter's own CPU, even at about 120 bytes).
pub const MAX_INSERTED_ROW: usize = 96;

/// Rows of a run of inserts encoded before their average size is held against
/// [`MAX_INSERTED_ROW`].
const SIZE_SAMPLE: usize = 16;

/// Bytes of events per `BINLOG` statement (before base64): under the bulk runs' packet bound.
const MAX_STATEMENT: usize = crate::mysql::bulk::MAX_PACKET;

/// The table id the events use (any: each statement maps it afresh).
const TABLE_ID: u64 = 1;

/// A target table's row layout, when its updates may go as row events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowLayout {
    /// Every column, in table order (source and target orders are the same).
    pub columns: Vec<ColumnDef>,
    /// The primary key's columns, ascending.
    pub key: Vec<usize>,
}

/// One column of the target as `information_schema` describes it.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    /// `COLUMN_NAME`.
    pub name: String,
    /// `EXTRA`.
    pub extra: String,
    /// `COLUMN_TYPE`.
    pub column_type: String,
    /// `CHARACTER_SET_NAME`.
    pub charset: Option<String>,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// Part of the primary key (`COLUMN_KEY = 'PRI'`).
    pub primary: bool,
}

impl RowLayout {
    /// The layout of `schema`'s target table described by `target` (its columns in order), or
    /// `None` when its updates must take the usual path (see the module's invariants); `triggers`
    /// is the number of triggers on the target table.
    pub fn of(schema: &TableSchema, target: &[TargetColumn], triggers: u64) -> Option<RowLayout> {
        if triggers > 0 || target.len() != schema.columns.len() {
            return None;
        }
        let mut columns = Vec::with_capacity(target.len());
        let mut key = Vec::new();
        for (i, (s, t)) in schema.columns.iter().zip(target).enumerate() {
            let extra = t.extra.to_ascii_lowercase();
            let plain = extra.is_empty() || extra == "auto_increment" || extra.starts_with("on update");
            if !plain || s.generated.is_some() || s.invisible || !names_equal(&s.name, &t.name) {
                return None;
            }
            if !same_column(s, &t.column_type, t.charset.as_deref()) {
                return None;
            }
            let code = otter_binlog::column::ColumnType::from_code(s.sql_type.binlog_type_code()?)?;
            columns.push(ColumnDef::new(code, s.binlog_meta()?, t.nullable, s.unsigned).ok()?);
            if t.primary {
                key.push(i);
            }
        }
        let source_key = schema.key_columns()?;
        let mut sorted = source_key.to_vec();
        sorted.sort_unstable();
        (!key.is_empty() && sorted == key).then_some(RowLayout { columns, key })
    }
}

/// Whether `op` can be part of a row-event run: a whole-row write of a row expected to exist.
pub fn updatable(op: &Op) -> bool {
    matches!(op, Op::Upsert { fresh: false, .. })
}

/// Whether `op` can be part of a run of inserts as row events: a whole-row write of a row the
/// batch inserted (expected new to the target).
pub fn insertable(op: &Op) -> bool {
    matches!(op, Op::Upsert { fresh: true, .. })
}

/// A run of inserts or updates as `BINLOG` statements, and where its rows are in the job.
#[derive(Debug, Clone)]
pub struct RowEventRun {
    /// `db.table`, for messages.
    pub name: String,
    /// The queries, one round trip each: `BINLOG` statements of the format description (first
    /// query only), then of a table map and its rows events.
    pub queries: Vec<String>,
    /// Rows in the run.
    pub rows: usize,
    /// The job's table (index) whose writes the run holds.
    pub table: usize,
    /// Which of the table's writes.
    pub range: Range<usize>,
}

impl RowEventRun {
    /// The run of the writes `range` of the job's table `index` (`ops`: upserts of `db.table`,
    /// laid out as `layout`, all of rows the batch inserted or all of others) with events from
    /// `server_id`; `None` when a value cannot be encoded exactly, the run mixes the two, or its
    /// inserted rows are wide ([`MAX_INSERTED_ROW`]) (the usual path then).
    pub fn build(server_id: u32, (db, table): (&str, &str), layout: &Arc<RowLayout>, ops: &[Op], index: usize, range: Range<usize>) -> Option<RowEventRun> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let all: Vec<usize> = (0..layout.columns.len()).collect();
        let mut queries = Vec::new();
        let mut q = String::new();
        push_binlog(&mut q, &b64, &encode::format_description(server_id));
        let mut events = Vec::new();
        let fresh = matches!(ops.first()?, Op::Upsert { fresh: true, .. });
        let kind = if fresh { RowsKind::Write } else { RowsKind::Update };
        let (mut rows, mut images) = (0usize, 0usize);
        let mut rest = ops;
        while !rest.is_empty() {
            events.clear();
            encode::table_map(&mut events, server_id, TABLE_ID, db.as_bytes(), table.as_bytes(), &layout.columns).ok()?;
            while !rest.is_empty() && events.len() < MAX_STATEMENT {
                let before = events.len();
                let mut w = RowsWriter::begin(&mut events, kind, server_id, TABLE_ID, all.len(), &layout.key, &all);
                while let Some((op, tail)) = rest.split_first() {
                    if w.bytes() >= MAX_EVENT {
                        break;
                    }
                    let Op::Upsert { after, fresh: f, .. } = op else { return None };
                    if *f != fresh {
                        return None;
                    }
                    let size = w.bytes();
                    if fresh {
                        w.row(&layout.columns, after).ok()?;
                    } else {
                        // The before image takes the key columns of the same row.
                        w.update(&layout.columns, after, after).ok()?;
                    }
                    // A huge row goes with the usual path, which sends it alone.
                    let image = w.bytes() - size;
                    if image > MAX_ROW {
                        return None;
                    }
                    (rows, images) = (rows + 1, images + image);
                    if fresh && rows >= SIZE_SAMPLE.min(ops.len()) && images > MAX_INSERTED_ROW * rows {
                        return None;
                    }
                    rest = tail;
                }
                // The statement's last rows event ends it (the target then closes the table).
                let last = rest.is_empty() || before + w.bytes() + 4 >= MAX_STATEMENT;
                w.finish(last);
            }
            push_binlog(&mut q, &b64, &events);
            queries.push(std::mem::take(&mut q));
        }
        Some(RowEventRun { name: format!("{db}.{table}"), queries, rows: ops.len(), table: index, range })
    }
}

/// Appends `BINLOG '<events in base64>'` to the query `q` (after a separator if it has one).
fn push_binlog(q: &mut String, b64: &base64::engine::GeneralPurpose, events: &[u8]) {
    q.reserve(12 + events.len().div_ceil(3) * 4);
    if !q.is_empty() {
        q.push_str(";\n");
    }
    q.push_str("BINLOG '");
    b64.encode_string(events, q);
    q.push('\'');
}

#[cfg(test)]
mod tests;
