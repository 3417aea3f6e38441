//! Column types as TABLE_MAP events declare them, their metadata, and the decode plan ([`Kind`])
//! computed once per table map so that row decoding is a single `match` per value.
//!
//! Invariant: a `Kind` is only built from a known type with well-formed metadata; anything else is
//! an error at TABLE_MAP time, so row decoding never meets an undecodable column plan.

use crate::error::{invalid, ErrorKind, ParseError, Result};
use crate::reader::{OrTruncated, Reader};

macro_rules! column_types {
    ($($variant:ident = $code:literal,)*) => {
        /// A column type code (`enum_field_types`) as written in TABLE_MAP events.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum ColumnType { $($variant,)* }

        impl ColumnType {
            /// The type for a code, or `None` if unknown.
            pub const fn from_code(code: u8) -> Option<ColumnType> {
                match code { $($code => Some(ColumnType::$variant),)* _ => None }
            }
            /// The type code.
            pub const fn code(self) -> u8 {
                match self { $(ColumnType::$variant => $code,)* }
            }
        }
    };
}

column_types! {
    Decimal = 0, Tiny = 1, Short = 2, Long = 3, Float = 4, Double = 5, Null = 6, Timestamp = 7,
    LongLong = 8, Int24 = 9, Date = 10, Time = 11, DateTime = 12, Year = 13, NewDate = 14,
    VarChar = 15, Bit = 16, Timestamp2 = 17, DateTime2 = 18, Time2 = 19, TypedArray = 20,
    BlobCompressed = 140, VarCharCompressed = 141, Vector = 242, Json = 245, NewDecimal = 246,
    Enum = 247, Set = 248, TinyBlob = 249, MediumBlob = 250, LongBlob = 251, Blob = 252,
    VarString = 253, String = 254, Geometry = 255,
}

impl ColumnType {
    /// Numeric types covered by the SIGNEDNESS optional metadata.
    pub fn is_numeric(self) -> bool {
        use ColumnType::*;
        matches!(self, Tiny | Short | Int24 | Long | LongLong | Float | Double | NewDecimal | Decimal)
    }

    /// The type's name as `mariadb-binlog -v` prints it in its column comments.
    pub fn name(self) -> &'static str {
        use ColumnType::*;
        match self {
            Decimal => "OLD_DECIMAL",
            Tiny => "TINYINT",
            Short => "SHORTINT",
            Long => "INT",
            Float => "FLOAT",
            Double => "DOUBLE",
            Null => "NULL",
            Timestamp | Timestamp2 => "TIMESTAMP",
            LongLong => "LONGINT",
            Int24 => "MEDIUMINT",
            Date | NewDate => "DATE",
            Time | Time2 => "TIME",
            DateTime | DateTime2 => "DATETIME",
            Year => "YEAR",
            VarChar | VarString | VarCharCompressed => "VARSTRING",
            Bit => "BIT",
            TypedArray => "TYPED_ARRAY",
            BlobCompressed | TinyBlob | MediumBlob | LongBlob | Blob => "BLOB",
            Vector => "VECTOR",
            Json => "JSON",
            NewDecimal => "DECIMAL",
            Enum => "ENUM",
            Set => "SET",
            String => "STRING",
            Geometry => "GEOMETRY",
        }
    }
}

