//! What the loader does with changes the target refuses, against real servers (A -> B, one
//! worker so a batch is one apply transaction):
//! - `dry_run` logs the statements and writes nothing, not even the checkpoint schema;
//! - a row the target refuses (a value too long for B's narrower column) stops the pipeline with
//!   the table, the key, the target's error and the statement in the message, and nothing of its
//!   transaction is applied;
//! - with `skip_errors` only that row is skipped (and logged); the others apply, converted to B's
//!   wider column types;
//! - a source column B lacks is an error naming it and the option, and with
//!   `ignore_missing_columns` the rest of the row applies;
//! - when the transaction that skipped a row fails at its checkpoint row (an injected error) and
//!   the pipeline is restarted, the keyless table gets its rows once: the rows and the checkpoint
//!   commit together;
//! - a lock wait timeout (another session holds the row) is retried, logged, until it goes.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{start, Running};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};
use parking_lot::Mutex;

const A_SCHEMA: &str = "CREATE DATABASE e;
    CREATE TABLE e.t (id INT PRIMARY KEY, v VARCHAR(20), n INT);
    CREATE TABLE e.nokey (a INT, b VARCHAR(20));
    CREATE TABLE e.m (id INT PRIMARY KEY, v VARCHAR(20), n INT);";

/// B: `v` narrower, `id` and `n` wider, `e.m` without `n`.
const B_SCHEMA: &str = "CREATE DATABASE e;
    CREATE TABLE e.t (id BIGINT PRIMARY KEY, v VARCHAR(5), n DECIMAL(20,0));
    CREATE TABLE e.nokey (a INT, b VARCHAR(20));
    CREATE TABLE e.m (id INT PRIMARY KEY, v VARCHAR(20));";

/// Everything the loader logs, for the assertions on what it reports.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The process-wide capture (installed by the first test that asks).
    fn install() -> Logs {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let writer = logs.clone();
            tracing_subscriber::fmt().with_ansi(false).with_max_level(tracing::Level::INFO).with_writer(move || writer.clone()).init();
            logs
        })
        .clone()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

fn config(b: &MariaDb, f: impl FnOnce(&mut MysqlSinkConfig)) -> MysqlSinkConfig {
    let mut cfg = MysqlSinkConfig::new(b.url());
    cfg.workers = Some(1);
    // B has its own (different) tables: A's CREATE statements fail there and are skipped.
    cfg.skip_ddl_errors = true;
    f(&mut cfg);
    cfg
}

