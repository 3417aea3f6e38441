//! Writing binlog events: a FORMAT_DESCRIPTION, TABLE_MAP and v1 rows events (the form MariaDB
//! writes), with row images encoded from [`Value`]s — what a loader sends in MariaDB's
//! `BINLOG '…'` statement to have the target apply rows as a replica does (no SQL to parse, the
//! row found by its primary key once).
//!
//! ```
//! use otter_binlog::column::ColumnType;
//! use otter_binlog::encode::{self, ColumnDef};
//! use otter_binlog::{EventData, Parser, RowsKind, Status, Value};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cols = [ColumnDef::new(ColumnType::Long, 0, false, false)?, ColumnDef::new(ColumnType::VarChar, 80, true, false)?];
//! let mut events = encode::format_description(1);
//! encode::table_map(&mut events, 1, 7, b"shop", b"item", &cols)?;
//! let mut rows = encode::RowsWriter::begin(&mut events, RowsKind::Update, 1, 7, cols.len(), &[0], &[0, 1]);
//! let row = [Value::Int(1), Value::Bytes(b"new".as_slice().into())];
//! rows.update(&cols, &row, &row)?;
//! rows.finish(true);
//!
//! // The parser reads back what was written.
//! let mut parser = Parser::new();
//! let (mut at, mut seen) = (0, 0);
//! while at < events.len() {
//!     let Status::Complete((event, used)) = parser.parse(&events[at..])? else { break };
//!     if let EventData::Rows(r) = &event.data {
//!         let table = parser.table_for(r)?;
//!         let change = r.rows(table)?.next().unwrap()?;
//!         assert_eq!(change.after.unwrap()[1], Value::Bytes(b"new".as_slice().into()));
//!         seen += 1;
//!     }
//!     at += used;
//! }
//! assert_eq!(seen, 1);
//! # Ok(()) }
//! ```
//!
//! Invariants: every event carries a CRC32 footer (the FORMAT_DESCRIPTION says so) and the
//! `post_header_len` table of MariaDB 10.11, so a server or this crate's parser reads them as
//! its own; a value is encoded only when it fits its column exactly (type, width, range,
//! fractional digits, length) — anything else is an [`EncodeError`], never a conversion, so a
//! caller can fall back to another path with nothing written; nothing here panics.

use crate::column::{plan, string_real_type, ColumnType, Kind};
use crate::event_type::RowsKind;
use crate::temporal::{Date, DateTime, Time};
use crate::value::Value;

/// Why a table or a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeError {
    /// Index of the column at fault (in the table's column order).
    pub column: usize,
    /// What did not fit.
    pub reason: &'static str,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column + 1, self.reason)
    }
}

impl std::error::Error for EncodeError {}

/// A column as a table map declares it: the type code and metadata the server would write for
/// the target column, whether it is nullable and whether it is an UNSIGNED integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// Type code.
    pub column_type: ColumnType,
    /// Metadata as [`crate::table_map::Column::meta`] holds it.
    pub meta: u16,
    /// NULL allowed.
    pub nullable: bool,
    /// UNSIGNED (integer columns).
    pub unsigned: bool,
    kind: Kind,
}

impl ColumnDef {
    /// A column definition; an error for a type or metadata the parser would not accept, and for
    /// the types this encoder does not write (old temporal formats, JSON, spatial, compressed).
    pub fn new(column_type: ColumnType, meta: u16, nullable: bool, unsigned: bool) -> Result<ColumnDef, EncodeError> {
        let bad = |reason| EncodeError { column: 0, reason };
        let kind = plan(column_type, meta).map_err(|_| bad("type metadata"))?;
        match kind {
            Kind::Int(_) | Kind::Float | Kind::Double | Kind::Decimal(..) | Kind::Year | Kind::Date => {}
            Kind::Time2(_) | Kind::DateTime2(_) | Kind::Timestamp2(_) => {}
            Kind::String(_) | Kind::Blob(_) | Kind::Bit(_) | Kind::Enum(_) | Kind::Set(_) => {}
            _ => return Err(bad("a column type the row encoder does not write")),
        }
        Ok(ColumnDef { column_type, meta, nullable, unsigned, kind })
    }
}

/// Size of the common event header.
const HEADER_LEN: usize = 19;

