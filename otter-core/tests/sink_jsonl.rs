//! The JSON-lines sink behind a real pipeline: MariaDB → `MysqlSource` → `Pipeline` →
//! `JsonlSink`. Every committed change lands in the file exactly once across restarts and
//! simulated crashes; each format's lines carry the documented fields with the right values.

mod common;

use std::path::Path;
use std::time::Duration;

use otter_core::pipeline::{resume_position, BatchConfig, Pipeline};
use otter_core::position::Position;
use otter_core::sink::{offset_path, Format, JsonlSink, JsonlSinkConfig};
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_core::traits::Sink;
use otter_testkit::{MariaDb, ServerConfig};
use serde_json::{json, Value as Json};

/// Starts a server. Starts are serialised: `mariadb-install-db` bootstraps with the default
/// tmpdir, and a bootstrap starting at the same time deletes the other's temporary tables.
fn server() -> MariaDb {
    static START: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = START.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    MariaDb::start(ServerConfig::new(1)).unwrap()
}

/// The complete lines of the file (a line being written may be cut short).
fn lines(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// Runs a pipeline from `resume` (else the earliest binlog) into `path` until the file holds
/// `expected` lines, then shuts it down; fails after 60 s.
async fn run(db: &MariaDb, path: &Path, format: Format, expected: usize) -> Option<Position> {
    let mut sink = JsonlSink::open(JsonlSinkConfig::new(path.to_string_lossy(), format), "shop_to_file").unwrap();
    let resume = resume_position(&mut sink, None).await.unwrap();
    let options = SourceOptions { resume: resume.clone(), ..SourceOptions::default() };
    // Small chunks and batches: big transactions span several batches, so batches end inside
    // transactions (written, not yet recorded) too.
    let mut config = common::config(&db.url(), "earliest");
    config.chunk_rows = 2;
    let source = MysqlSource::start(config, options);
    let watched = path.to_owned();
    let shutdown = async move {
        while lines(&watched).len() < expected {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let batching = BatchConfig { max_rows: 2, ..BatchConfig::default() };
    let pipeline = Pipeline::new("shop_to_file", Box::new(source), Box::new(sink)).batching(batching);
    tokio::time::timeout(Duration::from_secs(60), pipeline.run(shutdown))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {expected} lines; got {:#?}", lines(path)))
        .unwrap();
    resume
}

/// `(kind, id)` of each line in the otter format (`("ddl", 0)` for DDL).
fn kinds_and_ids(lines: &[Json]) -> Vec<(String, i64)> {
    lines
        .iter()
        .map(|l| {
            let kind = l["kind"].as_str().unwrap().to_owned();
            let img = if l["after"].is_null() { &l["before"] } else { &l["after"] };
            (kind, img["id"].as_i64().unwrap_or(0))
        })
        .collect()
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, i)| ((*k).to_owned(), *i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_restarts_and_crashes() {
    let db = server();
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20), amount DECIMAL(10,2), n INT NULL)").unwrap();
    for i in 1..=5 {
        db.sql(&format!("INSERT INTO shop.t VALUES ({i}, 'v{i}', {i}.25, NULL)")).unwrap();
    }
    db.sql("UPDATE shop.t SET v = 'two', n = 2 WHERE id = 2; DELETE FROM shop.t WHERE id = 3").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.jsonl");

    let first = run(&db, &path, Format::Otter, 9).await;
    assert_eq!(first, None, "a new file starts from the configured position");
    let mut expected = pairs(&[("ddl", 0), ("ddl", 0), ("insert", 1), ("insert", 2), ("insert", 3), ("insert", 4), ("insert", 5), ("update", 2), ("delete", 3)]);
    let got = lines(&path);
    assert_eq!(kinds_and_ids(&got), expected);
    assert_eq!(got[3]["after"], json!({"id": 2, "v": "v2", "amount": "2.25", "n": null}));
    assert_eq!(got[7]["before"]["v"], "v2");
    assert_eq!(got[7]["after"], json!({"id": 2, "v": "two", "amount": "2.25", "n": 2}));
    assert_eq!(got[7]["changed"], json!(["v", "n"]));
    let recorded: Json = serde_json::from_slice(&std::fs::read(offset_path(&path)).unwrap()).unwrap();
    assert_eq!(recorded["len"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()));

    // Crash simulation: a batch was written (a copy of the last two lines, plus a torn line) but
    // the process died before recording it. The restart cuts it and resumes at the record.
    let clean = std::fs::read(&path).unwrap();
    let text = String::from_utf8(clean.clone()).unwrap();
    let tail: String = text.lines().skip(7).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, [clean.as_slice(), tail.as_bytes(), b"{\"table\":\"shop.t\",\"ki"].concat()).unwrap();
    let mut probe = JsonlSink::open(JsonlSinkConfig::new(path.to_string_lossy(), Format::Otter), "x").unwrap();
    let stored = probe.stored_position().await.unwrap().expect("a recorded position");
    assert_eq!(std::fs::read(&path).unwrap(), clean, "the unrecorded lines are cut");
    assert_eq!(serde_json::from_value::<Position>(recorded["position"].clone()).unwrap(), stored);
    drop(probe);

    // Restart with more workload: nothing lost, nothing repeated.
    db.sql("INSERT INTO shop.t VALUES (6, 'v6', 6.00, 6); UPDATE shop.t SET amount = 0.01 WHERE id = 1").unwrap();
    db.sql("INSERT INTO shop.t VALUES (7, 'a', 0, 0), (8, 'b', 0, 0), (9, 'c', 0, 0), (10, 'd', 0, 0), (11, 'e', 0, 0)").unwrap();
    let resumed = run(&db, &path, Format::Otter, 16).await;
    assert_eq!(resumed, Some(stored));
    expected.extend(pairs(&[("insert", 6), ("update", 1), ("insert", 7), ("insert", 8), ("insert", 9), ("insert", 10), ("insert", 11)]));
    let got = lines(&path);
    assert_eq!(kinds_and_ids(&got), expected);
    assert_eq!(got[10]["after"]["amount"], "0.01");
    let big_txn: Vec<(&str, u64)> = got[11..].iter().map(|l| (l["txn"].as_str().unwrap(), l["row"].as_u64().unwrap())).collect();
    assert!(big_txn.iter().all(|t| t.0 == big_txn[0].0), "one transaction");
    assert_eq!(big_txn.iter().map(|t| t.1).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);

    // Once more, with garbage appended after a clean stop.
    std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, b"garbage\n")).unwrap();
    db.sql("DELETE FROM shop.t WHERE id = 6").unwrap();
    run(&db, &path, Format::Otter, 17).await;
    expected.push(("delete".into(), 6));
    assert_eq!(kinds_and_ids(&lines(&path)), expected);
    // Each change's (txn, row) is unique.
    let mut keys: Vec<(String, u64)> = lines(&path).iter().filter(|l| l["kind"] != "ddl").map(|l| (l["txn"].as_str().unwrap().to_owned(), l["row"].as_u64().unwrap())).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

const TYPES: &str = "CREATE DATABASE shop; CREATE TABLE shop.types (id INT UNSIGNED PRIMARY KEY, name VARCHAR(20), price DECIMAL(12,3), \
     qty BIGINT, ratio DOUBLE, born DATE, at DATETIME(3), raw VARBINARY(8), color ENUM('red','blue'), note TEXT NULL)";

fn types_server() -> MariaDb {
    let db = server();
    db.sql(TYPES).unwrap();
    db.sql("INSERT INTO shop.types VALUES (1, 'Ann', 1234.500, -7, 0.25, '2024-02-29', '2024-02-29 12:34:56.789', 0x00ff, 'blue', NULL)").unwrap();
    db.sql("UPDATE shop.types SET price = 0.001, note = 'x' WHERE id = 1").unwrap();
    db.sql("DELETE FROM shop.types WHERE id = 1").unwrap();
    db
}

/// 2 DDL lines + insert, update, delete.
const TYPE_LINES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otter_and_debezium_formats() {
    let db = types_server();
    let gtid_domain_server = "0-1-";
    let dir = tempfile::tempdir().unwrap();
    let after = json!({"id": 1, "name": "Ann", "price": "1234.500", "qty": -7, "ratio": 0.25, "born": "2024-02-29",
        "at": "2024-02-29 12:34:56.789", "raw": {"hex": "00ff"}, "color": "blue", "note": null});

    let otter = dir.path().join("otter.jsonl");
    run(&db, &otter, Format::Otter, TYPE_LINES).await;
    let l = lines(&otter);
    assert_eq!(l[2]["after"], after);
    assert_eq!((l[2]["table"].as_str(), l[2]["kind"].as_str(), l[2]["key"].clone()), (Some("shop.types"), Some("insert"), json!(["id"])));
    assert!(l[2]["gtid"].as_str().unwrap().starts_with(gtid_domain_server));
    assert_eq!(l[2]["server_id"], 1);
    assert!(l[2]["commit_ts"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(l[2]["row"], 0);
    assert_eq!(l[3]["changed"], json!(["price", "note"]));
    assert_eq!(l[3]["after"]["price"], "0.001");
    assert_eq!(l[4]["kind"], "delete");
    assert_eq!(l[1]["kind"], "ddl");
    assert_eq!(l[1]["tables"], json!(["shop.types"]));

    let dbz = dir.path().join("debezium.jsonl");
    run(&db, &dbz, Format::Debezium, TYPE_LINES).await;
    let l = lines(&dbz);
    let ops: Vec<&str> = l[2..].iter().map(|m| m["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["c", "u", "d"]);
    assert_eq!((l[2]["before"].clone(), l[2]["after"].clone()), (Json::Null, after.clone()));
    assert_eq!(l[4]["after"], Json::Null);
    assert_eq!(l[3]["before"]["price"], "1234.500");
    let s = &l[3]["source"];
    assert_eq!((s["connector"].as_str(), s["name"].as_str(), s["snapshot"].as_str()), (Some("mysql"), Some("shop_to_file"), Some("false")));
    assert_eq!((s["db"].as_str(), s["table"].as_str(), s["server_id"].as_u64(), s["row"].as_u64()), (Some("shop"), Some("types"), Some(1), Some(0)));
    assert!(s["file"].as_str().unwrap().contains("bin"), "{s}");
    assert!(s["pos"].as_u64().unwrap() > 4);
    assert!(s["gtid"].as_str().unwrap().starts_with(gtid_domain_server));
    assert!(s["ts_ms"].as_u64().unwrap() > 1_600_000_000_000 && l[3]["ts_ms"].as_u64().unwrap() >= s["ts_ms"].as_u64().unwrap());
    assert_eq!(l[1]["databaseName"], "shop");
    assert_eq!(l[1]["tableChanges"], json!([{"type": "CREATE", "id": "\"shop\".\"types\""}]));
    assert!(l[1]["ddl"].as_str().unwrap().starts_with("CREATE TABLE shop.types"));
    assert_eq!(l[0]["tableChanges"], json!([]), "CREATE DATABASE changes no table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canal_format() {
    let db = types_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canal.jsonl");
    run(&db, &path, Format::Canal, TYPE_LINES).await;
    let l = lines(&path);
    let data = json!({"id": "1", "name": "Ann", "price": "1234.500", "qty": "-7", "ratio": "0.25", "born": "2024-02-29",
        "at": "2024-02-29 12:34:56.789", "raw": "\u{0}\u{ff}", "color": "blue", "note": null});
    let types: Vec<&str> = l.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["QUERY", "CREATE", "INSERT", "UPDATE", "DELETE"]);
    let ins = &l[2];
    assert_eq!((ins["database"].as_str(), ins["table"].as_str(), ins["isDdl"].as_bool()), (Some("shop"), Some("types"), Some(false)));
    assert_eq!(ins["pkNames"], json!(["id"]));
    assert_eq!(ins["data"], json!([data]));
    assert_eq!(ins["old"], Json::Null);
    assert_eq!(ins["sql"], "");
    assert_eq!(
        ins["sqlType"],
        json!({"id": 4, "name": 12, "price": 3, "qty": -5, "ratio": 8, "born": 91, "at": 93, "raw": 2004, "color": 4, "note": 2005})
    );
    assert_eq!(ins["mysqlType"]["id"], "int unsigned");
    assert_eq!(ins["mysqlType"]["price"], "decimal(12,3)");
    assert_eq!(ins["mysqlType"]["at"], "datetime(3)");
    assert_eq!(ins["mysqlType"]["color"], "enum('red','blue')");
    assert!(ins["es"].as_u64().unwrap() > 1_600_000_000_000 && ins["ts"].as_u64().unwrap() >= ins["es"].as_u64().unwrap());
    assert!(ins["id"].as_u64().unwrap() >= 1);
    let upd = &l[3];
    assert_eq!(upd["data"][0]["price"], "0.001");
    assert_eq!(upd["data"][0]["note"], "x");
    assert_eq!(upd["old"], json!([{"price": "1234.500", "note": null}]));
    assert_eq!(l[4]["data"], json!([{"id": "1", "name": "Ann", "price": "0.001", "qty": "-7", "ratio": "0.25", "born": "2024-02-29",
        "at": "2024-02-29 12:34:56.789", "raw": "\u{0}\u{ff}", "color": "blue", "note": "x"}]));
    let ddl = &l[1];
    assert_eq!((ddl["isDdl"].as_bool(), ddl["database"].as_str(), ddl["table"].as_str()), (Some(true), Some("shop"), Some("types")));
    assert!(ddl["sql"].as_str().unwrap().starts_with("CREATE TABLE shop.types"));
    assert_eq!((ddl["data"].clone(), ddl["sqlType"].clone(), ddl["pkNames"].clone()), (Json::Null, Json::Null, Json::Null));
}
