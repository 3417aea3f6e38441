//! The chunked key-range reader shared by the snapshot and verify: reads a table in key order,
//! one range at a time, each read inside a consistent snapshot whose binlog position the server
//! reports (MariaDB's `binlog_snapshot_file` / `binlog_snapshot_position`), and returns the rows
//! exactly as the binlog decoder would have made them.
//!
//! ```text
//! START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY    -- no lock, no FLUSH
//! SHOW SESSION STATUS LIKE 'binlog_snapshot_%'             -- the position of the snapshot
//! SELECT cols FROM t WHERE key > ? [AND key <= ?] ORDER BY key LIMIT n
//! COMMIT
//! ```
//!
//! Invariants:
//! - keys are compared and ordered by the server only ([`key`]); a chunk's last key is the value
//!   the server returned, so consecutive ranges `(a, b]`, `(b, c]` cover the key space with no
//!   gap and no overlap whatever the collation;
//! - every committed transaction is either in a chunk's snapshot and at or before its position,
//!   or not in it and after it (the server's consistent snapshot guarantees this without locks);
//! - values follow [`decode`]: equal to what the binlog carries for the same row.

pub mod decode;
pub mod key;

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row as WireRow};

use crate::change::portable::PortableValue;
use crate::change::Row;
use crate::error::{Error, ErrorKind, Result};
use crate::mysql::conn::translate;
use crate::mysql::quote::ident;
use crate::position::BinlogCoord;
use crate::schema::{Column, TableSchema};
use otter_binlog::Value;

/// ER_TABLE_DEF_CHANGED: the table was altered after the snapshot began.
const TABLE_DEF_CHANGED: u16 = 1412;

/// A key range `(after, upto]`; `None` is open on that side.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRange {
    /// Exclusive lower bound: the key values of the last row before the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<PortableValue>>,
    /// Inclusive upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto: Option<Vec<PortableValue>>,
}

/// Rows of one read.
#[derive(Debug, Clone)]
pub struct ChunkRows {
    /// The rows in key order, one value per column of the schema.
    pub rows: Vec<Row>,
    /// The key of the last row (`None` when no row was read).
    pub last_key: Option<Vec<PortableValue>>,
    /// Approximate bytes held by the rows.
    pub bytes: usize,
}

/// Reads one table in key-range chunks.
#[derive(Debug, Clone)]
pub struct ChunkReader {
    schema: Arc<TableSchema>,
    key: Vec<usize>,
    select: String,
    order: String,
    /// An extra condition on every read (a re-sync's `WHERE` or key list) and its parameters.
    filter: Option<(String, Vec<mysql_async::Value>)>,
}

impl ChunkReader {
    /// A reader of `schema`'s table ordered by its key: the primary key, else the first unique
    /// key of NOT NULL columns.
    ///
    /// # Errors
    /// [`ErrorKind::SchemaMismatch`] when the table has no such key (it cannot be read in ranges).
    pub fn new(schema: Arc<TableSchema>) -> Result<ChunkReader> {
        let key = schema.key_columns().map(<[usize]>::to_vec).ok_or_else(|| {
            Error::new(
                ErrorKind::SchemaMismatch,
                format!("{}.{} has no primary key and no unique key of NOT NULL columns: it cannot be read in key ranges", schema.db, schema.name),
            )
        })?;
        let exprs: Vec<String> = schema.columns.iter().map(|c| decode::select_expr(c).unwrap_or_else(|| "NULL".into())).collect();
        let select = format!("SELECT {} FROM {}.{}", exprs.join(", "), ident(&schema.db), ident(&schema.name));
        let order = key.iter().filter_map(|&i| schema.columns.get(i)).map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
        Ok(ChunkReader { schema, key, select, order, filter: None })
    }

    /// A reader of a table without a usable key: [`ChunkReader::statement`] reads it whole, in
    /// no particular order (one snapshot, streamed: see [`ChunkReader::decode_row`]).
    pub fn whole(schema: Arc<TableSchema>) -> ChunkReader {
        let exprs: Vec<String> = schema.columns.iter().map(|c| decode::select_expr(c).unwrap_or_else(|| "NULL".into())).collect();
        let select = format!("SELECT {} FROM {}.{}", exprs.join(", "), ident(&schema.db), ident(&schema.name));
        ChunkReader { schema, key: Vec::new(), select, order: String::new(), filter: None }
    }

    /// Every read also requires `condition` (SQL on the table's columns, parenthesised here),
    /// with `params` for its placeholders.
    pub fn with_filter(mut self, condition: String, params: Vec<mysql_async::Value>) -> ChunkReader {
        self.filter = Some((condition, params));
        self
    }

