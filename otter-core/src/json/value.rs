//! Typed JSON for decoded binlog values: the one renderer behind captured changes (`otter tail`,
//! the JSON-lines sink and its formats) and `otter dump`.
//!
//! Mapping: integers, YEAR and BIT are numbers; DOUBLE is a number (non-finite floats are
//! strings); DECIMAL is an exact string; DATE `YYYY-MM-DD`, TIME `[-]hh:mm:ss[.f]`, DATETIME
//! `YYYY-MM-DD hh:mm:ss[.f]`; text and binary values as their column says ([`JsonColumn`]: a
//! string, or `{"hex": ".."}` — never lossy), a UTF-8 string or hex without a column; ENUM/SET
//! print member names when the column knows them, else the index/bitmap; MySQL JSON is embedded
//! (`{"json_error", "hex"}` when it does not decode), a partial JSON update is `{"json_diff"}`;
//! GEOMETRY is `{"srid", "wkb"}`; VECTOR an array; a compressed column `{"compressed_hex"}`.
//!
//! Where the two uses differ, the [`Style`] decides — captured changes ([`Style::CHANGES`]) are
//! meant for consumers, `otter dump` ([`Style::DUMP`]) shows the binlog as it is:
//!
//! | value                            | `CHANGES`                     | `DUMP`                        |
//! |----------------------------------|-------------------------------|-------------------------------|
//! | column left out of the image     | `null`                        | `{"absent": true}`            |
//! | FLOAT, VECTOR elements           | shortest decimal (`1.1`)      | the `f32` widened (`1.100000023841858`) |
//! | TIMESTAMP (UTC)                  | `YYYY-MM-DDThh:mm:ss[.f]Z`    | `YYYY-MM-DD hh:mm:ss[.f]`     |
//! | ENUM index 0 of a known ENUM     | `""`                          | `0`                           |
//!
//! Invariants: rendering never panics and never fails (what cannot be decoded is shown as hex);
//! the same value, column and style always give the same JSON.

use std::borrow::Cow;

use otter_binlog::json::json_text;
use otter_binlog::Value;
use serde_json::{json, Value as Json};

use crate::schema::{Column, SqlType};

/// How the renderer writes the values whose JSON form differs between captured changes and
/// `otter dump` (see the module docs' table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    absent_marker: bool,
    widened_floats: bool,
    sql_timestamps: bool,
    enum_zero_index: bool,
}

impl Style {
    /// Captured changes (`otter tail`, the JSON-lines sink): `null` for left-out columns, shortest
    /// floats, ISO-8601 UTC timestamps, `""` for the ENUM error value.
    pub const CHANGES: Style = Style { absent_marker: false, widened_floats: false, sql_timestamps: false, enum_zero_index: false };
    /// `otter dump`: `{"absent": true}`, floats widened exactly from `f32`, timestamps in MySQL
    /// notation (UTC), the ENUM error value as its index `0`.
    pub const DUMP: Style = Style { absent_marker: true, widened_floats: true, sql_timestamps: true, enum_zero_index: true };
}

/// The member names of an ENUM or SET column, as the column keeps them.
#[derive(Debug, Clone, Copy)]
pub enum Members<'a> {
    /// Names as text (the schema model).
    Text(&'a [String]),
    /// Names as the table map's bytes (shown lossily as UTF-8).
    Bytes(&'a [Box<[u8]>]),
}

impl<'a> Members<'a> {
    /// The name of member `i` (0-based).
    pub fn get(&self, i: usize) -> Option<Cow<'a, str>> {
        match *self {
            Members::Text(m) => m.get(i).map(|s| Cow::Borrowed(s.as_str())),
            Members::Bytes(m) => m.get(i).map(|b| String::from_utf8_lossy(b)),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Members::Text(m) => m.len(),
            Members::Bytes(m) => m.len(),
        }
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the renderer needs to know of a value's column: how its text and binary values read, and
/// its ENUM/SET members.
pub trait JsonColumn {
    /// A text or binary value of this column.
    fn text_json(&self, bytes: &[u8]) -> Json;
    /// The members of an ENUM (`set == false`) or SET (`set == true`) column; `None` when the
    /// column is not one or they are unknown.
    fn members(&self, set: bool) -> Option<Members<'_>>;
}

/// Schema columns (captured changes): text by the column's character set — UTF-8/ASCII columns a
/// string (hex when not valid UTF-8), latin1 decoded, other character sets
/// `{"hex", "charset"}`; binary types and the `binary` character set `{"hex"}`.
impl JsonColumn for Column {
    fn text_json(&self, b: &[u8]) -> Json {
        let charset = self.charset.as_deref();
        let binary = matches!(
            self.sql_type,
            SqlType::Binary(_) | SqlType::VarBinary(_) | SqlType::TinyBlob | SqlType::Blob | SqlType::MediumBlob | SqlType::LongBlob
        ) || charset == Some("binary");
        if binary {
            return json!({"hex": hex(b)});
        }
        match charset.unwrap_or("utf8mb4") {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => utf8_or_hex(b),
            "latin1" => Json::String(otter_binlog::latin1::decode(b)),
            other => json!({"hex": hex(b), "charset": other}),
        }
    }

    fn members(&self, set: bool) -> Option<Members<'_>> {
        match (&self.sql_type, set) {
            (SqlType::Enum(m), false) | (SqlType::Set(m), true) => Some(Members::Text(m)),
            _ => None,
        }
    }
}

/// Table-map columns (`otter dump`, which has no schema): only the collation id is known, so the
/// `binary` collation (63) is `{"hex"}` and anything else a string when it is valid UTF-8, else
/// `{"hex"}`; ENUM/SET members when the table map carries them (FULL metadata).
impl JsonColumn for otter_binlog::table_map::Column {
    fn text_json(&self, b: &[u8]) -> Json {
        if self.charset == Some(BINARY_COLLATION) {
            return json!({"hex": hex(b)});
        }
        utf8_or_hex(b)
    }

    fn members(&self, _set: bool) -> Option<Members<'_>> {
        self.members.as_deref().map(Members::Bytes)
    }
}

