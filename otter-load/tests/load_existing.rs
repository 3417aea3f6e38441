//! A target that already has what the source's DDL creates: a database a DBA created beforehand
//! (with its own character set) and a table with exactly the created definition are "already
//! applied" and the pipeline goes on; a table of that name with another definition stops the
//! pipeline with both definitions in the message (no `skip_ddl_errors` needed, none hidden).

mod common;

use std::time::{Duration, Instant};

use common::{start, sync_until_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_database_and_an_identical_table_are_already_applied() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    // The DBA prepared B: the database with another character set, one table as A creates it.
    b.sql("CREATE DATABASE sbtest CHARACTER SET latin1; CREATE TABLE sbtest.same (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET utf8mb4)").unwrap();
    a.sql(
        "CREATE DATABASE sbtest; CREATE TABLE sbtest.same (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET utf8mb4);
         CREATE TABLE sbtest.fresh (id INT PRIMARY KEY, n INT);
         INSERT INTO sbtest.same VALUES (1, 'one'), (2, 'two'); INSERT INTO sbtest.fresh VALUES (1, 10)",
    )
    .unwrap();
    let cfg = MysqlSinkConfig::new(b.url());
    sync_until_equal("existing", &a, &b, "sbtest\\..*", cfg, &["sbtest.same", "sbtest.fresh"], 60).await;
    // The DBA's choice of character set stays.
    assert_eq!(b.value("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sbtest'").unwrap(), "latin1");
    // No comparison table is left behind.
    assert_eq!(b.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME LIKE '\\_otter\\_cmp%'").unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_table_with_another_definition_stops_showing_both() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    b.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id BIGINT PRIMARY KEY, note TEXT)").unwrap();
    a.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO shop.t VALUES (1, 'x')").unwrap();
    let running = start("existing", &a, &b, "shop\\..*", MysqlSinkConfig::new(b.url()), 101).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running.finished() {
        assert!(Instant::now() < deadline, "the pipeline did not stop on the conflicting table");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = running.stop().await.expect_err("a conflicting table must stop the pipeline").to_string();
    for needle in ["another definition", "--- on the target ---", "`note` text", "--- as the statement creates it ---", "`v` varchar(20)"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert_eq!(b.value("SELECT COUNT(*) FROM shop.t").unwrap(), "0");
}
