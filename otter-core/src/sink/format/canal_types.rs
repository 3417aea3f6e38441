//! Canal's per-column type fields: `mysqlType` (the column type as text) and `sqlType` (the
//! `java.sql.Types` code Canal's LogEventConvert assigns).
//!
//! `sqlType` codes: TINYINT -6, SMALLINT 5, MEDIUMINT/INT 4, BIGINT -5, DECIMAL 3, FLOAT 7
//! (REAL), DOUBLE 8, BIT -7, DATE 91, TIME 92, DATETIME/TIMESTAMP 93, YEAR 12, CHAR 1, VARCHAR
//! 12, TEXT types 2005 (CLOB), BINARY/VARBINARY/BLOB types and spatial types 2004 (BLOB), ENUM 4,
//! SET -7, JSON 12, anything else 12. Like Canal, an UNSIGNED integer whose value does not fit the
//! signed type reports the next larger type: TINYINT → SMALLINT (5), SMALLINT → INTEGER (4),
//! INT → BIGINT (-5), BIGINT → DECIMAL (3).
//!
//! `mysqlType` is the type without display widths (otter's schema model does not keep them):
//! `int`, `int unsigned`, `varchar(64)`, `decimal(10,2)`, `datetime(6)`, `enum('a','b')`.

use otter_binlog::Value;

use crate::schema::{Column, SqlType};

/// The column type as text, e.g. `bigint unsigned`, `varchar(64)`, `enum('a','b')`.
pub(crate) fn mysql_type(col: &Column) -> String {
    use SqlType::*;
    let fsp = |name: &str, f: u8| if f > 0 { format!("{name}({f})") } else { name.to_owned() };
    let members = |name: &str, m: &[String]| {
        let quoted: Vec<String> = m.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect();
        format!("{name}({})", quoted.join(","))
    };
    let base = match &col.sql_type {
        TinyInt => "tinyint".into(),
        SmallInt => "smallint".into(),
        MediumInt => "mediumint".into(),
        Int => "int".into(),
        BigInt => "bigint".into(),
        Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        Float => "float".into(),
        Double => "double".into(),
        Bit(n) => format!("bit({n})"),
        Date => "date".into(),
        Time(f) => fsp("time", *f),
        DateTime(f) => fsp("datetime", *f),
        Timestamp(f) => fsp("timestamp", *f),
        Year => "year".into(),
        Char(n) => format!("char({n})"),
        VarChar(n) => format!("varchar({n})"),
        Binary(n) => format!("binary({n})"),
        VarBinary(n) => format!("varbinary({n})"),
        TinyBlob => "tinyblob".into(),
        Blob => "blob".into(),
        MediumBlob => "mediumblob".into(),
        LongBlob => "longblob".into(),
        TinyText => "tinytext".into(),
        Text => "text".into(),
        MediumText => "mediumtext".into(),
        LongText => "longtext".into(),
        Enum(m) => members("enum", m),
        Set(m) => members("set", m),
        Json => "json".into(),
        Geometry(name) | Other(name) => name.clone(),
        Inet4 => "inet4".into(),
        Inet6 => "inet6".into(),
        Uuid => "uuid".into(),
        Vector(n) => format!("vector({n})"),
    };
    if col.unsigned && is_numeric(&col.sql_type) {
        format!("{base} unsigned")
    } else {
        base
    }
}

fn is_numeric(t: &SqlType) -> bool {
    use SqlType::*;
    matches!(t, TinyInt | SmallInt | MediumInt | Int | BigInt | Decimal { .. } | Float | Double)
}

/// The `java.sql.Types` code of a column, given the value it has in this row.
pub(crate) fn sql_type(col: &Column, value: &Value<'_>) -> i32 {
    use SqlType::*;
    let big = |limit: u64| matches!(value, Value::UInt(u) if *u > limit);
    match &col.sql_type {
        TinyInt if big(i8::MAX as u64) => 5,
        TinyInt => -6,
        SmallInt if big(i16::MAX as u64) => 4,
        SmallInt => 5,
        MediumInt => 4,
        Int if big(i32::MAX as u64) => -5,
        Int => 4,
        BigInt if big(i64::MAX as u64) => 3,
        BigInt => -5,
        Decimal { .. } => 3,
        Float => 7,
        Double => 8,
        Bit(_) | Set(_) => -7,
        Date => 91,
        Time(_) => 92,
        DateTime(_) | Timestamp(_) => 93,
        Char(_) => 1,
        TinyText | Text | MediumText | LongText => 2005,
        Binary(_) | VarBinary(_) | TinyBlob | Blob | MediumBlob | LongBlob | Geometry(_) => 2004,
        Enum(_) => 4,
        Year | VarChar(_) | Json | Inet4 | Inet6 | Uuid | Vector(_) | Other(_) => 12,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::test_util::col;

    #[test]
    fn types_and_codes() {
        let mut c = col("a", SqlType::Int);
        assert_eq!(mysql_type(&c), "int");
        assert_eq!(sql_type(&c, &Value::Int(5)), 4);
        c.unsigned = true;
        assert_eq!(mysql_type(&c), "int unsigned");
        assert_eq!(sql_type(&c, &Value::UInt(4_000_000_000)), -5);
        let e = col("e", SqlType::Enum(vec!["a".into(), "it's".into()]));
        assert_eq!(mysql_type(&e), "enum('a','it''s')");
        assert_eq!(mysql_type(&col("d", SqlType::Decimal { precision: 10, scale: 2 })), "decimal(10,2)");
        assert_eq!(mysql_type(&col("t", SqlType::DateTime(0))), "datetime");
        assert_eq!(sql_type(&col("b", SqlType::VarBinary(4)), &Value::Null), 2004);
        assert_eq!(sql_type(&col("x", SqlType::Text), &Value::Null), 2005);
    }
}
