//! SQL types: the normalised type of a column, parsing `information_schema` type strings, and
//! what the server writes for each type in the binlog.
//!
//! Invariants: one variant per type the server distinguishes in row images (synonyms and display
//! widths are gone); [`SqlType::binlog_type_code`] is the type code the server writes in TABLE_MAP
//! events (checked against MariaDB's own binlog by the live test).

use serde::{Deserialize, Serialize};

use crate::schema::ddl::{self, DdlError};

/// A column's SQL type, normalised (synonyms resolved, display widths dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    /// TINYINT (also BOOL/BOOLEAN).
    TinyInt,
    /// SMALLINT.
    SmallInt,
    /// MEDIUMINT.
    MediumInt,
    /// INT / INTEGER.
    Int,
    /// BIGINT (also SERIAL).
    BigInt,
    /// DECIMAL / NUMERIC / DEC / FIXED.
    Decimal {
        /// Total digits (1..=65).
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// FLOAT (also FLOAT(p) with p <= 24).
    Float,
    /// DOUBLE / REAL / DOUBLE PRECISION (also FLOAT(p) with p > 24).
    Double,
    /// BIT(n), n in 1..=64.
    Bit(u8),
    /// DATE.
    Date,
    /// TIME(fsp).
    Time(u8),
    /// DATETIME(fsp).
    DateTime(u8),
    /// TIMESTAMP(fsp).
    Timestamp(u8),
    /// YEAR.
    Year,
    /// CHAR(n), n in characters.
    Char(u32),
    /// VARCHAR(n), n in characters.
    VarChar(u32),
    /// BINARY(n), n in bytes.
    Binary(u32),
    /// VARBINARY(n), n in bytes.
    VarBinary(u32),
    /// TINYBLOB.
    TinyBlob,
    /// BLOB.
    Blob,
    /// MEDIUMBLOB.
    MediumBlob,
    /// LONGBLOB.
    LongBlob,
    /// TINYTEXT.
    TinyText,
    /// TEXT.
    Text,
    /// MEDIUMTEXT.
    MediumText,
    /// LONGTEXT (also MariaDB's JSON).
    LongText,
    /// ENUM with its members in order (trailing spaces removed, as the server does).
    Enum(Vec<String>),
    /// SET with its members in order.
    Set(Vec<String>),
    /// MySQL's native JSON type.
    Json,
    /// A spatial type, by lower-case name: `geometry`, `point`, `linestring`, ...
    Geometry(String),
    /// MariaDB INET4.
    Inet4,
    /// MariaDB INET6.
    Inet6,
    /// MariaDB UUID.
    Uuid,
    /// MySQL 9 VECTOR(n), n dimensions.
    Vector(u32),
    /// A type this model does not know, by its lower-case name.
    Other(String),
}

/// A parsed `information_schema.COLUMNS.COLUMN_TYPE` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    /// The type.
    pub sql_type: SqlType,
    /// UNSIGNED (or ZEROFILL, which implies it).
    pub unsigned: bool,
    /// ZEROFILL.
    pub zerofill: bool,
}

impl SqlType {
    /// Parses an `information_schema.COLUMNS.COLUMN_TYPE` string such as `int(10) unsigned`,
    /// `decimal(12,2)`, `enum('a','b''c')` or `datetime(6)`. MariaDB reports its JSON columns as
    /// `longtext`, which parses as [`SqlType::LongText`].
    pub fn parse(column_type: &str) -> Result<ColumnType, DdlError> {
        ddl::parse_column_type(column_type)
    }

    /// The column type code the server writes for this type in TABLE_MAP events
    /// (`Field::binlog_type()`), or `None` for [`SqlType::Other`].
    ///
    /// DATE is written as DATE (10) and the temporal types as their fractional-second "2" forms:
    /// TIME2 (19), DATETIME2 (18), TIMESTAMP2 (17). All TEXT/BLOB sizes are BLOB (252) with the
    /// size in the metadata; CHAR, BINARY, ENUM and SET are STRING (254) with the real type in the
    /// metadata. MariaDB-specific: INET4, INET6 and UUID are STRING (254) and JSON is LONGTEXT
    /// (252). MySQL-specific: JSON (245), VECTOR (242).
    pub fn binlog_type_code(&self) -> Option<u8> {
        use SqlType::*;
        Some(match self {
            TinyInt => 1,
            SmallInt => 2,
            Int => 3,
            Float => 4,
            Double => 5,
            BigInt => 8,
            MediumInt => 9,
            Date => 10,
            Year => 13,
            VarChar(_) | VarBinary(_) => 15,
            Bit(_) => 16,
            Timestamp(_) => 17,
            DateTime(_) => 18,
            Time(_) => 19,
            Vector(_) => 242,
            Json => 245,
            Decimal { .. } => 246,
            TinyBlob | Blob | MediumBlob | LongBlob | TinyText | Text | MediumText | LongText => {
                252
            }
            Char(_) | Binary(_) | Enum(_) | Set(_) | Inet4 | Inet6 | Uuid => 254,
            Geometry(_) => 255,
            Other(_) => return None,
        })
    }

