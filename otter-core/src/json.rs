//! Captured changes as JSON: typed values by column type and character set, and the
//! per-transaction objects `otter tail` and the JSON-lines sink print.
//!
//! Value mapping ([`value_json`], the [`Style::CHANGES`] of the one value renderer, [`render`],
//! which `otter dump` uses too): integers and floats are numbers (non-finite floats are strings);
//! DECIMAL is an exact string; DATE `YYYY-MM-DD`, TIME `[-]hh:mm:ss[.f]`, DATETIME
//! `YYYY-MM-DD hh:mm:ss[.f]`, TIMESTAMP UTC `YYYY-MM-DDThh:mm:ss[.f]Z`; text in UTF-8/ASCII/latin1
//! columns is a string, binary or undecodable text is `{"hex": ".."}` (with `"charset"` for
//! unsupported character sets — never lossy); ENUM/SET print member names; MySQL JSON is
//! embedded; GEOMETRY is `{"srid", "wkb"}`; VECTOR an array. Columns a MINIMAL image left out are
//! omitted from objects.

mod value;

use otter_binlog::Value;
use serde_json::{json, Map, Value as Json};

pub use self::value::{hex, render, JsonColumn, Members, Style};
use crate::change::{DdlEvent, RowChange, TxnChunk};
use crate::position::Position;
use crate::schema::Column;

/// Renders one value of a column in the style of captured changes ([`Style::CHANGES`]).
pub fn value_json(v: &Value<'_>, col: Option<&Column>) -> Json {
    render(v, col, Style::CHANGES)
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
