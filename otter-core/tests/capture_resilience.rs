//! Resilience against a real MariaDB under a running workload: the capture's dump thread is
//! KILLed, then the server is restarted; the source reconnects with backoff and the captured
//! transactions are every committed transaction exactly once, in commit order.
//! (kill -9 of the capturing process is tested with the `otter tail` binary in otter-cli.)

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{collect_until, images, start, txn_count};
use otter_testkit::{Client, MariaDb, ServerConfig};

const TXNS: u32 = 240;

/// Inserts ids 1..=TXNS, one transaction each (every tenth a 3-row transaction of id, id+10000,
/// id+20000), pausing while `pause` is set. `done` counts committed transactions.
fn workload(client: Client, pause: Arc<AtomicBool>, paused: Arc<AtomicBool>, done: Arc<AtomicU32>) {
    let mut id = 1;
    while id <= TXNS {
        if pause.load(Ordering::SeqCst) {
            paused.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        paused.store(false, Ordering::SeqCst);
        let sql = if id % 10 == 0 {
            format!("BEGIN; INSERT INTO w.t VALUES ({id}); INSERT INTO w.t VALUES ({}); INSERT INTO w.t VALUES ({}); COMMIT", id + 10_000, id + 20_000)
        } else {
            format!("INSERT INTO w.t VALUES ({id})")
        };
        client.sql(&sql).unwrap();
        done.store(id, Ordering::SeqCst);
        id += 1;
    }
}

fn expected_ids() -> Vec<i64> {
    let mut v = Vec::new();
    for id in 1..=i64::from(TXNS) {
        v.push(id);
        if id % 10 == 0 {
            v.push(id + 10_000);
            v.push(id + 20_000);
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dump_thread_and_restart_server_lose_nothing_repeat_nothing() {
    let mut db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE w; CREATE TABLE w.t (id INT PRIMARY KEY)").unwrap();
    let mut source = start(&db.url(), "latest");
    collect_until(&mut source, 30, |e| !e.is_empty()).await; // streaming (first heartbeat)

    let (pause, paused, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicU32::new(0)));
    let worker = {
        let (c, p, pd, d) = (db.client(), pause.clone(), paused.clone(), done.clone());
        std::thread::spawn(move || workload(c, p, pd, d))
    };

    // Read while the workload runs; KILL the dump thread a third of the way through.
    let mut events = collect_until(&mut source, 60, |e| txn_count(e) >= (TXNS / 3) as usize).await;
    let dump_ids = db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'").unwrap();
    assert!(!dump_ids.is_empty(), "no dump thread found");
    for row in dump_ids {
        db.sql(&format!("KILL {}", row[0])).unwrap();
    }

    // Two thirds through: pause the workload and restart the server.
    let seen = txn_count(&events);
    events.extend(collect_until(&mut source, 60, |e| seen + txn_count(e) >= (2 * TXNS / 3) as usize).await);
    pause.store(true, Ordering::SeqCst);
    while !paused.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    db.restart().unwrap();
    pause.store(false, Ordering::SeqCst);

    let seen = txn_count(&events);
    events.extend(collect_until(&mut source, 120, |e| seen + txn_count(e) >= TXNS as usize).await);
    worker.join().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), TXNS);

    let ids: Vec<i64> = images(&events).iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, expected_ids(), "captured rows differ from the committed ones");
    // Nothing more arrives (no duplicates queued behind).
    let extra = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match otter_core::source::Source::next(&mut source).await {
                Ok(Some(otter_core::change::Event::Rows(c))) => return Some(c),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    assert!(extra.is_err() || extra.unwrap().is_none(), "a transaction came twice");
}
