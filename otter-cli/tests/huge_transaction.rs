//! `consistency = "transaction"` with source transactions too big to hold, against real servers:
//! a 150,000-row insert (with rows of a keyless table in the same transaction) and an update of
//! every one of those rows, each one source transaction of ~90–180 MB of row images. otter must
//! apply each whole — a reader on B sees the table before or after a transaction, never between
//! — with its memory bounded (peak RSS of this debug build under 200 MiB; the release build
//! peaks at ~130 MiB here, and at ~570 MiB when it holds each transaction whole), and a
//! `kill -9` in the middle of one, with an immediate restart, must roll it back and apply it
//! again once: nothing lost, nothing twice (the keyless table would show doubled rows); a lost
//! target connection inside one makes the pipeline read it again. And an online snapshot copying tables while such
//! transactions commit on A: B never shows part of one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config_sink, interrupt, spawn_run, wait_equal_while_running};
use mysql_async::prelude::Queryable;
use otter_testkit::compare::log_tail;
use otter_testkit::{MariaDb, ServerConfig};

const ROWS: u64 = 150_000;
const KEYLESS: u64 = 20_000;

/// Peak resident memory of process `pid` (`VmHWM`), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap();
    kb / 1024
}

/// The open transaction on B that changed the most rows: (its rows, its connection id).
async fn open_txn(conn: &mut mysql_async::Conn) -> (u64, u64) {
    conn.query_first("SELECT trx_rows_modified, trx_mysql_thread_id FROM information_schema.INNODB_TRX ORDER BY trx_rows_modified DESC LIMIT 1")
        .await
        .ok()
        .flatten()
        .unwrap_or((0, 0))
}

/// Waits until otter's open transaction on B holds at least `rows` rows; returns its connection.
fn wait_open(rt: &tokio::runtime::Runtime, probe: &mut mysql_async::Conn, rows: u64, otter: &mut std::process::Child, log: &std::path::Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (n, conn) = rt.block_on(open_txn(probe));
        if n >= rows {
            return conn;
        }
        assert!(Instant::now() < deadline, "no big open transaction on B:\n{}", log_tail(log, 40));
        assert!(otter.try_wait().unwrap().is_none(), "otter stopped:\n{}", log_tail(log, 40));
        // InnoDB refreshes the view only when it was not read in the last 100 ms.
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Reads B's table until `stop`; returns every distinct (rows, updated rows) seen.
async fn reader(url: String, stop: Arc<AtomicBool>) -> Vec<(u64, u64)> {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap()).await.unwrap();
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // One statement: one consistent read.
        let Ok(Some(pair)) = conn.query_first::<(u64, u64), _>("SELECT COUNT(*), COALESCE(SUM(v LIKE 'y%'), 0) FROM big.t").await else { continue };
        if !seen.contains(&pair) {
            seen.push(pair);
        }
    }
    seen
}

/// A's tables and the two big transactions.
fn big_transactions(a: &MariaDb) {
    a.sql(&format!(
        "CREATE DATABASE big; USE big;
         CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(700));
         CREATE TABLE big.nokey (a INT, b VARCHAR(20));
         INSERT INTO big.t VALUES (0, 'small');
         BEGIN;
         INSERT INTO big.t SELECT seq, CONCAT(seq, REPEAT('x', 600)) FROM seq_1_to_{ROWS};
         INSERT INTO big.nokey SELECT seq % 97, 'in the big one' FROM seq_1_to_{KEYLESS};
         COMMIT;
         BEGIN; UPDATE big.t SET v = CONCAT('y', id, REPEAT('y', 600)); INSERT INTO big.nokey VALUES (1, 'after'); COMMIT;"
    ))
    .unwrap();
}

/// A with the big transactions, an empty B, and a transaction-mode pipeline between them:
/// (A, B, the directory holding the rest, the config, the log).
fn big_pair() -> (MariaDb, MariaDb, tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    big_transactions(&a);
    let dir = tempfile::tempdir().unwrap();
    let config = config_sink(dir.path(), &a, &b.url(), 2, "big\\\\..*", "consistency = \"transaction\"", "");
    let log = dir.path().join("run.log");
    (a, b, dir, config, log)
}

