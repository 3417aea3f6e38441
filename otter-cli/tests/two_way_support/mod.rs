//! Helpers of the two-way tests: site servers, configs with many pipelines, convergence checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use otter_testkit::compare::{log_tail, Tables, Wait};
use otter_testkit::{MariaDb, ServerConfig};

#[path = "../common/mod.rs"]
mod common;

/// `otter run --config`, logging to `log` (the end-to-end tests' helper), and the tests' random numbers.
#[allow(unused_imports)] // each test binary compiles this module and uses a part of it
pub use common::{spawn_run, Rng};

/// A site: its name and server.
pub struct Site {
    pub name: String,
    pub db: MariaDb,
}

/// Starts `names.len()` sites with distinct server ids and AUTO_INCREMENT offsets.
pub fn sites(names: &[&str]) -> Vec<Site> {
    let n = names.len() as u32;
    let dbs = otter_testkit::start_many(n, |i| ServerConfig::new(10 + i).auto_increment(n, i)).unwrap();
    names.iter().zip(dbs).map(|(name, db)| Site { name: (*name).to_owned(), db }).collect()
}

/// One direction between two sites.
pub struct Edge<'a> {
    pub from: &'a Site,
    pub to: &'a Site,
    pub include: &'a [&'a str],
    pub forward: bool,
}

/// A config with one pipeline per edge; `sink_extra` is appended to every `[pipeline.sink]`.
pub fn config(dir: &Path, edges: &[Edge<'_>], sink_extra: &str) -> PathBuf {
    let mut text = format!("state_dir = \"{}\"\n", dir.join("state").display());
    for e in edges {
        let include: Vec<String> = e.include.iter().map(|p| format!("\"{}\"", p.replace('\\', "\\\\"))).collect();
        text.push_str(&format!(
            "\n[[pipeline]]\nname = \"{f}_to_{t}\"\n[pipeline.batch]\nlinger_ms = 20\n\
             [pipeline.source]\nurl = \"{su}\"\nfrom = \"earliest\"\ninclude = [{inc}]\n\
             [pipeline.two_way]\nsource_site = \"{f}\"\ntarget_site = \"{t}\"\nforward = {fw}\n\
             [pipeline.sink]\nkind = \"mysql\"\nurl = \"{tu}\"\nworkers = 2\n{sink_extra}\n",
            f = e.from.name,
            t = e.to.name,
            su = e.from.db.url(),
            tu = e.to.db.url(),
            inc = include.join(", "),
            fw = e.forward,
        ));
    }
    let path = dir.join("pipes.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// SIGINT after the process logged its start; returns its exit status.
pub fn interrupt(mut child: Child, log: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(log).unwrap_or_default().contains("Starting pipeline") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap()
}

/// Waits until every site has the same tables of `schemas`, with the same row counts and
/// checksums (and at least one table); panics with what differs and the log otherwise.
pub fn wait_converged(sites: &[&Site], schemas: &[&str], secs: u64, log: &Path) {
    let sides: Vec<(&str, &MariaDb)> = sites.iter().map(|s| (s.name.as_str(), &s.db)).collect();
    Wait::new(&sides, Tables::Schemas(schemas), secs).every(Duration::from_millis(500)).log(log).run();
}

/// Waits until `check` holds, polling; panics with `what` and the log otherwise.
pub fn wait_until(secs: u64, log: &Path, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{what} did not happen; log tail:\n{}", tail(log));
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The end of the log, for failure messages.
pub fn tail(log: &Path) -> String {
    log_tail(log, 60)
}

/// Binlog end positions of every site.
pub fn binlog_ends(sites: &[&Site]) -> Vec<String> {
    sites
        .iter()
        .map(|s| {
            let r = s.db.query("SHOW MASTER STATUS").unwrap();
            format!("{}:{}", r[0][0], r[0][1])
        })
        .collect()
}

/// Asserts that no site's binlog grows any more once the sites are idle (no loop, no echo).
pub fn assert_quiet(sites: &[&Site], log: &Path) {
    // Let idle progress writes and heartbeats settle — each loader records its last rows' own
    // position once, at the first idle heartbeat after they were acknowledged (up to two
    // heartbeats of 5 s) — then watch for a while: a loop or an echo keeps writing.
    std::thread::sleep(Duration::from_secs(13));
    let before = binlog_ends(sites);
    std::thread::sleep(Duration::from_secs(8));
    let after = binlog_ends(sites);
    assert_eq!(before, after, "binlogs still grow while idle (a loop or an echo); log tail:\n{}", tail(log));
}

/// The pair of the live tests: `s.live` (60 rows) on `a`, and a config syncing A <-> B with
/// last-writer-wins on its `version` column.
pub fn live_pair(a: &Site, b: &Site, dir: &Path) -> PathBuf {
    let mut sql = String::from("CREATE DATABASE s; CREATE TABLE s.live (id INT PRIMARY KEY, version BIGINT NOT NULL, site VARCHAR(4) NOT NULL, payload VARCHAR(24) NOT NULL);");
    for id in 1..=60 {
        sql.push_str(&format!("INSERT INTO s.live VALUES ({id}, 1, 'A', 'init');"));
    }
    a.db.sql(&sql).unwrap();
    let inc: &[&str] = &["s\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let rule = "[[pipeline.sink.conflict]]\ntables = \"s\\\\.live\"\npolicy = \"last-writer-wins\"\ncolumn = \"version\"\n";
    config(dir, &edges, rule)
}

/// A site's writer: until `stop`, changes shared keys (40 % of writes: 1..=60) and its own keys,
/// with updates, deletes and re-inserts, every write with a version from the common clock
/// `clock` (as a timestamp would be). Returns the shared keys changed (not a no-op) while `down` was set for
/// the whole statement, per downtime number.
pub fn live_writer(
    client: otter_testkit::Client,
    site: &'static str,
    seed: u64,
    clock: std::sync::Arc<std::sync::atomic::AtomicI64>,
    down: std::sync::Arc<std::sync::atomic::AtomicU32>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<(u32, i64)> {
    use std::sync::atomic::Ordering;
    let mut rng = Rng(seed | 1);
    let mut next = move |n: u64| rng.below(n);
    let own = if site == "A" { 1000 } else { 2000 };
    let mut touched = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let shared = next(10) < 4;
        let id = if shared { 1 + next(60) as i64 } else { own + next(200) as i64 };
        let v = clock.fetch_add(1, Ordering::Relaxed);
        // Each ends by reading how many rows it changed: an update or delete of a row this site
        // does not have changes nothing, races with nothing and is not counted.
        let sql = match next(10) {
            0..=4 => format!("UPDATE s.live SET version = {v}, site = '{site}', payload = '{site}{v}' WHERE id = {id}; SELECT ROW_COUNT()"),
            // A delete at a fresh version (the time of the delete), as in the reproduction.
            5 | 6 => format!(
                "BEGIN; UPDATE s.live SET version = {v}, site = '{site}' WHERE id = {id}; DELETE FROM s.live WHERE id = {id}; SELECT ROW_COUNT(); COMMIT"
            ),
            _ => format!(
                "INSERT INTO s.live VALUES ({id}, {v}, '{site}', '{site}{v}') ON DUPLICATE KEY UPDATE version = {v}, site = '{site}', payload = '{site}{v}'; \
                 SELECT ROW_COUNT()"
            ),
        };
        let before = down.load(Ordering::SeqCst);
        let changed = client.sql(&sql).unwrap().trim() != "0";
        let after = down.load(Ordering::SeqCst);
        if changed && shared && before == after && before % 2 == 1 {
            touched.push((before, id));
        }
    }
    touched
}
