//! `otter check` on how runs of inserted rows reach the target, against real servers: by
//! default on MariaDB, bulk execution (no setting matters); with it off (`bulk_min_rows = 0`, the
//! path of MySQL targets), `local_infile` (the `LOAD DATA` fast path) and
//! `innodb_autoinc_lock_mode` (whether parallel workers can load one AUTO_INCREMENT table at the
//! same time), both warnings with the fix spelled out that never fail the check; in transaction
//! mode, whether the account can read the target's lock waits (a warning naming `PROCESS`); on
//! MariaDB, whether inserts and updates can go as row events (`BINLOG REPLAY`).

mod common;

use otter_testkit::{MariaDb, ServerConfig};

/// Runs `otter check` on a pipeline `from` -> `to` (bulk execution off unless `bulk`); returns
/// the exit code and the sink rows.
fn check_with(from: &MariaDb, to: &MariaDb, workers: usize, bulk: bool) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), from, to, workers);
    if !bulk {
        let text = std::fs::read_to_string(&cfg).unwrap().replace("[pipeline.sink]\n", "[pipeline.sink]\nbulk_min_rows = 0\n");
        std::fs::write(&cfg, text).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&cfg).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), text.lines().filter(|l| l.contains(" sink ")).map(str::to_owned).collect())
}

fn check(from: &MariaDb, to: &MariaDb, workers: usize) -> (Option<i32>, Vec<String>) {
    check_with(from, to, workers, false)
}

fn line<'a>(rows: &'a [String], check: &str) -> &'a str {
    rows.iter().find(|l| l.contains(check)).unwrap_or_else(|| panic!("no {check:?} row in {rows:#?}"))
}

#[test]
fn check_reports_load_data_and_autoinc_lock_mode() {
    let one = MariaDb::start(ServerConfig::new(1)).unwrap();
    let two = MariaDb::start(ServerConfig::new(2).arg("--innodb-autoinc-lock-mode=2")).unwrap();

    // By default a MariaDB target takes bulk executions: nothing else to report.
    let (code, rows) = check_with(&two, &one, 2, true);
    assert_eq!(code, Some(0), "{rows:#?}");
    assert!(line(&rows, "bulk_execution").contains("PASS"), "{rows:#?}");
    // ... and, with the privilege (root has it) and a strict slave_exec_mode, row events.
    assert!(line(&rows, "row_events").contains("PASS"), "{rows:#?}");
    assert!(!rows.iter().any(|l| l.contains("local_infile") && !l.contains("bulk")), "{rows:#?}");

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

#[test]
fn check_tells_whether_transaction_mode_can_read_the_lock_waits() {
    let one = MariaDb::start(ServerConfig::new(1)).unwrap();
    let two = MariaDb::start(ServerConfig::new(2)).unwrap();
    two.sql("CREATE USER 'applier'@'%' IDENTIFIED BY 'pw'; GRANT INSERT, UPDATE, DELETE, CREATE, SELECT, DROP, ALTER, INDEX ON *.* TO 'applier'@'%';").unwrap();
    let run = |url: &str| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = common::config_sink(dir.path(), &one, url, 2, "w\\\\..*", "consistency = \"transaction\"", "");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&cfg).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), text.lines().filter(|l| l.contains(" sink ")).map(str::to_owned).collect::<Vec<_>>())
    };
    // root has PROCESS.
    let (code, rows) = run(&two.url());
    assert_eq!(code, Some(0), "{rows:#?}");
    assert!(line(&rows, "lock_waits").contains("PASS"), "{rows:#?}");
    // An account without it: a warning that names the grant, and the check still passes.
    let (code, rows) = run(&two.url_for("applier", "pw"));
    assert_eq!(code, Some(0), "{rows:#?}");
    let w = line(&rows, "lock_waits");
    assert!(w.contains("WARN") && w.contains("GRANT PROCESS"), "{w}");
    // The merged mode has no such row.
    let (_, rows) = check(&one, &two, 2);
    assert!(!rows.iter().any(|l| l.contains("lock_waits")), "{rows:#?}");
}
