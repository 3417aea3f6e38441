//! Schema history, against a real MariaDB:
//! - a table goes through five ALTERs (add, change/rename, drop, rename + add FIRST, modify + key
//!   change) and a RENAME TABLE, interleaved with DML; captured from the beginning *after* all DDL
//!   ran, every row comes out with the column names and values it had when it was written;
//! - the same after restarting from a middle position with the persisted history;
//! - starting from a middle position *without* history, rows whose shape differs from the
//!   table's current definition stop the capture instead of landing in the wrong columns;
//! - starting after a `CREATE DATABASE`, a later `CREATE TABLE` in that database takes the
//!   database's defaults from the source (recorded in the history) and is emitted with its table;
//!   a database dropped since then gets the server's defaults.

mod common;

use common::{collect_until, config, expect_error, images, txn_count};
use otter_core::change::Event;
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_core::ErrorKind;
use otter_testkit::{MariaDb, ServerConfig};
use serde_json::json;

const SCRIPT: &[&str] = &[
    "CREATE DATABASE s",
    "CREATE TABLE s.t (id INT PRIMARY KEY, a VARCHAR(10))",
    "INSERT INTO s.t VALUES (1, 'a1')",
    "ALTER TABLE s.t ADD COLUMN b INT AFTER id",
    "INSERT INTO s.t VALUES (2, 20, 'a2')",
    "ALTER TABLE s.t CHANGE a alpha VARCHAR(20)",
    "INSERT INTO s.t VALUES (3, 30, 'a3')",
    "ALTER TABLE s.t DROP COLUMN b",
    "UPDATE s.t SET alpha = 'x1' WHERE id = 1",
    "ALTER TABLE s.t RENAME COLUMN alpha TO name, ADD COLUMN c DECIMAL(5,2) FIRST",
    "INSERT INTO s.t VALUES (1.50, 4, 'a4')",
    "ALTER TABLE s.t MODIFY c VARCHAR(8), DROP PRIMARY KEY, ADD PRIMARY KEY (id, name)",
    "INSERT INTO s.t VALUES ('z', 5, 'a5')",
    "DELETE FROM s.t WHERE id = 2",
    "RENAME TABLE s.t TO s.t2",
    "INSERT INTO s.t2 VALUES ('w', 6, 'a6')",
];

fn expected() -> Vec<serde_json::Value> {
    vec![
        json!({"id": 1, "a": "a1"}),
        json!({"id": 2, "b": 20, "a": "a2"}),
        json!({"id": 3, "b": 30, "alpha": "a3"}),
        json!({"id": 1, "alpha": "x1"}),
        json!({"c": "1.50", "id": 4, "name": "a4"}),
        json!({"c": "z", "id": 5, "name": "a5"}),
        json!({"c": null, "id": 2, "name": "a2"}),
        json!({"c": "w", "id": 6, "name": "a6"}),
    ]
}

fn run_script(db: &MariaDb) {
    for stmt in SCRIPT {
        db.sql(stmt).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_keep_the_names_they_had_when_written() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    run_script(&db);
    let state = tempfile::tempdir().unwrap();
    let options = SourceOptions { state_dir: Some(state.path().to_path_buf()), ..Default::default() };
    let mut source = MysqlSource::start(config(&db.url(), "earliest"), options);
    let events = collect_until(&mut source, 60, |e| txn_count(e) == 8).await;
    drop(source);
    assert_eq!(images(&events), expected());

    // Keys follow the history too: (id) first, (id, name) after the key change.
    let keys: Vec<serde_json::Value> = common::changes(&events).iter().map(|c| c["key"].clone()).collect();
    assert_eq!(keys[0], json!(["id"]));
    assert_eq!(keys[5], json!(["id", "name"]));
    let tables: Vec<serde_json::Value> = common::changes(&events).iter().map(|c| c["table"].clone()).collect();
    assert_eq!(tables[7], json!("s.t2"));

    // DDL statements come through in order, between the right transactions.
    let ddl: Vec<&str> = events.iter().filter_map(|e| if let Event::Ddl(d) = e { Some(d.statement.as_str()) } else { None }).collect();
    assert_eq!(ddl.len(), 8, "{ddl:?}");

    // Restart from the position after the third transaction, with the persisted history.
    let middle = events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(c) if c.last => c.position.clone(),
            _ => None,
        })
        .nth(2)
        .unwrap();
    let options = SourceOptions { state_dir: Some(state.path().to_path_buf()), resume: Some(middle), ..Default::default() };
    let mut source = MysqlSource::start(config(&db.url(), "earliest"), options);
    let again = collect_until(&mut source, 60, |e| txn_count(e) == 5).await;
    assert_eq!(images(&again), expected()[3..].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_history_mismatched_rows_stop_the_capture() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    run_script(&db);
    // Start right after the second ALTER with no history: the table is read from the server as it
    // is now (c, id, name) while the binlog rows there are (id, b, alpha).
    let rows = db.query("SHOW BINLOG EVENTS").unwrap();
    let after_second_alter = rows.iter().filter(|r| r[5].contains("CHANGE a alpha")).map(|r| r[4].clone()).next().unwrap();
    let file = rows[0][0].clone();
    let from = format!("{file}:{after_second_alter}");
    let mut source = MysqlSource::start(config(&db.url(), &from), SourceOptions::default());
    let err = expect_error(&mut source, 60).await;
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("s.t") && msg.contains("binlog has 3 columns"), "{msg}");
}

