//! The fence on the target, against real servers: a second loader of a running pipeline fails at
//! once naming the holder; a loader whose pipeline was taken over has every later write rejected
//! (nothing of it applied) while the new holder applies everything exactly once; a pipeline name
//! with quotes and backslashes means the same in every `sql_mode`.

mod common;

use std::time::{Duration, Instant};

use common::{start, wait_equal};
use otter_core::traits::Sink;
use otter_core::ErrorKind;
use otter_load::{MysqlSink, MysqlSinkConfig};
use otter_load::target::Spread;
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["f.t", "f.nokey"];

fn setup() -> (MariaDb, MariaDb) {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql("CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, v INT); CREATE TABLE f.nokey (a INT, b VARCHAR(10))").unwrap();
    (a, b)
}

fn write(a: &MariaDb, from: u32, to: u32) {
    for i in from..to {
        a.sql(&format!("BEGIN; INSERT INTO f.t VALUES ({i}, {i}); INSERT INTO f.nokey VALUES ({i}, 'r{i}'); COMMIT")).unwrap();
    }
}

fn config(b: &MariaDb) -> MysqlSinkConfig {
    let mut c = MysqlSinkConfig::new(b.url());
    c.workers = Some(2);
    c.max_retry_backoff_secs = 1;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_loader_fails_naming_the_holder_and_starts_once_it_is_gone() {
    let (_a, b) = setup();
    let mut first = MysqlSink::new("p", config(&b)).unwrap();
    first.stored_position().await.unwrap();
    let mut second = MysqlSink::new("p", config(&b)).unwrap();
    let e = second.stored_position().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyRunning, "{e}");
    let me = format!("pid {} on host {}", std::process::id(), otter_core::instance::host_name());
    assert!(e.to_string().contains(&me) && e.to_string().contains("epoch 1"), "{e}");
    drop(first);
    let mut third = MysqlSink::new("p", config(&b)).unwrap();
    third.stored_position().await.unwrap();
    assert_eq!(b.value("SELECT epoch FROM otter.lease WHERE pipeline = 'p'").unwrap(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_over_loader_has_every_later_write_rejected() {
    let (a, b) = setup();
    write(&a, 0, 50);
    let old = start("p", &a, &b, "f\\..*", config(&b), 101).await;
    wait_equal(&a, &b, TABLES, 60, Some(&old)).await;
    // The old holder loses its lease connection (as if cut off) and a new instance takes over
    // while the old one still runs.
    let lease_conn = b.value("SELECT lease_conn FROM otter.lease WHERE pipeline = 'p'").unwrap();
    b.sql(&format!("KILL CONNECTION {lease_conn}")).unwrap();
    let new = start("p", &a, &b, "f\\..*", config(&b), 102).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.value("SELECT epoch FROM otter.lease WHERE pipeline = 'p'").unwrap() != "2" {
        assert!(Instant::now() < deadline, "no takeover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Both read the new changes; only the new holder may apply them.
    write(&a, 50, 150);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !old.finished() {
        assert!(Instant::now() < deadline, "the superseded loader kept running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let e = old.stop().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fenced, "{e}");
    assert!(e.to_string().contains("taken over") && e.to_string().contains("(epoch 2)"), "{e}");
    wait_equal(&a, &b, TABLES, 60, Some(&new)).await;
    new.stop().await.unwrap();
    assert_eq!(b.value("SELECT COUNT(*) FROM f.nokey").unwrap(), "150");
    assert_eq!(b.query("SELECT DISTINCT epoch FROM otter.checkpoint WHERE pipeline = 'p'").unwrap(), [["2"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_names_mean_the_same_in_every_sql_mode() {
    let (a, b) = setup();
    for (round, mode) in ["", "NO_BACKSLASH_ESCAPES"].into_iter().enumerate() {
        b.sql(&format!("SET GLOBAL sql_mode = '{mode}'")).unwrap();
        // A new pipeline starts from the earliest binlog: B starts empty again.
        if round > 0 {
            b.sql("TRUNCATE f.t; TRUNCATE f.nokey").unwrap();
        }
        let name = format!("it's a \\ name {round}\\");
        let from = round as u32 * 40;
        write(&a, from, from + 20);
        // Stop and resume once: the resume must find this name's rows, and only them.
        let running = start(&name, &a, &b, "f\\..*", config(&b), 101).await;
        wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
        running.stop().await.unwrap();
        write(&a, from + 20, from + 40);
        let running = start(&name, &a, &b, "f\\..*", config(&b), 101).await;
        wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
        running.stop().await.unwrap();
        let stored: Vec<Vec<u8>> = b
            .query(&format!("SELECT HEX(pipeline) FROM otter.checkpoint WHERE pipeline LIKE '%name {round}%'"))
            .unwrap()
            .into_iter()
            .map(|r| r[0].as_bytes().to_vec())
            .collect();
        assert!(!stored.is_empty());
        let hex: String = name.bytes().map(|x| format!("{x:02X}")).collect();
        assert!(stored.iter().all(|s| s == hex.as_bytes()), "stored {stored:?}, expected {hex}");
    }
    assert_eq!(b.value("SELECT COUNT(*) FROM f.nokey").unwrap(), "80");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_statements_touch_only_their_pipeline_in_every_sql_mode() {
    use mysql_async::prelude::Queryable;
    use otter_core::change::ChangeId;
    use otter_core::position::{BinlogCoord, Position};
    use otter_load::mysql::checkpoint_table::CheckpointTable;
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&b.url()).unwrap()).await.unwrap();
    let other = CheckpointTable::new("otter", "x");
    other.ensure(&mut conn).await.unwrap();
    let p = Position { coord: BinlogCoord::new("mysql-bin.000001", 4), gtid: None, skip_rows: 0, snapshot: None, applied: None };
    let wm = ChangeId { txn: BinlogCoord::new("mysql-bin.000001", 4), row: 0 };
    for mode in ["", "NO_BACKSLASH_ESCAPES"] {
        conn.query_drop(format!("SET SESSION sql_mode = '{mode}'")).await.unwrap();
        conn.query_drop("DELETE FROM otter.checkpoint").await.unwrap();
        conn.query_drop(other.write_sql(1, 2, Spread::default(), 1, Some(&p), Some(&wm), None).unwrap()).await.unwrap();
        // With backslash escapes on, a name ending in `\` quoted by doubling quotes only ends
        // its literal early: `'... OR pipeline <> \'` would reach pipeline x's rows.
        for name in ["ends with \\", "or' OR pipeline <> '\\"] {
            let t = CheckpointTable::new("otter", name);
            for part in 0..2 {
                conn.query_drop(t.write_sql(part, 2, Spread::default(), 1, Some(&p), Some(&wm), None).unwrap()).await.unwrap();
            }
            conn.query_drop(t.prune_sql(1)).await.unwrap();
            let mine: Vec<u32> = conn.exec("SELECT part FROM otter.checkpoint WHERE pipeline = ?", (name,)).await.unwrap();
            assert_eq!(mine, [0], "sql_mode {mode:?}, name {name:?}");
            let stored = t.load(&mut conn).await.unwrap();
            assert_eq!(stored.position.as_ref(), Some(&p));
        }
        let x: Vec<u32> = conn.query("SELECT part FROM otter.checkpoint WHERE pipeline = 'x'").await.unwrap();
        assert_eq!(x, [1], "sql_mode {mode:?}: another pipeline's row was touched");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_sharing_a_target_take_their_leases_at_the_same_time() {
    let (_a, b) = setup();
    let mut sinks: Vec<MysqlSink> = (0..4).map(|i| MysqlSink::new(&format!("p{i}"), config(&b)).unwrap()).collect();
    // First-time lease rows of different pipelines never lock each other (no gap locks).
    let results = futures_util::future::join_all(sinks.iter_mut().map(|s| s.stored_position())).await;
    for r in results {
        r.unwrap();
    }
    assert_eq!(b.value("SELECT COUNT(*) FROM otter.lease WHERE epoch = 1").unwrap(), "4");
}