#[test]
fn huge_transactions_are_applied_whole_in_bounded_memory_and_once_after_a_kill9() {
    let (a, b, _dir, config, log) = big_pair();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = rt.spawn(reader(b.url(), Arc::clone(&stop)));
    let mut probe = rt.block_on(mysql_async::Conn::new(mysql_async::Opts::from_url(&b.url()).unwrap())).unwrap();
    let mut otter = spawn_run(&config, &log);
    // Killed while its target transaction holds a good part of the first big one.
    wait_open(&rt, &mut probe, ROWS / 3, &mut otter, &log);
    let before_kill = peak_mib(otter.id());
    otter.kill().unwrap();
    otter.wait().unwrap();
    let mut otter = spawn_run(&config, &log);
    wait_equal_while_running(&a, &b, &["big.t", "big.nokey"], 300, &mut otter, &log);
    let after_restart = peak_mib(otter.id());
    stop.store(true, Ordering::Relaxed);
    let seen = rt.block_on(seen).unwrap();
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.matches("A source transaction too big to hold").count() >= 3, "the big transactions were not applied in parts:\n{}", log_tail(&log, 40));
    // Whole or nothing: the table as it was before or after each source transaction.
    let whole = [(0, 0), (1, 0), (ROWS + 1, 0), (ROWS + 1, ROWS + 1)];
    for s in &seen {
        assert!(whole.contains(s), "B showed {s:?} (rows, updated rows): a state between source transactions; all seen: {seen:?}");
    }
    assert!(seen.contains(&(ROWS + 1, 0)), "the reader never saw the state between the two big transactions: {seen:?}");
    assert_eq!(b.value("SELECT COUNT(*) FROM big.nokey").unwrap().trim(), (KEYLESS + 1).to_string(), "keyless rows applied twice or lost");
    // Bounded by the parts, not by the transactions (held whole, the update alone takes several
    // hundred MiB).
    assert!(before_kill < 200 && after_restart < 200, "peak RSS {before_kill} MiB before the kill, {after_restart} MiB after the restart");
}

#[test]
fn a_connection_lost_inside_a_transaction_applied_in_parts_reads_it_again() {
    let (a, b, _dir, config, log) = big_pair();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut probe = rt.block_on(mysql_async::Conn::new(mysql_async::Opts::from_url(&b.url()).unwrap())).unwrap();
    let mut otter = spawn_run(&config, &log);
    // The target drops the connection holding the open transaction (a link down, a restart).
    let conn = wait_open(&rt, &mut probe, ROWS / 3, &mut otter, &log);
    b.sql(&format!("KILL CONNECTION {conn}")).unwrap();
    wait_equal_while_running(&a, &b, &["big.t", "big.nokey"], 300, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Restarting the pipeline from its checkpoint"), "{}", log_tail(&log, 40));
    assert_eq!(b.value("SELECT COUNT(*) FROM big.nokey").unwrap().trim(), (KEYLESS + 1).to_string(), "keyless rows applied twice or lost");
}

/// Runs `UPDATE big.u SET v = n` (one source transaction over every row, applied in parts) with
/// a growing `n` until `stop`; returns how many ran.
async fn big_updates(url: String, stop: Arc<AtomicBool>) -> u64 {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap()).await.unwrap();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        conn.query_drop(format!("UPDATE big.u SET v = {n}")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    n
}

/// Reads B's `big.u` until `stop`: the reads that showed more than one value of `v` (half of a
/// source transaction), and the reads made.
async fn mixed_reads(url: String, stop: Arc<AtomicBool>) -> (u64, u64) {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap()).await.unwrap();
    let (mut mixed, mut reads) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let Ok(Some(values)) = conn.query_first::<u64, _>("SELECT COUNT(DISTINCT v) FROM big.u").await else { continue };
        reads += 1;
        mixed += u64::from(values > 1);
    }
    (mixed, reads)
}

#[test]
fn an_online_snapshot_next_to_transactions_applied_in_parts_keeps_them_whole() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(
        "CREATE DATABASE big;
         CREATE TABLE big.u (id INT PRIMARY KEY, v INT NOT NULL);
         INSERT INTO big.u SELECT seq, 0 FROM big.seq_1_to_12000;
         CREATE TABLE big.t (id INT PRIMARY KEY, p VARCHAR(200));
         INSERT INTO big.t SELECT seq, REPEAT('p', 150) FROM big.seq_1_to_150000;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Both tables copied by the snapshot (B has neither), in small chunks, while the updates run.
    let config = config_sink(dir.path(), &a, &b.url(), 2, "big\\\\..*", "consistency = \"transaction\"", "");
    let text = std::fs::read_to_string(&config).unwrap().replace("from = \"earliest\"\n", "from = \"latest\"\nsnapshot = \"initial\"\nsnapshot_chunk_ms = 20\n");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("run.log");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let updates = rt.spawn(big_updates(a.url(), Arc::clone(&stop)));
    let reads = rt.spawn(mixed_reads(b.url(), Arc::clone(&stop)));
    let mut otter = spawn_run(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("Online snapshot finished") {
        assert!(Instant::now() < deadline, "the snapshot did not finish:\n{}", log_tail(&log, 40));
        assert!(otter.try_wait().unwrap().is_none(), "otter stopped:\n{}", log_tail(&log, 40));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let updates = rt.block_on(updates).unwrap();
    wait_equal_while_running(&a, &b, &["big.u", "big.t"], 300, &mut otter, &log);
    let (mixed, reads) = rt.block_on(reads).unwrap();
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(updates >= 3 && text.contains("A source transaction too big to hold"), "{updates} updates; none applied in parts:\n{}", log_tail(&log, 40));
    assert!(reads > 50, "{reads} reads of B");
    assert_eq!(mixed, 0, "{mixed} of {reads} reads of B showed part of a source transaction");
}
