//! [`PortableValue`]: the serialised form of one column value ([`otter_binlog::Value`]).
//!
//! # Format (version 1)
//! A value is an externally tagged variant: a unit variant is its name (`"null"`, `"absent"`),
//! any other is a one-entry map `{name: payload}`:
//!
//! | variant | payload | from [`Value`] |
//! | --- | --- | --- |
//! | `null` | – | `Null` (SQL NULL) |
//! | `absent` | – | `Absent` (column left out of a MINIMAL/NOBLOB image; not NULL) |
//! | `int` | signed 64-bit integer | `Int` |
//! | `uint` | unsigned 64-bit integer | `UInt` |
//! | `float_bits` | unsigned 32-bit integer: the IEEE 754 bits | `Float` |
//! | `double_bits` | unsigned 64-bit integer: the IEEE 754 bits | `Double` |
//! | `decimal` | `{precision, scale, text}`: the declaration and MySQL's exact text | `Decimal` |
//! | `year` | unsigned 16-bit integer (0 or 1901–2155) | `Year` |
//! | `date` | `{year, month, day}` | `Date` |
//! | `time` | `{negative, hour, minute, second, micros, fsp}` | `Time` |
//! | `datetime` | `{year, month, day, hour, minute, second, micros, fsp}` | `DateTime` |
//! | `timestamp` | `{seconds, micros, fsp}` (Unix seconds, UTC) | `Timestamp` |
//! | `bytes` | bytes | `Bytes` (text in the column's character set, or binary) |
//! | `bit` | unsigned 64-bit integer | `Bit` |
//! | `enum` | unsigned 16-bit integer: 1-based member index, 0 = the empty error value | `Enum` |
//! | `set` | unsigned 64-bit integer: member bitmap | `Set` |
//! | `json` | bytes: MySQL's binary JSON document | `Json` |
//! | `json_diff` | bytes: the partial-update diffs as logged | `JsonDiff` |
//! | `geometry` | bytes: 4-byte SRID then WKB | `Geometry` |
//! | `vector` | bytes: little-endian `f32` elements | `Vector` |
//! | `compressed` | bytes: MariaDB's stored compressed form | `Compressed` |
//!
//! "bytes" is a standard base64 string (RFC 4648, `=` padding) in JSON and a native byte string
//! in binary formats.
//!
//! # Invariants
//! - every value round-trips exactly: integers at full 64-bit width; floats as their bit patterns
//!   (so `-0.0`, subnormals, infinities and NaN payloads survive, and no decimal text is
//!   re-parsed); decimals as the canonical text that maps one-to-one to their packed bytes;
//!   temporal values field by field (zero dates, negative TIME, the column's `fsp` kept; nothing
//!   is validated or normalised); byte strings byte for byte (NUL and invalid UTF-8 included);
//! - variants are only ever added, at the end, under new names: a name never changes meaning.

use serde::{Deserialize, Serialize};

use otter_binlog::temporal::{Date, DateTime, Time, Timestamp};
use otter_binlog::Value;

use super::{bytes, decimal};
use crate::error::Result;

