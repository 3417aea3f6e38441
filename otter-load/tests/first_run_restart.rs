//! A first run whose only changes are applied before any batch is acknowledged (here: the target
//! already has the tables and `apply_ddl = false`, so no DDL gives the loader a resume point)
//! must leave a checkpoint a restart can read: the rows record the position the source announced
//! for the run's start (the loader once wrote a placeholder position, and the restart failed with
//! "unreadable position"). The restart then repeats nothing: the keyless table would show
//! duplicates.

mod common;

use common::{start, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["s.keyed", "s.keyless"];
const SCHEMA: &str = "CREATE DATABASE s;
    CREATE TABLE s.keyed (id INT PRIMARY KEY, v VARCHAR(20));
    CREATE TABLE s.keyless (a INT, b VARCHAR(20));";

fn rows(a: &MariaDb, from: u32, to: u32) {
    let keyed: Vec<String> = (from..to).map(|n| format!("({n}, 'v{n}')")).collect();
    let keyless: Vec<String> = (from..to).map(|n| format!("({}, 'k{n}')", n % 7)).collect();
    a.sql(&format!("INSERT INTO s.keyed VALUES {}; INSERT INTO s.keyless VALUES {};", keyed.join(", "), keyless.join(", "))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_first_run_without_a_known_position() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    b.sql(SCHEMA).unwrap();
    rows(&a, 0, 200);
    let mut cfg = MysqlSinkConfig::new(b.url());
    cfg.apply_ddl = false;
    cfg.workers = Some(2);

    let running = start("first", &a, &b, "s\\..*", cfg.clone(), 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    let stored: Vec<Vec<String>> = b.query("SELECT position FROM otter.checkpoint WHERE pipeline = 'first'").unwrap();
    assert!(!stored.is_empty(), "no checkpoint rows");
    for row in &stored {
        let text = row.first().cloned().unwrap_or_default();
        assert!(text.contains(".0000"), "checkpoint row without a readable position: {text}");
    }

    // The restart reads the checkpoint, resumes and repeats nothing.
    rows(&a, 200, 300);
    let running = start("first", &a, &b, "s\\..*", cfg, 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    assert_eq!(b.value("SELECT COUNT(*) FROM s.keyless").unwrap(), "300");
}
