//! Data types as written in column definitions (`INT(11) UNSIGNED`, `NATIONAL VARCHAR(10)`,
//! `ENUM('a','b')`, `TEXT(100) CHARACTER SET latin1 BINARY`, ...) and `information_schema`
//! `COLUMN_TYPE` strings.
//!
//! Invariants: synonyms are resolved to one [`SqlType`] (INTEGER → Int, BOOL → TinyInt,
//! NUMERIC → Decimal, REAL → Double, FLOAT(p>24) → Double, LONG → MediumText, ...); display
//! widths are dropped; out-of-range sizes the server rejects are errors, sizes it silently adjusts
//! are adjusted the same way (DECIMAL(0) → DECIMAL(10,0), BIT(0) → BIT(1)). Anything depending on
//! the character set (TEXT(n), over-long VARCHAR, JSON on MariaDB) is left to `resolve`.

use crate::schema::ddl::ast::TypeSpec;
use crate::schema::ddl::lexer::{self, LexOptions};
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::DdlError;
use crate::schema::sql_type::{ColumnType, SqlType};

const GEOMETRY_TYPES: [&str; 9] = [
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
];

fn spec(sql_type: SqlType) -> TypeSpec {
    TypeSpec {
        sql_type,
        text_length: None,
        unsigned: false,
        zerofill: false,
        binary: false,
        charset: None,
        collation: None,
        serial: false,
    }
}

fn national(sql_type: SqlType) -> TypeSpec {
    TypeSpec {
        charset: Some("utf8mb3".into()),
        ..spec(sql_type)
    }
}

fn to_u32(p: &Parser, n: u64) -> Result<u32, DdlError> {
    u32::try_from(n).map_err(|_| p.error("length out of range"))
}

/// A data type with its UNSIGNED/ZEROFILL and character-set attributes.
pub(crate) fn data_type(p: &mut Parser) -> Result<TypeSpec, DdlError> {
    let name = p.ident()?;
    let Some(mut ty) = base_type(p, &name)? else {
        return Err(DdlError::Unsupported(format!("unknown data type {name}")));
    };
    type_attributes(p, &mut ty)?;
    Ok(ty)
}

/// Attributes that may follow a type: sign, zerofill, character set and collation.
fn type_attributes(p: &mut Parser, ty: &mut TypeSpec) -> Result<(), DdlError> {
    loop {
        if p.eat_kw("UNSIGNED") {
            ty.unsigned = true;
        } else if p.eat_kw("ZEROFILL") {
            ty.zerofill = true;
            ty.unsigned = true;
        } else if !p.eat_kw("SIGNED") && !char_attribute(p, ty)? {
            return Ok(());
        }
    }
}

