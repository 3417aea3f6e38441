//! `otter check` on the target's apply-speed settings, against real servers: `local_infile`
//! (the `LOAD DATA` fast path) and `innodb_autoinc_lock_mode` (whether parallel workers can load
//! one AUTO_INCREMENT table at the same time). Both are warnings with the fix spelled out; they
//! never fail the check.

mod common;

use otter_testkit::{MariaDb, ServerConfig};

/// Runs `otter check` on a pipeline `from` -> `to`; returns the exit code and the sink rows.
fn check(from: &MariaDb, to: &MariaDb, workers: usize) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), from, to, workers);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&cfg).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), text.lines().filter(|l| l.contains(" sink ")).map(str::to_owned).collect())
}

fn line<'a>(rows: &'a [String], check: &str) -> &'a str {
    rows.iter().find(|l| l.contains(check)).unwrap_or_else(|| panic!("no {check:?} row in {rows:#?}"))
}

#[test]
fn check_reports_load_data_and_autoinc_lock_mode() {
    let one = MariaDb::start(ServerConfig::new(1)).unwrap();
    let two = MariaDb::start(ServerConfig::new(2).arg("--innodb-autoinc-lock-mode=2")).unwrap();

    // A target in mode 2 with LOAD DATA allowed: nothing to warn about.
    let (code, rows) = check(&one, &two, 2);
    assert_eq!(code, Some(0), "{rows:#?}");
    let (load, lock) = (line(&rows, "local_infile"), line(&rows, "autoinc_lock_mode"));
    assert!(load.contains("PASS") && load.contains("local_infile = ON"), "{load}");
    assert!(lock.contains("PASS") && lock.contains("innodb_autoinc_lock_mode = 2"), "{lock}");

    // MariaDB's default mode 1 with two workers: a warning that says what to change.
    let (code, rows) = check(&two, &one, 2);
    assert_eq!(code, Some(0), "warnings do not fail the check: {rows:#?}");
    let lock = line(&rows, "autoinc_lock_mode");
    assert!(lock.contains("WARN") && lock.contains("innodb_autoinc_lock_mode = 1") && lock.contains("innodb_autoinc_lock_mode = 2"), "{lock}");
    // ... but not with one worker.
    let (_, rows) = check(&two, &one, 1);
    assert!(line(&rows, "autoinc_lock_mode").contains("PASS"), "{rows:#?}");

    // LOAD DATA refused by the target: a warning naming the setting.
    one.sql("SET GLOBAL local_infile = OFF").unwrap();
    let (code, rows) = check(&two, &one, 2);
    assert_eq!(code, Some(0), "{rows:#?}");
    let load = line(&rows, "local_infile");
    assert!(load.contains("WARN") && load.contains("SET GLOBAL local_infile = ON"), "{load}");
}