/// How to decode one column's value: the type with its metadata already interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integer of 1, 2, 3, 4 or 8 bytes.
    Int(u8),
    /// 4-byte float.
    Float,
    /// 8-byte double.
    Double,
    /// Packed decimal (precision, scale).
    Decimal(u8, u8),
    /// YEAR (1 byte).
    Year,
    /// DATE (3 bytes).
    Date,
    /// Old TIME (3 bytes, HHMMSS).
    Time,
    /// TIME2 with fractional-second precision.
    Time2(u8),
    /// Old DATETIME (8 bytes, YYYYMMDDhhmmss).
    DateTime,
    /// DATETIME2 with fsp.
    DateTime2(u8),
    /// Old TIMESTAMP (4 bytes).
    Timestamp,
    /// TIMESTAMP2 with fsp.
    Timestamp2(u8),
    /// Length-prefixed string or binary (CHAR, VARCHAR, BINARY, VARBINARY) with 1 or 2 length bytes.
    String(u8),
    /// BLOB/TEXT with 1–4 length bytes.
    Blob(u8),
    /// MySQL binary JSON with 1–4 length bytes.
    Json(u8),
    /// GEOMETRY with 1–4 length bytes.
    Geometry(u8),
    /// VECTOR with 1–4 length bytes.
    Vector(u8),
    /// BIT: number of bits.
    Bit(u16),
    /// ENUM index in 1 or 2 bytes.
    Enum(u8),
    /// SET bitmap in 1–8 bytes.
    Set(u8),
    /// MariaDB compressed BLOB/TEXT (length bytes).
    CompressedBlob(u8),
    /// MariaDB compressed VARCHAR (length bytes).
    CompressedString(u8),
    /// NULL type: no bytes.
    Null,
    /// Pre-5.0 DECIMAL: the binlog lacks the metadata to decode it.
    OldDecimal,
}

/// Reads the table-map metadata of a column of type `t`.
pub(crate) fn read_meta(t: ColumnType, r: &mut Reader<'_>) -> Result<u16> {
    use ColumnType::*;
    Ok(match t {
        Float | Double | Blob | TinyBlob | MediumBlob | LongBlob | Geometry | Json | Vector | BlobCompressed
        | Timestamp2 | DateTime2 | Time2 => u16::from(r.u8().or_trunc("column metadata")?),
        VarChar | VarString | VarCharCompressed | Bit => r.u16_le().or_trunc("column metadata")?,
        NewDecimal | String | Enum | Set => {
            let hi = r.u8().or_trunc("column metadata")?;
            let lo = r.u8().or_trunc("column metadata")?;
            (u16::from(hi) << 8) | u16::from(lo)
        }
        TypedArray => return Err(ParseError::new(ErrorKind::UnknownColumnType(t.code()))),
        _ => 0,
    })
}

/// Splits a STRING column's metadata into its real type and byte length (MySQL packs ENUM, SET and
/// long CHAR lengths into it).
pub fn string_real_type(meta: u16) -> (u8, u16) {
    let byte0 = (meta >> 8) as u8;
    let byte1 = meta & 0xff;
    if meta < 256 {
        return (ColumnType::String.code(), meta);
    }
    if byte0 & 0x30 != 0x30 {
        // A CHAR longer than 255 bytes: two length bits are stored inverted in byte0.
        let len = byte1 | (u16::from((byte0 & 0x30) ^ 0x30) << 4);
        (byte0 | 0x30, len)
    } else {
        (byte0, byte1)
    }
}

