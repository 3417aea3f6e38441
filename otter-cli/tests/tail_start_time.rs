//! `otter tail --from @TIME` against a real MariaDB: it prints the DDL and transactions from that
//! time on, and nothing older — in particular not the `CREATE DATABASE` / `CREATE TABLE` that ran
//! before it (the schema history still learns them, so the later rows decode).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use otter_testkit::{MariaDb, ServerConfig};
use serde_json::{json, Value as Json};

/// The complete lines of the output file.
fn lines(path: &std::path::Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[test]
fn tail_from_a_time_prints_no_older_ddl() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO shop.a VALUES (1, 'old')")
        .unwrap();
    // Event times have one-second resolution: keep whole seconds between the groups.
    std::thread::sleep(Duration::from_millis(1100));
    let t = db.value("SELECT UNIX_TIMESTAMP()").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    db.sql("CREATE TABLE shop.b (id INT PRIMARY KEY); INSERT INTO shop.a VALUES (2, 'new'); INSERT INTO shop.b VALUES (7)").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("out.jsonl"), dir.path().join("tail.log"));
    let mut tail = Command::new(env!("CARGO_BIN_EXE_otter"))
        .args(["tail", "--source", &db.url(), "--from", &format!("@{t}"), "--server-id", "4343", "--output"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&out).iter().filter(|l| l.get("changes").is_some()).count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-INT", &tail.id().to_string()]).status().unwrap();
    let status = tail.wait().unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "tail exited with {status}; log:\n{log_text}");

    let got = lines(&out);
    let ddl: Vec<&str> = got.iter().filter_map(|l| l.get("ddl").and_then(Json::as_str)).collect();
    assert_eq!(ddl, ["CREATE TABLE shop.b (id INT PRIMARY KEY)"], "output: {}\nlog:\n{log_text}", Json::from(got.clone()));
    let rows: Vec<Json> = got
        .iter()
        .filter_map(|l| l.get("changes").and_then(Json::as_array))
        .flatten()
        .map(|c| json!([c["table"], c["after"]]))
        .collect();
    assert_eq!(rows, [json!(["shop.a", {"id": 2, "v": "new"}]), json!(["shop.b", {"id": 7}])], "log:\n{log_text}");
}
