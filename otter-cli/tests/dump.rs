//! `otter dump` on real binlogs: one JSON object per event with the documented fields, rows with
//! typed values, TRANSACTION_PAYLOAD inner events marked, `--stats` summaries, and exit codes
//! (0 when every file parsed to its end, 2 when one stopped on an error, after printing what
//! parsed).

use std::process::Command;

use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../otter-binlog/tests/data/mysql-testsuite");

fn dump(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).arg("dump").args(args).output().unwrap();
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code().unwrap(), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn file(name: &str) -> String {
    format!("{CORPUS}/{name}")
}

#[test]
fn events_and_rows() {
    let (code, events, _) = dump(&[&file("write-full-row.binlog")]);
    assert_eq!(code, 0);
    for e in &events {
        for key in ["offset", "type_code", "type", "timestamp", "server_id", "next_pos"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }
    let rows: Vec<&Value> = events.iter().filter(|e| e.get("rows").is_some()).collect();
    let ba = rows.iter().find(|e| e["table"] == "test.ba").unwrap();
    assert_eq!(ba["type"], "WRITE_ROWS_EVENT_V1");
    assert_eq!(ba["rows"][0], serde_json::json!({"before": null, "after": [3, 3, 3]}));
    let total: usize = rows.iter().map(|e| e["rows"].as_array().unwrap().len()).sum();
    assert_eq!(total, 7);
}

#[test]
fn payload_events_are_marked() {
    let (code, events, _) = dump(&[&file("transaction_compression.000001")]);
    assert_eq!(code, 0);
    let inner: Vec<&Value> = events.iter().filter(|e| e["in_payload"] == true).collect();
    assert_eq!(inner.len(), 4);
    assert!(inner.iter().any(|e| e["type"] == "WRITE_ROWS_EVENT" && e["rows"].as_array().unwrap().len() == 1));
    let outer = events.iter().find(|e| e["type"] == "TRANSACTION_PAYLOAD_EVENT").unwrap();
    assert!(inner.iter().all(|e| e["offset"] == outer["offset"]));
}

#[test]
fn stats_and_exit_codes() {
    let (code, stats, _) = dump(&["--stats", &file("update-full-row.binlog"), &file("json.binlog.000001")]);
    assert_eq!(code, 0);
    assert_eq!(stats.len(), 2);
    // The same breakdown as mariadb-binlog -v of this file: 5 INSERT, 1 UPDATE, 1 DELETE.
    assert_eq!(stats[0]["rows"], serde_json::json!({"insert": 5, "update": 1, "delete": 1}));
    assert_eq!(stats[0]["error"], Value::Null);
    assert_eq!(stats[0]["events"].as_u64().unwrap(), stats[0]["by_code"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>());

    // A truncated file: what parsed is printed, then exit 2 with the offset in the message.
    let (code, events, err) = dump(&[&file("binlog_truncated_prev_gtid_event.000001")]);
    assert_eq!(code, 2);
    assert_eq!(events.len(), 1);
    assert!(err.contains("at offset 120"), "{err}");
    let (code, stats, _) = dump(&["--stats", &file("corrupt-relay-bin.000624")]);
    assert_eq!(code, 2);
    assert!(stats[0]["error"].as_str().unwrap().contains("offset 91204"));
    let (code, _, err) = dump(&["/nonexistent/binlog"]);
    assert_eq!(code, 2);
    assert!(err.contains("nonexistent"));
}
