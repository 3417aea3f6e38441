//! The online snapshot through `otter run`, against real servers: B starts empty (no tables),
//! A holds 2 M rows (see `snapshot_support::rows`) in tables with a composite key, a `utf8mb4_general_ci` string key (whose order
//! differs from byte order), a table with only a unique key and a wide mixed-type table, while a
//! writer keeps inserting, updating (key case changes included) and deleting rows all over the
//! key space and another aims at the chunks being read. otter copies with `snapshot = "initial"`
//! and is killed with SIGKILL several times during the copy, each time restarted at once; B must
//! end equal to A, A's general log and both servers' status counters must show no table lock or
//! flush, and the copy must have resumed rather than restarted, reading at most one chunk per
//! reader again per restart.

mod common;
mod snapshot_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{interrupt, spawn_run, spawn_run_logging, wait_equal_while_running, Rng};
use otter_testkit::compare::{log_tail, Tables, Wait};
use otter_testkit::{MariaDb, Proxy, ServerConfig};
use snapshot_support::{aimed_writer, big_table, big_writer, config, copied_rows, log_text, rows, schema_and_rows, table_lock_statements, target_rows, wait_snapshot_finished, writer, TABLES};

#[test]
fn initial_snapshot_under_live_writes_and_kill9_equals_the_source_without_locks() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let n = rows();
    schema_and_rows(&a, n);
    // Copied in two parts at once (two readers), while written all over.
    let big = 8 * n + 10_000;
    big_table(&a, big);
    let general = a.dir().join("general.log");
    a.sql(&format!("SET GLOBAL general_log_file = '{}'; SET GLOBAL general_log = ON", general.display())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b, "initial");
    let log = dir.path().join("run.log");
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, n, 1_000, stop))
    };
    let wb = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || big_writer(client, big, stop))
    };
    // And one aimed at the chunks being read: right above where B's stored progress stands.
    let wa = {
        let (client, target, stop) = (a.client(), b.client(), Arc::clone(&stop));
        std::thread::spawn(move || aimed_writer(client, target, stop))
    };
    // The gate's debug lines name every chunk read again because its snapshot raced a commit.
    // Neither server runs a table-level lock or flush statement while otter copies (A's general
    // log is checked below too; B's counters stand for its log, which 2 M rows would make huge).
    let locks_before = (table_lock_statements(&a), table_lock_statements(&b));
    let spawn = || spawn_run_logging(&config, &log, Some("info,otter_core::source::mysql::snapshot::gate=debug"));
    let mut otter = spawn();
    // SIGKILL during the copy, each followed by an immediate restart; each restart must resume
    // (the target never falls back to an earlier count by more than the chunks in flight).
    let mut kills = 0;
    let mut rng = Rng(0xfeed);
    let total = 4 * n + n / 3 + big;
    while kills < 5 {
        let deadline = Instant::now() + Duration::from_secs(120);
        let aim = copied_rows(&log) + total / 10 + rng.below(total / 10);
        while copied_rows(&log) < aim && !log_text(&log).contains("Online snapshot finished") {
            assert!(Instant::now() < deadline, "the copy made no progress:\n{}", log_tail(&log, 40));
            if let Some(status) = otter.try_wait().unwrap() {
                panic!("otter stopped on its own ({status}):\n{}", log_tail(&log, 40));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if log_text(&log).contains("Online snapshot finished") {
            break;
        }
        otter.kill().unwrap();
        otter.wait().unwrap();
        kills += 1;
        otter = spawn();
    }
    assert!(kills >= 2, "the copy finished before two kills (raise OTTER_SNAPSHOT_ROWS): {kills}");
    wait_snapshot_finished(&mut otter, &log, 300, "the snapshot did not finish");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wb.join().unwrap();
    let aimed = wa.join().unwrap();
    assert!(aimed > 100, "the aimed writer found the copy's progress {aimed} times");
    let all: Vec<&str> = TABLES.iter().copied().chain(["s.big"]).collect();
    wait_equal_while_running(&a, &b, &all, 180, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = log_text(&log);
    assert_eq!(text.matches("Resuming the online snapshot").count(), kills, "every restart resumes the copy:\n{}", log_tail(&log, 60));
    assert!(text.contains("Copying a big table in parts at once. table=s.big parts=2"), "{}", log_tail(&log, 60));
    let general = std::fs::read_to_string(&general).unwrap().to_ascii_uppercase();
    assert!(general.contains("WITH CONSISTENT SNAPSHOT"), "the general log shows no snapshot reads");
    // Work a restart redoes is bounded: every chunk read is one consistent snapshot on A, and the
    // finished copy counts the chunks whose progress was stored. Beyond those, A sees the chunks
    // read again because their snapshot raced a commit (logged by the gate, restarts or not), and
    // per kill at most one chunk read per reader (a reader reads its next chunk only once the last
    // one is durable, and an acknowledged chunk's progress is recorded at once, ahead of the next
    // chunk's rows) plus the keyless table's whole copy.
    let reads = general.matches("WITH CONSISTENT SNAPSHOT").count();
    let finished = text.lines().find(|l| l.contains("Online snapshot finished")).unwrap();
    let chunks: usize = finished.split("chunks=").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap();
    // Stale chunks brought up to date are not read again.
    let stale = text.matches("reading its range again").count() + text.matches("reading the table again").count();
    assert!(reads >= chunks + stale, "{reads} reads for {chunks} chunks and {stale} stale reads");
    eprintln!("chunk reads: {reads}, chunks stored: {chunks}, stale chunks read again: {stale}, kills: {kills}");
    let readers = 2;
    assert!(
        reads - chunks - stale <= kills * (readers + 1),
        "{} chunk reads beyond the {chunks} stored and {stale} stale, over {kills} restarts with {readers} readers",
        reads - chunks - stale
    );
    assert_eq!((table_lock_statements(&a), table_lock_statements(&b)), locks_before, "A or B ran FLUSH, LOCK TABLES or BACKUP during the copy");
    for locking in ["FLUSH TABLES", "LOCK TABLES", "LOCK TABLE ", "FOR UPDATE", "LOCK IN SHARE MODE", "BACKUP STAGE"] {
        assert!(!general.contains(locking), "the source saw {locking}");
    }
}

#[test]
fn initial_only_copies_then_stops_and_a_ddl_mid_copy_is_followed() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let n = 15_000;
    schema_and_rows(&a, n);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b, "initial_only");
    let log = dir.path().join("run.log");
    let mut otter = spawn_run(&config, &log);
    // An ALTER while the copy runs: chunks before it go out with the old definition, the ALTER
    // reaches the target in order, chunks after it carry the new column.
    let deadline = Instant::now() + Duration::from_secs(120);
    while target_rows(&b) < n / 2 {
        assert!(Instant::now() < deadline, "no progress:\n{}", log_tail(&log, 40));
        std::thread::sleep(Duration::from_millis(10));
    }
    a.sql("ALTER TABLE s.wide ADD COLUMN extra INT NOT NULL DEFAULT 7; UPDATE s.wide SET extra = 8 WHERE id % 10 = 0").unwrap();
    let status = otter.wait().unwrap();
    assert!(status.success(), "initial_only must end with success: {status}\n{}", log_tail(&log, 40));
    Wait::pair(&a, &b, Tables::Named(TABLES), 30).log(&log).run();
    // A second run has nothing to do and says so.
    let again = spawn_run(&config, &log).wait().unwrap();
    assert!(again.success());
    assert!(log_text(&log).contains("nothing to do"), "{}", log_tail(&log, 20));
}

