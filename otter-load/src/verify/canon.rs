//! Canonical values: the text both sides of a comparison reduce a column's value to, so the same
//! value stored in different types, character sets or precisions compares equal, and anything
//! else does not.
//!
//! Rules (each side canonicalises its own column, from its own definition):
//! - integers of any width and sign, `YEAR`, `BIT` (as its number): decimal digits;
//! - `DECIMAL`: its digits without trailing fractional zeros (`12.50` = `12.5` = `12.500`);
//! - `FLOAT`/`DOUBLE`: the server's shortest text of the stored value (no tolerance: a `FLOAT`
//!   and a `DOUBLE` holding "1.1" differ, as their stored values do);
//! - `DATE`, `DATETIME`, `TIMESTAMP` (read in UTC), `TIME`: one fixed format with six fractional
//!   digits, so `DATETIME(3)` and `DATETIME(6)` holding the same instant are equal (and a target
//!   that lost digits differs);
//! - text (`CHAR` … `LONGTEXT`, `ENUM`/`SET` as their labels): the characters, converted to
//!   `utf8mb4` (`utf8mb3` and `utf8mb4` holding the same text are equal; case matters even under
//!   a `_ci` collation: a replica must have the same spelling);
//! - JSON: normalised (`JSON_NORMALIZE`: key order and number spelling do not matter);
//! - binary strings and the rest: the stored bytes.
//!
//! Numbers and dates are their text; bounded strings go in whole behind their byte length (so a
//! `#` inside one cannot be mistaken for the separator between columns); the unbounded types
//! (TEXT/BLOB/JSON/spatial) go in as their SHA-1, so no row's canonical form outgrows what a server
//! may build; `NULL` is `N`, which no other canonical value is. A row is its canonical values
//! joined with `#` — or, for a column both sides define alike, its stored value as it is (no
//! conversion to pay for; see [`hash_args`]); its hash is a 64-bit slice of their SHA-1; a chunk is
//! its row count and the XOR of its rows' hashes: order-free, and no CRC32 that collisions would
//! fool (two differing chunks hash alike with probability 2^-64). SHA-1 rather than MD5 for speed
//! alone: servers hash it with the CPU's SHA instructions where it has them (2.2 times as fast as
//! MD5 here) and OpenSSL's vector code where not (no slower than MD5); nothing here needs
//! resistance to forged collisions.

use otter_binlog::Value;
use otter_core::mysql::quote::ident;
use otter_core::schema::{Column, SqlType};

/// The canonical value of `c` (an expression; `N` for NULL, which no other canonical value is).
pub fn value_expr(c: &Column) -> String {
    let col = ident(&c.name);
    // Text as `utf8mb4` characters (no conversion when the column is already in it).
    let utf8 = if c.charset.as_deref().is_some_and(|cs| cs.eq_ignore_ascii_case("utf8mb4")) { col.clone() } else { format!("CONVERT({col} USING utf8mb4)") };
    // Bounded strings go in whole, behind their length (so no separator inside can be confused
    // with the one between columns); unbounded ones as their SHA-1.
    let prefixed = |x: &str| format!("IFNULL(CONCAT(LENGTH({x}), ':', {x}), 'N')");
    let ascii = |x: String| format!("IFNULL({x}, 'N')");
    match &c.sql_type {
        SqlType::TinyInt | SqlType::SmallInt | SqlType::MediumInt | SqlType::Int | SqlType::BigInt | SqlType::Year => ascii(format!("CAST({col} AS CHAR)")),
        SqlType::Bit(_) => ascii(format!("CAST(CAST({col} AS UNSIGNED) AS CHAR)")),
        SqlType::Decimal { .. } => {
            let x = format!("CAST({col} AS CHAR)");
            ascii(format!("IF(INSTR({x}, '.') > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {x})), {x})"))
        }
        SqlType::Float | SqlType::Double => ascii(format!("CAST({col} AS CHAR)")),
        SqlType::Date => ascii(format!("DATE_FORMAT({col}, '%Y-%m-%d')")),
        SqlType::DateTime(_) | SqlType::Timestamp(_) => ascii(format!("DATE_FORMAT({col}, '%Y-%m-%d %H:%i:%s.%f')")),
        SqlType::Time(_) => ascii(format!("TIME_FORMAT({col}, '%H:%i:%s.%f')")),
        SqlType::Inet4 | SqlType::Inet6 | SqlType::Uuid => ascii(format!("CAST({col} AS CHAR)")),
        SqlType::Json => format!("IFNULL(SHA1(CONVERT(IFNULL(JSON_NORMALIZE({col}), {col}) USING utf8mb4)), 'N')"),
        SqlType::Enum(_) | SqlType::Set(_) => prefixed(&format!("CONVERT(CAST({col} AS CHAR) USING utf8mb4)")),
        t if t.is_text() && t.is_blob_like() => format!("IFNULL(SHA1({utf8}), 'N')"),
        t if t.is_text() => prefixed(&utf8),
        SqlType::Geometry(_) => format!("IFNULL(SHA1(ST_AsWKB({col})), 'N')"),
        t if t.is_blob_like() => format!("IFNULL(SHA1({col}), 'N')"),
        _ => prefixed(&col),
    }
}

