//! MariaDB's bulk execution (`COM_STMT_BULK_EXECUTE`) for runs of whole-row writes.
//!
//! A run of at least `bulk_min_rows` consecutive whole-row writes of one table in one job
//! (upserts, or plain inserts of a keyless table) is sent as one prepared single-row statement,
//! `INSERT ... VALUES (?, ...)` (with the dialect's `ON DUPLICATE KEY UPDATE` for upserts),
//! executed by the server for every row of the run from one packet: nothing for the target to
//! parse per row, values in the binary protocol. On MariaDB this costs the target about a third
//! less CPU than `LOAD DATA` for string-heavy rows and half as much as multi-row
//! `INSERT ... ON DUPLICATE KEY UPDATE` text (`docs/PERFORMANCE.md`), and, being an `INSERT`, it
//! takes no table-level AUTO-INC lock (`LOAD DATA` does under `innodb_autoinc_lock_mode = 1`).
//!
//! Invariants:
//! - the statement is the one the usual path would send for each row, so the result (and any
//!   error, under the session's strict `sql_mode`) is the same; a run stays in the job's
//!   transaction, between the same steps, so its checkpoint row commits with it;
//! - only tables whose every written column has the same type and character set on the target
//!   as on the source, of a type whose text form is exact, take this path (the `LOAD DATA`
//!   condition, [`crate::mysql::load_data::exact_column`]); each value is sent as that text, unescaped,
//!   (integers as binary integers), and the session's `character_set_client` is `binary` while
//!   the run executes, so the server stores the column's own bytes with no conversion (what
//!   `LOAD DATA ... CHARACTER SET binary` does). Text statements read their literals in
//!   `character_set_connection`, which stays utf8mb4; the worker still sets the client
//!   character set back before any other statement, and after a failure;
//! - runs that insert (every row new to the target as far as the batch knows) are executed by
//!   one worker at a time per table ([`TableGates`]), as `LOAD DATA` runs are under the AUTO-INC
//!   lock: concurrent inserts into one table contend on its AUTO_INCREMENT counter and index
//!   and cost the target far more CPU than they gain (measured on a 2-core target, the
//!   workload's 400,000-row fill of 1,000-row transactions, keys spread in blocks: 2.96–3.09 B
//!   CPU-s concurrently against 1.87–1.95 taking turns, in the same 2.4–2.6 s; with hashed keys
//!   earlier, 1.9x the CPU); the other worker builds its next execution meanwhile, so the
//!   target stays busy. Runs that update existing rows go concurrently. The wait is bounded
//!   ([`GATE_WAIT`]), so a worker whose run waits on a row lock of another worker's open
//!   transaction can never hold that one up for longer: the gate is a hint, never a lock the
//!   target does not see. The jobs of `consistency = "transaction"` take no turns: each is
//!   whole consecutive source transactions with a write-set disjoint from the others in
//!   flight, whose inserts land where the source's own transactions put them (a fill of
//!   1,000-row transactions: 7.2–7.8 s with turns, 4.9–6.0 s without);
//! - a run is split into executions of at most [`MAX_PACKET`] bytes, each one packet with its
//!   parameter types (the driver sends types only with a call's first packet, and a column that
//!   is NULL in every row of it is typed NULL), and a target whose `max_allowed_packet` is under
//!   twice that gets the usual statements; a value that cannot be written exactly makes the
//!   whole run use the usual statements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use otter_binlog::Value;
use otter_core::schema::Column;

use crate::dialect::{column, SqlDialect, TargetTable};
use crate::mysql::load_data::{field, raw};
use crate::merge::Op;

/// Default of `bulk_min_rows`: shorter runs go with the job's other statements in one round trip.
pub const DEFAULT_MIN_ROWS: usize = 16;

/// Largest execution sent at once, in bytes of values: well under any `max_allowed_packet` in
/// use (MariaDB's default is 16 MiB), so the driver never splits it.
pub const MAX_PACKET: usize = 1 << 20;

/// A single row larger than this goes with the usual statements.
pub(crate) const MAX_ROW: usize = MAX_PACKET / 4;

/// One value of a run: integers as they are (the binary protocol's 8 bytes, nothing to parse or
/// allocate), everything else as its text, ending at the given offset of [`BulkRun`]'s data.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Int(i64),
    UInt(u64),
    Text(u32),
}

/// Sets the session up for a run (values are the columns' own bytes).
pub const CLIENT_BINARY: &str = "SET character_set_client = binary";

/// Undoes [`CLIENT_BINARY`]: the client character set of the MySQL dialect's session
/// (`SET NAMES utf8mb4`), the only dialect with a bulk statement.
pub const CLIENT_RESTORE: &str = "SET character_set_client = utf8mb4";

/// Longest wait for another worker's run of the same table before going ahead anyway.
pub const GATE_WAIT: Duration = Duration::from_millis(250);