/// The decode plan for a column of type `t` with metadata `meta`.
pub(crate) fn plan(t: ColumnType, meta: u16) -> Result<Kind> {
    use ColumnType::*;
    let lenbytes = |m: u16| -> Result<u8> {
        match m {
            1..=4 => Ok(m as u8),
            _ => Err(invalid("blob length size")),
        }
    };
    let fsp = |m: u16| -> Result<u8> {
        if m <= 6 {
            Ok(m as u8)
        } else {
            Err(invalid("fractional seconds precision"))
        }
    };
    Ok(match t {
        Tiny => Kind::Int(1),
        Short => Kind::Int(2),
        Int24 => Kind::Int(3),
        Long => Kind::Int(4),
        LongLong => Kind::Int(8),
        Float => Kind::Float,
        Double => Kind::Double,
        NewDecimal => {
            let (p, s) = ((meta >> 8) as u8, (meta & 0xff) as u8);
            crate::decimal::Decimal::binary_len(p, s).ok_or(invalid("decimal precision/scale"))?;
            Kind::Decimal(p, s)
        }
        Year => Kind::Year,
        Date | NewDate => Kind::Date,
        Time => Kind::Time,
        Time2 => Kind::Time2(fsp(meta)?),
        DateTime => Kind::DateTime,
        DateTime2 => Kind::DateTime2(fsp(meta)?),
        Timestamp => Kind::Timestamp,
        Timestamp2 => Kind::Timestamp2(fsp(meta)?),
        VarChar | VarString => Kind::String(if meta < 256 { 1 } else { 2 }),
        VarCharCompressed => Kind::CompressedString(if meta < 256 { 1 } else { 2 }),
        Blob | TinyBlob | MediumBlob | LongBlob => Kind::Blob(lenbytes(meta)?),
        BlobCompressed => Kind::CompressedBlob(lenbytes(meta)?),
        Json => Kind::Json(lenbytes(meta)?),
        Geometry => Kind::Geometry(lenbytes(meta)?),
        Vector => Kind::Vector(lenbytes(meta)?),
        Bit => {
            let bits = (meta >> 8).saturating_mul(8).saturating_add(meta & 0xff);
            if bits == 0 || bits > 64 {
                return Err(invalid("bit width"));
            }
            Kind::Bit(bits)
        }
        String => match string_real_type(meta) {
            (247, n @ 1..=2) => Kind::Enum(n as u8),
            (248, n @ 1..=8) => Kind::Set(n as u8),
            (254, n) => Kind::String(if n < 256 { 1 } else { 2 }),
            _ => return Err(invalid("string column metadata")),
        },
        Enum => match meta & 0xff {
            n @ 1..=2 => Kind::Enum(n as u8),
            _ => return Err(invalid("enum size")),
        },
        Set => match meta & 0xff {
            n @ 1..=8 => Kind::Set(n as u8),
            _ => return Err(invalid("set size")),
        },
        Null => Kind::Null,
        Decimal => Kind::OldDecimal,
        TypedArray => return Err(ParseError::new(ErrorKind::UnknownColumnType(t.code()))),
    })
}

impl Kind {
    /// True for columns that have a character set (covered by the charset optional metadata).
    pub fn is_character(self) -> bool {
        matches!(self, Kind::String(_) | Kind::Blob(_) | Kind::CompressedBlob(_) | Kind::CompressedString(_))
    }

    /// True for ENUM and SET columns.
    pub fn is_enum_or_set(self) -> bool {
        matches!(self, Kind::Enum(_) | Kind::Set(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_metadata() {
        // CHAR(10) latin1: real type 254, 10 bytes.
        assert_eq!(plan(ColumnType::String, 0xfe0a).unwrap(), Kind::String(1));
        // CHAR(100) utf8mb4 = 400 bytes: the length's high bits are folded into byte0.
        let len = 400u16;
        let byte0 = 0xfe ^ (((len >> 4) & 0x30) as u8);
        let meta = (u16::from(byte0) << 8) | (len & 0xff);
        assert_eq!(string_real_type(meta), (254, 400));
        assert_eq!(plan(ColumnType::String, meta).unwrap(), Kind::String(2));
        assert_eq!(plan(ColumnType::String, 0xf702).unwrap(), Kind::Enum(2));
        assert_eq!(plan(ColumnType::String, 0xf808).unwrap(), Kind::Set(8));
        assert!(plan(ColumnType::String, 0xf809).is_err());
    }

    #[test]
    fn bad_metadata_is_rejected() {
        assert!(plan(ColumnType::Blob, 5).is_err());
        assert!(plan(ColumnType::Time2, 7).is_err());
        assert!(plan(ColumnType::Bit, 0).is_err());
        assert!(plan(ColumnType::NewDecimal, (66 << 8) | 2).is_err());
        assert_eq!(plan(ColumnType::Bit, 8 << 8).unwrap(), Kind::Bit(64));
    }
}