/// Collation id of the `binary` character set.
const BINARY_COLLATION: u16 = 63;

/// Renders one value of `col` in `style`.
pub fn render<C: JsonColumn + ?Sized>(v: &Value<'_>, col: Option<&C>, style: Style) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Absent if style.absent_marker => json!({"absent": true}),
        Value::Absent => Json::Null,
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => f32_json(*f, style),
        Value::Double(d) => float_json(*d),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Year(y) => json!(y),
        Value::Date(d) => Json::String(d.to_string()),
        Value::Time(t) => Json::String(t.to_string()),
        Value::DateTime(t) => Json::String(t.to_string()),
        Value::Timestamp(t) if style.sql_timestamps => Json::String(t.to_utc().to_string()),
        Value::Timestamp(t) => Json::String(format!("{}Z", t.to_utc().to_string().replacen(' ', "T", 1))),
        Value::Bytes(b) => col.map_or_else(|| utf8_or_hex(b), |c| c.text_json(b)),
        Value::Bit(b) => json!(b),
        Value::Enum(i) => match col.and_then(|c| c.members(false)) {
            Some(m) if *i > 0 => m.get(usize::from(*i) - 1).map_or_else(|| json!(i), |s| Json::String(s.into_owned())),
            Some(_) if !style.enum_zero_index => Json::String(String::new()),
            _ => json!(i),
        },
        Value::Set(bits) => match col.and_then(|c| c.members(true)) {
            Some(m) => {
                let names: Vec<Cow<'_, str>> = (0..m.len().min(64)).filter(|i| bits & (1u64 << i) != 0).filter_map(|i| m.get(i)).collect();
                Json::String(names.join(","))
            }
            None => json!(bits),
        },
        Value::Json(b) if b.is_empty() => Json::Null,
        Value::Json(b) => match json_text(b) {
            Ok(text) => serde_json::from_str(&text).unwrap_or(Json::String(text)),
            Err(e) => json!({"json_error": e.to_string(), "hex": hex(b)}),
        },
        Value::JsonDiff(b) => {
            let mut text = String::new();
            match otter_binlog::json_diff::write_json_diffs_text(b, &mut text) {
                Ok(()) => json!({"json_diff": text}),
                Err(e) => json!({"json_error": e.to_string(), "hex": hex(b)}),
            }
        }
        Value::Geometry(b) => {
            let (srid, wkb) = b.split_at(b.len().min(4));
            let mut s = [0u8; 4];
            for (d, x) in s.iter_mut().zip(srid) {
                *d = *x;
            }
            json!({"srid": u32::from_le_bytes(s), "wkb": hex(wkb)})
        }
        Value::Vector(b) => Json::Array(
            b.chunks_exact(4)
                .map(|c| f32_json(<[u8; 4]>::try_from(c).map_or(0.0, f32::from_le_bytes), style))
                .collect(),
        ),
        Value::Compressed(b) => json!({"compressed_hex": hex(b)}),
    }
}

/// A FLOAT: its shortest decimal (`1.1`), or with [`Style::DUMP`] the `f32` widened exactly.
fn f32_json(f: f32, style: Style) -> Json {
    if style.widened_floats {
        float_json(f64::from(f))
    } else {
        float_json(f.to_string().parse().unwrap_or(f64::from(f)))
    }
}

fn float_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
}

/// A string when `b` is valid UTF-8, else `{"hex"}`.
fn utf8_or_hex(b: &[u8]) -> Json {
    match std::str::from_utf8(b) {
        Ok(s) => Json::String(s.to_owned()),
        Err(_) => json!({"hex": hex(b)}),
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

#[cfg(test)]
mod tests;
