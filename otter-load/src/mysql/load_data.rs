//! The `LOAD DATA LOCAL INFILE` fast path for long runs of whole-row writes, on targets without
//! bulk execution ([`crate::mysql::bulk`] takes these runs on MariaDB).
//!
//! A run of at least `load_data_min_rows` consecutive whole-row writes of one table in one job
//! (upserts of keys the batch inserted, or plain inserts of a keyless table) is sent as one
//! `LOAD DATA LOCAL INFILE ... INTO TABLE t CHARACTER SET binary (cols)` whose data is streamed
//! from memory, inside the job's transaction. The server parses far less for it than for the
//! equivalent multi-row `INSERT ... ON DUPLICATE KEY UPDATE` statements.
//!
//! Invariants:
//! - the result on the target is exactly the one of the statements the run replaces: `LOAD DATA
//!   LOCAL` (no `REPLACE`, which would delete rows and fire delete triggers and cascades) treats
//!   duplicate keys and adjusted values as warnings, so the worker sets a savepoint before it and
//!   accepts it only when it affected every row sent with no warning at all; otherwise it rolls
//!   back to the savepoint and applies the same rows with the usual statements (which then give
//!   the usual result, or the usual error). Without warnings, inserting every row is what the
//!   upsert would have done to rows that did not exist;
//! - the run stays in the job's transaction, between the same statements as before, so the
//!   checkpoint row still commits with it (exactly once) and order is kept;
//! - only tables whose every written column has the same type and character set on the target
//!   as on the source, of a type whose text form is exact ([`exact_column`]), take this path;
//!   the data is the column's own bytes (`CHARACTER SET binary`: no conversion), escaped with the
//!   `\` escapes (`\\`, `\t`, `\n`, `\r`, `\0`, and `\N` for NULL; terminators and escape are given as hex
//!   literals, as the session runs with `NO_BACKSLASH_ESCAPES`); a value that cannot be
//!   written exactly makes the whole run use the usual statements;
//! - a target that refuses `LOCAL INFILE` (`local_infile = OFF`) turns the fast path off for the
//!   worker, with one warning per process; the run is applied with the usual statements.

use std::collections::HashMap;
use std::io::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use otter_binlog::Value;
use otter_core::schema::{Column, SqlType};

use crate::dialect::{column, SqlDialect, TargetTable};
use crate::merge::Op;

/// Default of `load_data_min_rows`: shorter runs are not worth the extra round trips.
pub const DEFAULT_MIN_ROWS: usize = 64;

/// The savepoint set before each `LOAD DATA`.
pub(crate) const SAVEPOINT: &str = "otter_load";

/// Server errors that mean `LOAD DATA LOCAL` is not allowed on the target: ER_NOT_ALLOWED_COMMAND
/// (MariaDB, MySQL 5.7), ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8), and the client-side refusal.
pub(crate) const DISABLED_CODES: [u16; 3] = [1148, 3948, 2068];

/// Character sets whose columns take the raw bytes of `CHARACTER SET binary` data unchanged and
/// whose bytes the escaping handles one by one.
const TEXT_CHARSETS: [&str; 6] = ["utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "binary"];

/// What a fast path says, once per process, when the target refuses it for good.
#[derive(Debug)]
pub struct Refused {
    warned: AtomicBool,
    message: &'static str,
}

impl Refused {
    /// A refusal warned with `message`.
    pub const fn new(message: &'static str) -> Refused {
        Refused { warned: AtomicBool::new(false), message }
    }

    /// Logs the warning with `reason`, the first time only (per process).
    pub fn warn_once(&self, reason: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(reason = %reason, "{}", self.message);
        }
    }
}

static LOAD_DATA_REFUSED: Refused =
    Refused::new("The target refuses LOAD DATA LOCAL INFILE (local_infile = OFF?): applying with INSERT statements only.");

/// Whether values of `c` go through `LOAD DATA` text exactly as through an SQL literal: numbers,
/// decimals, temporal types, binary strings, text in ASCII-compatible character sets, and
/// ENUM/SET with ASCII member names. Not BIT (its text would be stored as characters), JSON
/// (MySQL refuses binary-charset text for it), spatial, INET/UUID, VECTOR or unknown types.
pub fn exact_column(c: &Column) -> bool {
    use SqlType::*;
    let charset_ok = || c.charset.as_deref().is_some_and(|cs| TEXT_CHARSETS.contains(&cs));
    match &c.sql_type {
        TinyInt | SmallInt | MediumInt | Int | BigInt | Decimal { .. } | Float | Double => true,
        Date | Time(_) | DateTime(_) | Timestamp(_) | Year => true,
        Binary(_) | VarBinary(_) | TinyBlob | Blob | MediumBlob | LongBlob => true,
        Char(_) | VarChar(_) | TinyText | Text | MediumText | LongText => charset_ok(),
        Enum(m) | Set(m) => charset_ok() && m.iter().all(|n| n.is_ascii()),
        _ => false,
    }
}