    /// The metadata the server writes for this type in TABLE_MAP events, in the form
    /// `otter_binlog::table_map::Column::meta` holds it; `mbmaxlen` is the longest character of
    /// the column's character set in bytes (1 for binary strings). `None` for the types whose
    /// metadata this model cannot give (JSON, spatial, INET/UUID, VECTOR, unknown) and for a CHAR
    /// wider than the format's 1,023 bytes.
    pub fn binlog_meta(&self, mbmaxlen: u32) -> Option<u16> {
        use SqlType::*;
        let string = |bytes: u32| -> Option<u16> {
            let len = u16::try_from(bytes).ok().filter(|&l| l < 1024)?;
            Some((u16::from(0xfe_u8 ^ ((len & 0x300) >> 4) as u8) << 8) | (len & 0xff))
        };
        Some(match self {
            TinyInt | SmallInt | MediumInt | Int | BigInt | Date | Year => 0,
            Float => 4,
            Double => 8,
            Decimal { precision, scale } => u16::from(*precision) << 8 | u16::from(*scale),
            Bit(n) => ((u16::from(*n) / 8) << 8) | (u16::from(*n) % 8),
            Time(fsp) | DateTime(fsp) | Timestamp(fsp) => u16::from(*fsp),
            VarChar(n) => u16::try_from(n.checked_mul(mbmaxlen)?).ok()?,
            VarBinary(n) => u16::try_from(*n).ok()?,
            Char(n) => string(n.checked_mul(mbmaxlen)?)?,
            Binary(n) => string(*n)?,
            TinyBlob | TinyText => 1,
            Blob | Text => 2,
            MediumBlob | MediumText => 3,
            LongBlob | LongText => 4,
            Enum(m) => 0xf7 << 8 | if m.len() < 256 { 1 } else { 2 },
            // MySQL's get_set_pack_length: 1, 2, 3, 4 or 8 bytes.
            Set(m) => 0xf8 << 8 | match m.len().div_ceil(8) { n @ 0..=4 => n.max(1) as u16, _ => 8 },
            Json | Geometry(_) | Inet4 | Inet6 | Uuid | Vector(_) | Other(_) => return None,
        })
    }

    /// Whether values of this type carry a character set (CHAR, VARCHAR, TEXT types, ENUM, SET).
    pub fn is_text(&self) -> bool {
        use SqlType::*;
        matches!(
            self,
            Char(_) | VarChar(_) | TinyText | Text | MediumText | LongText | Enum(_) | Set(_)
        )
    }

    /// Whether the server stores this type like a BLOB (TEXT/BLOB types, JSON, spatial types):
    /// such columns can only be indexed by prefix.
    pub fn is_blob_like(&self) -> bool {
        use SqlType::*;
        matches!(
            self,
            TinyBlob
                | Blob
                | MediumBlob
                | LongBlob
                | TinyText
                | Text
                | MediumText
                | LongText
                | Json
                | Geometry(_)
        )
    }

    /// The declared length of a CHAR/VARCHAR (characters) or BINARY/VARBINARY (bytes) column.
    pub fn char_length(&self) -> Option<u32> {
        match self {
            SqlType::Char(n) | SqlType::VarChar(n) | SqlType::Binary(n) | SqlType::VarBinary(n) => {
                Some(*n)
            }
            _ => None,
        }
    }

    /// Bytes this type contributes to an index key when indexed whole, given the column's
    /// maximum bytes per character; `None` for BLOB-like and unknown types.
    pub fn key_byte_length(&self, mbmaxlen: u32) -> Option<u64> {
        use SqlType::*;
        let fsp_bytes = |fsp: u8| u64::from(fsp).div_ceil(2);
        Some(match self {
            TinyInt | Year => 1,
            SmallInt => 2,
            MediumInt | Date => 3,
            Int | Float | Inet4 => 4,
            BigInt | Double => 8,
            Inet6 | Uuid => 16,
            Decimal { precision, scale } => decimal_bytes(*precision, *scale),
            Bit(n) => u64::from(*n).div_ceil(8),
            Time(f) => 3 + fsp_bytes(*f),
            DateTime(f) => 5 + fsp_bytes(*f),
            Timestamp(f) => 4 + fsp_bytes(*f),
            Char(n) | VarChar(n) => u64::from(*n) * u64::from(mbmaxlen),
            Binary(n) | VarBinary(n) => u64::from(*n),
            Enum(v) => {
                if v.len() < 256 {
                    1
                } else {
                    2
                }
            }
            Set(v) => match v.len() {
                0..=8 => 1,
                9..=16 => 2,
                17..=24 => 3,
                25..=32 => 4,
                _ => 8,
            },
            Vector(n) => u64::from(*n) * 4,
            _ => return None,
        })
    }
}

