//! A two-way pair A <-> B (last-writer-wins, deletes included) under random faults while both
//! sites keep writing shared and own rows — updates, deletes, re-inserts: `kill -9` of otter with
//! an immediate restart, otter frozen (SIGSTOP/SIGCONT), the link to either site cut and
//! restored, either server frozen and thawed. otter must never end on its own; once the writers
//! stop, the sites converge and neither binlog grows any more (no loop, no echo).
//! `OTTER_CHAOS_SEED` picks another schedule, `OTTER_CHAOS_SECS` its length (default 45 s).
mod two_way_support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otter_testkit::Proxy;
use two_way_support::{assert_quiet, interrupt, live_pair, live_writer, sites, spawn_run, tail, wait_converged, Rng};

#[test]
fn a_pair_under_random_faults_converges_without_a_loop() {
    let seed: u64 = std::env::var("OTTER_CHAOS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let secs: u64 = std::env::var("OTTER_CHAOS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(45);
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = live_pair(a, b, dir.path());
    // Both sites behind links the test can cut.
    let pa = Proxy::start(&format!("127.0.0.1:{}", a.db.port())).unwrap();
    let pb = Proxy::start(&format!("127.0.0.1:{}", b.db.port())).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&format!("127.0.0.1:{}\"", a.db.port()), &format!("127.0.0.1:{}\"", pa.port()))
        .replace(&format!("127.0.0.1:{}\"", b.db.port()), &format!("127.0.0.1:{}\"", pb.port()));
    std::fs::write(&cfg, text).unwrap();
    let log = dir.path().join("otter.log");
    let mut child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    // No downtimes to mark here: the writers' race bookkeeping goes unused.
    let (clock, down, stop) = (Arc::new(AtomicI64::new(10)), Arc::new(AtomicU32::new(0)), Arc::new(AtomicBool::new(false)));
    let writers: Vec<_> = [(a.db.client(), "A", 7u64 ^ seed), (b.db.client(), "B", 11 ^ seed)]
        .into_iter()
        .map(|(client, site, seed)| {
            let (clock, down, stop) = (Arc::clone(&clock), Arc::clone(&down), Arc::clone(&stop));
            std::thread::spawn(move || live_writer(client, site, seed, clock, down, stop))
        })
        .collect();
    let mut rng = Rng(seed | 1);
    let mut rnd = move |n: u64| rng.below(n);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut faults = Vec::new();
    let sig = |pid: u32, s: &str| {
        Command::new("kill").args([s, &pid.to_string()]).status().unwrap();
    };
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200 + rnd(2500)));
        if let Some(st) = child.try_wait().unwrap() {
            panic!("otter ended on its own ({st}) after {faults:?}:\n{}", tail(&log));
        }
        let outage = Duration::from_millis(300 + rnd(3000));
        let fault = rnd(7);
        match fault {
            0 | 1 => {
                child.kill().unwrap();
                child.wait().unwrap();
                child = spawn_run(&cfg, &log);
            }
            2 => {
                sig(child.id(), "-STOP");
                std::thread::sleep(outage);
                sig(child.id(), "-CONT");
            }
            3 | 4 => {
                let link = if fault == 3 { &pa } else { &pb };
                link.cut();
                std::thread::sleep(outage);
                link.restore();
            }
            _ => {
                let server = if fault == 5 { a.db.pid() } else { b.db.pid() }.unwrap();
                sig(server, "-STOP");
                std::thread::sleep(outage);
                sig(server, "-CONT");
            }
        }
        faults.push(["kill -9", "kill -9", "otter frozen", "link to A cut", "link to B cut", "A frozen", "B frozen"][fault as usize]);
    }
    eprintln!("faults: {faults:?}");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _races = w.join().unwrap();
    }
    wait_converged(&[a, b], &["s"], 240, &log);
    assert_quiet(&[a, b], &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
}
