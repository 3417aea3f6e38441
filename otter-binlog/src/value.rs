//! `Value`: one decoded column value, borrowing from the event bytes, and the per-type decoder.
//!
//! Invariants: decoding a fixed-width value never allocates; variable-length values borrow the
//! event bytes (`Cow::Borrowed`) and [`Value::into_owned`] is the only copy; a value's width is
//! always taken from the table map's plan, never guessed from the data.

use std::borrow::Cow;

use crate::column::Kind;
use crate::decimal::{Decimal, Layout};
use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};
use crate::temporal::{Date, DateTime, Time, Timestamp};

/// A decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// The column is not part of this row image (MINIMAL/NOBLOB row images).
    Absent,
    /// A signed integer, or an integer whose signedness the table map does not tell (see
    /// [`Value::to_unsigned`]).
    Int(i64),
    /// An integer of an UNSIGNED column (known from the table map's signedness metadata).
    UInt(u64),
    /// FLOAT.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL, exact.
    Decimal(Decimal<'a>),
    /// YEAR (0 or 1901–2155).
    Year(u16),
    /// DATE.
    Date(Date),
    /// TIME.
    Time(Time),
    /// DATETIME.
    DateTime(DateTime),
    /// TIMESTAMP.
    Timestamp(Timestamp),
    /// CHAR/VARCHAR/TEXT (in the column's character set) or BINARY/VARBINARY/BLOB bytes.
    Bytes(Cow<'a, [u8]>),
    /// BIT(n) as an unsigned number.
    Bit(u64),
    /// ENUM: 1-based member index (0 = the empty error value).
    Enum(u16),
    /// SET: bitmap of members.
    Set(u64),
    /// MySQL binary JSON (render with [`crate::json::json_text`]). MariaDB JSON arrives as `Bytes`.
    Json(Cow<'a, [u8]>),
    /// A partial JSON update (PARTIAL_UPDATE_ROWS after-image): diffs in
    /// [`crate::json_diff::JsonDiffs`] format.
    JsonDiff(Cow<'a, [u8]>),
    /// GEOMETRY: 4-byte SRID then WKB.
    Geometry(Cow<'a, [u8]>),
    /// VECTOR: little-endian `f32` elements.
    Vector(Cow<'a, [u8]>),
    /// MariaDB compressed column (`COMPRESSED` attribute): the stored compressed form.
    Compressed(Cow<'a, [u8]>),
}

impl<'a> Value<'a> {
    /// Copies any borrowed bytes so the value outlives the event.
    pub fn into_owned(self) -> Value<'static> {
        fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Value::Null => Value::Null,
            Value::Absent => Value::Absent,
            Value::Int(v) => Value::Int(v),
            Value::UInt(v) => Value::UInt(v),
            Value::Float(v) => Value::Float(v),
            Value::Double(v) => Value::Double(v),
            Value::Decimal(d) => Value::Decimal(d.into_owned()),
            Value::Year(v) => Value::Year(v),
            Value::Date(v) => Value::Date(v),
            Value::Time(v) => Value::Time(v),
            Value::DateTime(v) => Value::DateTime(v),
            Value::Timestamp(v) => Value::Timestamp(v),
            Value::Bytes(b) => Value::Bytes(own(b)),
            Value::Bit(v) => Value::Bit(v),
            Value::Enum(v) => Value::Enum(v),
            Value::Set(v) => Value::Set(v),
            Value::Json(b) => Value::Json(own(b)),
            Value::JsonDiff(b) => Value::JsonDiff(own(b)),
            Value::Geometry(b) => Value::Geometry(own(b)),
            Value::Vector(b) => Value::Vector(own(b)),
            Value::Compressed(b) => Value::Compressed(own(b)),
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Reinterprets an integer decoded as signed as the unsigned value of a `width`-byte column
    /// (for UNSIGNED columns of servers that write no signedness metadata).
    pub fn to_unsigned(&self, width: u8) -> Option<u64> {
        match *self {
            Value::UInt(u) => Some(u),
            Value::Int(i) if width >= 8 => Some(i as u64),
            Value::Int(i) => Some((i as u64) & ((1u64 << (8 * u32::from(width))) - 1)),
            _ => None,
        }
    }
}

/// What a rows decoder needs per column: the plan, the signedness and, for DECIMAL columns, the
/// precomputed byte layout (default for every other kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub kind: Kind,
    pub unsigned: bool,
    pub decimal: Layout,
}

impl Plan {
    /// The plan of a column of `kind`.
    pub(crate) fn new(kind: Kind, unsigned: bool) -> Plan {
        let decimal = match kind {
            Kind::Decimal(precision, scale) => Layout::new(precision, scale).unwrap_or_default(),
            _ => Layout::default(),
        };
        Plan { kind, unsigned, decimal }
    }
}

/// Reads `n` (1–4) little-endian length bytes, then that many bytes.
#[inline]
fn len_prefixed<'a>(r: &mut Reader<'a>, n: u8, what: &'static str) -> Result<&'a [u8]> {
    let len = r.uint_le(usize::from(n)).or_trunc(what)?;
    let len = usize::try_from(len).map_err(|_| invalid(what))?;
    r.take(len).or_trunc(what)
}

/// Decodes one non-NULL value of a column planned as `p` and appends it to `out` (decoding
/// straight into the row buffer spares moving a `Result<Value>` per value). On error nothing is
/// appended.
#[inline(always)]
pub(crate) fn decode_into<'a>(r: &mut Reader<'a>, p: Plan, out: &mut Vec<Value<'a>>) -> Result<()> {
    out.push(match p.kind {
        Kind::Int(1) => {
            let b = r.u8().or_trunc("tinyint")?;
            if p.unsigned { Value::UInt(u64::from(b)) } else { Value::Int(i64::from(b as i8)) }
        }
        Kind::Int(2) => {
            let v = r.u16_le().or_trunc("smallint")?;
            if p.unsigned { Value::UInt(u64::from(v)) } else { Value::Int(i64::from(v as i16)) }
        }
        Kind::Int(3) => {
            let v = r.u24_le().or_trunc("mediumint")?;
            if p.unsigned { Value::UInt(u64::from(v)) } else { Value::Int(i64::from(((v << 8) as i32) >> 8)) }
        }
        Kind::Int(4) => {
            let v = r.u32_le().or_trunc("int")?;
            if p.unsigned { Value::UInt(u64::from(v)) } else { Value::Int(i64::from(v as i32)) }
        }
        Kind::Int(_) => {
            let v = r.u64_le().or_trunc("bigint")?;
            if p.unsigned { Value::UInt(v) } else { Value::Int(v as i64) }
        }
        Kind::Float => Value::Float(r.f32_le().or_trunc("float")?),
        Kind::Double => Value::Double(r.f64_le().or_trunc("double")?),
        Kind::Decimal(..) => Value::Decimal(Decimal::read_laid_out(r, p.decimal)?),
        Kind::Year => {
            let y = r.u8().or_trunc("year")?;
            Value::Year(if y == 0 { 0 } else { 1900 + u16::from(y) })
        }
        Kind::Date => Value::Date(Date::read(r)?),
        Kind::Time => Value::Time(Time::read_old(r)?),
        Kind::Time2(fsp) => Value::Time(Time::read2(r, fsp)?),
        Kind::DateTime => Value::DateTime(DateTime::read_old(r)?),
        Kind::DateTime2(fsp) => Value::DateTime(DateTime::read2(r, fsp)?),
        Kind::Timestamp => Value::Timestamp(Timestamp::read_old(r)?),
        Kind::Timestamp2(fsp) => Value::Timestamp(Timestamp::read2(r, fsp)?),
        Kind::String(n) => Value::Bytes(Cow::Borrowed(len_prefixed(r, n, "string")?)),
        Kind::Blob(n) => Value::Bytes(Cow::Borrowed(len_prefixed(r, n, "blob")?)),
        Kind::Json(n) => Value::Json(Cow::Borrowed(len_prefixed(r, n, "json")?)),
        Kind::Geometry(n) => Value::Geometry(Cow::Borrowed(len_prefixed(r, n, "geometry")?)),
        Kind::Vector(n) => Value::Vector(Cow::Borrowed(len_prefixed(r, n, "vector")?)),
        Kind::CompressedBlob(n) | Kind::CompressedString(n) => {
            Value::Compressed(Cow::Borrowed(len_prefixed(r, n, "compressed column")?))
        }
        Kind::Bit(bits) => Value::Bit(r.uint_be(usize::from(bits.div_ceil(8))).or_trunc("bit")?),
        Kind::Enum(n) => Value::Enum(r.uint_le(usize::from(n)).or_trunc("enum")? as u16),
        Kind::Set(n) => Value::Set(r.uint_le(usize::from(n)).or_trunc("set")?),
        Kind::Null => Value::Null,
        Kind::OldDecimal => {
            return Err(crate::error::ParseError::new(crate::error::ErrorKind::Unsupported(
                "pre-5.0 DECIMAL column (the binlog lacks its length)",
            )))
        }
    });
    Ok(())
}

/// Decodes one non-NULL value of a column planned as `p` (tests and one-off callers).
#[cfg(test)]
fn decode<'a>(r: &mut Reader<'a>, p: Plan) -> Result<Value<'a>> {
    let mut out = Vec::with_capacity(1);
    decode_into(r, p, &mut out)?;
    out.pop().ok_or(crate::error::invalid("value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8], kind: Kind, unsigned: bool) -> Value<'_> {
        let mut r = Reader::new(bytes);
        let v = decode(&mut r, Plan::new(kind, unsigned)).unwrap();
        assert!(r.is_empty(), "{kind:?} left {} bytes", r.len());
        v
    }

    #[test]
    fn integers() {
        assert_eq!(dec(&[0xff], Kind::Int(1), false), Value::Int(-1));
        assert_eq!(dec(&[0xff], Kind::Int(1), true), Value::UInt(255));
        assert_eq!(dec(&[0xff, 0xff, 0xff], Kind::Int(3), false), Value::Int(-1));
        assert_eq!(dec(&[0xff, 0xff, 0x7f], Kind::Int(3), false), Value::Int(8_388_607));
        assert_eq!(dec(&[0, 0, 0, 0x80], Kind::Int(4), false), Value::Int(i64::from(i32::MIN)));
        assert_eq!(dec(&u64::MAX.to_le_bytes(), Kind::Int(8), true), Value::UInt(u64::MAX));
        assert_eq!(Value::Int(-1).to_unsigned(2), Some(65535));
        assert_eq!(Value::Int(-1).to_unsigned(8), Some(u64::MAX));
    }

    #[test]
    fn strings_bits_sets() {
        assert_eq!(dec(&[3, b'a', b'b', b'c'], Kind::String(1), false), Value::Bytes(Cow::Borrowed(b"abc")));
        assert_eq!(dec(&[1, 0, b'x'], Kind::String(2), false), Value::Bytes(Cow::Borrowed(b"x")));
        assert_eq!(dec(&[0x01, 0x02], Kind::Bit(10), false), Value::Bit(0x0102));
        assert_eq!(dec(&[1, 2, 3], Kind::Set(3), false), Value::Set(0x030201));
        assert_eq!(dec(&[0x2c, 0x01], Kind::Enum(2), false), Value::Enum(300));
        assert_eq!(dec(&[0], Kind::Year, false), Value::Year(0));
        assert_eq!(dec(&[124], Kind::Year, false), Value::Year(2024));
        let mut r = Reader::new(&[5, b'a']);
        assert!(decode(&mut r, Plan::new(Kind::String(1), false)).unwrap_err().is_truncation());
    }
}