async fn until(what: &str, secs: u64, running: &Running, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        assert!(!running.finished(), "the pipeline ended while waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs until the pipeline fails on its own; returns its error.
async fn failure(running: Running) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running.finished() {
        assert!(Instant::now() < deadline, "the pipeline did not stop on the error");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await.expect_err("the pipeline should have failed").to_string()
}

fn count(db: &MariaDb, table: &str) -> u64 {
    db.value(&format!("SELECT COUNT(*) FROM {table}")).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_rows_stop_or_are_skipped_and_never_apply_twice() {
    let logs = Logs::install();
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(A_SCHEMA).unwrap();
    b.sql(B_SCHEMA).unwrap();
    a.sql("BEGIN; INSERT INTO e.t VALUES (1, 'one', 10), (2, 'far too long', 20), (3, 'three', 30);
           INSERT INTO e.nokey VALUES (1, 'a'), (1, 'a'), (2, 'b'); COMMIT;")
        .unwrap();

    // dry_run: the statements are logged, nothing is written.
    let running = start("err", &a, &b, "e\\..*", config(&b, |c| c.dry_run = true), 101).await;
    until("the dry-run log", 60, &running, || logs.text().contains("dry run") && logs.text().contains("far too long")).await;
    running.stop().await.unwrap();
    assert_eq!((count(&b, "e.t"), count(&b, "e.nokey")), (0, 0));
    assert_eq!(b.value("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'otter'").unwrap(), "0");

    // The refused row stops the pipeline; its whole transaction is rolled back.
    let err = failure(start("err", &a, &b, "e\\..*", config(&b, |_| {}), 101).await).await;
    for needle in ["e.t key (id=2)", "Data too long", "statement: INSERT INTO `e`.`t`", "far too long"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert_eq!((count(&b, "e.t"), count(&b, "e.nokey")), (0, 0));

    // skip_errors: that row alone is skipped and logged; the others convert to B's types.
    let skip = |c: &mut MysqlSinkConfig| c.skip_errors = true;
    let running = start("err", &a, &b, "e\\..*", config(&b, skip), 101).await;
    until("the other rows", 60, &running, || count(&b, "e.t") == 2 && count(&b, "e.nokey") == 3).await;
    running.stop().await.unwrap();
    assert_eq!(b.query("SELECT id, v, n FROM e.t ORDER BY id").unwrap(), [["1", "one", "10"], ["3", "three", "30"]]);
    let log = logs.text();
    let skipped = log.lines().find(|l| l.contains("Skipped a row")).unwrap_or_else(|| panic!("no skipped-row log in:\n{log}"));
    assert!(skipped.contains("e.t key (id=2)") && skipped.contains("Data too long"), "{skipped}");

    // A column B lacks: an error naming it and the option; with the option, the rest applies.
    a.sql("INSERT INTO e.m VALUES (1, 'x', 5)").unwrap();
    let err = failure(start("err", &a, &b, "e\\..*", config(&b, skip), 101).await).await;
    assert!(err.contains("lacks the source column(s) n") && err.contains("ignore_missing_columns"), "{err}");
    let ignore = |c: &mut MysqlSinkConfig| {
        c.skip_errors = true;
        c.ignore_missing_columns = true;
    };
    let running = start("err", &a, &b, "e\\..*", config(&b, ignore), 101).await;
    until("e.m's row", 60, &running, || count(&b, "e.m") == 1).await;
    running.stop().await.unwrap();
    assert_eq!(b.query("SELECT id, v FROM e.m").unwrap(), [["1", "x"]]);

    // The transaction that skips a row fails at its checkpoint row once (a trigger counting in a
    // non-transactional table): after the restart the keyless row is there once.
    b.sql(
        "CREATE TABLE e.arm (n INT) ENGINE=MyISAM; INSERT INTO e.arm VALUES (1);
         DELIMITER //
         CREATE TRIGGER otter.fail_once BEFORE INSERT ON otter.checkpoint FOR EACH ROW
           IF (SELECT n FROM e.arm) > 0 THEN
             UPDATE e.arm SET n = n - 1;
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected checkpoint failure';
           END IF //
         DELIMITER ;",
    )
    .unwrap();
    a.sql("BEGIN; INSERT INTO e.t VALUES (4, 'four is long', 40), (5, 'five', 50); INSERT INTO e.nokey VALUES (3, 'c'); COMMIT;").unwrap();
    let err = failure(start("err", &a, &b, "e\\..*", config(&b, ignore), 101).await).await;
    assert!(err.contains("injected checkpoint failure"), "{err}");
    assert_eq!(b.value("SELECT n FROM e.arm").unwrap(), "0", "the injected failure did not fire");
    // A later change: once B has it, the restarted pipeline has passed the replayed rows.
    a.sql("INSERT INTO e.t VALUES (6, 'six', 60)").unwrap();
    let running = start("err", &a, &b, "e\\..*", config(&b, ignore), 101).await;
    until("the replayed rows", 60, &running, || b.value("SELECT COUNT(*) FROM e.t WHERE id = 6").unwrap() == "1").await;
    running.stop().await.unwrap();
    assert_eq!(b.query("SELECT id FROM e.t ORDER BY id").unwrap(), [["1"], ["3"], ["5"], ["6"]]);
    assert_eq!(b.query("SELECT a, b, COUNT(*) FROM e.nokey GROUP BY a, b ORDER BY a").unwrap(), [["1", "a", "2"], ["2", "b", "1"], ["3", "c", "1"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_wait_timeouts_are_retried_until_the_lock_goes() {
    let logs = Logs::install();
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    // Sessions opened from now on (otter's) give up on a row lock after 1 s.
    b.sql("SET GLOBAL innodb_lock_wait_timeout = 1").unwrap();
    a.sql("CREATE DATABASE l; CREATE TABLE l.t (id INT PRIMARY KEY, v INT); INSERT INTO l.t VALUES (1, 0);").unwrap();
    let running = start("lock", &a, &b, "l\\..*", config(&b, |c| c.max_retry_backoff_secs = 1), 102).await;
    until("the first row", 60, &running, || b.value("SELECT COUNT(*) FROM l.t").is_ok_and(|n| n == "1")).await;

    // Another session on B holds the row for 4 s while otter applies an update of it.
    let holder = b.client();
    let hold = std::thread::spawn(move || holder.sql("BEGIN; SELECT id FROM l.t WHERE id = 1 FOR UPDATE; SELECT SLEEP(4); COMMIT;"));
    // Its session sleeping means it holds the row lock.
    let sleeping = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'";
    until("the lock", 30, &running, || hold.is_finished() || b.value(sleeping).unwrap() != "0").await;
    assert!(!hold.is_finished(), "the lock holder ended early: {:?}", hold.join());
    let held = Instant::now();
    a.sql("UPDATE l.t SET v = 1 WHERE id = 1").unwrap();
    until("the update", 60, &running, || b.value("SELECT v FROM l.t").unwrap() == "1").await;
    assert!(held.elapsed() >= Duration::from_secs(3), "applied while the row was locked?");
    hold.join().unwrap().unwrap();
    running.stop().await.unwrap();
    let log = logs.text();
    let retried = log.lines().find(|l| l.contains("Target write failed; retrying.") && l.contains("1205"));
    assert!(retried.is_some(), "no retry of the lock wait timeout logged:\n{log}");
}