/// The DDL events as `(statement, tables)`.
fn ddl_events(events: &[Event]) -> Vec<(String, Vec<(String, String)>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Ddl(d) => Some((d.statement.clone(), d.tables.clone())),
            _ => None,
        })
        .collect()
}

fn table(db: &str, t: &str) -> (String, String) {
    (db.to_owned(), t.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_in_a_database_created_before_the_start() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    // Not the server's default character set (utf8mb4): the table's columns must inherit it.
    db.sql("CREATE DATABASE sm CHARACTER SET latin1").unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut cfg = config(&db.url(), "latest");
    cfg.include = vec!["sm\\..*".into()];
    let options = SourceOptions { state_dir: Some(state.path().to_path_buf()), ..Default::default() };
    let mut source = MysqlSource::start(cfg, options);
    // The start position is resolved once the first progress mark (its announcement) arrives.
    collect_until(&mut source, 30, |e| e.iter().any(|e| matches!(e, Event::Progress(_)))).await;
    db.sql("CREATE TABLE sm.m (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO sm.m VALUES (1, 'é')").unwrap();
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 1).await;
    drop(source);

    let create = "CREATE TABLE sm.m (id INT PRIMARY KEY, v VARCHAR(10))".to_owned();
    assert_eq!(ddl_events(&events), [(create, vec![table("sm", "m")])], "{:#?}", common::summary(&events));
    assert_eq!(images(&events), [json!({"id": 1, "v": "é"})]);
    let schema = events
        .iter()
        .find_map(|e| match e {
            Event::Rows(c) => c.changes.first().map(|c| std::sync::Arc::clone(&c.table)),
            _ => None,
        })
        .unwrap();
    let charsets: Vec<(&str, Option<&str>)> = schema.columns.iter().map(|c| (c.name.as_str(), c.charset.as_deref())).collect();
    assert_eq!(charsets, [("id", None), ("v", Some("latin1"))]);
    // The database's defaults are in the history, for a restart to replay.
    let history = std::fs::read_to_string(state.path().join("schema-history.jsonl")).unwrap();
    let put_database: Vec<serde_json::Value> =
        history.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter(|e| e["op"] == "put_database").collect();
    assert_eq!(put_database.len(), 1, "{history}");
    assert_eq!((&put_database[0]["db"], &put_database[0]["charset"]), (&json!("sm"), &json!("latin1")), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_in_a_database_dropped_since_uses_the_server_defaults() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE gone").unwrap();
    let status = db.query("SHOW MASTER STATUS").unwrap();
    let from = format!("{}:{}", status[0][0], status[0][1]);
    db.sql("CREATE TABLE gone.g (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO gone.g VALUES (1, 'x'); DROP DATABASE gone")
        .unwrap();
    let mut cfg = config(&db.url(), &from);
    cfg.include = vec!["gone\\..*".into()];
    let mut source = MysqlSource::start(cfg, SourceOptions::default());
    let events = collect_until(&mut source, 30, |e| e.iter().filter(|e| matches!(e, Event::Ddl(_))).count() == 2).await;

    let create = "CREATE TABLE gone.g (id INT PRIMARY KEY, v VARCHAR(10))".to_owned();
    assert_eq!(ddl_events(&events)[0], (create, vec![table("gone", "g")]), "{:#?}", common::summary(&events));
    assert_eq!(images(&events), [json!({"id": 1, "v": "x"})]);
    let charset = events.iter().find_map(|e| match e {
        Event::Rows(c) => c.changes.first().and_then(|c| c.table.columns.get(1)).and_then(|c| c.charset.clone()),
        _ => None,
    });
    assert_eq!(charset.as_deref(), Some("utf8mb4"));
}
