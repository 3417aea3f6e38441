//! Faults of every kind at random moments, during the online snapshot and the streaming after
//! it, while writers keep changing the tables being copied (inserts, updates, key changes,
//! deletes, a keyless table): `kill -9` of otter followed by an immediate restart, SIGSTOP and
//! SIGCONT of otter, the link to the source or to the target cut (every connection closed, new
//! ones refused) and restored, the target server frozen (SIGSTOP) and thawed. otter must never
//! end on its own, and B must end equal to A.
//!
//! `OTTER_CHAOS_SEED` picks another schedule of faults, `OTTER_CHAOS_SECS` its length (default
//! 45 s), `OTTER_CHAOS_ROWS` the rows per keyed table (default 20,000) and
//! `OTTER_CHAOS_CONSISTENCY=transaction` runs the sink in transaction mode.

mod common;
mod snapshot_support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{interrupt, spawn_run, wait_equal_while_running, Rng};
use otter_testkit::compare::log_tail;
use otter_testkit::{MariaDb, Proxy, ServerConfig};
use snapshot_support::{big_table, big_writer, config, schema_and_rows, writer, TABLES};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn signal(pid: u32, sig: &str) {
    Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
}

#[test]
fn random_faults_during_the_copy_and_the_stream_leave_the_target_equal() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let n = env_or("OTTER_CHAOS_ROWS", 20_000);
    schema_and_rows(&a, n);
    let big = 8 * n + 10_000;
    big_table(&a, big);
    // Both servers behind links the test can cut.
    let to_a = Proxy::start(&format!("127.0.0.1:{}", a.port())).unwrap();
    let to_b = Proxy::start(&format!("127.0.0.1:{}", b.port())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b, "initial");
    let consistency = std::env::var("OTTER_CHAOS_CONSISTENCY").unwrap_or_else(|_| "merged".into());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("127.0.0.1:{}\"", a.port()), &format!("127.0.0.1:{}\"", to_a.port()))
        .replace(&format!("127.0.0.1:{}\"", b.port()), &format!("127.0.0.1:{}\"", to_b.port()))
        .replace("[pipeline.sink]\n", &format!("[pipeline.sink]\nconsistency = \"{consistency}\"\n"));
    assert!(text.contains(&to_a.port().to_string()) && text.contains(&to_b.port().to_string()), "{text}");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("run.log");
    let stop = Arc::new(AtomicBool::new(false));
    let writers = [
        {
            let (client, stop) = (a.client(), Arc::clone(&stop));
            std::thread::spawn(move || writer(client, n, 500, stop))
        },
        {
            let (client, stop) = (a.client(), Arc::clone(&stop));
            std::thread::spawn(move || big_writer(client, big, stop))
        },
    ];
    let mut otter = spawn_run(&config, &log);
    let mut rng = Rng(env_or("OTTER_CHAOS_SEED", 0x0c4a05));
    let until = Instant::now() + Duration::from_secs(env_or("OTTER_CHAOS_SECS", 45));
    let b_pid = b.pid().unwrap();
    let mut faults: Vec<&str> = Vec::new();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200 + rng.below(2500)));
        if let Some(status) = otter.try_wait().unwrap() {
            panic!("otter ended on its own ({status}) after {faults:?}:\n{}", log_tail(&log, 60));
        }
        let outage = Duration::from_millis(300 + rng.below(3000));
        match rng.below(6) {
            0 | 1 => {
                otter.kill().unwrap();
                otter.wait().unwrap();
                otter = spawn_run(&config, &log);
                faults.push("kill -9");
            }
            2 => {
                signal(otter.id(), "-STOP");
                std::thread::sleep(outage);
                signal(otter.id(), "-CONT");
                faults.push("otter frozen");
            }
            3 => {
                to_a.cut();
                std::thread::sleep(outage);
                to_a.restore();
                faults.push("source link cut");
            }
            4 => {
                to_b.cut();
                std::thread::sleep(outage);
                to_b.restore();
                faults.push("target link cut");
            }
            _ => {
                signal(b_pid, "-STOP");
                std::thread::sleep(outage);
                signal(b_pid, "-CONT");
                faults.push("target frozen");
            }
        }
    }
    eprintln!("faults: {faults:?}");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let all: Vec<&str> = TABLES.iter().copied().chain(["s.big"]).collect();
    wait_equal_while_running(&a, &b, &all, 400, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 40));
}