/// `post_header_len` of MariaDB 10.11's FORMAT_DESCRIPTION (event types 1..=171).
const POST_HEADER_LEN: [u8; 171] = [
    56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 4, 18, 0, 0, 228, 0, 4, 26, 8, 0, 0, 0, 8, 8,
    8, 2, 0, 0, 0, 10, 10, 10, 0, 0, 0, 0, 0, 0, 10, 10, 10, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 19, 4, 0, 13, 8, 8, 8,
    10, 10, 10,
];

/// Server version the FORMAT_DESCRIPTION states (that of its `post_header_len` table).
const SERVER_VERSION: &[u8] = b"10.11.0-MariaDB-otter";

/// Event type codes written here.
const FORMAT_DESCRIPTION: u8 = 15;
const TABLE_MAP: u8 = 19;

/// Flag of the last rows event of a statement (the server closes the tables after it).
const STMT_END_F: u16 = 1;

/// Starts an event: its header with a size to be patched by [`end_event`].
fn begin_event(out: &mut Vec<u8>, type_code: u8, server_id: u32) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_le_bytes()); // timestamp
    out.push(type_code);
    out.extend_from_slice(&server_id.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // size, patched
    out.extend_from_slice(&0u32.to_le_bytes()); // log position: none (not in a file)
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    start
}

