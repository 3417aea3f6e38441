//! Typed JSON for decoded binlog values, as `otter dump` prints them.
//!
//! Mapping: integers and floats are JSON numbers (non-finite floats are strings); DECIMAL is an
//! exact string; temporal values are strings in MySQL notation (TIMESTAMP in UTC); text is a JSON
//! string when it is valid UTF-8 and the column is not binary, otherwise `{"hex": ".."}`; ENUM/SET
//! print their member names when the table map carries them (else the index/bitmap); JSON columns
//! are embedded as JSON; a column missing from a MINIMAL/NOBLOB image is `{"absent": true}`.

use otter_binlog::json::json_text;
use otter_binlog::table_map::Column;
use otter_binlog::Value;
use serde_json::{json, Map, Value as Json};

/// Collation id of the `binary` character set.
const BINARY_COLLATION: u16 = 63;

/// Renders one value of `column` (the table-map column, for charset and ENUM/SET names).
pub fn value_json(v: &Value<'_>, column: Option<&Column>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Absent => json!({"absent": true}),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => float_json(f64::from(*f)),
        Value::Double(d) => float_json(*d),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Year(y) => json!(y),
        Value::Date(d) => Json::String(d.to_string()),
        Value::Time(t) => Json::String(t.to_string()),
        Value::DateTime(t) => Json::String(t.to_string()),
        Value::Timestamp(t) => Json::String(t.to_utc().to_string()),
        Value::Bytes(b) => bytes_json(b, column.and_then(|c| c.charset)),
        Value::Bit(b) => json!(b),
        Value::Enum(i) => match column.and_then(|c| c.members.as_ref()) {
            Some(m) if *i > 0 => m
                .get(usize::from(*i) - 1)
                .map(|s| Json::String(String::from_utf8_lossy(s).into_owned()))
                .unwrap_or(json!(i)),
            _ => json!(i),
        },
        Value::Set(bits) => match column.and_then(|c| c.members.as_ref()) {
            Some(m) => {
                let names: Vec<String> = m
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
                    .map(|(_, s)| String::from_utf8_lossy(s).into_owned())
                    .collect();
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
            let srid = u32::from_le_bytes([0, 1, 2, 3].map(|i| srid.get(i).copied().unwrap_or(0)));
            json!({"srid": srid, "wkb": hex(wkb)})
        }
        Value::Vector(b) => Json::Array(
            b.chunks_exact(4)
                .map(|c| float_json(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect(),
        ),
        Value::Compressed(b) => json!({"compressed_hex": hex(b)}),
    }
}

fn float_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
}

fn bytes_json(b: &[u8], charset: Option<u16>) -> Json {
    if charset != Some(BINARY_COLLATION) {
        if let Ok(s) = std::str::from_utf8(b) {
            return Json::String(s.to_owned());
        }
    }
    let mut m = Map::new();
    m.insert("hex".into(), Json::String(hex(b)));
    Json::Object(m)
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}
