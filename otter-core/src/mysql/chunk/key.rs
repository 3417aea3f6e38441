//! Key-range predicates of chunk reads: `key > bound` and `key <= bound` over a (composite)
//! key, with every comparison done by the server in the column's own terms.
//!
//! Invariants: a bound is a key value the server itself returned (never computed in Rust); it
//! travels as a bound parameter wrapped so the server compares it as the column compares —
//! text in the column's character set and collation (`CAST(CAST(? AS BINARY) AS CHAR
//! CHARACTER SET cs) COLLATE co`, so the stored bytes are reinterpreted, not converted), DECIMAL
//! as a DECIMAL of the column's declaration, ENUM/SET/BIT as their numbers (the order an index on
//! them has), INET and UUID from their stored bytes. A composite key `(a, b)` is compared
//! lexicographically as `a > ? OR (a = ? AND b > ?)`, which the range optimizer reads as ranges
//! of the index.

use mysql_async::Value as Wire;
use otter_binlog::temporal::civil_from_days;

use crate::change::portable::PortableValue;
use crate::error::{Error, ErrorKind, Result};
use crate::mysql::quote::ident;
use crate::schema::{Column, SqlType};

/// The placeholder expression a bound of `column` is compared through.
fn placeholder(column: &Column) -> String {
    match &column.sql_type {
        SqlType::Decimal { precision, scale } => format!("CAST(? AS DECIMAL({precision},{scale}))"),
        SqlType::Inet4 => "CAST(CAST(? AS BINARY) AS INET4)".into(),
        SqlType::Inet6 => "CAST(CAST(? AS BINARY) AS INET6)".into(),
        SqlType::Uuid => "CAST(CAST(? AS BINARY) AS UUID)".into(),
        t if t.is_text() && !matches!(t, SqlType::Enum(_) | SqlType::Set(_)) => match (&column.charset, &column.collation) {
            (Some(cs), Some(co)) if valid_name(cs) && valid_name(co) => format!("CAST(CAST(? AS BINARY) AS CHAR CHARACTER SET {cs}) COLLATE {co}"),
            _ => "?".into(),
        },
        _ => "?".into(),
    }
}

/// Character set and collation names are plain words; anything else is never put in SQL.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `cols > bound` (strictly after) or `cols <= bound` (up to and including), lexicographically;
/// pushes the parameters in placeholder order.
pub fn compare(columns: &[&Column], bound: &[PortableValue], after: bool, params: &mut Vec<Wire>) -> Result<String> {
    if columns.len() != bound.len() || columns.is_empty() {
        return Err(Error::new(ErrorKind::State, format!("a key bound has {} values for {} key columns", bound.len(), columns.len())));
    }
    let wires: Vec<Wire> = columns.iter().zip(bound).map(|(c, v)| wire(c, v)).collect::<Result<_>>()?;
    let mut ors = Vec::with_capacity(columns.len());
    for i in 0..columns.len() {
        let mut ands = Vec::with_capacity(i + 1);
        for j in 0..i {
            ands.push(format!("{} = {}", ident(&columns[j].name), placeholder(columns[j])));
            params.push(wires[j].clone());
        }
        let last = i + 1 == columns.len();
        let op = if after {
            ">"
        } else if last {
            "<="
        } else {
            "<"
        };
        ands.push(format!("{} {op} {}", ident(&columns[i].name), placeholder(columns[i])));
        params.push(wires[i].clone());
        ors.push(format!("({})", ands.join(" AND ")));
    }
    Ok(format!("({})", ors.join(" OR ")))
}

/// The parameter for one bound value of `column`.
fn wire(column: &Column, v: &PortableValue) -> Result<Wire> {
    use PortableValue as P;
    Ok(match v {
        P::Int(i) => Wire::Int(*i),
        P::Uint(u) | P::Bit(u) | P::Set(u) => Wire::UInt(*u),
        P::Enum(e) => Wire::UInt(u64::from(*e)),
        P::Year(y) => Wire::UInt(u64::from(*y)),
        P::FloatBits(b) => Wire::Float(f32::from_bits(*b)),
        P::DoubleBits(b) => Wire::Double(f64::from_bits(*b)),
        P::Decimal(d) => Wire::Bytes(d.text.clone().into_bytes()),
        P::Date(d) => Wire::Date(d.year, d.month, d.day, 0, 0, 0, 0),
        P::DateTime(t) => Wire::Date(t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros),
        P::Timestamp(t) => {
            // The reading session runs in UTC, where the column shows this wall time.
            let days = i64::from(t.seconds / 86_400);
            let secs = t.seconds % 86_400;
            let (y, m, d) = civil_from_days(days);
            Wire::Date(y as u16, m as u8, d as u8, (secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8, t.micros)
        }
        P::Time(t) => Wire::Time(t.negative, u32::from(t.hour) / 24, (t.hour % 24) as u8, t.minute, t.second, t.micros),
        P::Bytes(b) | P::Geometry(b) | P::Vector(b) | P::Json(b) | P::Compressed(b) | P::JsonDiff(b) => Wire::Bytes(b.clone()),
        P::Null | P::Absent => {
            return Err(Error::new(
                ErrorKind::State,
                format!("key column {} has no value in a chunk bound (keys used for chunks are NOT NULL)", column.name),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_col(name: &str) -> Column {
        Column { charset: Some("utf8mb4".into()), collation: Some("utf8mb4_general_ci".into()), ..Column::new(name, SqlType::VarChar(20)) }
    }

    #[test]
    fn composite_keys_compare_lexicographically() {
        let a = Column::new("a", SqlType::Int);
        let b = text_col("b");
        let mut params = Vec::new();
        let sql = compare(&[&a, &b], &[PortableValue::Int(3), PortableValue::Bytes(b"x".to_vec())], true, &mut params).unwrap();
        assert_eq!(
            sql,
            "((`a` > ?) OR (`a` = ? AND `b` > CAST(CAST(? AS BINARY) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_general_ci))"
        );
        assert_eq!(params, vec![Wire::Int(3), Wire::Int(3), Wire::Bytes(b"x".to_vec())]);
        let mut params = Vec::new();
        let upto = compare(&[&a, &b], &[PortableValue::Int(3), PortableValue::Bytes(b"x".to_vec())], false, &mut params).unwrap();
        assert!(upto.starts_with("((`a` < ?) OR (`a` = ? AND `b` <= "), "{upto}");
    }

    #[test]
    fn bounds_must_match_the_key() {
        let a = Column::new("a", SqlType::Int);
        assert!(compare(&[&a], &[], true, &mut Vec::new()).is_err());
        assert!(compare(&[&a], &[PortableValue::Null], true, &mut Vec::new()).is_err());
    }

    #[test]
    fn odd_collation_names_are_never_spliced_in() {
        let c = Column { charset: Some("utf8mb4".into()), collation: Some("x; DROP".into()), ..Column::new("c", SqlType::Char(3)) };
        assert_eq!(placeholder(&c), "?");
    }
}
