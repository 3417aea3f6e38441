//! What a chunk `SELECT` asks for per column, and how the server's answer becomes the same
//! [`Value`] the binlog decoder makes of that column.
//!
//! The session is prepared by [`super::prepare_session`]: results in the stored character set
//! (`character_set_results = NULL`, so text arrives as the bytes a row image carries) and UTC
//! (`time_zone = '+00:00'`, so a TIMESTAMP reads as its UTC wall time). Per type:
//!
//! | column type | selected as | value |
//! |---|---|---|
//! | integers, YEAR | the column | `Int` (signed) / `UInt` (UNSIGNED) / `Year` |
//! | DECIMAL | the column (exact text) | `Decimal` packed from the text |
//! | FLOAT, DOUBLE | the column (binary protocol) | `Float` / `Double`, bit for bit |
//! | ENUM, SET, BIT | `col + 0` | `Enum` index / `Set` bitmap / `Bit` |
//! | DATE, TIME, DATETIME | the column | `Date` / `Time` / `DateTime` with the column's `fsp` |
//! | TIMESTAMP | the column, in UTC | `Timestamp` (Unix seconds; a zero value is 0) |
//! | text, binary, BLOB, JSON (text) | the column | `Bytes` |
//! | spatial types | the column (SRID + WKB, as stored) | `Geometry` |
//! | BINARY(n) | the column | `Bytes` without trailing zero bytes (as a row image has them) |
//! | INET4, INET6, UUID | `CAST(col AS BINARY)` | `Bytes` (the stored bytes without trailing zero bytes, as a row image has them) |
//! | VECTOR | the column | `Vector` |
//!
//! MariaDB's hidden long-unique hash columns cannot be selected; they are `Null` (the server
//! computes them again on the target). MySQL's binary JSON cannot be had from a `SELECT`: JSON
//! columns of a MySQL source arrive as their text in `Bytes`, which every sink writes as the
//! same document.
//!
//! Invariant: a value that does not fit its column's type is an error naming the column, never
//! a guess.

use mysql_async::Value as Wire;
use otter_binlog::temporal::{days_from_civil, Date, DateTime, Time, Timestamp};
use otter_binlog::Value;

use crate::change::portable::decimal_from_text;
use crate::error::{Error, ErrorKind, Result};
use crate::mysql::quote::ident;
use crate::schema::{Column, Generated, SqlType};

/// The select-list expression for `column` (`None`: not selectable, see the module docs).
pub fn select_expr(column: &Column) -> Option<String> {
    if column.generated == Some(Generated::LongUniqueHash) {
        return None;
    }
    let name = ident(&column.name);
    Some(match column.sql_type {
        SqlType::Enum(_) | SqlType::Set(_) | SqlType::Bit(_) => format!("({name} + 0)"),
        SqlType::Inet4 | SqlType::Inet6 | SqlType::Uuid => format!("CAST({name} AS BINARY)"),
        _ => name,
    })
}

fn wrong(column: &Column, got: &Wire) -> Error {
    let what = match got {
        Wire::NULL => "NULL",
        Wire::Bytes(_) => "a string",
        Wire::Int(_) => "a signed integer",
        Wire::UInt(_) => "an unsigned integer",
        Wire::Float(_) => "a FLOAT",
        Wire::Double(_) => "a DOUBLE",
        Wire::Date(..) => "a date",
        Wire::Time(..) => "a time",
    };
    Error::new(ErrorKind::SchemaMismatch, format!("column {} ({:?}) read as {what}: the table changed while it was read", column.name, column.sql_type))
}

fn int(column: &Column, v: &Wire) -> Result<i128> {
    match v {
        Wire::Int(i) => Ok(i128::from(*i)),
        Wire::UInt(u) => Ok(i128::from(*u)),
        Wire::Bytes(b) => std::str::from_utf8(b).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| wrong(column, v)),
        _ => Err(wrong(column, v)),
    }
}

