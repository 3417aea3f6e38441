//! The `otter` line format (default): [`crate::json::change_json`] plus the transaction's
//! metadata, and [`crate::json::ddl_json`] for DDL.
//!
//! Row change (`kind` is `insert`, `update` or `delete`; `before`/`after` are `null` when the kind
//! has no such image; `key` lists the identifying key's columns, `changed` the columns an update
//! changed; `txn` is where the transaction begins in the source binlog and `row` the change's
//! index in it, so `(txn, row)` identifies the change):
//!
//! ```json
//! {"table":"shop.orders","kind":"update","key":["id"],"before":{"id":1,"amount":"9.50"},"after":{"id":1,"amount":"12.00"},"changed":["amount"],"gtid":"0-1-42","server_id":1,"commit_ts":1767225600,"txn":"mysql-bin.000001:1234","row":0}
//! ```
//!
//! DDL (`position` is where a reader resumes after it; `tables` what it changed):
//!
//! ```json
//! {"kind":"ddl","gtid":"0-1-43","server_id":1,"begin":"mysql-bin.000001:2000","commit_ts":1767225601,"position":{"coord":"mysql-bin.000001:2200","gtid":"mariadb:0-1-43"},"ddl":"ALTER TABLE orders ADD note TEXT","schema":"shop","tables":["shop.orders"]}
//! ```

use serde_json::{json, Map, Value as Json};

use crate::change::{DdlEvent, RowChange, TxnMeta};
use crate::json::{change_json, ddl_json};

/// One row change.
pub fn change(meta: &TxnMeta, c: &RowChange) -> Json {
    let mut obj = match change_json(c) {
        Json::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("change".into(), other);
            m
        }
    };
    obj.insert("gtid".into(), json!(meta.gtid));
    obj.insert("server_id".into(), json!(meta.server_id));
    obj.insert("commit_ts".into(), json!(meta.commit_ts));
    obj.insert("txn".into(), json!(c.id.txn.to_string()));
    obj.insert("row".into(), json!(c.id.row));
    Json::Object(obj)
}

/// One DDL statement.
pub fn ddl(d: &DdlEvent) -> Json {
    let mut obj = Map::new();
    obj.insert("kind".into(), json!("ddl"));
    if let Json::Object(m) = ddl_json(d) {
        obj.extend(m);
    }
    Json::Object(obj)
}
