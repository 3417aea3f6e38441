//! Start modes against a real MariaDB: `latest`, `FILE:OFFSET`, a MariaDB GTID position and a
//! timestamp each yield exactly the transactions after that point — none before, none missing;
//! a timestamp start also leaves out the DDL before it (the history still learns it).
//! Also: table filters skip other tables, and a fully filtered stream still reports progress.

mod common;

use std::time::Duration;

use common::{collect_until, images, start, txn_count};
use otter_core::change::Event;
use otter_core::position::Position;
use otter_testkit::{MariaDb, ServerConfig};
use serde_json::json;

fn setup() -> MariaDb {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE m; CREATE TABLE m.t (id INT PRIMARY KEY, v VARCHAR(10))").unwrap();
    db
}

fn insert(db: &MariaDb, id: u32) {
    db.sql(&format!("INSERT INTO m.t VALUES ({id}, 'v{id}')")).unwrap();
}

fn ids(events: &[Event]) -> Vec<i64> {
    images(events).iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_sees_only_new_transactions() {
    let db = setup();
    insert(&db, 1);
    insert(&db, 2);
    let mut source = start(&db.url(), "latest");
    // Wait until the source is streaming: a heartbeat/progress arrives on an idle stream.
    collect_until(&mut source, 30, |e| e.iter().any(|e| matches!(e, Event::Progress(_)))).await;
    insert(&db, 3);
    insert(&db, 4);
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 2).await;
    assert_eq!(ids(&events), [3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_position_and_gtid_starts() {
    let db = setup();
    insert(&db, 1);
    insert(&db, 2);
    let status = db.query("SHOW MASTER STATUS").unwrap();
    let coord = format!("{}:{}", status[0][0], status[0][1]);
    let gtid = db.value("SELECT @@gtid_binlog_pos").unwrap();
    insert(&db, 3);
    db.sql("INSERT INTO m.t VALUES (4, 'v4'), (5, 'v5')").unwrap();

    let mut by_coord = start(&db.url(), &coord);
    let events = collect_until(&mut by_coord, 30, |e| txn_count(e) == 2).await;
    assert_eq!(ids(&events), [3, 4, 5]);
    assert_eq!(images(&events)[2], json!({"id": 5, "v": "v5"}));

    let mut by_gtid = start(&db.url(), &gtid);
    let events = collect_until(&mut by_gtid, 30, |e| txn_count(e) == 2).await;
    assert_eq!(ids(&events), [3, 4, 5]);
    // Positions carry the MariaDB GTID state after each transaction.
    let last: Position = events.iter().rev().find_map(|e| e.position().cloned()).unwrap();
    let expected_gtid = db.value("SELECT @@gtid_binlog_pos").unwrap();
    assert_eq!(last.gtid.unwrap().to_string(), expected_gtid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_start_begins_at_the_first_commit_at_or_after_it() {
    let db = setup();
    insert(&db, 1);
    // Commit times have one-second resolution: keep whole seconds between the groups.
    std::thread::sleep(Duration::from_millis(1100));
    let t: i64 = db.value("SELECT UNIX_TIMESTAMP()").unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    insert(&db, 2);
    insert(&db, 3);
    let mut source = start(&db.url(), &format!("@{t}"));
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 2).await;
    assert_eq!(ids(&events), [2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_start_leaves_out_older_ddl() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO shop.a VALUES (1, 'old')")
        .unwrap();
    // Commit times have one-second resolution: keep whole seconds between the groups.
    std::thread::sleep(Duration::from_millis(1100));
    let t: i64 = db.value("SELECT UNIX_TIMESTAMP()").unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    db.sql("CREATE TABLE shop.b (id INT PRIMARY KEY, n INT); INSERT INTO shop.a VALUES (2, 'new'); INSERT INTO shop.b VALUES (1, 10)")
        .unwrap();
    let mut source = start(&db.url(), &format!("@{t}"));
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 2).await;
    let ddl: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Ddl(d) => Some(d.statement.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ddl, ["CREATE TABLE shop.b (id INT PRIMARY KEY, n INT)"], "{:#?}", common::summary(&events));
    // The older DDL still reached the schema history: shop.a's rows decode with its columns.
    assert_eq!(images(&events), [json!({"id": 2, "v": "new"}), json!({"id": 1, "n": 10})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_skip_tables_and_progress_still_moves() {
    let db = setup();
    db.sql("CREATE TABLE m.other (id INT PRIMARY KEY); CREATE DATABASE x; CREATE TABLE x.t (id INT PRIMARY KEY)").unwrap();
    let mut cfg = common::config(&db.url(), "earliest");
    cfg.include = vec!["m\\..*".into()];
    cfg.exclude = vec!["m\\.other".into()];
    let mut source = otter_core::source::mysql::MysqlSource::start(cfg, Default::default());
    db.sql("INSERT INTO x.t VALUES (1); INSERT INTO m.other VALUES (1); INSERT INTO m.t VALUES (7, 'v7')").unwrap();
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 1).await;
    assert_eq!(ids(&events), [7]);
    let tables: Vec<String> = common::changes(&events).iter().map(|c| c["table"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tables, ["m.t"]);
    // Only excluded tables change now: the position still advances past them.
    let end_before = events.iter().rev().find_map(|e| e.position().cloned()).unwrap();
    for i in 2..6 {
        db.sql(&format!("INSERT INTO x.t VALUES ({i})")).unwrap();
    }
    let target: u64 = db.query("SHOW MASTER STATUS").unwrap()[0][1].parse().unwrap();
    let more = collect_until(&mut source, 30, |e| {
        e.iter().any(|e| matches!(e, Event::Progress(p) if p.position.coord.offset >= target))
    })
    .await;
    assert_eq!(txn_count(&more), 0, "excluded tables leaked");
    assert!(more.iter().filter_map(|e| e.position()).all(|p| p.coord >= end_before.coord));
}

/// A resume point inside a big transaction whose file position means nothing on the server (as
/// after a source failover: another server's binlog) starts from its GTID, and exactly the rows
/// already handed out of that transaction are skipped — the first transaction read is the one
/// the position names, whatever its coordinate here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_transaction_resume_by_gtid_skips_exactly_the_rows_handed_out() {
    use otter_core::source::mysql::{MysqlSource, SourceOptions};
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY)").unwrap();
    let mut source = start(&db.url(), "latest");
    collect_until(&mut source, 30, |e| !e.is_empty()).await;
    db.sql("INSERT INTO g.t SELECT seq FROM g.seq_1_to_5000").unwrap();
    db.sql("INSERT INTO g.t VALUES (9001)").unwrap();
    let events = collect_until(&mut source, 60, |e| txn_count(e) == 2).await;
    let mid = events
        .iter()
        .find_map(|e| match e {
            Event::Rows(c) if !c.last => c.position.clone(),
            _ => None,
        })
        .expect("the 5,000-row transaction comes in chunks");
    assert!(mid.skip_rows > 0 && mid.gtid.is_some(), "{mid}");
    let handed_out = mid.skip_rows;
    // The same GTID state, at a file this server does not have.
    let elsewhere = Position { coord: otter_core::position::BinlogCoord::new("mysql-bin.999999", mid.coord.offset), ..mid };
    let mut again = MysqlSource::start(common::config(&db.url(), "earliest"), SourceOptions { resume: Some(elsewhere), ..Default::default() });
    let events = collect_until(&mut again, 60, |e| txn_count(e) == 2).await;
    let ids: Vec<i64> = images(&events).iter().filter_map(|j| j["id"].as_i64()).collect();
    let expected: Vec<i64> = (handed_out as i64 + 1..=5000).chain([9001]).collect();
    assert_eq!(ids.len(), expected.len(), "rows after the resume point: {} (expected {})", ids.len(), expected.len());
    assert_eq!(ids, expected);
}
