//! MariaDB's bulk execution (`COM_STMT_BULK_EXECUTE`) against real servers: the every-type
//! workload of `common::types` (bytes that a character set conversion or an escaping would
//! change, NULLs, integer limits, floats, temporal values, ENUM/SET, a keyless table) reaches B
//! equal to A (`CHECKSUM TABLE`, row counts, and row by row) through a few bulk executions
//! (B's general log shows prepared INSERT executions, far fewer than the rows; no `LOAD DATA`); rows that already exist on
//! B are overwritten by A's (upserts); a pipeline aborted mid-stream resumes without applying
//! anything twice (the keyless table would show duplicates); and the runs leave the session's
//! text statements alone (a latin1 ENUM created on the same connection afterwards keeps its
//! members: a run that changed the connection character set would store their UTF-8 bytes); a
//! target whose `max_allowed_packet` cannot hold a whole execution gets statements.

mod common;

use common::types::{status, workload, SCHEMA, TABLES};
use common::{start, sync_until_equal, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

/// Logs B's statements to `mysql.general_log`.
fn log_statements(b: &MariaDb) {
    b.sql("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = ON").unwrap();
}

/// Prepared INSERT statements B executed (what bulk execution sends; text statements are
/// `Query` entries of the log).
fn bulk_executions(b: &MariaDb) -> u64 {
    b.value("SELECT COUNT(*) FROM mysql.general_log WHERE command_type = 'Execute' AND argument LIKE 'INSERT%'").unwrap().parse().unwrap()
}

fn config(b: &MariaDb, workers: usize) -> MysqlSinkConfig {
    let mut cfg = MysqlSinkConfig::new(b.url());
    cfg.workers = Some(workers);
    cfg.bulk_min_rows = 16;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_through_bulk_execution_and_exactly_once_after_an_abort() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 600);
    log_statements(&b);
    sync_until_equal("bulk", &a, &b, "s\\..*", config(&b, 2), TABLES, 120).await;
    let executions = bulk_executions(&b);
    assert!(executions > 0, "no bulk execution");
    assert!(executions < 100, "{executions} executions for 1,200 rows: not bulk");
    assert_eq!(status(&b, "Com_load"), 0, "LOAD DATA was used");
    let dump = "SELECT id, HEX(vc), HEX(lat), HEX(bin), HEX(vb), HEX(tx), HEX(lt), f, g, d, ubi, bi, yr, dt, tm, dtm, ts, e, st FROM s.all ORDER BY id";
    a.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    b.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    assert_eq!(a.query(dump).unwrap(), b.query(dump).unwrap());

    // Abort (no graceful stop) while a larger backlog is being applied, then resume.
    workload(&a, 600, 3000);
    let running = start("bulk", &a, &b, "s\\..*", config(&b, 2), 101).await;
    while b.value("SELECT COUNT(*) FROM s.all").unwrap().parse::<u64>().unwrap() <= 600 && !running.finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
    let running = start("bulk", &a, &b, "s\\..*", config(&b, 2), 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    assert_eq!(b.value("SELECT COUNT(*) FROM s.nokey").unwrap(), "3000");
    assert_eq!(a.query(dump).unwrap(), b.query(dump).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_rows_are_overwritten_and_later_ddl_text_is_read_as_utf8mb4() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    b.sql(SCHEMA).unwrap();
    // B already holds some of the rows A inserts, with other values.
    b.sql(&format!("INSERT INTO s.all (id, vc, tx) VALUES {}", (100..400).step_by(7).map(|n| format!("({n}, 'old', 'old')")).collect::<Vec<_>>().join(", ")))
        .unwrap();
    workload(&a, 0, 500);
    // Updates of existing rows go in bulk too; then, on the same (only) connection, a DDL whose
    // text must be read as utf8mb4 (with `SET NAMES binary` instead of the run's
    // `character_set_client = binary`, the latin1 ENUM members would be stored as their UTF-8
    // bytes, two characters each).
    let updates: Vec<String> = (0..200).map(|n| format!("UPDATE s.all SET mi = -{n}, vc = 'ünï {n}' WHERE id = {n}")).collect();
    a.sql(&updates.join(";")).unwrap();
    a.sql("CREATE TABLE s.enums (id INT PRIMARY KEY, e ENUM('é', 'ü', 'x') CHARACTER SET latin1, c VARCHAR(10) CHARACTER SET latin1)").unwrap();
    a.sql("INSERT INTO s.enums VALUES (1, 'é', 'ç'), (2, 'ü', 'ñ')").unwrap();
    let mut cfg = config(&b, 1);
    // B already has the tables: A's CREATE statements fail there and are skipped.
    cfg.skip_ddl_errors = true;
    log_statements(&b);
    let tables: Vec<&str> = TABLES.iter().copied().chain(["s.enums"]).collect();
    sync_until_equal("bulk", &a, &b, "s\\..*", cfg, &tables, 120).await;
    assert!(bulk_executions(&b) > 0, "no bulk execution");
    let members = "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 's' AND TABLE_NAME = 'enums' AND COLUMN_NAME = 'e'";
    assert_eq!(b.value(members).unwrap(), "enum('é','ü','x')");
    assert_eq!(a.query("SELECT id, HEX(e), HEX(c) FROM s.enums ORDER BY id").unwrap(), b.query("SELECT id, HEX(e), HEX(c) FROM s.enums ORDER BY id").unwrap());
    assert_eq!(b.value("SELECT vc FROM s.all WHERE id = 7").unwrap(), "ünï 7");
    let dump = "SELECT id, mi, HEX(vc), HEX(tx) FROM s.all ORDER BY id";
    assert_eq!(a.query(dump).unwrap(), b.query(dump).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_a_small_max_allowed_packet_gets_statements() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2).arg("--max-allowed-packet=1M")).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 300);
    log_statements(&b);
    sync_until_equal("bulk", &a, &b, "s\\..*", config(&b, 2), TABLES, 120).await;
    assert_eq!(bulk_executions(&b), 0, "bulk execution with a 1 MiB max_allowed_packet");
}

/// Burns CPU on every core until dropped (the load under which orphaned commits used to win
/// the race against the restarted run).
struct CpuLoad(std::sync::Arc<std::sync::atomic::AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl CpuLoad {
    fn start() -> CpuLoad {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..std::thread::available_parallelism().map_or(2, |n| n.get()))
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        CpuLoad(stop, threads)
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_and_restarted_twenty_times_under_cpu_load_applies_nothing_twice() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    let _load = CpuLoad::start();
    let mut applied = 0u64;
    for round in 0..20u32 {
        workload(&a, round * 300, (round + 1) * 300);
        let running = start("bulk", &a, &b, "s\\..*", config(&b, 2), 101).await;
        // Abort (no graceful stop) as soon as this round's apply has begun.
        let count = || b.value("SELECT COUNT(*) FROM s.nokey").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        while count() <= applied && !running.finished() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(!running.finished(), "round {round}: the pipeline stopped on its own");
        running.abort();
        applied = count();
        assert!(applied <= u64::from(round + 1) * 300, "round {round}: {applied} keyless rows on B for {} on A", (round + 1) * 300);
    }
    let running = start("bulk", &a, &b, "s\\..*", config(&b, 2), 101).await;
    wait_equal(&a, &b, TABLES, 180, Some(&running)).await;
    running.stop().await.unwrap();
    assert_eq!(b.value("SELECT COUNT(*) FROM s.nokey").unwrap(), "6000");
}
