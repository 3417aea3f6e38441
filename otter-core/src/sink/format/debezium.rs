//! The `debezium` line format: Debezium's MySQL change-event envelope, payload only (as with
//! `value.converter.schemas.enable=false`).
//!
//! Row change: `before` / `after` (`null` when the kind has no such image), `source`, `op` (`c`
//! insert, `u` update, `d` delete) and `ts_ms` (time the line was made). `source` holds `version`
//! (otter's), `connector` (`"mysql"`), `name` (the pipeline's name, Debezium's logical server
//! name), `ts_ms` (source commit time, ms), `snapshot` (`"false"`: otter streams the binlog),
//! `db`, `table`, `server_id`, `gtid` (or `null`), `file` and `pos` (where the transaction begins
//! in the binlog) and `row` (the change's index in the transaction).
//!
//! Values use otter's JSON mapping ([`crate::json`]) rather than Kafka Connect's logical types:
//! DECIMAL is an exact string (like `decimal.handling.mode=string`), temporal values are text
//! (DATE `YYYY-MM-DD`, DATETIME `YYYY-MM-DD hh:mm:ss[.f]`, TIMESTAMP `YYYY-MM-DDThh:mm:ss[.f]Z`),
//! binary data `{"hex": ".."}`. Columns left out of a MINIMAL image and MariaDB's hidden
//! long-unique hash columns are omitted.
//!
//! ```json
//! {"before":{"id":1,"amount":"9.50"},"after":{"id":1,"amount":"12.00"},"source":{"version":"0.1.0","connector":"mysql","name":"shop_to_dw","ts_ms":1767225600000,"snapshot":"false","db":"shop","table":"orders","server_id":1,"gtid":"0-1-42","file":"mysql-bin.000001","pos":1234,"row":0},"op":"u","ts_ms":1767225600123}
//! ```
//!
//! DDL becomes a schema-change event like Debezium's schema history topic: `source` (as above,
//! `table` the first table or `null`, `row` 0), `ts_ms`, `databaseName` (the first table's
//! database, else the statement's default database), `schemaName` (`null`), `ddl` (the text) and
//! `tableChanges`: one `{"type", "id"}` per table the statement changed, `type` being `CREATE`
//! (CREATE TABLE), `DROP` (DROP TABLE) or `ALTER` (anything else), `id` Debezium's quoted
//! `"db"."table"`. Unlike Debezium, the changed table's column definitions are not included.
//!
//! ```json
//! {"source":{"version":"0.1.0","connector":"mysql","name":"shop_to_dw","ts_ms":1767225601000,"snapshot":"false","db":"shop","table":"orders","server_id":1,"gtid":"0-1-43","file":"mysql-bin.000001","pos":2000,"row":0},"ts_ms":1767225601050,"databaseName":"shop","schemaName":null,"ddl":"ALTER TABLE orders ADD note TEXT","tableChanges":[{"type":"ALTER","id":"\"shop\".\"orders\""}]}
//! ```

use serde_json::{json, Value as Json};

use super::{commit_ms, ddl_verb, row_object, Context};
use crate::change::{ChangeKind, DdlEvent, RowChange, TxnMeta};

fn source(ctx: &Context<'_>, meta: &TxnMeta, db: &str, table: Option<&str>, row: u64) -> Json {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "connector": "mysql",
        "name": ctx.pipeline,
        "ts_ms": commit_ms(meta),
        "snapshot": "false",
        "db": db,
        "table": table,
        "server_id": meta.server_id,
        "gtid": meta.gtid,
        "file": meta.begin.file,
        "pos": meta.begin.offset,
        "row": row,
    })
}

/// One row change.
pub fn change(ctx: &Context<'_>, meta: &TxnMeta, c: &RowChange) -> Json {
    let op = match c.kind {
        ChangeKind::Insert => "c",
        ChangeKind::Update => "u",
        ChangeKind::Delete => "d",
        ChangeKind::Snapshot => "r",
    };
    json!({
        "before": c.before.as_ref().map(|r| row_object(c, r)),
        "after": c.after.as_ref().map(|r| row_object(c, r)),
        "source": source(ctx, meta, &c.table.db, Some(&c.table.name), c.id.row),
        "op": op,
        "ts_ms": ctx.now_ms,
    })
}

/// One DDL statement as a schema-change event.
pub fn ddl(ctx: &Context<'_>, d: &DdlEvent) -> Json {
    let (verb, object) = ddl_verb(&d.statement);
    let kind = match (verb.as_str(), object.as_str()) {
        ("CREATE", "TABLE") => "CREATE",
        ("DROP", "TABLE") => "DROP",
        _ => "ALTER",
    };
    let first = d.tables.first();
    let db = first.map_or(d.schema.as_str(), |(db, _)| db.as_str());
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let changes: Vec<Json> = d.tables.iter().map(|(db, t)| json!({"type": kind, "id": format!("{}.{}", quote(db), quote(t))})).collect();
    json!({
        "source": source(ctx, &d.meta, db, first.map(|(_, t)| t.as_str()), 0),
        "ts_ms": ctx.now_ms,
        "databaseName": db,
        "schemaName": null,
        "ddl": d.statement,
        "tableChanges": changes,
    })
}
