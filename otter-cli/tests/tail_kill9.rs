//! `otter tail --output FILE` killed with SIGKILL at random moments of a running workload and
//! restarted each time: the file ends up with every committed transaction exactly once, in commit
//! order. Also: SIGINT stops it with exit 0, and bad input exits 2 with a clear message.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otter_testkit::{MariaDb, ServerConfig};

const TXNS: i64 = 300;

fn spawn_tail(url: &str, out: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_otter"))
        .args(["tail", "--source", url, "--from", "earliest", "--server-id", "4242", "--include", "w\\..*", "--output"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
        .spawn()
        .unwrap()
}

/// How many times a tail process logged its start.
fn starts(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches("Starting capture").count()
}

/// Row ids of every transaction line in the output file, in file order.
fn captured(out: &std::path::Path) -> Vec<Vec<i64>> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("changes").is_some())
        .map(|v| v["changes"].as_array().unwrap().iter().map(|c| c["after"]["id"].as_i64().unwrap()).collect())
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_and_repeats_nothing() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE w; CREATE TABLE w.t (id INT PRIMARY KEY)").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("out.jsonl"), dir.path().join("tail.log"));
    let client = db.client();
    let worker = std::thread::spawn(move || {
        for id in 1..=TXNS {
            let sql = if id % 25 == 0 {
                format!("BEGIN; INSERT INTO w.t VALUES ({id}); INSERT INTO w.t VALUES ({}); COMMIT", id + 100_000)
            } else {
                format!("INSERT INTO w.t VALUES ({id})")
            };
            client.sql(&sql).unwrap();
        }
    });
    let mut tail = spawn_tail(&db.url(), &out, &log);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut started_before = 0;
    for _ in 0..5 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 700));
        tail.kill().unwrap(); // SIGKILL
        tail.wait().unwrap();
        started_before = starts(&log);
        tail = spawn_tail(&db.url(), &out, &log);
    }
    worker.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while captured(&out).len() < TXNS as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Graceful stop: SIGINT, exit 0. Wait until the last process logged its start (an earlier
    // one may have been killed before it logged) so the signal does not land before it runs.
    while starts(&log) <= started_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill").args(["-INT", &tail.id().to_string()]).status().unwrap();
    let status = tail.wait().unwrap();
    assert!(status.success(), "tail exited with {status}; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());

    let txns = captured(&out);
    let mut expected = Vec::new();
    for id in 1..=TXNS {
        expected.push(if id % 25 == 0 { vec![id, id + 100_000] } else { vec![id] });
    }
    assert_eq!(txns.len(), expected.len(), "transaction count; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(txns, expected);
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_otter"))
        .args(["tail", "--source", "mysql://u:hunter2@127.0.0.1:1", "--from", "not-a-position"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid start position") && !err.contains("hunter2"), "{err}");

    let db = MariaDb::start(ServerConfig::new(1).binlog_format("STATEMENT")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["tail", "--source", &db.url()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("binlog_format is STATEMENT"));
}