/// The arguments a column adds to a row's hash input. `same`: both sides define the column
/// alike (type, sign, character set), so its stored value can go in as it is — only JSON is
/// normalised and unbounded values go in as their SHA-1; otherwise its [`value_expr`]. Strings go
/// in behind their length, `NULL` as `N` (no other value hashes the same way).
pub fn hash_args(c: &Column, same: bool) -> String {
    if !same {
        return value_expr(c);
    }
    let col = ident(&c.name);
    match &c.sql_type {
        SqlType::Json => value_expr(c),
        SqlType::Geometry(_) => value_expr(c),
        t if t.is_blob_like() => format!("IFNULL(SHA1({col}), 'N')"),
        t if t.is_text() || matches!(t, SqlType::Binary(_) | SqlType::VarBinary(_) | SqlType::Bit(_) | SqlType::Other(_) | SqlType::Vector(_)) => {
            format!("IFNULL(LENGTH({col}), 'N'), {col}")
        }
        _ if c.nullable => format!("IFNULL({col}, 'N')"),
        _ => col,
    }
}

/// A 64-bit slice of the SHA-1 of a row of `columns` (`(column, same)`, see [`hash_args`]), as an
/// unsigned integer.
pub fn row_hash_expr(columns: &[(&Column, bool)]) -> String {
    let parts: Vec<String> = columns.iter().map(|(c, same)| hash_args(c, *same)).collect();
    format!("CAST(CONV(SUBSTR(SHA1(CONCAT_WS('#', {})), 1, 16), 16, 10) AS UNSIGNED)", parts.join(", "))
}

/// Whether `a` and `b` store values alike (so they can be hashed as stored).
pub fn alike(a: &Column, b: &Column) -> bool {
    a.sql_type == b.sql_type && a.unsigned == b.unsigned && a.charset.as_deref().map(str::to_ascii_lowercase) == b.charset.as_deref().map(str::to_ascii_lowercase)
}

/// `SELECT COUNT(*), BIT_XOR(row hashes)` of the rows of `table` matching `cond` (`None`: all).
pub fn chunk_hash_sql(db: &str, table: &str, columns: &[(&Column, bool)], cond: Option<&str>) -> String {
    let mut sql = format!("SELECT COUNT(*), IFNULL(BIT_XOR({}), 0) FROM {}.{}", row_hash_expr(columns), ident(db), ident(table));
    if let Some(c) = cond {
        sql.push_str(" WHERE ");
        sql.push_str(c);
    }
    sql
}

/// The key text of key column `c`: what reports show and in-flight checks match on (digits,
/// the text in `utf8mb4`, dates in the canonical format, other bytes in hexadecimal).
pub fn key_text_expr(c: &Column) -> String {
    let col = ident(&c.name);
    match &c.sql_type {
        SqlType::TinyInt | SqlType::SmallInt | SqlType::MediumInt | SqlType::Int | SqlType::BigInt | SqlType::Year => format!("CAST({col} AS CHAR)"),
        SqlType::Date => format!("DATE_FORMAT({col}, '%Y-%m-%d')"),
        SqlType::DateTime(_) | SqlType::Timestamp(_) => format!("DATE_FORMAT({col}, '%Y-%m-%d %H:%i:%s.%f')"),
        t if t.is_text() && !matches!(t, SqlType::Enum(_) | SqlType::Set(_)) => format!("CONVERT({col} USING utf8mb4)"),
        SqlType::Decimal { .. } | SqlType::Enum(_) | SqlType::Set(_) | SqlType::Inet4 | SqlType::Inet6 | SqlType::Uuid => format!("CAST({col} AS CHAR)"),
        _ => format!("CONCAT('0x', HEX({col}))"),
    }
}

/// How rows of both sides are paired: the collation's weight of text key columns (so `abc` and
/// `ABC` under a `_ci` collation are one key whose spelling differs), else the key text.
pub fn key_match_expr(c: &Column) -> String {
    if c.sql_type.is_text() && !matches!(c.sql_type, SqlType::Enum(_) | SqlType::Set(_)) {
        format!("HEX(WEIGHT_STRING({}))", ident(&c.name))
    } else {
        key_text_expr(c)
    }
}

