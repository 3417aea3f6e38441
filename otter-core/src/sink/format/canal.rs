//! The `canal` line format: Canal's FlatMessage (as Canal's MQ connectors write it), one change
//! per message, so `data` (and `old`) hold one element.
//!
//! Fields: `id` (the pipeline's batch number, like Canal's message id: not unique across
//! restarts), `database`, `table`, `pkNames` (the identifying key's columns, `null` when the table
//! has none), `isDdl`, `type` (`INSERT`, `UPDATE`, `DELETE`; for DDL `CREATE`, `ALTER`, `ERASE`
//! (DROP TABLE), `RENAME`, `TRUNCATE`, `CINDEX` (CREATE INDEX), `DINDEX` (DROP INDEX) or
//! `QUERY`), `es` (source commit time, ms), `ts` (time the line was made, ms), `sql` (the DDL
//! text, `""` for rows), `sqlType` (`java.sql.Types` code per column), `mysqlType` (column type
//! text per column), `data` (`[{column: value}]`: the after image, the before image for deletes)
//! and `old` (updates only: `[{changed column: old value}]`, `null` when nothing changed and for
//! other kinds). Type codes and texts: see `canal_types` (in this module's source).
//!
//! Values, like Canal, are strings (or `null`): integers, YEAR and BIT in decimal; FLOAT/DOUBLE
//! as their shortest round-trip decimal; DECIMAL exact; DATE `YYYY-MM-DD`, TIME
//! `[-]hh:mm:ss[.f]`, DATETIME `YYYY-MM-DD hh:mm:ss[.f]`, TIMESTAMP the same form in **UTC**;
//! text as text; BINARY/VARBINARY/BLOB and spatial values as ISO-8859-1 (each byte one
//! character U+0000–U+00FF, as Canal does); ENUM/SET member names; JSON its text; text in an
//! unsupported character set the compact JSON of `{"hex":..,"charset":..}`. Columns left out
//! of a MINIMAL row image and MariaDB's hidden long-unique hash columns are omitted.
//!
//! ```json
//! {"id":3,"database":"shop","table":"orders","pkNames":["id"],"isDdl":false,"type":"UPDATE","es":1767225600000,"ts":1767225600123,"sql":"","sqlType":{"id":4,"amount":3},"mysqlType":{"id":"int","amount":"decimal(10,2)"},"data":[{"id":"1","amount":"12.00"}],"old":[{"amount":"9.50"}]}
//! {"id":4,"database":"shop","table":"orders","pkNames":null,"isDdl":true,"type":"ALTER","es":1767225601000,"ts":1767225601050,"sql":"ALTER TABLE orders ADD note TEXT","sqlType":null,"mysqlType":null,"data":null,"old":null}
//! ```

use otter_binlog::Value;
use serde_json::{json, Map, Value as Json};

use super::canal_types::{mysql_type, sql_type};
use super::{commit_ms, ddl_verb, visible, Context};
use crate::change::{ChangeKind, DdlEvent, RowChange, TxnMeta};
use crate::json::value_json;
use crate::schema::{Column, SqlType};

/// One row change as a FlatMessage.
pub fn change(ctx: &Context<'_>, meta: &TxnMeta, c: &RowChange) -> Json {
    let t = &c.table;
    let (kind, image) = match c.kind {
        // Canal has no kind for a snapshot read; its own full loads send INSERTs.
        ChangeKind::Insert | ChangeKind::Snapshot => ("INSERT", c.after.as_deref()),
        ChangeKind::Update => ("UPDATE", c.after.as_deref()),
        ChangeKind::Delete => ("DELETE", c.before.as_deref()),
    };
    let image = image.unwrap_or(&[]);
    let mut data = Map::new();
    let mut sql_types = Map::new();
    let mut mysql_types = Map::new();
    for (_, name, col, v) in visible(c, image) {
        if let Some(col) = col {
            sql_types.insert(name.clone(), json!(sql_type(col, v)));
            mysql_types.insert(name.clone(), json!(mysql_type(col)));
        }
        data.insert(name, value_text(v, col));
    }
    let old = match (c.kind, &c.before) {
        (ChangeKind::Update, Some(before)) => {
            let changed = c.changed_columns();
            let old: Map<String, Json> =
                visible(c, before).filter(|(i, ..)| changed.contains(i)).map(|(_, name, col, v)| (name, value_text(v, col))).collect();
            if old.is_empty() {
                Json::Null
            } else {
                json!([old])
            }
        }
        _ => Json::Null,
    };
    let pk: Vec<&str> = t.key_columns().unwrap_or(&[]).iter().filter_map(|&i| t.columns.get(i).map(|c| c.name.as_str())).collect();
    json!({
        "id": ctx.seq,
        "database": t.db,
        "table": t.name,
        "pkNames": if pk.is_empty() { Json::Null } else { json!(pk) },
        "isDdl": false,
        "type": kind,
        "es": commit_ms(meta),
        "ts": ctx.now_ms,
        "sql": "",
        "sqlType": sql_types,
        "mysqlType": mysql_types,
        "data": [data],
        "old": old,
    })
}

/// One DDL statement as a FlatMessage: `database`/`table` are its first table's (the statement's
/// default database and `""` when it names none).
pub fn ddl(ctx: &Context<'_>, d: &DdlEvent) -> Json {
    let (db, table) = d.tables.first().map_or((d.schema.as_str(), ""), |(db, t)| (db.as_str(), t.as_str()));
    json!({
        "id": ctx.seq,
        "database": db,
        "table": table,
        "pkNames": null,
        "isDdl": true,
        "type": ddl_type(&d.statement),
        "es": commit_ms(&d.meta),
        "ts": ctx.now_ms,
        "sql": d.statement,
        "sqlType": null,
        "mysqlType": null,
        "data": null,
        "old": null,
    })
}

/// Canal's event type of a DDL statement.
pub(crate) fn ddl_type(statement: &str) -> &'static str {
    let (verb, object) = ddl_verb(statement);
    match (verb.as_str(), object.as_str()) {
        ("CREATE", "TABLE") => "CREATE",
        ("CREATE", "INDEX") => "CINDEX",
        ("ALTER", "TABLE") => "ALTER",
        ("DROP", "TABLE") => "ERASE",
        ("DROP", "INDEX") => "DINDEX",
        ("RENAME", _) => "RENAME",
        ("TRUNCATE", _) => "TRUNCATE",
        _ => "QUERY",
    }
}

fn is_binary(col: Option<&Column>) -> bool {
    col.is_some_and(|c| {
        matches!(c.sql_type, SqlType::Binary(_) | SqlType::VarBinary(_) | SqlType::TinyBlob | SqlType::Blob | SqlType::MediumBlob | SqlType::LongBlob)
            || c.charset.as_deref() == Some("binary")
    })
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&x| char::from(x)).collect()
}

/// A value as Canal writes it: a string, or `null`.
pub fn value_text(v: &Value<'_>, col: Option<&Column>) -> Json {
    let text = match v {
        Value::Null | Value::Absent => return Json::Null,
        Value::Timestamp(t) => t.to_utc().to_string(),
        Value::Bytes(b) if is_binary(col) => latin1(b),
        Value::Geometry(b) => latin1(b),
        other => match value_json(other, col) {
            Json::Null => return Json::Null,
            Json::String(s) => s,
            Json::Bool(b) => u8::from(b).to_string(),
            Json::Number(n) => n.to_string(),
            structured => structured.to_string(),
        },
    };
    Json::String(text)
}
