//! Standby takeover with no extra service, through `otter run` against real servers, while a
//! writer keeps changing the source (deletes and 5,000-row transactions into a keyless table
//! included), at the default lease:
//! - a holder killed with SIGKILL right after a big commit: the standby (same pipelines, its own
//!   state directory as on another machine) holds the pipeline and applies within 10 s;
//! - the killed one restarted with `--standby` stands by; `otter status` names the holder and it;
//! - the new holder frozen with SIGSTOP for 30 s: the standby takes over within 10 s; after
//!   SIGCONT the frozen one's pending writes are rejected and counted, and it stands by again
//!   instead of writing;
//! - in the end the tables are equal (the keyless table would show a row applied twice), and every
//!   checkpoint row carries the last holder's epoch.

mod common;
mod fence_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{config_sink, interrupt, wait_equal_while_running};
use fence_support::{schema, signal, tail, writer, TABLES};
use otter_testkit::{MariaDb, ServerConfig};

fn spawn(config: &Path, log: &Path, standby: bool) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otter"));
    cmd.args(["run", "--config"]).arg(config);
    if standby {
        cmd.arg("--standby");
    }
    cmd.stdout(Stdio::null()).stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap());
    otter_testkit::spawn_tied_to_process(cmd).unwrap()
}

fn count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(needle).count()
}

/// Waits until `log` holds `n` lines with `needle`, while `child` runs; returns the time taken.
fn wait_for(log: &Path, needle: &str, n: usize, child: &mut Child, secs: u64) -> Duration {
    let started = Instant::now();
    while count(log, needle) < n {
        assert!(started.elapsed() < Duration::from_secs(secs), "no {needle:?} within {secs}s:\n{}", tail(log));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the instance exited ({status}) before {needle:?}:\n{}", tail(log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

#[test]
fn a_standby_takes_over_a_killed_or_frozen_holder_within_10_s_and_nothing_is_applied_twice() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config1 = config_sink(dir1.path(), &a, &b.url(), 2, "w\\\\..*", "", "");
    let config2 = config_sink(dir2.path(), &a, &b.url(), 2, "w\\\\..*", "", "");
    let (log1, log2) = (dir1.path().join("run.log"), dir2.path().join("run.log"));
    let stop = Arc::new(AtomicBool::new(false));
    let (big_tx, big_rx) = mpsc::channel();
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, stop, big_tx))
    };
    let mut first = spawn(&config1, &log1, false);
    wait_for(&log1, "Loader ready", 1, &mut first, 60);
    let mut second = spawn(&config2, &log2, true);
    wait_for(&log2, "Standing by", 1, &mut second, 30);

    // SIGKILL right after a big commit, while it applies: the standby holds and applies in < 10 s.
    while big_rx.try_recv().is_ok() {}
    big_rx.recv_timeout(Duration::from_secs(60)).expect("no big transaction");
    std::thread::sleep(Duration::from_millis(300));
    first.kill().unwrap();
    first.wait().unwrap();
    let took = wait_for(&log2, "Loader ready", 1, &mut second, 30);
    eprintln!("takeover after kill -9: {took:?}");
    assert!(took < Duration::from_secs(10), "takeover took {took:?}:\n{}", tail(&log2));

    // The killed one comes back as a standby; `otter status` shows both.
    let mut first = spawn(&config1, &log1, true);
    wait_for(&log1, "Standing by", 1, &mut first, 30);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["status", "--config"]).arg(&config2).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        if text.contains(&format!("pid {} on host", first.id())) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let holder_line = status.lines().find(|l| l.contains(&format!("pid {} on host", second.id()))).unwrap_or_else(|| panic!("{status}"));
    assert!(holder_line.contains(&format!("pid {} on host", first.id())) && holder_line.contains("s ago"), "holder and standby: {status}");

    // Frozen for 30 s right after a big commit: the standby takes over once the lease expired.
    big_rx.recv_timeout(Duration::from_secs(60)).expect("no big transaction");
    std::thread::sleep(Duration::from_millis(300));
    signal(&second, "-STOP");
    let frozen = Instant::now();
    let took = wait_for(&log1, "Loader ready", 2, &mut first, 30);
    eprintln!("takeover of a frozen holder: {took:?}");
    assert!(took < Duration::from_secs(10), "takeover took {took:?}:\n{}", tail(&log1));
    assert!(std::fs::read_to_string(&log1).unwrap().contains("taking over and fencing it"), "{}", tail(&log1));
    std::thread::sleep(Duration::from_secs(30).saturating_sub(frozen.elapsed()));
    signal(&second, "-CONT");
    // Thawed: its writes are rejected (counted in the message) and it stands by again.
    wait_for(&log2, "Lost the pipeline; standing by again", 1, &mut second, 60);
    wait_for(&log2, "Standing by", 2, &mut second, 30);
    let text2 = std::fs::read_to_string(&log2).unwrap();
    assert!(text2.contains("was taken over on the target by") && text2.contains("(epoch 3)") && text2.contains("rolled back"), "{}", tail(&log2));

    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wait_equal_while_running(&a, &b, TABLES, 180, &mut first, &log1);
    assert!(interrupt(second).success(), "a standby stops on SIGINT:\n{}", tail(&log2));
    assert!(interrupt(first).success(), "{}", tail(&log1));
    for log in [&log1, &log2] {
        assert!(!std::fs::read_to_string(log).unwrap().contains("Duplicate entry"), "a row was applied twice:\n{}", tail(log));
    }
    assert_eq!(b.query("SELECT DISTINCT epoch FROM otter.checkpoint").unwrap(), [["3"]]);
}