/// `otter check`'s `target_tables` line for `config`.
fn check_line(config: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(config).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.contains("target_tables")).unwrap_or_else(|| panic!("no target_tables line:\n{text}")).to_owned()
}

#[test]
fn check_reports_missing_target_tables_and_what_the_snapshot_does() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema_and_rows(&a, 10);
    let dir = tempfile::tempdir().unwrap();
    let never = check_line(&config(dir.path(), &a, &b, "never"));
    assert!(never.contains("WARN") && never.contains("5 of 5 included tables are missing") && never.contains("snapshot = \"initial\""), "{never}");
    let initial = check_line(&config(dir.path(), &a, &b, "initial"));
    assert!(initial.contains("PASS") && initial.contains("the snapshot will create and copy them"), "{initial}");
    b.sql("CREATE DATABASE s; CREATE TABLE s.comp (a INT, b VARCHAR(20), v INT, PRIMARY KEY (a, b))").unwrap();
    let partly = check_line(&config(dir.path(), &a, &b, "never"));
    assert!(partly.contains("4 of 5") && !partly.contains("s.comp"), "{partly}");
}

#[test]
fn the_copy_respects_its_rate_limit() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let n = 8_000;
    schema_and_rows(&a, n);
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &a, &b, "initial_only");
    let text = std::fs::read_to_string(&path).unwrap().replace("snapshot_chunk_ms = 50", "snapshot_chunk_ms = 50\nsnapshot_max_rows_per_sec = 20000");
    std::fs::write(&path, text).unwrap();
    let log = dir.path().join("run.log");
    let started = Instant::now();
    let status = spawn_run(&path, &log).wait().unwrap();
    let took = started.elapsed();
    assert!(status.success(), "{}", log_tail(&log, 30));
    Wait::pair(&a, &b, Tables::Named(TABLES), 30).log(&log).run();
    // 4 keyed tables of 8,000 rows at 20,000 rows/s: at least 1.6 s of reading budget, less the
    // last chunk's share (a lower bound: a slow machine only makes it longer).
    assert!(took >= Duration::from_millis(1200), "the copy took {took:?}: faster than its limit");
}

