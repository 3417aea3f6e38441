//! Helpers of the snapshot and re-sync tests: tables of every kind of key with rows, a writer
//! that changes rows all over them, a pipeline config. (Test crates using it declare `mod common`.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use otter_testkit::{Client, MariaDb};

use crate::common::Rng;

pub const TABLES: &[&str] = &["s.comp", "s.ci", "s.uniq", "s.wide", "s.nokey"];

/// Rows per keyed table before the copy of the kill -9 test (`OTTER_SNAPSHOT_ROWS` to change):
/// 165,000 each in four tables, 10,000 keyless and 8 × 165,000 + 10,000 in the big table — 2 M
/// rows in all.
pub fn rows() -> u64 {
    std::env::var("OTTER_SNAPSHOT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(165_000)
}

pub fn schema_and_rows(a: &MariaDb, n: u64) {
    a.sql(
        "CREATE DATABASE s;
         CREATE TABLE s.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b));
         CREATE TABLE s.ci (k VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT) ;
         CREATE TABLE s.uniq (u INT NOT NULL, v VARCHAR(20), UNIQUE KEY (u));
         CREATE TABLE s.nokey (a INT, b VARCHAR(20));
         CREATE TABLE s.wide (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, d DECIMAL(12,2), f DOUBLE, dt DATETIME(6), ts TIMESTAMP(3) NULL,
                              j JSON, bl BLOB, e ENUM('x','y','z'), st SET('p','q'), bt BIT(5), y YEAR, tm TIME(2), dd DATE, txt TEXT, ti TINYINT)",
    )
    .unwrap();
    let step = 2_000;
    let mut i = 0;
    while i < n {
        let end = (i + step).min(n);
        let comp: Vec<String> = (i..end).map(|k| format!("({}, 'b{}', {k})", k / 3, k % 3)).collect();
        // Mixed case, so the collation's order differs from byte order.
        let ci: Vec<String> = (i..end).map(|k| format!("('{}key{k:07}', {k})", if k % 2 == 0 { "A" } else { "a" })).collect();
        let uniq: Vec<String> = (i..end).map(|k| format!("({}, 'u{k}')", k * 2)).collect();
        // The keyless table stays at 10,000 rows whatever `n`: every change of it scans it whole
        // on the target (as native replication does), which would otherwise set the pace.
        let nokey: Vec<String> = (i..end.min(30_000)).filter(|k| k % 3 == 0).map(|k| format!("({}, 'n{k}')", k % 101)).collect();
        let wide: Vec<String> = (i..end)
            .map(|k| {
                format!(
                    "({k}, {}.{:02}, {}.5, '2026-01-02 03:04:05.{:06}', '2026-03-04 05:06:07.123', '{{\"k\": {k}}}', x'00ff{:04x}', '{}', 'p,q', b'101', 2026, '-01:02:03.45', '2026-12-06', 'text {k}', {})",
                    k % 100000,
                    k % 100,
                    k,
                    k % 1000000,
                    k % 65536,
                    ["x", "y", "z"][(k % 3) as usize],
                    (k % 200) as i64 - 100
                )
            })
            .collect();
        let nokey = if nokey.is_empty() { String::new() } else { format!("; INSERT INTO s.nokey VALUES {}", nokey.join(",")) };
        a.sql(&format!(
            "INSERT INTO s.comp VALUES {}; INSERT INTO s.ci VALUES {}; INSERT INTO s.uniq VALUES {}; INSERT INTO s.wide VALUES {}{nokey}",
            comp.join(","),
            ci.join(","),
            uniq.join(","),
            wide.join(",")
        ))
        .unwrap();
        i = end;
    }
}

