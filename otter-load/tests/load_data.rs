//! The `LOAD DATA LOCAL INFILE` fast path against real servers: every common column type, with
//! the bytes its escaping must get right (tab, newline, CR, NUL, backslash, a literal `\N`),
//! NULLs, utf8mb4 and latin1 text, binary strings, decimals, floats at their limits, temporal
//! values with fractional seconds, zero dates and years, ENUM and SET, a keyless table; B ends
//! equal to A (`CHECKSUM TABLE`, row counts, and row by row); the typed table is shown to take the
//! fast path (the server's `Com_load` grows) and a table with BIT/JSON columns not to. Rows that
//! already exist on the target make the run
//! fall back to the usual statements (the source's rows still win), a target with
//! `local_infile = OFF` is applied with statements, and a pipeline aborted mid-stream resumes
//! without applying anything twice (the keyless table would show duplicates).

mod common;

use common::types::{row, status, workload, SCHEMA, TABLES};
use common::{start, sync_until_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

fn config(b: &MariaDb) -> MysqlSinkConfig {
    let mut cfg = MysqlSinkConfig::new(b.url());
    cfg.workers = Some(2);
    cfg.load_data_min_rows = 16;
    // LOAD DATA rather than MariaDB's bulk execution (tests/bulk.rs).
    cfg.bulk_min_rows = 0;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_through_load_data_and_exactly_once_after_an_abort() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 600);
    sync_until_equal("ld", &a, &b, "s\\..*", config(&b), TABLES, 120).await;
    assert!(status(&b, "Com_load") > 0, "the fast path was not taken");
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), 0, "a LOAD DATA run fell back");
    // Row by row too, for the columns CHECKSUM TABLE could hide behind equal sums.
    let dump = "SELECT id, HEX(vc), HEX(lat), HEX(bin), HEX(vb), HEX(tx), HEX(lt), f, g, d, yr, dt, tm, dtm, ts, e, st FROM s.all ORDER BY id";
    a.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    b.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    assert_eq!(a.query(dump).unwrap(), b.query(dump).unwrap());

    // s.all alone takes the fast path; s.other (BIT, JSON) alone never does.
    let loads = status(&b, "Com_load");
    let rows: Vec<String> = (600..800).map(row).collect();
    a.sql(&format!("SET time_zone = '+00:00'; INSERT INTO s.all VALUES {};", rows.join(", "))).unwrap();
    sync(&a, &b).await;
    let after_all = status(&b, "Com_load");
    assert!(after_all > loads, "s.all did not go through LOAD DATA");
    let other: Vec<String> = (600..800).map(|n| format!("({n}, b'1', '[{n}]', 'o')")).collect();
    a.sql(&format!("INSERT INTO s.other VALUES {};", other.join(", "))).unwrap();
    sync(&a, &b).await;
    assert_eq!(status(&b, "Com_load"), after_all, "s.other went through LOAD DATA");
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), 0, "a LOAD DATA run fell back");

    // Abort (no graceful stop) while a larger backlog is being applied, then resume.
    workload(&a, 800, 3000);
    let running = start("ld", &a, &b, "s\\..*", config(&b), 101).await;
    while b.value("SELECT COUNT(*) FROM s.all").unwrap().parse::<u64>().unwrap() <= 800 && !running.finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
    sync_until_equal("ld", &a, &b, "s\\..*", config(&b), TABLES, 120).await;
    assert_eq!(b.value("SELECT COUNT(*) FROM s.nokey").unwrap(), "2800");
}

/// Runs the pipeline until B equals A, then stops it.
async fn sync(a: &MariaDb, b: &MariaDb) {
    sync_until_equal("ld", a, b, "s\\..*", config(b), TABLES, 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_rows_fall_back_and_local_infile_off_uses_statements() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    b.sql(SCHEMA).unwrap();
    // B already holds some of the rows A inserts, with other values, and a row A never has.
    b.sql("SET time_zone = '+00:00'").unwrap();
    b.sql(&format!("INSERT INTO s.all (id, vc, tx) VALUES {}", (100..400).step_by(7).map(|n| format!("({n}, 'old', 'old')")).collect::<Vec<_>>().join(", ")))
        .unwrap();
    workload(&a, 0, 500);
    let mut cfg = config(&b);
    // B already has the tables: A's CREATE statements fail there and are skipped.
    cfg.skip_ddl_errors = true;
    sync_until_equal("ld", &a, &b, "s\\..*", cfg.clone(), TABLES, 120).await;
    assert!(status(&b, "Com_rollback_to_savepoint") > 0, "no run fell back");

    // The target refuses LOCAL INFILE: statements only, still equal.
    b.sql("SET GLOBAL local_infile = 0").unwrap();
    workload(&a, 500, 1500);
    sync_until_equal("ld", &a, &b, "s\\..*", cfg, TABLES, 120).await;
}