/// One of BINARY, ASCII, UNICODE, BYTE, CHARACTER SET x, COLLATE x; false if none is next.
pub(crate) fn char_attribute(p: &mut Parser, ty: &mut TypeSpec) -> Result<bool, DdlError> {
    if p.eat_kw("BINARY") {
        ty.binary = true;
    } else if p.eat_kw("ASCII") {
        ty.charset = Some("latin1".into());
    } else if p.eat_kw("UNICODE") {
        ty.charset = Some("ucs2".into());
    } else if p.eat_kw("BYTE") {
        ty.charset = Some("binary".into());
    } else if p.eat_charset_kw() {
        match p.charset_name()? {
            crate::schema::ddl::ast::CharsetName::Named(cs) => ty.charset = Some(cs),
            crate::schema::ddl::ast::CharsetName::Default => {
                return Err(DdlError::Unsupported(
                    "CHARACTER SET DEFAULT on a column".into(),
                ))
            }
        }
    } else if p.eat_kw("COLLATE") {
        ty.collation = Some(p.collation_name()?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The type named `name` (already consumed) with its size arguments; `None` if the name is not
/// a type.
fn base_type(p: &mut Parser, name: &str) -> Result<Option<TypeSpec>, DdlError> {
    let upper = name.to_ascii_uppercase();
    let ty = match upper.as_str() {
        "TINYINT" | "INT1" => int(p, SqlType::TinyInt)?,
        "BOOL" | "BOOLEAN" => spec(SqlType::TinyInt),
        "SMALLINT" | "INT2" => int(p, SqlType::SmallInt)?,
        "MEDIUMINT" | "MIDDLEINT" | "INT3" => int(p, SqlType::MediumInt)?,
        "INT" | "INTEGER" | "INT4" => int(p, SqlType::Int)?,
        "BIGINT" | "INT8" => int(p, SqlType::BigInt)?,
        "SERIAL" => TypeSpec {
            unsigned: true,
            serial: true,
            ..spec(SqlType::BigInt)
        },
        "DECIMAL" | "DEC" | "NUMERIC" | "FIXED" => decimal(p)?,
        "FLOAT" => float(p)?,
        "FLOAT4" => spec(SqlType::Float),
        "FLOAT8" => spec(SqlType::Double),
        "DOUBLE" => {
            p.eat_kw("PRECISION");
            skip_precision(p)?;
            spec(SqlType::Double)
        }
        "REAL" => {
            skip_precision(p)?;
            spec(if p.real_as_float {
                SqlType::Float
            } else {
                SqlType::Double
            })
        }
        "BIT" => spec(SqlType::Bit(bits(p)?)),
        "DATE" => spec(SqlType::Date),
        "TIME" => spec(SqlType::Time(fsp(p)?)),
        "DATETIME" => spec(SqlType::DateTime(fsp(p)?)),
        "TIMESTAMP" => spec(SqlType::Timestamp(fsp(p)?)),
        "YEAR" => {
            optional_length(p)?;
            spec(SqlType::Year)
        }
        "CHAR" | "CHARACTER" => char_type(p, false)?,
        "NCHAR" => char_type(p, true)?,
        "NATIONAL" => {
            if p.eat_kw("VARCHAR") || p.eat_kw("VARCHARACTER") {
                national(SqlType::VarChar(required_length(p)?))
            } else if p.eat_kw("CHAR") || p.eat_kw("CHARACTER") {
                char_type(p, true)?
            } else {
                return Err(p.error("expected CHAR or VARCHAR after NATIONAL"));
            }
        }
        "VARCHAR" | "VARCHARACTER" => spec(SqlType::VarChar(required_length(p)?)),
        "NVARCHAR" => national(SqlType::VarChar(required_length(p)?)),
        "LONG" => long_type(p)?,
        "BINARY" => spec(SqlType::Binary(optional_length(p)?.unwrap_or(1))),
        "VARBINARY" => spec(SqlType::VarBinary(required_length(p)?)),
        "TINYBLOB" => spec(SqlType::TinyBlob),
        "BLOB" => TypeSpec {
            text_length: optional_length64(p)?,
            ..spec(SqlType::Blob)
        },
        "MEDIUMBLOB" => spec(SqlType::MediumBlob),
        "LONGBLOB" => spec(SqlType::LongBlob),
        "TINYTEXT" => spec(SqlType::TinyText),
        "TEXT" => TypeSpec {
            text_length: optional_length64(p)?,
            ..spec(SqlType::Text)
        },
        "MEDIUMTEXT" => spec(SqlType::MediumText),
        "LONGTEXT" => spec(SqlType::LongText),
        "ENUM" => spec(SqlType::Enum(members(p)?)),
        "SET" => spec(SqlType::Set(members(p)?)),
        "JSON" => spec(SqlType::Json),
        "INET4" => spec(SqlType::Inet4),
        "INET6" => spec(SqlType::Inet6),
        "UUID" => spec(SqlType::Uuid),
        "VECTOR" => spec(SqlType::Vector(required_length(p)?)),
        _ => {
            let lower = upper.to_ascii_lowercase();
            if GEOMETRY_TYPES.contains(&lower.as_str()) {
                spec(SqlType::Geometry(lower))
            } else {
                return Ok(None);
            }
        }
    };
    Ok(Some(ty))
}

fn int(p: &mut Parser, ty: SqlType) -> Result<TypeSpec, DdlError> {
    optional_length(p)?;
    Ok(spec(ty))
}

fn optional_length64(p: &mut Parser) -> Result<Option<u64>, DdlError> {
    if p.is_punct("(") {
        Ok(Some(p.paren_number()?))
    } else {
        Ok(None)
    }
}

fn optional_length(p: &mut Parser) -> Result<Option<u32>, DdlError> {
    match optional_length64(p)? {
        Some(n) => Ok(Some(to_u32(p, n)?)),
        None => Ok(None),
    }
}

fn required_length(p: &mut Parser) -> Result<u32, DdlError> {
    let n = p.paren_number()?;
    to_u32(p, n)
}

/// `(p[,s])`: returns the numbers (none, one or two).
fn precision(p: &mut Parser) -> Result<(Option<u64>, Option<u64>), DdlError> {
    if !p.eat_punct("(") {
        return Ok((None, None));
    }
    let m = p.number()?;
    let d = if p.eat_punct(",") {
        Some(p.number()?)
    } else {
        None
    };
    p.expect_punct(")")?;
    Ok((Some(m), d))
}

fn skip_precision(p: &mut Parser) -> Result<(), DdlError> {
    precision(p).map(|_| ())
}

fn decimal(p: &mut Parser) -> Result<TypeSpec, DdlError> {
    let (m, d) = precision(p)?;
    let precision = match m.unwrap_or(10) {
        0 => 10,
        m => m,
    };
    let scale = d.unwrap_or(0);
    if precision > 65 || scale > 38 || scale > precision {
        return Err(p.error(format!("invalid DECIMAL({precision},{scale})")));
    }
    // Both fit in u8: checked above.
    Ok(spec(SqlType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    }))
}

fn float(p: &mut Parser) -> Result<TypeSpec, DdlError> {
    match precision(p)? {
        (Some(m), None) if m > 53 => Err(p.error(format!("invalid FLOAT({m})"))),
        (Some(m), None) if m > 24 => Ok(spec(SqlType::Double)),
        _ => Ok(spec(SqlType::Float)),
    }
}

fn bits(p: &mut Parser) -> Result<u8, DdlError> {
    match optional_length64(p)? {
        None | Some(0) => Ok(1),
        Some(n @ 1..=64) => Ok(n as u8),
        Some(n) => Err(p.error(format!("invalid BIT({n})"))),
    }
}

fn fsp(p: &mut Parser) -> Result<u8, DdlError> {
    match optional_length64(p)? {
        None => Ok(0),
        Some(n @ 0..=6) => Ok(n as u8),
        Some(n) => Err(p.error(format!("invalid fractional seconds precision {n}"))),
    }
}

/// After CHAR/CHARACTER/NCHAR: `VARYING(n)`, `VARCHAR(n)` or `[(n)]`.
fn char_type(p: &mut Parser, national_charset: bool) -> Result<TypeSpec, DdlError> {
    let ty = if p.eat_kw("VARYING")
        || (national_charset && (p.eat_kw("VARCHAR") || p.eat_kw("VARCHARACTER")))
    {
        SqlType::VarChar(required_length(p)?)
    } else {
        let n = optional_length(p)?.unwrap_or(1);
        if n > 255 {
            return Err(p.error(format!("CHAR({n}) is longer than 255")));
        }
        SqlType::Char(n)
    };
    Ok(if national_charset {
        national(ty)
    } else {
        spec(ty)
    })
}

/// `LONG`, `LONG VARCHAR`, `LONG CHAR VARYING`, `LONG VARBINARY`.
fn long_type(p: &mut Parser) -> Result<TypeSpec, DdlError> {
    if p.eat_kw("VARBINARY") {
        return Ok(spec(SqlType::MediumBlob));
    }
    if !(p.eat_kw("VARCHAR") || p.eat_kw("VARCHARACTER")) {
        p.eat_kws(&["CHAR", "VARYING"]);
    }
    Ok(spec(SqlType::MediumText))
}

/// `('a', 'b', ...)`: members with trailing spaces removed, as the server stores them.
fn members(p: &mut Parser) -> Result<Vec<String>, DdlError> {
    p.expect_punct("(")?;
    let mut values = Vec::new();
    loop {
        let value = p.string()?;
        values.push(value.trim_end_matches(' ').to_owned());
        if !p.eat_punct(",") {
            break;
        }
    }
    p.expect_punct(")")?;
    Ok(values)
}

/// The smallest TEXT (or BLOB) type holding `bytes`; `TEXT(0)` means TEXT.
pub(crate) fn sized_lob(bytes: u64, blob: bool) -> SqlType {
    let size = match bytes {
        0 => 2,
        1..=255 => 1,
        256..=65_535 => 2,
        65_536..=16_777_215 => 3,
        _ => 4,
    };
    match (size, blob) {
        (1, true) => SqlType::TinyBlob,
        (2, true) => SqlType::Blob,
        (3, true) => SqlType::MediumBlob,
        (_, true) => SqlType::LongBlob,
        (1, false) => SqlType::TinyText,
        (2, false) => SqlType::Text,
        (3, false) => SqlType::MediumText,
        (_, false) => SqlType::LongText,
    }
}

/// Parses an `information_schema.COLUMNS.COLUMN_TYPE` string; a type name this model does not
/// know becomes [`SqlType::Other`] with the whole (lower-cased) string.
pub(crate) fn parse_column_type(text: &str) -> Result<ColumnType, DdlError> {
    let tokens = lexer::tokens(text, LexOptions::DEFAULT)?;
    let mut p = Parser::new(text, tokens, true, false);
    let name = p.ident()?;
    let Some(mut ty) = base_type(&mut p, &name)? else {
        return Ok(ColumnType {
            sql_type: SqlType::Other(text.trim().to_lowercase()),
            unsigned: false,
            zerofill: false,
        });
    };
    type_attributes(&mut p, &mut ty)?;
    p.expect_end()?;
    let sql_type = match (ty.text_length, &ty.sql_type) {
        (Some(n), SqlType::Blob) => sized_lob(n, true),
        (Some(n), _) => sized_lob(n, false),
        (None, t) => t.clone(),
    };
    Ok(ColumnType {
        sql_type,
        unsigned: ty.unsigned,
        zerofill: ty.zerofill,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> TypeSpec {
        let opts = LexOptions {
            ansi_quotes: false,
            no_backslash_escapes: false,
            mariadb: true,
            server_version: None,
        };
        let tokens = lexer::tokens(text, opts).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut p = Parser::new(text, tokens, true, false);
        let t = data_type(&mut p).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(p.at_end(), "{text}: left over");
        t
    }

    #[test]
    fn synonyms() {
        assert_eq!(ty("INTEGER(11)").sql_type, SqlType::Int);
        assert_eq!(ty("BOOLEAN").sql_type, SqlType::TinyInt);
        assert_eq!(
            ty("NUMERIC").sql_type,
            SqlType::Decimal {
                precision: 10,
                scale: 0
            }
        );
        assert_eq!(
            ty("DEC(5)").sql_type,
            SqlType::Decimal {
                precision: 5,
                scale: 0
            }
        );
        assert_eq!(
            ty("FIXED(0,0)").sql_type,
            SqlType::Decimal {
                precision: 10,
                scale: 0
            }
        );
        assert_eq!(ty("REAL").sql_type, SqlType::Double);
        assert_eq!(ty("DOUBLE PRECISION(10,2)").sql_type, SqlType::Double);
        assert_eq!(ty("FLOAT(24)").sql_type, SqlType::Float);
        assert_eq!(ty("FLOAT(25)").sql_type, SqlType::Double);
        assert_eq!(ty("LONG VARCHAR").sql_type, SqlType::MediumText);
        assert_eq!(ty("LONG").sql_type, SqlType::MediumText);
        assert_eq!(ty("LONG VARBINARY").sql_type, SqlType::MediumBlob);
        assert_eq!(ty("CHARACTER VARYING(3)").sql_type, SqlType::VarChar(3));
        assert_eq!(ty("CHAR").sql_type, SqlType::Char(1));
        assert_eq!(ty("BIT").sql_type, SqlType::Bit(1));
        assert_eq!(ty("MIDDLEINT").sql_type, SqlType::MediumInt);
        assert_eq!(
            ty("MultiPolygon").sql_type,
            SqlType::Geometry("multipolygon".into())
        );
    }

    #[test]
    fn national_and_char_attributes() {
        let t = ty("NATIONAL CHARACTER VARYING(4)");
        assert_eq!(
            (t.sql_type, t.charset.as_deref()),
            (SqlType::VarChar(4), Some("utf8mb3"))
        );
        let t = ty("NCHAR VARCHAR(2) BINARY");
        assert_eq!((t.sql_type, t.binary), (SqlType::VarChar(2), true));
        let t = ty("VARCHAR(5) CHARACTER SET 'UTF8' COLLATE utf8_bin");
        assert_eq!(
            (t.charset.as_deref(), t.collation.as_deref()),
            (Some("utf8mb3"), Some("utf8mb3_bin"))
        );
        assert_eq!(ty("CHAR BYTE").charset.as_deref(), Some("binary"));
        assert_eq!(ty("TEXT(100) ASCII").text_length, Some(100));
        let t = ty("SERIAL");
        assert!(t.serial && t.unsigned);
        assert!(ty("INT(5) ZEROFILL").unsigned);
    }

    #[test]
    fn enum_members_lose_trailing_spaces() {
        assert_eq!(
            ty(r"ENUM('a ', ' b  ', 'c\'d', 'e''f', _utf8mb4 'g' 'h')").sql_type,
            SqlType::Enum(vec![
                "a".into(),
                " b".into(),
                "c'd".into(),
                "e'f".into(),
                "gh".into()
            ])
        );
    }

    #[test]
    fn lob_sizes() {
        assert_eq!(sized_lob(255, false), SqlType::TinyText);
        assert_eq!(sized_lob(256, true), SqlType::Blob);
        assert_eq!(sized_lob(0, false), SqlType::Text);
        assert_eq!(sized_lob(65_536, false), SqlType::MediumText);
        assert_eq!(sized_lob(1 << 24, true), SqlType::LongBlob);
    }
}
