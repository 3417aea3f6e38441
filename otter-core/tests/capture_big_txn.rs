//! A single 2-million-row transaction streams through the capture in chunks with bounded memory:
//! every row arrives once and in order, the chunks are numbered consecutively with only the last
//! marked, and the peak resident memory of this test process stays under 300 MB (measured from
//! `/proc/self/status`; this file is its own test binary so nothing else shares the process).

mod common;

use std::time::Duration;

use otter_binlog::Value;
use otter_core::change::Event;
use otter_core::source::Source;
use otter_testkit::{MariaDb, ServerConfig};

const ROWS: u64 = 2_000_000;

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_million_rows_in_one_transaction() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE b; CREATE TABLE b.t (id INT PRIMARY KEY, v BIGINT, pad VARCHAR(32))").unwrap();
    let mut source = common::start(&db.url(), "latest");
    common::collect_until(&mut source, 30, |e| !e.is_empty()).await;
    db.sql(&format!("INSERT INTO b.t SELECT seq, seq * 2, REPEAT('x', 24) FROM b.seq_1_to_{ROWS}")).unwrap();

    let (mut rows, mut chunks, mut next_id) = (0u64, 0u32, 1i64);
    let mut begin = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let ev = tokio::time::timeout_at(deadline, source.next()).await.expect("timed out").unwrap().unwrap();
        let Event::Rows(c) = ev else { continue };
        assert_eq!(c.index, chunks, "chunks out of order");
        let b = begin.get_or_insert_with(|| c.meta.begin.clone());
        assert_eq!(&c.meta.begin, b, "a chunk of another transaction came in between");
        assert!(c.changes.len() <= 2000, "chunk larger than chunk_rows");
        for ch in &c.changes {
            let id = match ch.after.as_ref().unwrap()[0] {
                Value::Int(i) => i,
                ref other => panic!("unexpected id {other:?}"),
            };
            assert_eq!(id, next_id, "row lost or repeated");
            next_id += 1;
        }
        rows += c.changes.len() as u64;
        chunks += 1;
        if c.last {
            assert!(c.position.as_ref().unwrap().skip_rows == 0);
            break;
        }
        let p = c.position.as_ref().expect("non-last chunks carry a resume position");
        assert_eq!(p.skip_rows, rows, "resume position must count the rows handed out");
    }
    assert_eq!(rows, ROWS);
    assert!(chunks >= 1000, "expected the transaction in many chunks, got {chunks}");
    let peak = peak_rss_mb();
    eprintln!("peak RSS {peak} MB over {chunks} chunks");
    assert!(peak < 300, "peak RSS {peak} MB exceeds 300 MB");
}