/// Changes rows all over every table until `stop`, at about `tps` transactions a second over one
/// connection (slower when the server cannot keep up).
pub fn writer(client: Client, n: u64, tps: u64, stop: Arc<AtomicBool>) {
    let mut rng = Rng(0x5a5a);
    let mut stream = client.stream().unwrap();
    let started = std::time::Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let k = rng.below(n + n / 10);
        let sql = match rng.below(9) {
            0 => format!("UPDATE s.comp SET v = v + 1 WHERE a = {}", k / 3),
            1 => format!("DELETE FROM s.comp WHERE a = {} AND b = 'b{}'", k / 3, k % 3),
            2 => format!("INSERT INTO s.comp VALUES ({}, 'n{i}', {i})", k / 3),
            // A case change of the key: the same key under the collation.
            3 => format!("UPDATE s.ci SET k = UPPER(k), v = {i} WHERE k = 'akey{k:07}'"),
            4 => format!("DELETE FROM s.ci WHERE k = 'Akey{k:07}'"),
            5 => format!("INSERT INTO s.ci VALUES ('zz{i}', {i}) ON DUPLICATE KEY UPDATE v = v + 1"),
            6 => format!("UPDATE s.uniq SET v = 'w{i}' WHERE u = {}", k * 2),
            7 => format!("REPLACE INTO s.uniq VALUES ({}, 'r{i}')", k * 2 + 1),
            _ => format!("UPDATE s.wide SET d = d + 1, txt = CONCAT(txt, '.'), dt = NOW(6) WHERE id = {k}"),
        };
        stream.send(&format!("BEGIN; {sql}; COMMIT")).unwrap();
        if i.is_multiple_of(97) {
            stream.send(&format!("DELETE FROM s.wide WHERE id = {}", rng.below(n))).unwrap();
        }
        if i.is_multiple_of(5) {
            let sql = if rng.below(2) == 0 {
                format!("INSERT INTO s.nokey VALUES ({}, 'w{i}'), ({}, 'w{i}')", rng.below(101), rng.below(101))
            } else {
                format!("DELETE FROM s.nokey WHERE a = {} LIMIT 2", rng.below(101))
            };
            stream.send(&sql).unwrap();
        }
        let due = std::time::Duration::from_secs_f64(i as f64 / tps.max(1) as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    stream.finish().unwrap();
}

pub fn config(dir: &Path, a: &MariaDb, b: &MariaDb, mode: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{}\"\n\
         [[pipeline]]\nname = \"snap\"\n\
         [pipeline.source]\nurl = \"{}\"\ninclude = [\"s\\\\..*\"]\nheartbeat_secs = 1\nmax_reconnect_backoff_secs = 1\n\
         snapshot = \"{mode}\"\nsnapshot_readers = 2\nsnapshot_chunk_ms = 50\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{}\"\nworkers = 2\nmax_retry_backoff_secs = 1\n\
         [pipeline.batch]\nlinger_ms = 20\n",
        dir.join("state").display(),
        a.url(),
        b.url(),
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}


/// Waits until `otter`'s log says the online snapshot finished (at most `secs`), failing the test
/// with `what` if it does not, or at once if otter stops.
pub fn wait_snapshot_finished(otter: &mut std::process::Child, log: &Path, secs: u64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !log_text(log).contains("Online snapshot finished") {
        assert!(std::time::Instant::now() < deadline, "{what}:\n{}", otter_testkit::compare::log_tail(log, 40));
        assert!(otter.try_wait().unwrap().is_none(), "otter stopped:\n{}", otter_testkit::compare::log_tail(log, 40));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Rows the copy stored so far, as otter last reported them (its snapshot progress line, every
/// 10 s) — where counting the target's rows would itself load the target (a `COUNT(*)` of
/// millions of rows takes a core for a second) and slow the copy it measures.
pub fn copied_rows(log: &Path) -> u64 {
    log_text(log)
        .lines()
        .rev()
        .find_map(|l| l.split("Snapshot progress. rows=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Rows the target has in the copied tables (what the copy got to).
pub fn target_rows(b: &MariaDb) -> u64 {
    TABLES
        .iter()
        .chain(&["s.big"])
        .map(|t| b.value(&format!("SELECT COUNT(*) FROM {t}")).ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0))
        .sum()
}

/// How many table-level lock and flush statements a server has run since it started: `FLUSH`
/// (any kind), `LOCK TABLES`, `BACKUP STAGE` and `BACKUP LOCK` (its status counters, which count
/// every client's statements, so a server's own log need not be on).
pub fn table_lock_statements(server: &MariaDb) -> u64 {
    let counters = server
        .query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_flush', 'Com_lock_tables', 'Com_backup', 'Com_backup_lock')")
        .unwrap();
    assert!(counters.len() >= 3, "the server lacks the FLUSH / LOCK TABLES / BACKUP counters: {counters:?}");
    counters.iter().map(|row| row[1].trim().parse::<u64>().unwrap()).sum()
}


/// A table big enough to be copied in parts (`rows` rows, integer key), and a writer changing
/// it all over its key space — below the smallest key and above the largest too — until `stop`.
pub fn big_table(a: &MariaDb, rows: u64) {
    a.sql(&format!(
        "CREATE TABLE s.big (id BIGINT NOT NULL PRIMARY KEY, v INT, t VARCHAR(30));
         INSERT INTO s.big SELECT seq, seq % 1000, CONCAT('row ', seq) FROM s.seq_1_to_{rows};
         ANALYZE TABLE s.big"
    ))
    .unwrap();
}

/// Changes `s.big` (see [`big_table`]) until `stop`.
pub fn big_writer(client: Client, rows: u64, stop: Arc<AtomicBool>) {
    let mut rng = Rng(0xb16);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let k = rng.below(rows + rows / 20) as i64;
        let sql = match rng.below(5) {
            0 => format!("UPDATE s.big SET v = v + 1, t = 'upd {i}' WHERE id = {k}"),
            1 => format!("DELETE FROM s.big WHERE id = {k}"),
            2 => format!("INSERT INTO s.big VALUES ({k}, {i}, 'ins') ON DUPLICATE KEY UPDATE v = {i}"),
            3 => format!("INSERT INTO s.big VALUES ({}, {i}, 'below') ON DUPLICATE KEY UPDATE v = {i}", -k),
            _ => format!("UPDATE s.big SET v = {i} WHERE id BETWEEN {k} AND {}", k + 50),
        };
        // Its range updates and the other writers' inserts can deadlock on A's locks: the
        // server rolls the statement back, as it would an application's, which moves on.
        if let Err(e) = client.sql(&sql) {
            assert!(e.to_string().contains("Deadlock found"), "{sql}: {e}");
        }
    }
}

/// Where each part of table `s.<table>` stands in the copy: the first key column of the last
/// row of every part, as the position B stores with the rows says (the chunk after it is the one
/// being read, or the next to be).
pub fn frontiers(b: &Client, table: &str) -> Vec<i64> {
    let out = b.sql("SELECT position FROM otter.checkpoint WHERE pipeline = 'snap'").unwrap_or_default();
    let mut keys = Vec::new();
    for line in out.lines() {
        let Ok(p) = serde_json::from_str::<serde_json::Value>(line.trim()) else { continue };
        for t in p["snapshot"]["tables"].as_array().into_iter().flatten() {
            if t["db"] == "s" && t["table"] == table {
                keys.extend(t["after"][0]["int"].as_i64());
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Changes the rows of `s.big` and `s.comp` right above where the copy stands (see
/// [`frontiers`]) — the chunks being read — until `stop`; returns how many changes it aimed.
pub fn aimed_writer(a: Client, b: Client, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = Rng(0xa1ed);
    let mut stream = a.stream().unwrap();
    let (mut big, mut comp) = (Vec::new(), Vec::new());
    let mut looked = std::time::Instant::now() - std::time::Duration::from_secs(1);
    let mut aimed = 0;
    while !stop.load(Ordering::Relaxed) {
        if looked.elapsed() > std::time::Duration::from_millis(100) {
            (big, comp) = (frontiers(&b, "big"), frontiers(&b, "comp"));
            looked = std::time::Instant::now();
        }
        let sql = match (rng.below(2), big.is_empty(), comp.is_empty()) {
            (0, false, _) | (_, false, true) => {
                let k = big[rng.below(big.len() as u64) as usize] + 1 + rng.below(400) as i64;
                match rng.below(3) {
                    0 => format!("UPDATE s.big SET v = v + 1, t = 'aimed' WHERE id = {k}"),
                    1 => format!("DELETE FROM s.big WHERE id = {k}"),
                    _ => format!("INSERT INTO s.big VALUES ({k}, 7, 'aimed') ON DUPLICATE KEY UPDATE v = v + 7"),
                }
            }
            (_, _, false) => {
                let a = comp[rng.below(comp.len() as u64) as usize] + rng.below(100) as i64;
                match rng.below(3) {
                    0 => format!("UPDATE s.comp SET v = v + 1 WHERE a = {a}"),
                    1 => format!("DELETE FROM s.comp WHERE a = {a} AND b = 'b{}'", rng.below(3)),
                    _ => format!("INSERT INTO s.comp VALUES ({a}, 'b{}', 1) ON DUPLICATE KEY UPDATE v = v + 1", rng.below(3)),
                }
            }
            _ => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
        };
        stream.send(&sql).unwrap();
        aimed += 1;
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    stream.finish().unwrap();
    aimed
}