fn same_charset(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> &str {
        if s.eq_ignore_ascii_case("utf8") {
            "utf8mb3"
        } else {
            s
        }
    }
    norm(a).eq_ignore_ascii_case(norm(b))
}

/// Whether the target column (`COLUMN_TYPE`, `CHARACTER_SET_NAME` from `information_schema`)
/// has the same type, signedness and character set as the source column `c`, and that type is
/// [`exact_column`].
pub fn same_column(c: &Column, target_type: &str, target_charset: Option<&str>) -> bool {
    let Ok(t) = SqlType::parse(target_type) else { return false };
    if !exact_column(c) || t.sql_type != c.sql_type || t.unsigned != c.unsigned {
        return false;
    }
    if !c.sql_type.is_text() {
        return true;
    }
    matches!((c.charset.as_deref(), target_charset), (Some(a), Some(b)) if same_charset(a, b))
}

/// Whether `op` can be part of a `LOAD DATA` run: a whole-row write expected to insert.
pub fn loadable(op: &Op) -> bool {
    matches!(op, Op::Upsert { fresh: true, .. } | Op::Insert { .. })
}

/// One run of rows sent as `LOAD DATA`.
#[derive(Debug, Clone)]
pub struct LoadRun {
    /// The `LOAD DATA LOCAL INFILE` statement.
    pub sql: String,
    /// The rows, escaped, one line each.
    pub data: Bytes,
    /// Rows in `data`.
    pub rows: u64,
    /// Index of the table in the job.
    pub table: usize,
    /// The ops of the table's writes this run replaces.
    pub range: Range<usize>,
    /// `db.table`, for logs and the per-table back-off.
    pub name: String,
}

/// The run of `ops` (all [`loadable`]) as a `LOAD DATA` statement and its data, or `None` when
/// a value cannot be written exactly (the caller then uses the usual statements).
pub fn build(d: &dyn SqlDialect, t: &TargetTable<'_>, ops: &[Op], table: usize, range: Range<usize>) -> Option<LoadRun> {
    let cols: Vec<&Column> = t.columns.iter().map(|&i| column(t, i)).collect::<Result<_, _>>().ok()?;
    let mut data = Vec::with_capacity(ops.len() * 64);
    for (r, op) in ops.iter().enumerate() {
        if r == 1 {
            // Room for every row at about the first one's size.
            data.reserve((data.len() + 16) * ops.len());
        }
        let (Op::Upsert { after, .. } | Op::Insert { after, .. }) = op else { return None };
        for (n, (&i, col)) in t.columns.iter().zip(&cols).enumerate() {
            if n > 0 {
                data.push(b'\t');
            }
            field(after.get(i)?, col, escaped, &mut data)?;
        }
        data.push(b'\n');
    }
    let mut sql = String::from("LOAD DATA LOCAL INFILE 'otter' INTO TABLE ");
    d.table(t.db, t.name, &mut sql);
    // Terminators and escape spelled out as hex: the default escape is none under the session's
    // NO_BACKSLASH_ESCAPES.
    sql.push_str(" CHARACTER SET binary FIELDS TERMINATED BY X'09' ESCAPED BY X'5c' LINES TERMINATED BY X'0a' (");
    for (n, col) in cols.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        d.ident(&col.name, &mut sql);
    }
    sql.push(')');
    Some(LoadRun { sql, data: Bytes::from(data), rows: ops.len() as u64, table, range, name: format!("{}.{}", t.db, t.name) })
}

/// Appends `b` with the `LOAD DATA` escapes.
fn escaped(b: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, &x) in b.iter().enumerate() {
        let esc: &[u8] = match x {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\0",
            _ => continue,
        };
        out.extend_from_slice(b.get(start..i).unwrap_or_default());
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(b.get(start..).unwrap_or_default());
}

/// Appends `b` as it is.
pub(crate) fn raw(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b);
}