/// One gate per target table, shared by a sink's workers: a bulk execution of inserts, or a
/// statement of row events ([`crate::mysql::row_events`]), holds its table's gate while the
/// target works on it.
#[derive(Debug, Default)]
pub struct TableGates(parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl TableGates {
    /// Waits (at most [`GATE_WAIT`]) until no other worker runs `table`; the guard, if it got
    /// one, keeps the others waiting until it is dropped.
    pub async fn enter(&self, table: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let gate = Arc::clone(self.0.lock().entry(table.to_owned()).or_default());
        tokio::time::timeout(GATE_WAIT, gate.lock_owned()).await.ok()
    }
}

/// One run of rows sent as bulk executions of one prepared statement.
#[derive(Debug, Clone)]
pub struct BulkRun {
    /// The single-row statement with `?` placeholders.
    pub sql: String,
    /// Every value's text, back to back.
    data: Vec<u8>,
    /// The values, row after row.
    cells: Vec<Cell>,
    /// Where each row's text starts in `data`.
    starts: Vec<usize>,
    /// Values per row.
    width: usize,
    /// First row of each execution, then the row count.
    cuts: Vec<usize>,
    /// `db.table`, for logs and the table's gate.
    pub name: String,
    /// Every row is expected to be new (an insert): the run waits at its table's gate (unless
    /// its job is in the commit order).
    pub turns: bool,
}

impl BulkRun {
    /// The run of `ops` (all upserts, or all inserts) as bulk executions, or `None` when
    /// the dialect has no bulk statement, a value cannot be written exactly, or a row is too
    /// large (the caller then uses the usual statements).
    pub fn build(d: &dyn SqlDialect, t: &TargetTable<'_>, ops: &[Op]) -> Option<BulkRun> {
        let upsert = matches!(ops.first()?, Op::Upsert { .. });
        let sql = d.bulk_statement(t, upsert).ok()??;
        let cols: Vec<&Column> = t.columns.iter().map(|&i| column(t, i)).collect::<Result<_, _>>().ok()?;
        let width = cols.len();
        let mut data = Vec::with_capacity(ops.len() * 64);
        let mut cells = Vec::with_capacity(ops.len() * width);
        let mut starts = Vec::with_capacity(ops.len());
        let mut cuts = vec![0];
        let mut packet = 0usize;
        for (r, op) in ops.iter().enumerate() {
            let after = match (op, upsert) {
                (Op::Upsert { after, .. }, true) | (Op::Insert { after, .. }, false) => after,
                _ => return None,
            };
            let start = data.len();
            starts.push(start);
            for (&i, col) in t.columns.iter().zip(&cols) {
                // One integer type per column (a column's parameter type is the first row's):
                // unsigned columns as UInt, signed ones as Int.
                cells.push(match (after.get(i)?, col.unsigned) {
                    (Value::Null, _) => Cell::Null,
                    (Value::Int(v), false) => Cell::Int(*v),
                    (Value::UInt(v), false) => Cell::Int(i64::try_from(*v).ok()?),
                    (Value::UInt(v), true) => Cell::UInt(*v),
                    (Value::Int(v), true) => Cell::UInt(u64::try_from(*v).ok()?),
                    (v, _) => {
                        field(v, col, raw, &mut data)?;
                        Cell::Text(u32::try_from(data.len()).ok()?)
                    }
                });
            }
            // Values plus their indicator and length bytes.
            let size = data.len() - start + width * 10;
            if size > MAX_ROW {
                return None;
            }
            if packet + size > MAX_PACKET && r > 0 {
                cuts.push(r);
                packet = 0;
            }
            packet += size;
        }
        cuts.push(ops.len());
        let turns = ops.iter().all(crate::mysql::load_data::loadable);
        Some(BulkRun { sql, data, cells, starts, width, cuts, name: format!("{}.{}", t.db, t.name), turns })
    }

    /// Rows in the run.
    pub fn rows(&self) -> usize {
        self.cuts.last().copied().unwrap_or(0)
    }

    /// Each execution's rows, as driver parameters.
    pub fn executions(&self) -> impl Iterator<Item = impl Iterator<Item = Vec<mysql_async::Value>> + Send + '_> + '_ {
        self.cuts.windows(2).map(move |w| {
            let (from, to) = match *w {
                [a, b] => (a, b),
                _ => (0, 0),
            };
            (from..to).map(move |r| self.row(r))
        })
    }

    fn row(&self, r: usize) -> Vec<mysql_async::Value> {
        let cells = self.cells.get(r * self.width..(r + 1) * self.width).unwrap_or_default();
        let mut start = self.starts.get(r).copied().unwrap_or(0);
        cells
            .iter()
            .map(|c| match *c {
                Cell::Null => mysql_async::Value::NULL,
                Cell::Int(v) => mysql_async::Value::Int(v),
                Cell::UInt(v) => mysql_async::Value::UInt(v),
                Cell::Text(end) => {
                    let end = end as usize;
                    let v = self.data.get(start..end).unwrap_or_default().to_vec();
                    start = end;
                    mysql_async::Value::Bytes(v)
                }
            })
            .collect()
    }
}