/// The binlog-equal value of `column` from the server's answer `v`.
pub fn decode(column: &Column, v: Wire) -> Result<Value<'static>> {
    if matches!(v, Wire::NULL) {
        return Ok(Value::Null);
    }
    use SqlType as T;
    Ok(match &column.sql_type {
        T::TinyInt | T::SmallInt | T::MediumInt | T::Int | T::BigInt => {
            let n = int(column, &v)?;
            if column.unsigned {
                Value::UInt(u64::try_from(n).map_err(|_| wrong(column, &v))?)
            } else {
                Value::Int(i64::try_from(n).map_err(|_| wrong(column, &v))?)
            }
        }
        T::Year => Value::Year(u16::try_from(int(column, &v)?).map_err(|_| wrong(column, &v))?),
        T::Bit(_) => Value::Bit(u64::try_from(int(column, &v)?).map_err(|_| wrong(column, &v))?),
        T::Enum(_) => Value::Enum(u16::try_from(int(column, &v)?).map_err(|_| wrong(column, &v))?),
        T::Set(_) => Value::Set(u64::try_from(int(column, &v)?).map_err(|_| wrong(column, &v))?),
        T::Decimal { precision, scale } => match &v {
            Wire::Bytes(b) => {
                let text = std::str::from_utf8(b).map_err(|_| wrong(column, &v))?;
                Value::Decimal(decimal_from_text(text, *precision, *scale)?)
            }
            _ => return Err(wrong(column, &v)),
        },
        T::Float => match v {
            Wire::Float(f) => Value::Float(f),
            Wire::Double(d) => Value::Float(d as f32),
            _ => return Err(wrong(column, &v)),
        },
        T::Double => match v {
            Wire::Double(d) => Value::Double(d),
            Wire::Float(f) => Value::Double(f64::from(f)),
            _ => return Err(wrong(column, &v)),
        },
        T::Date => match v {
            Wire::Date(year, month, day, ..) => Value::Date(Date { year, month, day }),
            _ => return Err(wrong(column, &v)),
        },
        T::DateTime(f) => match v {
            Wire::Date(year, month, day, hour, minute, second, micros) => {
                Value::DateTime(DateTime { year, month, day, hour, minute, second, micros, fsp: *f })
            }
            _ => return Err(wrong(column, &v)),
        },
        T::Timestamp(f) => match v {
            Wire::Date(year, month, day, hour, minute, second, micros) => {
                let seconds = if year == 0 && month == 0 && day == 0 {
                    0
                } else {
                    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
                    let s = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
                    u32::try_from(s).map_err(|_| wrong(column, &v))?
                };
                Value::Timestamp(Timestamp { seconds, micros, fsp: *f })
            }
            _ => return Err(wrong(column, &v)),
        },
        T::Time(f) => match v {
            Wire::Time(negative, days, h, minute, second, micros) => {
                let hour = u16::try_from(days * 24 + u32::from(h)).map_err(|_| wrong(column, &v))?;
                Value::Time(Time { negative, hour, minute, second, micros, fsp: *f })
            }
            _ => return Err(wrong(column, &v)),
        },
        T::Geometry(_) => match v {
            Wire::Bytes(b) => Value::Geometry(b.into()),
            _ => return Err(wrong(column, &v)),
        },
        // Stored as fixed binary, which the row image writes without its trailing zero bytes.
        T::Inet4 | T::Inet6 | T::Uuid | T::Binary(_) => match v {
            Wire::Bytes(mut b) => {
                while b.last() == Some(&0) {
                    b.pop();
                }
                Value::Bytes(b.into())
            }
            _ => return Err(wrong(column, &v)),
        },
        T::Vector(_) => match v {
            Wire::Bytes(b) => Value::Vector(b.into()),
            _ => return Err(wrong(column, &v)),
        },
        _ => match v {
            Wire::Bytes(b) => Value::Bytes(b.into()),
            // A numeric answer for a string column (a driver's choice for some expressions).
            Wire::Int(i) => Value::Bytes(i.to_string().into_bytes().into()),
            Wire::UInt(u) => Value::Bytes(u.to_string().into_bytes().into()),
            _ => return Err(wrong(column, &v)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: SqlType) -> Column {
        Column::new("c", t)
    }

    #[test]
    fn integers_follow_signedness() {
        let mut c = col(SqlType::BigInt);
        assert_eq!(decode(&c, Wire::Int(-5)).unwrap(), Value::Int(-5));
        c.unsigned = true;
        assert_eq!(decode(&c, Wire::UInt(u64::MAX)).unwrap(), Value::UInt(u64::MAX));
        assert!(decode(&c, Wire::Int(-1)).is_err(), "a negative value in an UNSIGNED column is an error");
    }

    #[test]
    fn temporal_values_keep_the_column_precision() {
        let c = col(SqlType::DateTime(3));
        assert_eq!(
            decode(&c, Wire::Date(2026, 12, 6, 1, 2, 3, 456_000)).unwrap(),
            Value::DateTime(DateTime { year: 2026, month: 12, day: 6, hour: 1, minute: 2, second: 3, micros: 456_000, fsp: 3 })
        );
        let t = col(SqlType::Timestamp(0));
        assert_eq!(decode(&t, Wire::Date(1970, 1, 2, 0, 0, 1, 0)).unwrap(), Value::Timestamp(Timestamp { seconds: 86_401, micros: 0, fsp: 0 }));
        assert_eq!(decode(&t, Wire::Date(0, 0, 0, 0, 0, 0, 0)).unwrap(), Value::Timestamp(Timestamp { seconds: 0, micros: 0, fsp: 0 }));
        let tm = col(SqlType::Time(0));
        assert_eq!(
            decode(&tm, Wire::Time(true, 34, 22, 0, 1, 0)).unwrap(),
            Value::Time(Time { negative: true, hour: 838, minute: 0, second: 1, micros: 0, fsp: 0 })
        );
    }

    #[test]
    fn decimals_must_be_exact_text() {
        let c = col(SqlType::Decimal { precision: 5, scale: 2 });
        match decode(&c, Wire::Bytes(b"-12.30".to_vec())).unwrap() {
            Value::Decimal(d) => assert_eq!(d.to_string(), "-12.30"),
            other => panic!("not a decimal: {other:?}"),
        }
        assert!(decode(&c, Wire::Bytes(b"abc".to_vec())).is_err());
    }

    #[test]
    fn enums_sets_and_bits_are_numbers() {
        assert_eq!(select_expr(&col(SqlType::Enum(vec!["a".into()]))).unwrap(), "(`c` + 0)");
        assert_eq!(decode(&col(SqlType::Enum(vec!["a".into()])), Wire::Int(1)).unwrap(), Value::Enum(1));
        assert_eq!(decode(&col(SqlType::Set(vec!["a".into()])), Wire::UInt(5)).unwrap(), Value::Set(5));
        assert_eq!(decode(&col(SqlType::Bit(3)), Wire::Bytes(b"7".to_vec())).unwrap(), Value::Bit(7));
    }

    #[test]
    fn hidden_hash_columns_are_not_selected() {
        let mut c = col(SqlType::BigInt);
        c.generated = Some(Generated::LongUniqueHash);
        assert!(select_expr(&c).is_none());
    }
}
