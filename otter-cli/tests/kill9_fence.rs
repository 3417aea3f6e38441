//! Faults of the otter process itself, through `otter run` against real servers, while a writer
//! keeps changing the source (small transactions, deletes, and 5,000-row transactions into a
//! keyless table and a table whose only key is a nullable unique key):
//! - kill -9 ten times, each followed by an immediate restart, aimed alternately at the moment
//!   the target executes one of otter's apply statements (the apply sent as text, so a big
//!   transaction is a long multi-statement packet) and 0.2-1.5 s after a big source commit: the
//!   tables end equal, nothing applied twice (the keyless table would show it), no stop on a
//!   duplicate key; and five times in transaction mode (`consistency = "transaction"`);
//! - an instance frozen with SIGSTOP while a second one (another state directory, as on another
//!   machine) takes the pipeline over, then SIGCONT: the first stops, its writes rejected; the
//!   data is intact — in both modes.

mod common;
mod fence_support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{config_sink, interrupt, spawn_run, wait_equal_while_running, Rng};
use fence_support::{schema, signal, tail, writer, TABLES};
use otter_testkit::{MariaDb, ServerConfig};

/// Waits (at most `secs`) until `b` executes one of otter's apply statements on `w`.
fn apply_in_flight(b_url: &str, secs: u64) -> bool {
    use mysql_async::prelude::Queryable;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(b_url).unwrap()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let n: Option<u64> = conn
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID() \
                     AND (INFO LIKE 'INSERT INTO `w`%' OR INFO LIKE 'START TRANSACTION%')",
                )
                .await
                .unwrap();
            if n.unwrap_or(0) > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    })
}

#[test]
fn kill9_with_immediate_restarts_applies_nothing_twice() {
    kill9_restarts(10, "");
}

/// The same faults in transaction mode (`consistency = "transaction"`): five kills.
#[test]
fn kill9_in_transaction_mode_applies_nothing_twice() {
    kill9_restarts(5, "consistency = \"transaction\"");
}

/// `kills` kill -9s with immediate restarts, `sink_extra` in the sink's settings.
fn kill9_restarts(kills: usize, sink_extra: &str) {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    // Applies as text statements: a big transaction is one long multi-statement packet.
    let sink = format!("bulk_min_rows = 0\nload_data_min_rows = 0\n{sink_extra}");
    let config = config_sink(dir.path(), &a, &b.url(), 2, "w\\\\..*", &sink, "");
    let log = dir.path().join("run.log");
    let stop = Arc::new(AtomicBool::new(false));
    let (big_tx, big_rx) = mpsc::channel();
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, stop, big_tx))
    };
    let mut otter = spawn_run(&config, &log);
    let mut rng = Rng(0xdead_beef);
    let mut aimed = 0;
    for kill in 0..kills {
        if kill % 2 == 0 {
            // Aimed at an apply the target is executing right now.
            while big_rx.try_recv().is_ok() {}
            big_rx.recv_timeout(Duration::from_secs(60)).expect("no big transaction");
            aimed += usize::from(apply_in_flight(&b.url(), 10));
        } else {
            // 0.2-1.5 s after a big source transaction committed.
            big_rx.recv_timeout(Duration::from_secs(60)).expect("no big transaction");
            std::thread::sleep(Duration::from_millis(200 + rng.below(1300)));
        }
        if let Some(status) = otter.try_wait().unwrap() {
            panic!("otter stopped on its own ({status}) before kill {kill}:\n{}", tail(&log));
        }
        otter.kill().unwrap(); // SIGKILL
        otter.wait().unwrap();
        otter = spawn_run(&config, &log);
    }
    let aims = kills.div_ceil(2);
    assert!(aimed + 2 >= aims, "only {aimed} of {aims} kills met an apply in flight");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wait_equal_while_running(&a, &b, TABLES, 180, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", tail(&log));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("Duplicate entry"), "a row was applied twice:\n{}", tail(&log));
}

#[test]
fn a_frozen_instance_is_taken_over_and_its_writes_rejected() {
    frozen_instance("");
}

/// The same in transaction mode: the thawed instance's transactions waiting for their commit
/// turn are rejected too.
#[test]
fn a_frozen_instance_in_transaction_mode_is_taken_over_and_its_writes_rejected() {
    frozen_instance("consistency = \"transaction\"");
}

/// SIGSTOP of the running instance, a second one takes over, SIGCONT; `sink_extra` in both
/// instances' sink settings.
fn frozen_instance(sink_extra: &str) {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sink = format!("lease_secs = 2\n{sink_extra}");
    let config1 = config_sink(dir1.path(), &a, &b.url(), 2, "w\\\\..*", &sink, "");
    let config2 = config_sink(dir2.path(), &a, &b.url(), 2, "w\\\\..*", &sink, "");
    let (log1, log2) = (dir1.path().join("run.log"), dir2.path().join("run.log"));
    let stop = Arc::new(AtomicBool::new(false));
    let (big_tx, big_rx) = mpsc::channel();
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, stop, big_tx))
    };
    let mut first = spawn_run(&config1, &log1);
    // Freeze it right after a big source commit, while it applies.
    big_rx.recv_timeout(Duration::from_secs(60)).expect("no big transaction");
    std::thread::sleep(Duration::from_millis(300));
    signal(&first, "-STOP");
    // Its lease expires (idle longer than lease_secs on the target's clock); the second
    // instance takes the pipeline over.
    std::thread::sleep(Duration::from_secs(4));
    let mut second = spawn_run(&config2, &log2);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log2).unwrap_or_default().contains("Loader ready") {
        assert!(Instant::now() < deadline, "no takeover:\n{}", tail(&log2));
        assert!(second.try_wait().unwrap().is_none(), "the second instance stopped:\n{}", tail(&log2));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::fs::read_to_string(&log2).unwrap().contains("taking over and fencing it"), "{}", tail(&log2));
    std::thread::sleep(Duration::from_secs(2));
    // Thawed, the first instance finds the pipeline gone: its writes are rejected and it stops.
    signal(&first, "-CONT");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = first.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the frozen instance kept running after SIGCONT:\n{}", tail(&log1));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1), "{}", tail(&log1));
    let text1 = std::fs::read_to_string(&log1).unwrap();
    // Either its next write met the fence, or the takeover ended its connections first and
    // its restart found the second instance holding the pipeline: taken over, either way.
    assert!(text1.contains("was taken over on the target by") && text1.contains("(epoch 2") && text1.contains("rolled back"), "{}", tail(&log1));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wait_equal_while_running(&a, &b, TABLES, 180, &mut second, &log2);
    // The lease (and its lock) followed the pipeline: a third instance is refused, naming the
    // second one, not the first.
    let dir3 = tempfile::tempdir().unwrap();
    let config3 = config_sink(dir3.path(), &a, &b.url(), 2, "w\\\\..*", &sink, "");
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["run", "--config"]).arg(&config3).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {} on host", second.id())) && err.contains("epoch 2"), "{err}");
    assert!(interrupt(second).success(), "{}", tail(&log2));
    assert_eq!(b.query("SELECT DISTINCT epoch FROM otter.checkpoint").unwrap(), [["2"]]);
}