/// Patches the size of the event started at `start` and appends its CRC32.
fn end_event(out: &mut Vec<u8>, start: usize) {
    let size = (out.len() - start + 4) as u32;
    if let Some(field) = out.get_mut(start + 9..start + 13) {
        field.copy_from_slice(&size.to_le_bytes());
    }
    let crc = crc32fast::hash(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A FORMAT_DESCRIPTION event (binlog v4, CRC32 footers): what a `BINLOG` statement needs first
/// in a session.
pub fn format_description(server_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 57 + POST_HEADER_LEN.len() + 5);
    let start = begin_event(&mut out, FORMAT_DESCRIPTION, server_id);
    out.extend_from_slice(&4u16.to_le_bytes());
    let mut version = [0u8; 50];
    for (d, s) in version.iter_mut().zip(SERVER_VERSION) {
        *d = *s;
    }
    out.extend_from_slice(&version);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(HEADER_LEN as u8);
    out.extend_from_slice(&POST_HEADER_LEN);
    out.push(1); // checksum algorithm: CRC32
    end_event(&mut out, start);
    out
}

/// Appends a length-encoded integer.
fn packed_len(out: &mut Vec<u8>, n: usize) {
    let n = n as u64;
    if n < 251 {
        out.push(n as u8);
    } else if n < 1 << 16 {
        out.push(0xfc);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n < 1 << 24 {
        out.push(0xfd);
        out.extend_from_slice(&n.to_le_bytes()[..3]);
    } else {
        out.push(0xfe);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

/// Appends a TABLE_MAP event binding `table_id` to `schema.table` with `columns`.
pub fn table_map(
    out: &mut Vec<u8>,
    server_id: u32,
    table_id: u64,
    schema: &[u8],
    table: &[u8],
    columns: &[ColumnDef],
) -> Result<(), EncodeError> {
    if schema.len() > 255 || table.len() > 255 {
        return Err(EncodeError { column: 0, reason: "schema or table name longer than 255 bytes" });
    }
    let start = begin_event(out, TABLE_MAP, server_id);
    out.extend_from_slice(&table_id.to_le_bytes()[..6]);
    out.extend_from_slice(&1u16.to_le_bytes()); // TM_BIT_LEN_EXACT_F
    for name in [schema, table] {
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.push(0);
    }
    packed_len(out, columns.len());
    out.extend(columns.iter().map(|c| c.column_type.code()));
    let mut meta = Vec::with_capacity(columns.len() * 2);
    for c in columns {
        write_meta(&mut meta, c);
    }
    packed_len(out, meta.len());
    out.extend_from_slice(&meta);
    push_bitmap(out, columns.iter().map(|c| c.nullable));
    end_event(out, start);
    Ok(())
}

/// The metadata bytes of `c`, as `read_meta` reads them.
fn write_meta(out: &mut Vec<u8>, c: &ColumnDef) {
    use ColumnType::*;
    match c.column_type {
        Float | Double | Blob | TinyBlob | MediumBlob | LongBlob | Geometry | Json | Vector | BlobCompressed
        | Timestamp2 | DateTime2 | Time2 => out.push(c.meta as u8),
        VarChar | VarString | VarCharCompressed | Bit => out.extend_from_slice(&c.meta.to_le_bytes()),
        NewDecimal | String | Enum | Set => out.extend_from_slice(&c.meta.to_be_bytes()),
        _ => {}
    }
}

/// Appends a bitmap, least significant bit first.
fn push_bitmap(out: &mut Vec<u8>, bits: impl IntoIterator<Item = bool>) {
    let mut byte = 0u8;
    let mut n = 0;
    for b in bits {
        if b {
            byte |= 1 << (n % 8);
        }
        n += 1;
        if n % 8 == 0 {
            out.push(byte);
            byte = 0;
        }
    }
    if n % 8 != 0 {
        out.push(byte);
    }
}

/// One v1 rows event being written into a buffer; [`RowsWriter::finish`] closes it.
pub struct RowsWriter<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    flags_at: usize,
    before: Vec<usize>,
    after: Vec<usize>,
}

impl<'o> RowsWriter<'o> {
    /// Starts a rows event of `table_id` (a table of `ncols` columns) whose before images hold the
    /// columns `before` and after images the columns `after` (indices, ascending; the one not
    /// used by `kind` is ignored).
    pub fn begin(
        out: &'o mut Vec<u8>,
        kind: RowsKind,
        server_id: u32,
        table_id: u64,
        ncols: usize,
        before: &[usize],
        after: &[usize],
    ) -> RowsWriter<'o> {
        let code = match kind {
            RowsKind::Write => 23,
            RowsKind::Update => 24,
            RowsKind::Delete => 25,
        };
        let start = begin_event(out, code, server_id);
        out.extend_from_slice(&table_id.to_le_bytes()[..6]);
        let flags_at = out.len();
        out.extend_from_slice(&0u16.to_le_bytes());
        packed_len(out, ncols);
        let bitmap = |out: &mut Vec<u8>, cols: &[usize]| push_bitmap(out, (0..ncols).map(|i| cols.contains(&i)));
        let (before, after) = match kind {
            RowsKind::Write => (Vec::new(), after.to_vec()),
            RowsKind::Update => (before.to_vec(), after.to_vec()),
            RowsKind::Delete => (before.to_vec(), Vec::new()),
        };
        bitmap(out, if kind == RowsKind::Write { &after } else { &before });
        if kind == RowsKind::Update {
            bitmap(out, &after);
        }
        RowsWriter { out, start, flags_at, before, after }
    }

    /// Bytes of the event so far (its header included, its checksum not yet).
    pub fn bytes(&self) -> usize {
        self.out.len() - self.start
    }

    /// Adds an update: `before` and `after` are whole rows (one value per table column, as the
    /// parser returns them); each image takes its own columns from its row. On error the event
    /// is left as it was.
    pub fn update(&mut self, cols: &[ColumnDef], before: &[Value<'_>], after: &[Value<'_>]) -> Result<(), EncodeError> {
        let mark = self.out.len();
        let result = image(self.out, cols, &self.before, before).and_then(|()| image(self.out, cols, &self.after, after));
        if result.is_err() {
            self.out.truncate(mark);
        }
        result
    }

    /// Adds one image (the after image of a write, the before image of a delete) from a whole
    /// row.
    pub fn row(&mut self, cols: &[ColumnDef], values: &[Value<'_>]) -> Result<(), EncodeError> {
        let mark = self.out.len();
        let present = if self.after.is_empty() { &self.before } else { &self.after };
        let result = image(self.out, cols, present, values);
        if result.is_err() {
            self.out.truncate(mark);
        }
        result
    }

    /// Ends the event; `last` marks the end of the statement.
    pub fn finish(self, last: bool) {
        if last {
            if let Some(f) = self.out.get_mut(self.flags_at..self.flags_at + 2) {
                f.copy_from_slice(&STMT_END_F.to_le_bytes());
            }
        }
        end_event(self.out, self.start);
    }
}

/// Appends one row image of `row` (one value per table column): the NULL bitmap of the
/// `present` columns, then their values.
fn image(out: &mut Vec<u8>, cols: &[ColumnDef], present: &[usize], row: &[Value<'_>]) -> Result<(), EncodeError> {
    if row.len() != cols.len() {
        return Err(EncodeError { column: 0, reason: "a row of the wrong number of columns" });
    }
    // A column out of range is refused below (and the caller truncates the image).
    push_bitmap(out, present.iter().map(|&i| row.get(i).is_some_and(Value::is_null)));
    for &i in present {
        let missing = EncodeError { column: i, reason: "no such column" };
        let (c, v) = (cols.get(i).ok_or(missing)?, row.get(i).ok_or(missing)?);
        if v.is_null() {
            if !c.nullable {
                return Err(EncodeError { column: i, reason: "NULL in a NOT NULL column" });
            }
            continue;
        }
        value(out, c, v).map_err(|reason| EncodeError { column: i, reason })?;
    }
    Ok(())
}

/// Appends the bytes of a non-NULL value of column `c`.
fn value(out: &mut Vec<u8>, c: &ColumnDef, v: &Value<'_>) -> Result<(), &'static str> {
    match (c.kind, v) {
        (Kind::Int(w), _) => int(out, w, c.unsigned, v),
        (Kind::Float, Value::Float(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (Kind::Double, Value::Double(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (Kind::Decimal(p, s), Value::Decimal(d)) if d.precision() == p && d.scale() == s => {
            out.extend_from_slice(d.raw());
            Ok(())
        }
        (Kind::Year, Value::Year(y)) => match *y {
            0 => {
                out.push(0);
                Ok(())
            }
            1901..=2155 => {
                out.push((*y - 1900) as u8);
                Ok(())
            }
            _ => Err("YEAR out of range"),
        },
        (Kind::Date, Value::Date(d)) => date(out, d),
        (Kind::Time2(fsp), Value::Time(t)) => time2(out, fsp, t),
        (Kind::DateTime2(fsp), Value::DateTime(t)) => datetime2(out, fsp, t),
        (Kind::Timestamp2(fsp), Value::Timestamp(t)) => {
            out.extend_from_slice(&t.seconds.to_be_bytes());
            frac(out, fsp, t.micros)
        }
        (Kind::String(n), Value::Bytes(b)) => {
            if b.len() > max_string_len(c) {
                return Err("string longer than its column");
            }
            prefixed(out, n, b)
        }
        (Kind::Blob(n), Value::Bytes(b)) => prefixed(out, n, b),
        (Kind::Bit(bits), Value::Bit(x)) => {
            if bits < 64 && *x >> bits != 0 {
                return Err("BIT value wider than its column");
            }
            let n = usize::from(bits.div_ceil(8));
            out.extend_from_slice(x.to_be_bytes().get(8 - n..).unwrap_or_default());
            Ok(())
        }
        (Kind::Enum(n), Value::Enum(i)) => {
            if n == 1 && *i > 255 {
                return Err("ENUM index out of range");
            }
            out.extend_from_slice(i.to_le_bytes().get(..usize::from(n)).unwrap_or_default());
            Ok(())
        }
        (Kind::Set(n), Value::Set(s)) => {
            if n < 8 && *s >> (8 * u32::from(n)) != 0 {
                return Err("SET bits out of range");
            }
            out.extend_from_slice(s.to_le_bytes().get(..usize::from(n)).unwrap_or_default());
            Ok(())
        }
        _ => Err("a value of another type than its column"),
    }
}

/// The longest value a CHAR/VARCHAR/BINARY/VARBINARY column of `c` takes, in bytes.
fn max_string_len(c: &ColumnDef) -> usize {
    match c.column_type {
        ColumnType::String => usize::from(string_real_type(c.meta).1),
        _ => usize::from(c.meta),
    }
}

/// An integer in `w` little-endian bytes, if it is in the column's range.
fn int(out: &mut Vec<u8>, w: u8, unsigned: bool, v: &Value<'_>) -> Result<(), &'static str> {
    let bits = 8 * u32::from(w);
    let fits = match (v, unsigned) {
        (&Value::Int(i), false) => bits == 64 || (i >= -(1i64 << (bits - 1)) && i < 1i64 << (bits - 1)),
        (&Value::UInt(u), true) => bits == 64 || u < 1u64 << bits,
        (&Value::Int(i), true) => i >= 0 && (bits == 64 || (i as u64) < 1u64 << bits),
        (&Value::UInt(u), false) => u < 1u64 << (bits - 1),
        _ => return Err("a value of another type than its column"),
    };
    if !fits {
        return Err("integer out of its column's range");
    }
    let raw = match *v {
        Value::Int(i) => i as u64,
        Value::UInt(u) => u,
        _ => 0,
    };
    out.extend_from_slice(raw.to_le_bytes().get(..usize::from(w)).unwrap_or_default());
    Ok(())
}

/// Bytes with an `n`-byte little-endian length.
fn prefixed(out: &mut Vec<u8>, n: u8, b: &[u8]) -> Result<(), &'static str> {
    let len = b.len() as u64;
    if n < 8 && len >> (8 * u32::from(n)) != 0 {
        return Err("value longer than its column");
    }
    out.extend_from_slice(len.to_le_bytes().get(..usize::from(n)).unwrap_or_default());
    out.extend_from_slice(b);
    Ok(())
}

fn date(out: &mut Vec<u8>, d: &Date) -> Result<(), &'static str> {
    if d.year > 9999 || d.month > 12 || d.day > 31 {
        return Err("DATE out of range");
    }
    let v = u32::from(d.day) | u32::from(d.month) << 5 | u32::from(d.year) << 9;
    out.extend_from_slice(&v.to_le_bytes()[..3]);
    Ok(())
}

/// 10^(6 - fsp): microseconds per unit of the column's last fractional digit.
fn frac_unit(fsp: u8) -> u32 {
    10u32.pow(6 - u32::from(fsp.min(6)))
}

/// The fraction of a DATETIME2/TIMESTAMP2 (unsigned).
fn frac(out: &mut Vec<u8>, fsp: u8, micros: u32) -> Result<(), &'static str> {
    if micros > 999_999 || !micros.is_multiple_of(frac_unit(fsp)) {
        return Err("more fractional digits than the column has");
    }
    match fsp {
        0 => {}
        1 | 2 => out.push((micros / 10_000) as u8),
        3 | 4 => out.extend_from_slice(&((micros / 100) as u16).to_be_bytes()),
        _ => out.extend_from_slice(&micros.to_be_bytes()[1..]),
    }
    Ok(())
}

fn datetime2(out: &mut Vec<u8>, fsp: u8, t: &DateTime) -> Result<(), &'static str> {
    if t.year > 9999 || t.month > 12 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59 {
        return Err("DATETIME out of range");
    }
    let ymd = (u64::from(t.year) * 13 + u64::from(t.month)) << 5 | u64::from(t.day);
    let hms = u64::from(t.hour) << 12 | u64::from(t.minute) << 6 | u64::from(t.second);
    let int = (ymd << 17 | hms) + 0x80_0000_0000;
    out.extend_from_slice(&int.to_be_bytes()[3..]);
    frac(out, fsp, t.micros)
}

/// TIME2, as MySQL's `my_time_packed_to_binary` writes it (negative values borrow from the
/// integer part).
fn time2(out: &mut Vec<u8>, fsp: u8, t: &Time) -> Result<(), &'static str> {
    if t.hour > 838 || t.minute > 59 || t.second > 59 || t.micros > 999_999 || !t.micros.is_multiple_of(frac_unit(fsp)) {
        return Err("TIME out of range or with more fractional digits than the column has");
    }
    let hms = i64::from(t.hour) << 12 | i64::from(t.minute) << 6 | i64::from(t.second);
    let magnitude = hms << 24 | i64::from(t.micros);
    let packed = if t.negative { -magnitude } else { magnitude };
    let int = packed >> 24;
    let rem = packed % (1 << 24);
    let int_bytes = |out: &mut Vec<u8>| out.extend_from_slice(&((int + 0x80_0000) as u32).to_be_bytes()[1..]);
    match fsp {
        0 => int_bytes(out),
        1 | 2 => {
            int_bytes(out);
            out.push((rem / 10_000) as i8 as u8);
        }
        3 | 4 => {
            int_bytes(out);
            out.extend_from_slice(&((rem / 100) as i16).to_be_bytes());
        }
        _ => out.extend_from_slice(&((packed + 0x8000_0000_0000) as u64).to_be_bytes()[2..]),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