/// Storage bytes of DECIMAL(precision, scale): 4 bytes per 9 digits on each side of the point.
fn decimal_bytes(precision: u8, scale: u8) -> u64 {
    const PARTIAL: [u64; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    let side =
        |digits: u64| (digits / 9) * 4 + PARTIAL.get((digits % 9) as usize).copied().unwrap_or(4);
    let scale = u64::from(scale);
    side(u64::from(precision).saturating_sub(scale)) + side(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_information_schema_column_types() {
        let p = |s: &str| SqlType::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            p("int(10) unsigned"),
            ColumnType {
                sql_type: SqlType::Int,
                unsigned: true,
                zerofill: false
            }
        );
        assert_eq!(
            p("bigint(20) unsigned zerofill"),
            ColumnType {
                sql_type: SqlType::BigInt,
                unsigned: true,
                zerofill: true
            }
        );
        assert_eq!(
            p("decimal(12,2)").sql_type,
            SqlType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        assert_eq!(p("varchar(64)").sql_type, SqlType::VarChar(64));
        assert_eq!(
            p("enum('a','b''c')").sql_type,
            SqlType::Enum(vec!["a".into(), "b'c".into()])
        );
        assert_eq!(
            p("set('x','y')").sql_type,
            SqlType::Set(vec!["x".into(), "y".into()])
        );
        assert_eq!(p("datetime(6)").sql_type, SqlType::DateTime(6));
        assert_eq!(p("timestamp").sql_type, SqlType::Timestamp(0));
        assert_eq!(p("char(10)").sql_type, SqlType::Char(10));
        assert_eq!(p("binary(16)").sql_type, SqlType::Binary(16));
        assert_eq!(p("longtext").sql_type, SqlType::LongText);
        assert_eq!(p("json").sql_type, SqlType::Json);
        assert_eq!(p("inet6").sql_type, SqlType::Inet6);
        assert_eq!(p("uuid").sql_type, SqlType::Uuid);
        assert_eq!(p("point").sql_type, SqlType::Geometry("point".into()));
        assert_eq!(p("bit(64)").sql_type, SqlType::Bit(64));
        assert_eq!(p("year(4)").sql_type, SqlType::Year);
        assert_eq!(p("double").sql_type, SqlType::Double);
        assert_eq!(p("float").sql_type, SqlType::Float);
        assert_eq!(p("tinyint(1)").sql_type, SqlType::TinyInt);
        assert_eq!(p("float(7,3)").sql_type, SqlType::Float);
        assert!(p("double(10,2) unsigned").unsigned);
    }

    #[test]
    fn rejects_garbage_column_types() {
        for bad in [
            "",
            "int(",
            "varchar",
            "enum('a'",
            "int unsigned garbage",
            "decimal(70,2)",
            "bit(65)",
        ] {
            assert!(SqlType::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            SqlType::parse("Frob(3)").map(|t| t.sql_type).ok(),
            Some(SqlType::Other("frob(3)".into()))
        );
    }

    #[test]
    fn binlog_codes_of_mariadb_types() {
        assert_eq!(SqlType::Inet6.binlog_type_code(), Some(254));
        assert_eq!(SqlType::LongText.binlog_type_code(), Some(252));
        assert_eq!(SqlType::Other("x".into()).binlog_type_code(), None);
        // Metadata as MariaDB writes it (mariadb-binlog -vv prints the same numbers).
        assert_eq!(SqlType::VarChar(20).binlog_meta(4), Some(80));
        assert_eq!(SqlType::Char(10).binlog_meta(3), Some(0xfe1e));
        assert_eq!(SqlType::Char(255).binlog_meta(4), Some(0xce_fc)); // 1,020 bytes: two bits in byte 0
        assert_eq!(SqlType::Char(256).binlog_meta(4), None);
        assert_eq!(SqlType::Decimal { precision: 10, scale: 2 }.binlog_meta(1), Some(2562));
        assert_eq!(SqlType::Bit(19).binlog_meta(1), Some(0x0203));
        assert_eq!(SqlType::Set((0..20).map(|i| i.to_string()).collect()).binlog_meta(1), Some(0xf803));
        assert_eq!(SqlType::Set((0..33).map(|i| i.to_string()).collect()).binlog_meta(1), Some(0xf808));
        assert_eq!(SqlType::Enum(vec!["a".into()]).binlog_meta(1), Some(0xf701));
        assert_eq!(SqlType::DateTime(6).binlog_meta(1), Some(6));
        assert_eq!(SqlType::MediumText.binlog_meta(4), Some(3));
        assert_eq!(SqlType::Json.binlog_meta(1), None);
    }

    #[test]
    fn decimal_storage_bytes() {
        // MySQL manual: DECIMAL(18,9) takes 8 bytes, DECIMAL(20,6) takes 10 (4+2 + 3+1... = 14 digits → 7, 6 → 3).
        assert_eq!(decimal_bytes(18, 9), 8);
        assert_eq!(decimal_bytes(20, 6), 10);
        assert_eq!(decimal_bytes(10, 0), 5);
    }
}
