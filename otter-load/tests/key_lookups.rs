//! The loader finds the rows it deletes by their key, on a real target: single-row deletes of a
//! table with a composite primary key must not scan the table (MariaDB runs a `DELETE` whose
//! condition is a one-row `(a, b) IN ((1, 'x'))` as a full scan — on a big table every such delete
//! took a core for a while and the target fell ever further behind). Counted with the server's
//! `Handler_read_rnd_next` (rows read by scans) around deletes applied one at a time.

mod common;

use std::time::{Duration, Instant};

use common::{start, types::status, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

const ROWS: u64 = 30_000;

/// Waits until B no longer has row `(a, b)` of `s.comp` (a key lookup, no scan).
async fn wait_gone(b: &MariaDb, a: u64, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = b.value(&format!("SELECT COUNT(*) FROM s.comp WHERE a = {a} AND b = '{key}'")).unwrap();
        if n.trim() == "0" {
            return;
        }
        assert!(Instant::now() < deadline, "row ({a}, {key}) was not deleted on the target");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_row_deletes_of_a_composite_key_use_the_key() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(&format!(
        "CREATE DATABASE s;
         CREATE TABLE s.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b));
         INSERT INTO s.comp SELECT seq, CONCAT('b', seq % 3), seq FROM s.seq_1_to_{ROWS};"
    ))
    .unwrap();
    let running = start("keys", &a, &b, "s\\..*", MysqlSinkConfig::new(b.url()), 301).await;
    wait_equal(&a, &b, &["s.comp"], 120, Some(&running)).await;
    let scanned = status(&b, "Handler_read_rnd_next");
    let deletes = 5;
    for i in 0..deletes {
        let k = 1000 + i * 997;
        let key = format!("b{}", k % 3);
        a.sql(&format!("DELETE FROM s.comp WHERE a = {k} AND b = '{key}'")).unwrap();
        // One at a time: each arrives alone, so the loader deletes one row per statement.
        wait_gone(&b, k, &key).await;
    }
    let scanned = status(&b, "Handler_read_rnd_next") - scanned;
    running.stop().await.unwrap();
    assert!(scanned < ROWS, "{deletes} single-row deletes read {scanned} rows by scans on a {ROWS}-row table");
    wait_equal(&a, &b, &["s.comp"], 60, None).await;
}