/// One value as a field, its strings written through `text` (the `LOAD DATA` escapes, or
/// [`raw`]); `None` when it has no exact text form here. NULL is `\N`.
pub(crate) fn field(v: &Value<'_>, col: &Column, text: fn(&[u8], &mut Vec<u8>), out: &mut Vec<u8>) -> Option<()> {
    match v {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        // The same text as the SQL literal of the usual path: the same conversion on the server.
        Value::Float(f) if f.is_finite() => write!(out, "{f:e}").ok()?,
        Value::Double(x) if x.is_finite() => write!(out, "{x:e}").ok()?,
        Value::Decimal(x) => write!(out, "{x}").ok()?,
        // The text '0' would be the year 2000; the literal 0 of the usual path is 0000.
        Value::Year(0) => out.extend_from_slice(b"0000"),
        Value::Year(y) => out.extend_from_slice(itoa::Buffer::new().format(*y).as_bytes()),
        Value::Date(x) => out.extend_from_slice(x.text().as_bytes()),
        Value::Time(x) => out.extend_from_slice(x.text().as_bytes()),
        Value::DateTime(x) => out.extend_from_slice(x.text().as_bytes()),
        Value::Timestamp(t) if t.seconds == 0 && t.micros == 0 => out.extend_from_slice(b"0000-00-00 00:00:00"),
        Value::Timestamp(t) => out.extend_from_slice(t.to_utc().text().as_bytes()),
        Value::Enum(i) => match &col.sql_type {
            SqlType::Enum(members) if *i > 0 => text(members.get(usize::from(*i) - 1)?.as_bytes(), out),
            _ => return None,
        },
        Value::Set(bits) => match &col.sql_type {
            SqlType::Set(members) => {
                let mut first = true;
                for (_, m) in members.iter().enumerate().filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0) {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    text(m.as_bytes(), out);
                }
            }
            _ => return None,
        },
        Value::Bytes(b) => text(b, out),
        _ => return None,
    }
    Some(())
}

/// A worker's state of a fast path (`LOAD DATA`, or row events: [`crate::mysql::row_events`]):
/// on or off, and a back-off per table after fallbacks.
#[derive(Debug)]
pub struct LoadState {
    min_rows: usize,
    disabled: bool,
    refused: &'static Refused,
    /// Per table: (runs still to skip, next back-off).
    cooldown: HashMap<String, (u32, u32)>,
}

/// Longest back-off, in runs, after repeated fallbacks on one table.
const MAX_COOLDOWN: u32 = 256;

impl LoadState {
    /// Runs of at least `min_rows` rows take the fast path; 0 turns it off.
    pub fn new(min_rows: usize) -> LoadState {
        LoadState::with_refusal(min_rows, &LOAD_DATA_REFUSED)
    }

    /// The same for another fast path, warned with `refused` when the target refuses it.
    pub fn with_refusal(min_rows: usize, refused: &'static Refused) -> LoadState {
        LoadState { min_rows, disabled: min_rows == 0, refused, cooldown: HashMap::new() }
    }

    /// Whether a run of `rows` rows of `table` should be tried as `LOAD DATA` (counts a skipped
    /// run against the table's back-off).
    pub fn wants(&mut self, table: &str, rows: usize) -> bool {
        if self.disabled || rows < self.min_rows {
            return false;
        }
        match self.cooldown.get_mut(table) {
            Some((skip, _)) if *skip > 0 => {
                *skip -= 1;
                false
            }
            _ => true,
        }
    }

    /// Whether the fast path is on.
    pub fn enabled(&self) -> bool {
        !self.disabled
    }

    /// A run of `table` went through.
    pub fn succeeded(&mut self, table: &str) {
        self.cooldown.remove(table);
    }

    /// A run of `table` had to be applied again with the usual statements: skip the next few
    /// runs of the table (doubling up to `MAX_COOLDOWN` while it keeps happening).
    pub fn fell_back(&mut self, table: &str) {
        let e = self.cooldown.entry(table.to_owned()).or_insert((0, 4));
        e.0 = e.1;
        e.1 = (e.1 * 2).min(MAX_COOLDOWN);
    }

    /// The target refused the path (`LOCAL INFILE` off, a privilege missing): off for good on
    /// this worker, warned once per process.
    pub fn disable(&mut self, error: &str) {
        self.disabled = true;
        self.refused.warn_once(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_byte() {
        let mut out = Vec::new();
        escaped(b"a\\b\tc\nd\re\0f\\N", &mut out);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\\0f\\\\N".to_vec());
        let mut plain = Vec::new();
        escaped(b"plain", &mut plain);
        assert_eq!(plain, b"plain".to_vec());
    }

    #[test]
    fn back_off_doubles_and_resets() {
        let mut s = LoadState::new(2);
        assert!(!s.wants("t", 1));
        assert!(s.wants("t", 2));
        s.fell_back("t");
        assert_eq!((0..4).filter(|_| s.wants("t", 2)).count(), 0);
        assert!(s.wants("t", 2));
        s.fell_back("t");
        assert_eq!((0..8).filter(|_| s.wants("t", 2)).count(), 0);
        s.succeeded("t");
        assert!(s.wants("t", 2));
        assert!(!LoadState::new(0).wants("t", 100));
    }
}
