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

/// The expression a bound of `column` is compared through, around `arg` (a `?` placeholder or
/// a literal).
fn placeholder(column: &Column, arg: &str) -> String {
    match &column.sql_type {
        SqlType::Decimal { precision, scale } => format!("CAST({arg} AS DECIMAL({precision},{scale}))"),
        SqlType::Inet4 => format!("CAST(CAST({arg} AS BINARY) AS INET4)"),
        SqlType::Inet6 => format!("CAST(CAST({arg} AS BINARY) AS INET6)"),
        SqlType::Uuid => format!("CAST(CAST({arg} AS BINARY) AS UUID)"),
        t if t.is_text() && !matches!(t, SqlType::Enum(_) | SqlType::Set(_)) => match (&column.charset, &column.collation) {
            (Some(cs), Some(co)) if valid_name(cs) && valid_name(co) => format!("CAST(CAST({arg} AS BINARY) AS CHAR CHARACTER SET {cs}) COLLATE {co}"),
            _ => arg.to_owned(),
        },
        _ => arg.to_owned(),
    }
}

/// Where the values of a predicate go: bound parameters (pushed in placeholder order), or
/// literals written into the text ([`crate::mysql::quote::push_value`]) for a statement that is
/// carried as text (a re-sync's purge on the target).
pub enum Binds<'a> {
    /// `?` placeholders; the values pushed here.
    Params(&'a mut Vec<Wire>),
    /// Literals in the text.
    Inline,
}

impl Binds<'_> {
    fn bind(&mut self, column: &Column, w: Wire) -> String {
        match self {
            Binds::Params(p) => {
                p.push(w);
                placeholder(column, "?")
            }
            Binds::Inline => placeholder(column, &crate::mysql::quote::value(&w)),
        }
    }
}

/// Character set and collation names are plain words; anything else is never put in SQL.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `cols > bound` (strictly after) or `cols <= bound` (up to and including), lexicographically;
/// pushes the parameters in placeholder order.
pub fn compare(columns: &[&Column], bound: &[PortableValue], after: bool, params: &mut Vec<Wire>) -> Result<String> {
    compare_with(columns, bound, after, &mut Binds::Params(params))
}

/// [`compare`] with the values going to `binds`.
pub fn compare_with(columns: &[&Column], bound: &[PortableValue], after: bool, binds: &mut Binds<'_>) -> Result<String> {
    let wires = wires(columns, bound)?;
    let mut ors = Vec::with_capacity(columns.len());
    for i in 0..columns.len() {
        let mut ands = Vec::with_capacity(i + 1);
        for j in 0..i {
            ands.push(format!("{} = {}", ident(&columns[j].name), binds.bind(columns[j], wires[j].clone())));
        }
        let last = i + 1 == columns.len();
        let op = if after {
            ">"
        } else if last {
            "<="
        } else {
            "<"
        };
        ands.push(format!("{} {op} {}", ident(&columns[i].name), binds.bind(columns[i], wires[i].clone())));
        ors.push(format!("({})", ands.join(" AND ")));
    }
    Ok(format!("({})", ors.join(" OR ")))
}

/// `(cols) IN ((k1), (k2), …)` (or `NOT IN`) over whole key values the server returned; `None`
/// for an empty list (callers decide what "none" means).
pub fn in_list(columns: &[&Column], keys: &[Vec<PortableValue>], negate: bool, binds: &mut Binds<'_>) -> Result<Option<String>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = columns.iter().map(|c| ident(&c.name)).collect();
    let mut out = String::with_capacity(keys.len() * 16 + 32);
    out.push('(');
    out.push_str(&names.join(", "));
    out.push_str(if negate { ") NOT IN (" } else { ") IN (" });
    for (n, k) in keys.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let vals: Vec<String> = columns.iter().zip(wires(columns, k)?).map(|(c, w)| binds.bind(c, w)).collect();
        out.push('(');
        out.push_str(&vals.join(", "));
        out.push(')');
    }
    out.push(')');
    Ok(Some(out))
}

/// The parameters of one key value, checked against the key's columns.
fn wires(columns: &[&Column], bound: &[PortableValue]) -> Result<Vec<Wire>> {
    if columns.len() != bound.len() || columns.is_empty() {
        return Err(Error::new(ErrorKind::State, format!("a key bound has {} values for {} key columns", bound.len(), columns.len())));
    }
    columns.iter().zip(bound).map(|(c, v)| wire(c, v)).collect()
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
        assert_eq!(placeholder(&c, "?"), "?");
    }

    #[test]
    fn key_lists_bind_or_inline() {
        let a = Column::new("a", SqlType::Int);
        let b = text_col("b");
        let keys = vec![vec![PortableValue::Int(1), PortableValue::Bytes(b"x'".to_vec())], vec![PortableValue::Int(2), PortableValue::Bytes(b"y".to_vec())]];
        let mut params = Vec::new();
        let sql = in_list(&[&a, &b], &keys, false, &mut Binds::Params(&mut params)).unwrap().unwrap();
        assert!(sql.starts_with("(`a`, `b`) IN ((?, CAST(CAST(? AS BINARY)"), "{sql}");
        assert_eq!(params.len(), 4);
        let inline = in_list(&[&a, &b], &keys, true, &mut Binds::Inline).unwrap().unwrap();
        assert_eq!(
            inline,
            "(`a`, `b`) NOT IN ((1, CAST(CAST(X'7827' AS BINARY) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_general_ci), \
             (2, CAST(CAST(X'79' AS BINARY) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_general_ci))"
        );
        assert!(in_list(&[&a], &[], false, &mut Binds::Inline).unwrap().is_none());
        let after = compare_with(&[&a], &[PortableValue::Int(5)], true, &mut Binds::Inline).unwrap();
        assert_eq!(after, "((`a` > 5))");
    }
}
