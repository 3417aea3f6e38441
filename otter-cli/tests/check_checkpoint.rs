//! `otter check` judges the position the pipeline would really resume from: the checkpoint stored
//! on the target (or, without one there, the local checkpoint file), not the configured `from`.
//! A stored checkpoint whose binlog was purged on the source fails the check (exit 2), as `otter
//! run` then fails — the same rule the capture resumes with: the file position while its file is
//! there, else the GTID position, which must not be older than the oldest binlog. The check
//! writes nothing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use otter_testkit::{MariaDb, ServerConfig};

/// Runs `otter check`; returns its exit code and its `start_position` row.
fn check(config: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(config).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = text.lines().find(|l| l.contains(" start_position ")).unwrap_or_else(|| panic!("no start_position row:\n{text}"));
    (out.status.code(), row.to_owned())
}

/// Empties the source's binlog history: two new files, everything before the newest purged
/// (again until done: MariaDB keeps a file until its binlog checkpoint is written, in the
/// background after the rotation).
fn purge(a: &MariaDb) {
    a.sql("FLUSH BINARY LOGS; FLUSH BINARY LOGS").unwrap();
    let newest = a.query("SHOW MASTER STATUS").unwrap()[0][0].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        a.sql(&format!("PURGE BINARY LOGS TO '{newest}'")).unwrap();
        let logs = a.query("SHOW BINARY LOGS").unwrap();
        if logs.len() == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "binlogs left after PURGE: {logs:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn check_fails_when_the_stored_checkpoint_is_purged() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql("CREATE DATABASE w; CREATE TABLE w.t (id INT PRIMARY KEY, v INT); INSERT INTO w.t VALUES (1, 1), (2, 2)").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_with(dir.path(), &a, &b, 1, "w\\\\..*", "");

    // No run yet: the configured `from` is judged, and the target is left untouched.
    let (code, row) = check(&cfg);
    assert_eq!(code, Some(0), "{row}");
    assert!(row.contains("PASS") && !row.contains("stored checkpoint"), "{row}");
    assert_eq!(b.value("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'otter'").unwrap(), "0");

    // A run stores its checkpoint on B.
    let log = dir.path().join("otter.log");
    let child = common::spawn_run(&cfg, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.value("SELECT COUNT(*) FROM w.t").ok().as_deref() != Some("2") {
        assert!(Instant::now() < deadline, "B never got the rows:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(common::interrupt(child).success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    let stored = b.value("SELECT position FROM otter.checkpoint WHERE pipeline = 'a_to_b' ORDER BY part LIMIT 1").unwrap();
    let first = a.query("SHOW BINARY LOGS").unwrap()[0][0].clone();
    assert!(stored.contains(&first), "{stored}");

    let (code, row) = check(&cfg);
    assert_eq!(code, Some(0), "{row}");
    assert!(row.contains("PASS") && row.contains("the stored checkpoint") && row.contains(&first), "{row}");

    // Written and purged while the pipeline was stopped: those changes are gone.
    a.sql("INSERT INTO w.t VALUES (3, 3)").unwrap();
    purge(&a);
    let earliest = a.query("SHOW BINARY LOGS").unwrap()[0][0].clone();
    let (code, row) = check(&cfg);
    assert_eq!(code, Some(2), "{row}");
    assert!(row.contains("FAIL") && row.contains(&format!("the stored checkpoint {first}:")), "{row}");
    assert!(row.contains("is no longer on the source (purged)") && row.contains(&format!("earliest is {earliest}:4")), "{row}");
    assert!(row.contains("resync") && row.contains("`otter`.`checkpoint` on the target"), "says what to do: {row}");
    // ... and `otter run` agrees: it cannot resume either.
    let mut child = common::spawn_run(&cfg, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("otter run went on from a purged checkpoint:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(text.contains("no longer has the binlog"), "{text}");

    // Without the target's checkpoint (a JSONL sink), the local checkpoint file is judged.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let sink_at = text.find("[pipeline.sink]").unwrap();
    let batch_at = text.find("[pipeline.batch]").unwrap();
    let jsonl = format!(
        "{}[pipeline.sink]\nkind = \"jsonl\"\npath = \"{}\"\n{}",
        &text[..sink_at],
        dir.path().join("out.jsonl").display(),
        &text[batch_at..]
    );
    let cfg_jsonl = dir.path().join("jsonl.toml");
    std::fs::write(&cfg_jsonl, jsonl).unwrap();
    assert!(dir.path().join("state/a_to_b/checkpoint.json").is_file());
    let (code, row) = check(&cfg_jsonl);
    assert_eq!(code, Some(2), "{row}");
    assert!(row.contains("FAIL") && row.contains(&format!("the stored checkpoint {first}:")) && row.contains("checkpoint.json"), "{row}");
}
