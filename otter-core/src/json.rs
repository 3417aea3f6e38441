//! Captured changes as JSON: typed values by column type and character set, and the
//! per-transaction objects `otter tail` and the JSON-lines sink print.
//!
//! Value mapping: integers and floats are numbers (non-finite floats are strings); DECIMAL is an
//! exact string; DATE `YYYY-MM-DD`, TIME `[-]hh:mm:ss[.f]`, DATETIME `YYYY-MM-DD hh:mm:ss[.f]`,
//! TIMESTAMP UTC `YYYY-MM-DDThh:mm:ss[.f]Z`; text in UTF-8/ASCII/latin1 columns is a string,
//! binary or undecodable text is `{"hex": ".."}` (with `"charset"` for unsupported character
//! sets — never lossy); ENUM/SET print member names; MySQL JSON is embedded; GEOMETRY is
//! `{"srid", "wkb"}`; VECTOR an array. Columns a MINIMAL image left out are omitted from objects.

use otter_binlog::json::json_text;
use otter_binlog::Value;
use serde_json::{json, Map, Value as Json};

use crate::change::{DdlEvent, RowChange, TxnChunk};
use crate::position::Position;
use crate::schema::{Column, SqlType};

/// Renders one value of a column.
pub fn value_json(v: &Value<'_>, col: Option<&Column>) -> Json {
    match v {
        Value::Null | Value::Absent => Json::Null,
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => float_json(f.to_string().parse().unwrap_or(f64::from(*f))),
        Value::Double(d) => float_json(*d),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Year(y) => json!(y),
        Value::Date(d) => Json::String(d.to_string()),
        Value::Time(t) => Json::String(t.to_string()),
        Value::DateTime(t) => Json::String(t.to_string()),
        Value::Timestamp(t) => {
            let s = t.to_utc().to_string();
            Json::String(format!("{}Z", s.replacen(' ', "T", 1)))
        }
        Value::Bytes(b) => text_json(b, col),
        Value::Bit(b) => json!(b),
        Value::Enum(i) => match col.map(|c| &c.sql_type) {
            Some(SqlType::Enum(members)) if *i > 0 => {
                members.get(usize::from(*i) - 1).map(|m| Json::String(m.clone())).unwrap_or(json!(i))
            }
            Some(SqlType::Enum(_)) => Json::String(String::new()),
            _ => json!(i),
        },
        Value::Set(bits) => match col.map(|c| &c.sql_type) {
            Some(SqlType::Set(members)) => Json::String(
                members
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => json!(bits),
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
                .map(|c| {
                    let f = f32::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0), c.get(2).copied().unwrap_or(0), c.get(3).copied().unwrap_or(0)]);
                    float_json(f.to_string().parse().unwrap_or(f64::from(f)))
                })
                .collect(),
        ),
        Value::Compressed(b) => json!({"compressed_hex": hex(b)}),
    }
}

fn float_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
}

/// Text by the column's character set; binary data as hex.
fn text_json(b: &[u8], col: Option<&Column>) -> Json {
    let charset = col.and_then(|c| c.charset.as_deref());
    let binary = col.is_some_and(|c| {
        matches!(c.sql_type, SqlType::Binary(_) | SqlType::VarBinary(_) | SqlType::TinyBlob | SqlType::Blob | SqlType::MediumBlob | SqlType::LongBlob)
    }) || charset == Some("binary");
    if binary {
        return json!({"hex": hex(b)});
    }
    match charset.unwrap_or("utf8mb4") {
        "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => match std::str::from_utf8(b) {
            Ok(s) => Json::String(s.to_owned()),
            Err(_) => json!({"hex": hex(b)}),
        },
        "latin1" => Json::String(otter_binlog::latin1::decode(b)),
        other => json!({"hex": hex(b), "charset": other}),
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

/// A row image as `{column: value}` (absent columns omitted).
pub fn row_json(change: &RowChange, image: &[Value<'static>]) -> Json {
    let mut m = Map::new();
    for (i, v) in image.iter().enumerate() {
        if matches!(v, Value::Absent) {
            continue;
        }
        let col = change.table.columns.get(i);
        let name = col.map_or_else(|| format!("@{}", i + 1), |c| c.name.clone());
        m.insert(name, value_json(v, col));
    }
    Json::Object(m)
}

/// One row change: table, kind, key columns, images and the changed columns.
pub fn change_json(c: &RowChange) -> Json {
    let t = &c.table;
    let key: Vec<&str> = t.key_columns().unwrap_or(&[]).iter().filter_map(|&i| t.columns.get(i).map(|c| c.name.as_str())).collect();
    let changed: Vec<&str> = c.changed_columns().iter().filter_map(|&i| t.columns.get(i).map(|c| c.name.as_str())).collect();
    json!({
        "table": format!("{}.{}", t.db, t.name),
        "kind": c.kind,
        "key": key,
        "before": c.before.as_ref().map(|r| row_json(c, r)),
        "after": c.after.as_ref().map(|r| row_json(c, r)),
        "changed": changed,
    })
}

fn position_json(p: &Option<Position>) -> Json {
    p.as_ref().map_or(Json::Null, |p| serde_json::to_value(p).unwrap_or(Json::Null))
}

/// One transaction (or one chunk of a big one).
pub fn chunk_json(c: &TxnChunk) -> Json {
    let mut obj = json!({
        "gtid": c.meta.gtid,
        "server_id": c.meta.server_id,
        "begin": c.meta.begin.to_string(),
        "end": c.meta.end.as_ref().map(ToString::to_string),
        "commit_ts": c.meta.commit_ts,
        "position": position_json(&c.position),
        "changes": c.changes.iter().map(change_json).collect::<Vec<_>>(),
    });
    if c.index > 0 || !c.last {
        if let Some(o) = obj.as_object_mut() {
            o.insert("chunk".into(), json!(c.index));
            o.insert("last".into(), json!(c.last));
        }
    }
    obj
}

/// One DDL statement.
pub fn ddl_json(d: &DdlEvent) -> Json {
    json!({
        "gtid": d.meta.gtid,
        "server_id": d.meta.server_id,
        "begin": d.meta.begin.to_string(),
        "commit_ts": d.meta.commit_ts,
        "position": position_json(&Some(d.position.clone())),
        "ddl": d.statement,
        "schema": d.schema,
        "tables": d.tables.iter().map(|(db, t)| format!("{db}.{t}")).collect::<Vec<_>>(),
    })
}