/// One column value in the portable form (see the module's format table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortableValue {
    /// SQL NULL.
    Null,
    /// The column is not part of the row image.
    Absent,
    /// A signed integer.
    Int(i64),
    /// An integer of an UNSIGNED column.
    Uint(u64),
    /// FLOAT, as its IEEE 754 bits ([`f32::to_bits`]).
    FloatBits(u32),
    /// DOUBLE, as its IEEE 754 bits ([`f64::to_bits`]).
    DoubleBits(u64),
    /// DECIMAL, exact.
    Decimal(PortableDecimal),
    /// YEAR.
    Year(u16),
    /// DATE.
    Date(#[serde(with = "DateForm")] Date),
    /// TIME.
    Time(#[serde(with = "TimeForm")] Time),
    /// DATETIME.
    #[serde(rename = "datetime")]
    DateTime(#[serde(with = "DateTimeForm")] DateTime),
    /// TIMESTAMP.
    Timestamp(#[serde(with = "TimestampForm")] Timestamp),
    /// Text or binary string bytes.
    Bytes(#[serde(with = "bytes")] Vec<u8>),
    /// BIT(n) as an unsigned number.
    Bit(u64),
    /// ENUM member index.
    Enum(u16),
    /// SET member bitmap.
    Set(u64),
    /// MySQL binary JSON document.
    Json(#[serde(with = "bytes")] Vec<u8>),
    /// A partial JSON update's diffs.
    JsonDiff(#[serde(with = "bytes")] Vec<u8>),
    /// GEOMETRY: SRID then WKB.
    Geometry(#[serde(with = "bytes")] Vec<u8>),
    /// VECTOR elements.
    Vector(#[serde(with = "bytes")] Vec<u8>),
    /// MariaDB compressed column, as stored.
    Compressed(#[serde(with = "bytes")] Vec<u8>),
}

/// A DECIMAL value: its column's declaration and its exact text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortableDecimal {
    /// Declared precision (1–65).
    pub precision: u8,
    /// Declared scale (0–30, at most `precision`).
    pub scale: u8,
    /// The value as MySQL prints it: optional `-`, the integer part without leading zeros (`0`
    /// when it is zero), then `.` and exactly `scale` digits when `scale > 0`. Nothing else is
    /// accepted.
    pub text: String,
}

/// The serialised fields of a [`Date`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "Date")]
struct DateForm {
    year: u16,
    month: u8,
    day: u8,
}

/// The serialised fields of a [`Time`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "Time")]
struct TimeForm {
    negative: bool,
    hour: u16,
    minute: u8,
    second: u8,
    micros: u32,
    fsp: u8,
}

/// The serialised fields of a [`DateTime`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "DateTime")]
struct DateTimeForm {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
    fsp: u8,
}

/// The serialised fields of a [`Timestamp`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "Timestamp")]
struct TimestampForm {
    seconds: u32,
    micros: u32,
    fsp: u8,
}

impl From<&Value<'_>> for PortableValue {
    fn from(v: &Value<'_>) -> PortableValue {
        match v {
            Value::Null => PortableValue::Null,
            Value::Absent => PortableValue::Absent,
            Value::Int(i) => PortableValue::Int(*i),
            Value::UInt(u) => PortableValue::Uint(*u),
            Value::Float(f) => PortableValue::FloatBits(f.to_bits()),
            Value::Double(d) => PortableValue::DoubleBits(d.to_bits()),
            Value::Decimal(d) => PortableValue::Decimal(PortableDecimal {
                precision: d.precision(),
                scale: d.scale(),
                text: decimal::to_text(d),
            }),
            Value::Year(y) => PortableValue::Year(*y),
            Value::Date(d) => PortableValue::Date(*d),
            Value::Time(t) => PortableValue::Time(*t),
            Value::DateTime(t) => PortableValue::DateTime(*t),
            Value::Timestamp(t) => PortableValue::Timestamp(*t),
            Value::Bytes(b) => PortableValue::Bytes(b.to_vec()),
            Value::Bit(b) => PortableValue::Bit(*b),
            Value::Enum(e) => PortableValue::Enum(*e),
            Value::Set(s) => PortableValue::Set(*s),
            Value::Json(b) => PortableValue::Json(b.to_vec()),
            Value::JsonDiff(b) => PortableValue::JsonDiff(b.to_vec()),
            Value::Geometry(b) => PortableValue::Geometry(b.to_vec()),
            Value::Vector(b) => PortableValue::Vector(b.to_vec()),
            Value::Compressed(b) => PortableValue::Compressed(b.to_vec()),
        }
    }
}

impl PortableValue {
    /// The in-memory value (owning its bytes).
    ///
    /// # Errors
    /// [`crate::ErrorKind::Parse`] for a decimal whose text is not the canonical text of a value
    /// of its declaration; every other variant always converts.
    pub fn into_value(self) -> Result<Value<'static>> {
        Ok(match self {
            PortableValue::Null => Value::Null,
            PortableValue::Absent => Value::Absent,
            PortableValue::Int(i) => Value::Int(i),
            PortableValue::Uint(u) => Value::UInt(u),
            PortableValue::FloatBits(b) => Value::Float(f32::from_bits(b)),
            PortableValue::DoubleBits(b) => Value::Double(f64::from_bits(b)),
            PortableValue::Decimal(d) => Value::Decimal(decimal::from_text(&d.text, d.precision, d.scale)?),
            PortableValue::Year(y) => Value::Year(y),
            PortableValue::Date(d) => Value::Date(d),
            PortableValue::Time(t) => Value::Time(t),
            PortableValue::DateTime(t) => Value::DateTime(t),
            PortableValue::Timestamp(t) => Value::Timestamp(t),
            PortableValue::Bytes(b) => Value::Bytes(b.into()),
            PortableValue::Bit(b) => Value::Bit(b),
            PortableValue::Enum(e) => Value::Enum(e),
            PortableValue::Set(s) => Value::Set(s),
            PortableValue::Json(b) => Value::Json(b.into()),
            PortableValue::JsonDiff(b) => Value::JsonDiff(b.into()),
            PortableValue::Geometry(b) => Value::Geometry(b.into()),
            PortableValue::Vector(b) => Value::Vector(b.into()),
            PortableValue::Compressed(b) => Value::Compressed(b.into()),
        })
    }
}