    /// One row of the server's answer, decoded.
    pub fn decode_row(&self, w: WireRow) -> Result<Row> {
        let values: Vec<mysql_async::Value> = w
            .unwrap_raw()
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| Error::internal(format!("a row of {}.{} lost a value before it was decoded", self.schema.db, self.schema.name)))?;
        if values.len() != self.schema.columns.len() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("reading {}.{}: {} values for {} columns", self.schema.db, self.schema.name, values.len(), self.schema.columns.len()),
            ));
        }
        self.schema.columns.iter().zip(values).map(|(c, v)| decode::decode(c, v)).collect()
    }

    /// The table's schema the reader decodes with.
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// The key column positions.
    pub fn key(&self) -> &[usize] {
        &self.key
    }

    fn key_columns(&self) -> Vec<&Column> {
        self.key.iter().filter_map(|&i| self.schema.columns.get(i)).collect()
    }

    /// The statement and parameters reading `range`, at most `limit` rows (`None`: all).
    pub fn statement(&self, range: &KeyRange, limit: Option<usize>) -> Result<(String, Vec<mysql_async::Value>)> {
        let cols = self.key_columns();
        let mut params = Vec::new();
        let mut conds = Vec::new();
        if let Some(after) = &range.after {
            conds.push(key::compare(&cols, after, true, &mut params)?);
        }
        if let Some(upto) = &range.upto {
            conds.push(key::compare(&cols, upto, false, &mut params)?);
        }
        if let Some((condition, p)) = &self.filter {
            conds.push(format!("({condition})"));
            params.extend(p.iter().cloned());
        }
        let mut sql = self.select.clone();
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        if !self.order.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&self.order);
        }
        if let Some(n) = limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        Ok((sql, params))
    }

    /// Reads `range` (at most `limit` rows) on `conn`, in whatever transaction the caller opened.
    pub async fn read(&self, conn: &mut Conn, range: &KeyRange, limit: Option<usize>) -> Result<ChunkRows> {
        let (sql, params) = self.statement(range, limit)?;
        self.run(conn, sql, params).await
    }

    /// The key of the `n`th row of `range` in key order (counting from 1), found by the server
    /// without sending the rows before it; `None` when the range holds fewer rows.
    pub async fn nth_key(&self, conn: &mut Conn, range: &KeyRange, n: usize) -> Result<Option<Vec<PortableValue>>> {
        let (mut sql, params) = self.statement(range, Some(1))?;
        sql.push_str(&format!(" OFFSET {}", n.saturating_sub(1)));
        Ok(self.run(conn, sql, params).await?.last_key)
    }

    async fn run(&self, conn: &mut Conn, sql: String, params: Vec<mysql_async::Value>) -> Result<ChunkRows> {
        let what = format!("reading {}.{} in key order", self.schema.db, self.schema.name);
        // Always the binary protocol (a prepared statement): numbers and dates arrive typed.
        let params = if params.is_empty() { Params::Empty } else { Params::Positional(params) };
        let wire: Vec<WireRow> = conn.exec(sql, params).await.map_err(|e| {
            if crate::mysql::conn::server_code(&e) == Some(TABLE_DEF_CHANGED) {
                Error::new(ErrorKind::Conflict, format!("{what}: the table changed after the snapshot began; reading again"))
            } else {
                translate(e, &what)
            }
        })?;
        let mut rows = Vec::with_capacity(wire.len());
        let mut bytes = 0;
        for w in wire {
            let row = self.decode_row(w)?;
            bytes += row_bytes(&row);
            rows.push(row);
        }
        let last_key = rows.last().map(|r| key_of(r, &self.key));
        Ok(ChunkRows { rows, last_key, bytes })
    }
}

/// The values of `row`'s columns at `key` (`NULL` for a column the row lacks): a key as ranges,
/// purges and the snapshot's gate name it.
pub fn key_of(row: &Row, key: &[usize]) -> Vec<PortableValue> {
    key.iter().map(|&i| row.get(i).map(PortableValue::from).unwrap_or(PortableValue::Null)).collect()
}

/// Approximate bytes held by a row.
pub fn row_bytes(row: &Row) -> usize {
    row.iter()
        .map(|v| {
            32 + match v {
                Value::Bytes(b) | Value::Geometry(b) | Value::Vector(b) => b.len(),
                _ => 0,
            }
        })
        .sum()
}

/// Prepares a reading session: stored bytes for text (no conversion), UTC for TIMESTAMP, no
/// `sql_mode` (so `SHOW CREATE` quotes with backticks), REPEATABLE READ (what a consistent
/// snapshot needs).
pub async fn prepare_session(conn: &mut Conn) -> Result<()> {
    for sql in [
        "SET SESSION character_set_results = NULL, time_zone = '+00:00', sql_mode = ''",
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ] {
        conn.query_drop(sql).await.map_err(|e| translate(e, "preparing a snapshot session on the source"))?;
    }
    Ok(())
}

/// Opens a consistent-snapshot, read-only transaction and returns the binlog position it
/// corresponds to: every transaction committed at or before it is visible, none after.
///
/// # Errors
/// [`ErrorKind::Preflight`] when the server does not report the snapshot's position (MySQL
/// without Percona's `binlog_snapshot_*`): otter cannot copy without locks there.
pub async fn begin_snapshot(conn: &mut Conn) -> Result<BinlogCoord> {
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(|e| translate(e, "opening a consistent snapshot on the source"))?;
    let status: Vec<(String, String)> = conn
        .query("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
        .await
        .map_err(|e| translate(e, "reading the snapshot's binlog position"))?;
    let get = |name: &str| status.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    match (get("binlog_snapshot_file"), get("binlog_snapshot_position").and_then(|p| p.parse::<u64>().ok())) {
        (Some(file), Some(offset)) if !file.is_empty() => Ok(BinlogCoord::new(file, offset)),
        _ => {
            let _ = conn.query_drop("ROLLBACK").await;
            Err(Error::new(
                ErrorKind::Preflight,
                "the source does not report the binlog position of a consistent snapshot (binlog_snapshot_file/position): \
                 an online snapshot needs MariaDB (or Percona Server) with the binary log on; on MySQL, load the tables \
                 another way and start with `from` at the position of that copy",
            ))
        }
    }
}

/// Ends the snapshot transaction.
pub async fn end_snapshot(conn: &mut Conn) -> Result<()> {
    conn.query_drop("COMMIT").await.map_err(|e| translate(e, "ending a consistent snapshot on the source"))
}