/// The key text of a binlog value of key column `c`, as [`key_text_expr`] makes it on the
/// server; `None` where otter does not reproduce it (then any change of the table counts as
/// touching every key).
pub fn key_text_of(c: &Column, v: &Value<'_>) -> Option<String> {
    let text_charset_ok = || c.charset.as_deref().is_none_or(|cs| matches!(cs.to_ascii_lowercase().as_str(), "utf8mb4" | "utf8mb3" | "utf8" | "ascii"));
    match (&c.sql_type, v) {
        (_, Value::Int(i)) if c.unsigned && *i < 0 => Some((*i as u64).to_string()),
        (_, Value::Int(i)) => Some(i.to_string()),
        (_, Value::UInt(u)) => Some(u.to_string()),
        (SqlType::Year, Value::Year(y)) => Some(y.to_string()),
        (SqlType::Date, Value::Date(d)) => Some(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        (SqlType::DateTime(_), Value::DateTime(t)) => {
            Some(format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros))
        }
        (SqlType::Timestamp(_), Value::Timestamp(t)) => {
            let days = i64::from(t.seconds / 86_400);
            let secs = t.seconds % 86_400;
            let (y, m, d) = otter_binlog::temporal::civil_from_days(days);
            Some(format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}", secs / 3600, secs / 60 % 60, secs % 60, t.micros))
        }
        (t, Value::Bytes(b)) if t.is_text() && !matches!(t, SqlType::Enum(_) | SqlType::Set(_)) && text_charset_ok() => {
            // CHAR columns come without their trailing spaces from both sides.
            std::str::from_utf8(b).ok().map(str::to_owned)
        }
        (SqlType::VarBinary(_) | SqlType::Blob | SqlType::TinyBlob | SqlType::MediumBlob | SqlType::LongBlob, Value::Bytes(b)) => {
            Some(format!("0x{}", b.iter().map(|x| format!("{x:02X}")).collect::<String>()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_hide_type_width_but_not_values() {
        let d1 = Column::new("d", SqlType::Decimal { precision: 10, scale: 2 });
        assert!(value_expr(&d1).contains("TRIM(TRAILING '0'"), "{}", value_expr(&d1));
        let t = Column { charset: Some("utf8mb3".into()), ..Column::new("t", SqlType::VarChar(9)) };
        assert_eq!(value_expr(&t), "IFNULL(CONCAT(LENGTH(CONVERT(`t` USING utf8mb4)), ':', CONVERT(`t` USING utf8mb4)), 'N')");
        let t4 = Column { charset: Some("utf8mb4".into()), ..Column::new("t", SqlType::VarChar(9)) };
        assert_eq!(value_expr(&t4), "IFNULL(CONCAT(LENGTH(`t`), ':', `t`), 'N')");
        let blob = Column::new("b", SqlType::Blob);
        assert_eq!(value_expr(&blob), "IFNULL(SHA1(`b`), 'N')");
        let dt = Column::new("dt", SqlType::DateTime(3));
        assert_eq!(value_expr(&dt), "IFNULL(DATE_FORMAT(`dt`, '%Y-%m-%d %H:%i:%s.%f'), 'N')");
        let sql = chunk_hash_sql("s", "t", &[(&d1, false), (&t, true)], Some("`d` > 1"));
        assert!(sql.starts_with("SELECT COUNT(*), IFNULL(BIT_XOR(CAST(CONV(SUBSTR(SHA1(CONCAT_WS('#', IFNULL(IF(INSTR("), "{sql}");
        assert!(sql.contains(", IFNULL(LENGTH(`t`), 'N'), `t`)), 1, 16), 16, 10) AS UNSIGNED)), 0) FROM `s`.`t` WHERE `d` > 1"), "{sql}");
        let n = Column { nullable: false, ..Column::new("n", SqlType::Int) };
        assert_eq!(hash_args(&n, true), "`n`");
        assert_eq!(hash_args(&Column { nullable: true, ..n.clone() }, true), "IFNULL(`n`, 'N')");
        assert!(alike(&t4, &t4) && !alike(&t, &t4));
    }

    #[test]
    fn binlog_key_values_read_as_the_server_writes_them() {
        let i = Column::new("i", SqlType::BigInt);
        assert_eq!(key_text_of(&i, &Value::Int(-5)).as_deref(), Some("-5"));
        let u = Column { unsigned: true, ..Column::new("u", SqlType::BigInt) };
        assert_eq!(key_text_of(&u, &Value::Int(-1)).as_deref(), Some("18446744073709551615"));
        let s = Column { charset: Some("utf8mb4".into()), ..Column::new("s", SqlType::VarChar(9)) };
        assert_eq!(key_text_of(&s, &Value::Bytes(b"K\xc3\xa9".as_slice().into())).as_deref(), Some("Ké"));
        let l = Column { charset: Some("latin1".into()), ..Column::new("l", SqlType::VarChar(9)) };
        assert_eq!(key_text_of(&l, &Value::Bytes(b"x".as_slice().into())), None);
        let ts = Column::new("ts", SqlType::Timestamp(0));
        let v = Value::Timestamp(otter_binlog::temporal::Timestamp { seconds: 86_400 + 3_661, micros: 5, fsp: 6 });
        assert_eq!(key_text_of(&ts, &v).as_deref(), Some("1970-01-02 01:01:01.000005"));
    }
}
