//! One-way sync end to end through `otter run` (harness servers A → B, no mocks):
//! - a sysbench-style workload (inserts, updates including key changes, deletes; five tables with
//!   the common column types; one without a primary key; ALTERs mid-stream) ends with every table
//!   on B equal to A (`CHECKSUM TABLE` and row counts);
//! - the same while otter is killed with SIGKILL at five random moments and restarted;
//! - the target down for 30 s mid-run: otter waits, resumes and ends equal.

mod common;

use std::time::{Duration, Instant};

use common::{config, interrupt, schema, spawn_run, wait_equal, workload, Rng};
use otter_testkit::{MariaDb, ServerConfig};

#[test]
fn workload_ends_equal() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, log) = (config(dir.path(), &a, &b, 4), dir.path().join("otter.log"));
    let child = spawn_run(&cfg, &log);
    workload(&a.client(), 7, 600);
    wait_equal(&a, &b, 120, &log);
    let status = interrupt(child);
    assert!(status.success(), "otter run exited with {status}");
    // The table without a key kept its duplicates exactly.
    let dups = b.value("SELECT COUNT(*) - COUNT(DISTINCT a, b, c) FROM w.nokey").unwrap();
    assert_eq!(dups, a.value("SELECT COUNT(*) - COUNT(DISTINCT a, b, c) FROM w.nokey").unwrap());
}

#[test]
fn sigkill_five_times_still_equal_without_duplicates() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, log) = (config(dir.path(), &a, &b, 3), dir.path().join("otter.log"));
    let client = a.client();
    let worker = std::thread::spawn(move || workload(&client, 11, 900));
    let mut child = spawn_run(&cfg, &log);
    let mut rng = Rng(0x5151);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(400 + rng.below(1200)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        child = spawn_run(&cfg, &log);
    }
    worker.join().unwrap();
    wait_equal(&a, &b, 180, &log);
    assert!(interrupt(child).success());
}

#[test]
fn target_down_for_30s_then_back() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let mut b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, log) = (config(dir.path(), &a, &b, 3), dir.path().join("otter.log"));
    let child = spawn_run(&cfg, &log);
    workload(&a.client(), 23, 200);
    b.stop().unwrap();
    let down = Instant::now();
    workload(&a.client(), 29, 200);
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    b.restart().unwrap();
    wait_equal(&a, &b, 180, &log);
    assert!(interrupt(child).success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("retrying"), "otter should have reported the outage:\n{text}");
}
