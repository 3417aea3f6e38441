//! `otter resync` against real servers while the pipeline runs and a writer keeps changing every
//! table: B is corrupted behind otter's back (rows changed, deleted, and rows the source never had
//! inserted) in four ways — 100 keys of a `utf8mb4_general_ci` key, a whole table with a
//! composite key, a `WHERE` range of a table with only a unique key, a `WHERE` on a table
//! without any key — and re-synced; B must end equal to A. One re-sync is interrupted by
//! SIGKILL with an immediate restart. Wrong requests exit 2 and write nothing; a wrong request
//! written by hand into the signal table is refused with a log line and the pipeline goes on.

mod common;
mod snapshot_support;

use std::path::Path;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{interrupt, spawn_run, wait_equal_while_running};
use otter_testkit::compare::log_tail;
use otter_testkit::{MariaDb, ServerConfig};
use snapshot_support::{config, log_text, schema_and_rows, writer, TABLES};

fn resync(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otter")).args(["resync", "--config"]).arg(config).args(args).output().unwrap()
}

/// Runs a waiting `otter resync` (at most `secs`), failing the test unless it exits 0.
fn resync_and_wait(config: &Path, args: &[&str], secs: u64, otter: &mut Child, log: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otter"))
        .args(["resync", "--config"])
        .arg(config)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(status.success(), "otter resync {args:?} failed ({status}): {text}\n{}", log_tail(log, 30));
            assert!(text.contains("applied"), "{text}");
            return;
        }
        assert!(otter.try_wait().unwrap().is_none(), "otter run stopped:\n{}", log_tail(log, 40));
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("otter resync {args:?} did not finish in {secs}s:\n{}", log_tail(log, 40));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn requests(a: &MariaDb) -> u64 {
    a.value("SELECT COUNT(*) FROM otter.resync_request").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn resync_repairs_keys_tables_and_ranges_while_live_and_refuses_wrong_requests() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let n = 6_000;
    schema_and_rows(&a, n);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b, "initial");
    // A rate limit stretches the copies, so the SIGKILL below lands while one is under way.
    let slow = std::fs::read_to_string(&config).unwrap().replace("snapshot_chunk_ms = 50", "snapshot_chunk_ms = 50\nsnapshot_max_rows_per_sec = 4000");
    std::fs::write(&config, slow).unwrap();
    let log = dir.path().join("run.log");
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, n, 300, stop))
    };
    let mut otter = spawn_run(&config, &log);
    snapshot_support::wait_snapshot_finished(&mut otter, &log, 180, "the initial copy did not finish");

    // Wrong requests: exit 2, a message saying what to change, nothing written.
    for (args, says) in [
        (vec!["--table", "s.missing"], "does not exist"),
        (vec!["--table", "s.comp", "--where", "a = 1) OR (1 = 1"], "one condition"),
        (vec!["--table", "s.comp", "--where", "no_such_column = 1"], "refuses the re-sync condition"),
        (vec!["--table", "s.comp", "--keys", "[1, 2]"], "one value per key column"),
        (vec!["--table", "s.nokey", "--keys", "[1]"], "no primary key"),
        (vec!["--table", "s.comp", "--pipeline", "nope"], "no pipeline"),
        (vec!["--table", "other.t"], "captures"),
    ] {
        let out = resync(&config, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    }
    assert_eq!(requests(&a), 0, "a refused request must not be written");

    // Corrupt B behind otter's back.
    // s.ci: 100 keys — 70 changed, 20 deleted, 10 that A never had.
    let keys: Vec<String> = b.value("SELECT GROUP_CONCAT(k ORDER BY k SEPARATOR ',') FROM (SELECT k FROM s.ci ORDER BY k LIMIT 90 OFFSET 700) x").unwrap().trim().split(',').map(str::to_owned).collect();
    assert_eq!(keys.len(), 90);
    let quoted = |ks: &[String]| ks.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(",");
    b.sql(&format!("UPDATE s.ci SET v = -1 WHERE k IN ({})", quoted(&keys[..70]))).unwrap();
    b.sql(&format!("DELETE FROM s.ci WHERE k IN ({})", quoted(&keys[70..]))).unwrap();
    let extra: Vec<String> = (0..10).map(|i| format!("bogus{i:03}")).collect();
    b.sql(&format!("INSERT INTO s.ci VALUES {}", extra.iter().map(|k| format!("('{k}', 1)")).collect::<Vec<_>>().join(","))).unwrap();
    // s.comp (whole table): changed, deleted, and extra rows inside and beyond the key space.
    b.sql("UPDATE s.comp SET v = -1 WHERE a % 40 = 1 LIMIT 50; DELETE FROM s.comp WHERE a % 40 = 2 LIMIT 30").unwrap();
    b.sql(&format!("INSERT INTO s.comp VALUES {}", (0..40).map(|i| format!("({}, 'zz{i}', 0)", if i % 2 == 0 { i * 37 } else { 1_000_000 + i })).collect::<Vec<_>>().join(","))).unwrap();
    // s.uniq, the rows of a range.
    b.sql("UPDATE s.uniq SET v = 'bad' WHERE u BETWEEN 1000 AND 3000 AND u % 10 = 0; DELETE FROM s.uniq WHERE u BETWEEN 1000 AND 3000 AND u % 10 = 2").unwrap();
    b.sql(&format!("INSERT IGNORE INTO s.uniq VALUES {}", (0..20).map(|i| format!("({}, 'extra')", 1001 + i * 100)).collect::<Vec<_>>().join(","))).unwrap();
    // s.nokey, the rows a condition selects.
    b.sql("DELETE FROM s.nokey WHERE a < 5; INSERT INTO s.nokey VALUES (3, 'bogus'), (4, 'bogus'), (50, 'kept')").unwrap();
    b.sql("DELETE FROM s.nokey WHERE a = 50 AND b = 'kept'").unwrap();

    // A wrong request written by hand: refused with a log line, the pipeline goes on.
    a.sql(&snapshot_ddl()).unwrap();
    a.sql("INSERT INTO otter.resync_request (table_schema, table_name, where_clause) VALUES ('s', 'comp', 'no_such_column = 1')").unwrap();

    // The whole table, interrupted by SIGKILL once the target stored part of its copy, and
    // restarted at once: the restart resumes it (the request read again by its id).
    let out = resync(&config, &["--table", "s.comp", "--no-wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The restart resumes from what the target stored (its checkpoint rows), which can be
    // behind the local checkpoint file: wait until a row there carries the re-sync's progress.
    let stored = "SELECT COALESCE(GROUP_CONCAT(position), '') FROM otter.checkpoint WHERE pipeline = 'snap'";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !b.value(stored).unwrap_or_default().contains("\"request\":2") {
        assert!(Instant::now() < deadline, "no progress of the re-sync was stored:\n{}", log_tail(&log, 40));
        std::thread::sleep(Duration::from_millis(20));
    }
    otter.kill().unwrap();
    otter.wait().unwrap();
    let resumed_before = log_text(&log).matches("Resuming the online snapshot").count();
    otter = spawn_run(&config, &log);

    let mut keys_json: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    keys_json.extend(extra.iter().map(|k| format!("\"{k}\"")));
    assert_eq!(keys_json.len(), 100);
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, format!("[{}]", keys_json.join(", "))).unwrap();
    resync_and_wait(&config, &["--table", "s.ci", "--keys-file", keys_file.to_str().unwrap()], 120, &mut otter, &log);
    resync_and_wait(&config, &["--table", "s.uniq", "--where", "u BETWEEN 1000 AND 3000"], 120, &mut otter, &log);
    resync_and_wait(&config, &["--table", "s.nokey", "--where", "a < 5"], 120, &mut otter, &log);

    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let _ = std::fs::copy(&log, std::env::temp_dir().join("otter-resync-test.log"));
    wait_equal_while_running(&a, &b, TABLES, 180, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
    let text = log_text(&log);
    for l in text.lines().filter(|l| l.contains("Re-sync") || l.contains("ERROR") || l.contains("WARN")) {
        eprintln!("{l}");
    }
    assert!(text.contains("Re-sync request refused") && text.contains("no_such_column"), "{}", log_tail(&log, 40));
    assert!(text.matches("Re-sync copied completely").count() >= 4, "{}", log_tail(&log, 60));
    assert_eq!(text.matches("Resuming the online snapshot").count(), resumed_before + 1, "the restart resumes the re-sync:\n{}", log_tail(&log, 60));
}

/// The signal table as `otter resync` creates it (here for a request written by hand first).
fn snapshot_ddl() -> String {
    otter_core::source::mysql::snapshot::resync::signal_table_sql("otter").join(";\n")
}