#[test]
fn by_default_a_first_start_copies_only_the_tables_the_target_lacks() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema_and_rows(&a, 2_000);
    // The target already has s.comp (empty): it is streamed, not copied.
    b.sql("CREATE DATABASE s; CREATE TABLE s.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b))").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &a, &b, "never");
    let text = std::fs::read_to_string(&path).unwrap().replace("snapshot = \"never\"\n", "");
    std::fs::write(&path, text).unwrap();
    assert!(check_line(&path).contains("the snapshot will create and copy them"), "{}", check_line(&path));
    let log = dir.path().join("run.log");
    let mut otter = spawn_run(&path, &log);
    wait_snapshot_finished(&mut otter, &log, 120, "no copy");
    a.sql("INSERT INTO s.comp VALUES (999999, 'new', 1)").unwrap();
    wait_equal_while_running(&a, &b, &["s.ci", "s.uniq", "s.wide", "s.nokey"], 60, &mut otter, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.value("SELECT COUNT(*) FROM s.comp").unwrap().trim() != "1" {
        assert!(Instant::now() < deadline, "s.comp on B should hold only the streamed row:\n{}", log_tail(&log, 40));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    assert!(log_text(&log).contains("tables=4") && log_text(&log).contains("when_needed"), "{}", log_tail(&log, 40));
}

/// Changes rows all over `s.hot` in small transactions from 3 connections (a few hundred a
/// second each) and 1,000 rows at once five times a second, until `stop` (updates of 5 rows, and every few rounds a delete, an insert and a key move);
/// returns the transactions made.
fn hot_writer(url: String, stop: Arc<AtomicBool>) -> u64 {
    use mysql_async::prelude::Queryable;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let one = |c: u64| {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            async move {
                let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap()).await.unwrap();
                let mut rng = Rng(0x5eed + c);
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let ids: Vec<String> = (0..5).map(|_| (1 + rng.below(HOT_ROWS)).to_string()).collect();
                    // Deadlocks between the connections are possible: a failed round is rolled back.
                    if conn.query_drop(format!("UPDATE s.hot SET v = v + 1 WHERE id IN ({})", ids.join(","))).await.is_err() {
                        conn.query_drop("ROLLBACK").await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    if n.is_multiple_of(10) {
                        let k = 1 + rng.below(HOT_ROWS);
                        let moved = conn.query_drop(format!(
                            "BEGIN; DELETE FROM s.hot WHERE id = {k}; INSERT IGNORE INTO s.hot VALUES ({}, {n}, 'new'); \
                             UPDATE IGNORE s.hot SET id = id + {HOT_ROWS} WHERE id = {}; COMMIT",
                            1 + rng.below(HOT_ROWS),
                            1 + rng.below(HOT_ROWS)
                        ));
                        if moved.await.is_err() {
                            conn.query_drop("ROLLBACK").await.unwrap();
                        }
                    }
                }
                n
            }
        };
        // And one changing 1,000 rows in one transaction, five times a second.
        let big = {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            async move {
                let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap()).await.unwrap();
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let from = (n * 3_001) % HOT_ROWS;
                    if conn.query_drop(format!("UPDATE s.hot SET v = v + 1 WHERE id > {from} AND id <= {}", from + 1_000)).await.is_err() {
                        conn.query_drop("ROLLBACK").await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                n
            }
        };
        let (x, y, z, w) = tokio::join!(one(1), one(2), one(3), big);
        x + y + z + w
    })
}

const HOT_ROWS: u64 = 20_000;

/// A source in another datacenter (10 ms each way) whose table changes all the time: a chunk's
/// snapshot position reaches otter a round trip after the snapshot opened, and transactions
/// committed meanwhile have often gone out already — under the old rule every such chunk was read
/// again, and on a busy table could be read again for ever. Stale chunks are brought up to date
/// with what the stream did to their keys instead: the copy finishes and B ends equal to A.
#[test]
fn a_table_whose_every_row_changes_all_the_time_is_still_copied() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(&format!(
        "CREATE DATABASE s;
         CREATE TABLE s.hot (id INT NOT NULL PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(40));
         INSERT INTO s.hot SELECT seq, 0, REPEAT('p', 30) FROM s.seq_1_to_{HOT_ROWS};",
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b, "initial");
    let far = Proxy::start_delayed(&format!("127.0.0.1:{}", a.port()), Duration::from_millis(10)).unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(&format!("127.0.0.1:{}", a.port()), &format!("127.0.0.1:{}", far.port()));
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("run.log");
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (url, stop) = (a.url(), Arc::clone(&stop));
        std::thread::spawn(move || hot_writer(url, stop))
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut otter = spawn_run_logging(&config, &log, Some("info,otter_core::source::mysql::snapshot::gate=debug"));
    wait_snapshot_finished(&mut otter, &log, 180, "the snapshot did not finish");
    stop.store(true, Ordering::Relaxed);
    let rounds = w.join().unwrap();
    wait_equal_while_running(&a, &b, &["s.hot"], 120, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = log_text(&log);
    let patched = text.matches("brought up to date with the stream").count();
    let reread = text.matches("reading its range again").count();
    eprintln!("writer transactions: {rounds}, chunks brought up to date: {patched}, read again: {reread}");
    assert!(patched > 0, "no chunk went stale: the test did not race the copy ({rounds} transactions)");
    // Nothing here stops a stale chunk from being brought up to date (no definition change, whole
    // row images): none is read again (without the repair: 173 reads again, 4.6 times as long).
    assert_eq!(reread, 0, "{}", log_tail(&log, 40));
}
