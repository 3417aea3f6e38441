//! The capture decodes the same changes identically whatever the server's binlog settings:
//! CRC32 or no checksums, MariaDB compressed events (`log_bin_compress`), full table-map metadata
//! (`binlog_row_metadata=FULL`), and MINIMAL row images (partial images, absent columns omitted).

mod common;

use common::{changes, collect_until, start, txn_count};
use otter_testkit::{MariaDb, ServerConfig};
use serde_json::json;

const SETUP: &str = "CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(10,3), \
    s VARCHAR(40) CHARACTER SET utf8mb4, l VARCHAR(10) CHARACTER SET latin1, dt DATETIME(6), ts TIMESTAMP(2) NULL, \
    e ENUM('x','y'), st SET('a','b','c'), b VARBINARY(4), j LONGTEXT, bt BIT(10))";

const WORK: &[&str] = &[
    "INSERT INTO f.t VALUES (1, 18446744073709551615, -12.345, 'héllo 🦦', 'café', '2024-02-29 23:59:59.000001', \
     '2024-01-01 00:00:00.5', 'y', 'a,c', 0x00ff, '{\"k\": [1, 2]}', b'1000000001')",
    "UPDATE f.t SET s = 'changed', d = 0 WHERE id = 1",
    "DELETE FROM f.t WHERE id = 1",
];

fn full_row() -> serde_json::Value {
    json!({"id": 1, "u": 18446744073709551615u64, "d": "-12.345", "s": "héllo 🦦", "l": "café",
           "dt": "2024-02-29 23:59:59.000001", "ts": "2024-01-01T00:00:00.50Z", "e": "y", "st": "a,c",
           "b": {"hex": "00ff"}, "j": "{\"k\": [1, 2]}", "bt": 513})
}

async fn capture(cfg: ServerConfig) -> Vec<serde_json::Value> {
    let db = MariaDb::start(cfg).unwrap();
    db.sql(SETUP).unwrap();
    let mut source = start(&db.url(), "latest");
    collect_until(&mut source, 30, |e| !e.is_empty()).await;
    for w in WORK {
        db.sql(w).unwrap();
    }
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 3).await;
    changes(&events)
}

fn assert_full(c: &[serde_json::Value]) {
    let mut after_update = full_row();
    after_update["s"] = json!("changed");
    after_update["d"] = json!("0.000");
    assert_eq!(c[0]["after"], full_row());
    assert_eq!(c[1]["before"], full_row());
    assert_eq!(c[1]["after"], after_update);
    assert_eq!(c[1]["changed"], json!(["d", "s"]));
    assert_eq!(c[2]["before"], after_update);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crc32_and_no_checksum() {
    assert_full(&capture(ServerConfig::new(1).binlog_checksum("CRC32")).await);
    assert_full(&capture(ServerConfig::new(1).binlog_checksum("NONE")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_events_and_full_metadata() {
    assert_full(&capture(ServerConfig::new(1).log_bin_compress(true)).await);
    assert_full(&capture(ServerConfig::new(1).binlog_row_metadata("FULL")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_images() {
    let c = capture(ServerConfig::new(1).binlog_row_image("MINIMAL")).await;
    assert_eq!(c[0]["after"], full_row(), "inserts carry every column");
    assert_eq!(c[1]["before"], json!({"id": 1}), "MINIMAL before image is the key");
    assert_eq!(c[1]["after"], json!({"d": "0.000", "s": "changed"}), "MINIMAL after image is the changed columns");
    assert_eq!(c[2]["before"], json!({"id": 1}));
}
