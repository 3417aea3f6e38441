//! The built-in transforms on changes captured from a real MariaDB: shard tables
//! `shop.order_00..03` and `shop.users`, a workload of inserts, updates, deletes and an `ALTER`
//! on one shard, captured with `MysqlSource`, then routed, narrowed/renamed, filtered and widened.

mod common;

use std::sync::Arc;

use common::{collect_until, start, txn_count};
use otter_core::change::{ChangeId, Event, RowChange};
use otter_core::json::change_json;
use otter_core::position::Position;
use otter_core::traits::{Batch, Transform};
use otter_core::transform::{build, build_all, TransformConfig};
use otter_testkit::{MariaDb, ServerConfig};
use serde_json::{json, Value as Json};

const ROW_TXNS: usize = 8;

/// Starts a server, creates the tables, runs the workload and captures it as one batch.
async fn captured() -> (MariaDb, Batch) {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    let mut ddl = String::from("CREATE DATABASE shop;");
    for i in 0..4 {
        ddl.push_str(&format!("CREATE TABLE shop.order_{i:02} (id INT PRIMARY KEY, user_id INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(20));"));
    }
    ddl.push_str("CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(64) NOT NULL, password_hash VARCHAR(64), name VARCHAR(32));");
    db.sql(&ddl).unwrap();
    for sql in [
        "BEGIN; INSERT INTO shop.order_00 VALUES (1, 10, 9.50, 'a'); INSERT INTO shop.order_01 VALUES (2, 11, 12.00, 'b'); COMMIT",
        "INSERT INTO shop.order_02 VALUES (3, 12, 0.99, NULL)",
        "INSERT INTO shop.users VALUES (10, 'a@x', 'h1', 'Ann'), (11, 'b@x', 'h2', 'Bob')",
        "UPDATE shop.order_00 SET amount = 10.00, note = 'a2' WHERE id = 1",
        "DELETE FROM shop.order_01 WHERE id = 2",
        "UPDATE shop.users SET email = 'a2@x', password_hash = 'h3' WHERE id = 10",
        "USE shop; ALTER TABLE order_03 ADD COLUMN extra INT NOT NULL DEFAULT 0 COMMENT 'order_03 /* not a name */'",
        "INSERT INTO shop.order_03 VALUES (4, 13, 1.25, 'd', 7)",
        "DELETE FROM shop.users WHERE id = 11",
    ] {
        db.sql(sql).unwrap();
    }
    let mut source = start(&db.url(), "earliest");
    let events = collect_until(&mut source, 60, |e| txn_count(e) == ROW_TXNS).await;
    let position = events.iter().rev().find_map(|e| e.position().cloned());
    let source_time = events.iter().map(Event::source_time).max().unwrap_or(0);
    (db, Batch { seq: 1, events, position, source_time, committed: None })
}

