//! A target that already has what an incoming `ALTER TABLE` makes (another site ran the same DDL,
//! in its own spelling): the statement is refused there (duplicate column, duplicate key name,
//! can't drop) and recognised as already applied, and the rows written after it apply; a column
//! of that name with another type stops the pipeline with both definitions in the message. The
//! comparison runs on temporary tables, which must not reach the target's binlog (and cannot hold
//! the table's foreign keys).

mod common;

use std::time::{Duration, Instant};

use common::{start, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["shop.t"];

/// A and B with `shop.t` (from A, through a running pipeline), its first rows, and a table `shop.p`
/// it may refer to.
async fn prepared(extra_column: &str) -> (MariaDb, MariaDb, common::Running) {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(&format!(
        "CREATE DATABASE shop; CREATE TABLE shop.p (id INT PRIMARY KEY);
         CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20){extra_column});
         INSERT INTO shop.t (id, v) VALUES (1, 'a'), (2, 'b')"
    ))
    .unwrap();
    let running = start("same-alter", &a, &b, "shop\\..*", MysqlSinkConfig::new(b.url()), 101).await;
    wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
    (a, b, running)
}

/// Every statement in B's binlogs.
fn binlog_text(b: &MariaDb) -> String {
    let logs = b.query("SHOW BINARY LOGS").unwrap();
    let mut text = String::new();
    for log in logs {
        for event in b.query(&format!("SHOW BINLOG EVENTS IN '{}'", log[0])).unwrap() {
            text.push_str(&event.join(" "));
            text.push('\n');
        }
    }
    text
}

fn show_create(db: &MariaDb) -> String {
    db.query("SHOW CREATE TABLE shop.t").unwrap()[0][1].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alter_whose_column_and_index_exist_is_already_applied() {
    // A foreign key, which the temporary copy cannot hold, does not disturb the comparison.
    let (a, b, running) = prepared(", p INT, CONSTRAINT fk_p FOREIGN KEY (p) REFERENCES p (id)").await;
    // Another site's copy of the DDL reached B first, spelled differently.
    b.sql("alter table shop.t add x int, add key ix(x); CREATE INDEX iv ON shop.t (v)").unwrap();
    a.sql(
        "ALTER TABLE shop.t ADD COLUMN x INT NULL, ADD INDEX ix (x);
         CREATE INDEX iv ON shop.t (v) ALGORITHM=INPLACE LOCK=NONE;
         INSERT INTO shop.t (id, v, x) VALUES (3, 'c', 30), (4, 'd', NULL); UPDATE shop.t SET x = 5 WHERE id = 1",
    )
    .unwrap();
    wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
    assert!(!running.finished(), "the pipeline stopped");
    running.stop().await.unwrap();
    assert_eq!(a.query("SELECT id, v, x FROM shop.t ORDER BY id").unwrap(), b.query("SELECT id, v, x FROM shop.t ORDER BY id").unwrap());
    assert_eq!(b.value("SELECT x FROM shop.t WHERE id = 1").unwrap(), "5");
    assert_eq!(show_create(&a), show_create(&b));
    assert!(!binlog_text(&b).contains("_otter_cmp"), "a scratch table reached the binlog");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_column_and_an_index_already_gone_goes_on() {
    let (a, b, running) = prepared(", gone INT, KEY old (gone), KEY other (v)").await;
    b.sql("ALTER TABLE shop.t DROP COLUMN gone; DROP INDEX other ON shop.t").unwrap();
    a.sql(
        "ALTER TABLE shop.t DROP COLUMN gone;
         ALTER TABLE shop.t DROP INDEX other;
         INSERT INTO shop.t VALUES (3, 'c'), (4, 'd'); UPDATE shop.t SET v = 'z' WHERE id = 1",
    )
    .unwrap();
    wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
    assert!(!running.finished(), "the pipeline stopped");
    running.stop().await.unwrap();
    assert_eq!(a.query("SELECT id, v FROM shop.t ORDER BY id").unwrap(), b.query("SELECT id, v FROM shop.t ORDER BY id").unwrap());
    assert_eq!(show_create(&a), show_create(&b));
    assert!(!binlog_text(&b).contains("_otter_cmp"), "a scratch table reached the binlog");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alter_whose_column_has_another_type_on_the_target_stops_showing_both() {
    let (a, b, running) = prepared("").await;
    b.sql("ALTER TABLE shop.t ADD COLUMN x BIGINT NOT NULL DEFAULT 0").unwrap();
    a.sql("ALTER TABLE shop.t ADD COLUMN x INT NULL, ADD INDEX ix (x); INSERT INTO shop.t VALUES (3, 'c', 30)").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running.finished() {
        assert!(Instant::now() < deadline, "the pipeline did not stop on the conflicting ALTER");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = running.stop().await.expect_err("a conflicting ALTER must stop the pipeline").to_string();
    for needle in [
        "Duplicate column name 'x'",
        "another definition",
        "--- on the target ---",
        "`x` bigint(20) NOT NULL DEFAULT 0",
        "--- as the statement makes it",
        "`x` int(11) DEFAULT NULL",
        "KEY `ix` (`x`)",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    // B is as it was: its own column, no index, no row 3.
    assert!(!show_create(&b).contains("`ix`"));
    assert_eq!(b.value("SELECT COUNT(*) FROM shop.t").unwrap(), "2");
}