fn changes(b: &Batch) -> Vec<&RowChange> {
    b.events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(c) => Some(c.changes.iter()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn ids(b: &Batch) -> Vec<ChangeId> {
    changes(b).iter().map(|c| c.id.clone()).collect()
}

fn positions(b: &Batch) -> Vec<Option<Position>> {
    b.events.iter().map(|e| e.position().cloned()).collect()
}

fn ddls(b: &Batch) -> Vec<(String, Vec<(String, String)>)> {
    b.events
        .iter()
        .filter_map(|e| match e {
            Event::Ddl(d) => Some((d.statement.clone(), d.tables.clone())),
            _ => None,
        })
        .collect()
}

/// `(table, kind, image)` of every change (after image, before for deletes).
fn summary(b: &Batch) -> Vec<(String, String, Json)> {
    changes(b)
        .iter()
        .map(|c| {
            let j = change_json(c);
            let img = if j["after"].is_null() { j["before"].clone() } else { j["after"].clone() };
            (j["table"].as_str().unwrap().to_owned(), j["kind"].as_str().unwrap().to_owned(), img)
        })
        .collect()
}

fn apply(cfgs: Json, b: &Batch) -> Batch {
    let cfgs: Vec<TransformConfig> = serde_json::from_value(cfgs).unwrap();
    let mut out = b.clone();
    build_all(&cfgs).unwrap().apply(&mut out).unwrap();
    assert_eq!(out.seq, b.seq);
    assert_eq!(out.position, b.position);
    assert_eq!(positions(&out), positions(b), "event positions are untouched");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_on_captured_changes() {
    let (_db, batch) = captured().await;
    let original = summary(&batch);
    assert_eq!(original.len(), 10);

    // Route: shards into dw.orders, users into crm.users_copy (first match wins).
    let routed = apply(
        json!([
            {"kind": "route", "from": "shop.order_*", "to": "dw.orders"},
            {"kind": "route", "from": "shop\\.(users|order_.*)", "to": "crm.$1_copy"},
        ]),
        &batch,
    );
    assert_eq!(ids(&routed), ids(&batch));
    let tables: Vec<String> = summary(&routed).into_iter().map(|s| s.0).collect();
    assert_eq!(
        tables,
        ["dw.orders", "dw.orders", "dw.orders", "crm.users_copy", "crm.users_copy", "dw.orders", "dw.orders", "crm.users_copy", "dw.orders", "crm.users_copy"]
    );
    let images: Vec<Json> = summary(&routed).into_iter().map(|s| s.2).collect();
    assert_eq!(images, original.iter().map(|s| s.2.clone()).collect::<Vec<_>>(), "values untouched");
    let rc = changes(&routed);
    assert!(Arc::ptr_eq(&rc[0].table, &rc[5].table), "rows of order_00 share one routed schema");
    assert!(!Arc::ptr_eq(&rc[0].table, &rc[1].table), "order_01 has its own");
    let ddl = ddls(&routed);
    let alter = ddl.iter().find(|d| d.0.starts_with("ALTER")).unwrap();
    assert_eq!(alter.0, "ALTER TABLE `dw`.`orders` ADD COLUMN extra INT NOT NULL DEFAULT 0 COMMENT 'order_03 /* not a name */'");
    assert_eq!(alter.1, [("dw".to_owned(), "orders".to_owned())]);
    let creates: Vec<&String> = ddl.iter().map(|d| &d.0).filter(|s| s.starts_with("CREATE TABLE")).collect();
    assert_eq!(creates.len(), 5);
    assert!(creates[..4].iter().all(|s| s.starts_with("CREATE TABLE `dw`.`orders` (id INT")), "{creates:?}");
    assert!(creates[4].starts_with("CREATE TABLE `crm`.`users_copy` ("), "{}", creates[4]);
    assert!(ddl.iter().any(|d| d.0 == "CREATE DATABASE shop" && d.1.is_empty()), "database DDL passes unchanged");

    // Columns: users lose password_hash, email becomes mail; orders keep only id and amount.
    let narrowed = apply(
        json!([
            {"kind": "columns", "table": "shop.users", "exclude": ["PASSWORD_HASH"], "rename": {"email": "mail"}},
            {"kind": "columns", "table": "shop.order_*", "include": ["id", "amount"]},
        ]),
        &batch,
    );
    assert_eq!(ids(&narrowed), ids(&batch));
    let s = summary(&narrowed);
    assert_eq!(s[0], ("shop.order_00".into(), "insert".into(), json!({"id": 1, "amount": "9.50"})));
    assert_eq!(s[3].2, json!({"id": 10, "mail": "a@x", "name": "Ann"}));
    let upd = change_json(changes(&narrowed)[7]);
    assert_eq!(upd["before"], json!({"id": 10, "mail": "a@x", "name": "Ann"}));
    assert_eq!(upd["after"], json!({"id": 10, "mail": "a2@x", "name": "Ann"}));
    assert_eq!(upd["changed"], json!(["mail"]));
    assert_eq!(upd["key"], json!(["id"]));
    assert_eq!(s[8].2, json!({"id": 4, "amount": "1.25"}), "the altered shard too");
    let cfg: TransformConfig = serde_json::from_value(json!({"kind": "columns", "table": "*.users", "exclude": ["id"]})).unwrap();
    let err = build(&cfg).unwrap().apply(&mut batch.clone()).unwrap_err();
    assert!(err.to_string().contains("column id of shop.users"), "{err}");

    // Filter: deletes and DDL dropped, every transaction boundary and position kept.
    let filtered = apply(json!([{"kind": "filter", "drop": ["delete", "ddl"]}]), &batch);
    assert_eq!(filtered.events.len(), batch.events.len());
    assert!(summary(&filtered).iter().all(|s| s.1 != "delete"));
    assert_eq!(summary(&filtered).len(), 8);
    assert!(filtered.events.iter().all(|e| !matches!(e, Event::Ddl(_))));
    let emptied = filtered.events.iter().filter(|e| matches!(e, Event::Rows(c) if c.changes.is_empty() && c.last && c.position.is_some())).count();
    assert_eq!(emptied, 2, "the two delete transactions remain, empty");
    let kept: Vec<ChangeId> = changes(&batch).iter().filter(|c| c.kind != otter_core::change::ChangeKind::Delete).map(|c| c.id.clone()).collect();
    assert_eq!(ids(&filtered), kept);
    let only_user_inserts = apply(json!([{"kind": "filter", "keep": ["insert"], "table": "shop.users"}]), &batch);
    let kinds: Vec<(String, String)> = summary(&only_user_inserts).into_iter().map(|s| (s.0, s.1)).collect();
    assert!(kinds.iter().filter(|k| k.0 == "shop.users").all(|k| k.1 == "insert"));
    assert!(kinds.contains(&("shop.order_01".into(), "delete".into())), "other tables are not filtered");
    assert_eq!(ddls(&only_user_inserts).len(), ddls(&batch).len() - 1, "only users' DDL is dropped");

    // add_column: a constant source column on every image.
    let widened = apply(json!([{"kind": "add_column", "name": "source", "value": "eu-1", "sql_type": "varchar(16)"}]), &batch);
    assert_eq!(ids(&widened), ids(&batch));
    for c in changes(&widened) {
        assert_eq!(c.table.columns.last().map(|c| c.name.as_str()), Some("source"));
        let j = change_json(c);
        for img in ["before", "after"] {
            if !j[img].is_null() {
                assert_eq!(j[img]["source"], "eu-1", "{j}");
            }
        }
    }
    assert_eq!(summary(&widened)[2].2, json!({"id": 3, "user_id": 12, "amount": "0.99", "note": null, "source": "eu-1"}));
}
