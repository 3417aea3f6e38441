//! Shared pieces of the end-to-end tests: a sysbench-style mixed workload, `otter run` as a child
//! process, and table comparison between two servers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use otter_testkit::compare::{Tables, Wait};
use otter_testkit::{Client, MariaDb};

/// The tables the workload writes.
pub const TABLES: &[&str] = &["w.sb1", "w.sb2", "w.sb3", "w.wide", "w.nokey"];

/// Creates the workload's schema on `a`.
pub fn schema(a: &MariaDb) {
    let mut sql = String::from("CREATE DATABASE w;");
    for t in ["sb1", "sb2", "sb3"] {
        sql.push_str(&format!(
            "CREATE TABLE w.{t} (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY (k));"
        ));
    }
    sql.push_str(
        "CREATE TABLE w.wide (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(12,2), ratio DOUBLE, name VARCHAR(64) CHARACTER SET utf8mb4,
           note TEXT, created DATETIME(6), day DATE, ts TIMESTAMP(3) NULL, attrs JSON, status ENUM('new','paid','shipped'),
           payload BLOB, flags SET('a','b','c'), small TINYINT, big BIGINT, f FLOAT);
         CREATE TABLE w.nokey (a INT, b VARCHAR(20), c DOUBLE);",
    );
    a.sql(&sql).unwrap();
}

/// Deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    /// Next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn statement(rng: &mut Rng, i: u64) -> String {
    let t = ["sb1", "sb2", "sb3"][rng.below(3) as usize];
    let id = rng.below(400) + 1;
    match rng.below(10) {
        0..=2 => format!(
            "INSERT INTO w.{t} VALUES ({}, {}, 'c-{i}-{}', 'pad-{i}') ON DUPLICATE KEY UPDATE k = k + 1",
            id,
            rng.below(1000),
            rng.next() % 100000
        ),
        3 | 4 => format!("UPDATE w.{t} SET k = k + 1, c = 'upd-{i}' WHERE id = {id}"),
        5 => format!("UPDATE IGNORE w.{t} SET id = id + 1000 WHERE id = {id}"),
        6 => format!("DELETE FROM w.{t} WHERE id = {id}"),
        7 => format!(
            "INSERT INTO w.wide VALUES ({id}, {}.{:02}, {}.5, 'name {i} 🦦', REPEAT('n', {}), '2024-01-01 00:00:00.{:06}', '2024-02-29',
             '2024-06-01 00:00:01.5', '{{\"i\": {i}, \"t\": [1, \"x\"]}}', 'paid', UNHEX('00ff{:02x}'), 'a,c', -{}, {}, 1.25)
             ON DUPLICATE KEY UPDATE amount = amount + 1, attrs = JSON_SET(attrs, '$.u', {i}), status = 'shipped'",
            rng.below(100000),
            rng.below(100),
            rng.below(1000),
            rng.below(300),
            rng.below(1_000_000),
            rng.below(256),
            rng.below(128),
            rng.next() as i64 >> 1
        ),
        8 => format!("INSERT INTO w.nokey VALUES ({}, 'b{i}', {}.5)", rng.below(50), rng.below(100)),
        _ => format!("DELETE FROM w.nokey WHERE a = {} LIMIT 1", rng.below(50)),
    }
}

/// Runs `txns` transactions of 1–4 statements on `client`, with two ALTERs along the way.
/// Statements the server refuses (e.g. a key change onto an existing key) roll their transaction
/// back, as they would for an application.
pub fn workload(client: &Client, seed: u64, txns: u64) {
    let mut rng = Rng(seed | 1);
    for i in 0..txns {
        if i == txns / 3 {
            client.sql("ALTER TABLE w.wide ADD COLUMN IF NOT EXISTS extra INT DEFAULT 7").unwrap();
        }
        if i == 2 * txns / 3 {
            client.sql("ALTER TABLE w.sb1 ADD COLUMN IF NOT EXISTS note VARCHAR(20) NULL AFTER k").unwrap();
        }
        let n = 1 + rng.below(4);
        let mut sql = String::from("SET time_zone = '+00:00'; BEGIN;");
        for _ in 0..n {
            sql.push_str(&statement(&mut rng, i));
            sql.push(';');
        }
        sql.push_str("COMMIT;");
        let _ = client.sql(&sql);
    }
}

/// Writes a config for pipeline `a_to_b` (the workload's tables) and returns its path.
pub fn config(dir: &Path, a: &MariaDb, b: &MariaDb, workers: usize) -> PathBuf {
    config_with(dir, a, b, workers, "w\\\\..*", "")
}

/// Writes a config for pipeline `a_to_b` capturing `include` (a TOML-escaped pattern), with
/// `extra` TOML appended (e.g. `[[pipeline.transform]]` tables), and returns its path.
pub fn config_with(dir: &Path, a: &MariaDb, b: &MariaDb, workers: usize, include: &str, extra: &str) -> PathBuf {
    config_sink(dir, a, &b.url(), workers, include, "", extra)
}

/// [`config_with`] for a target URL, with `sink_extra` TOML lines in `[pipeline.sink]`.
pub fn config_sink(dir: &Path, a: &MariaDb, b_url: &str, workers: usize, include: &str, sink_extra: &str, extra: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{}\"\n\
         [[pipeline]]\nname = \"a_to_b\"\n\
         [pipeline.source]\nurl = \"{}\"\nfrom = \"earliest\"\ninclude = [\"{include}\"]\nserver_id = 777\nheartbeat_secs = 1\nmax_reconnect_backoff_secs = 1\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{b_url}\"\nworkers = {workers}\nmax_retry_backoff_secs = 1\n{sink_extra}\n\
         [pipeline.batch]\nlinger_ms = 20\n{extra}",
        dir.join("state").display(),
        a.url(),
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `otter run` with its log appended to `log`.
pub fn spawn_run(config: &Path, log: &Path) -> Child {
    spawn_run_logging(config, log, None)
}

/// [`spawn_run`] with a log filter (`RUST_LOG`) of its own, e.g. to count debug lines.
pub fn spawn_run_logging(config: &Path, log: &Path, filter: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otter"));
    if let Some(f) = filter {
        cmd.env("RUST_LOG", f);
    }
    cmd.args(["run", "--config"]).arg(config).stdout(Stdio::null()).stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap());
    otter_testkit::spawn_tied_to_process(cmd).unwrap()
}

/// Sends SIGINT and waits; returns the exit status.
pub fn interrupt(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap()
}

/// Waits until A and B agree on `tables` while `running` runs: fails at once when it exits.
pub fn wait_equal_while_running(a: &MariaDb, b: &MariaDb, tables: &[&str], secs: u64, running: &mut Child, log: &Path) {
    Wait::pair(a, b, Tables::Named(tables), secs)
        .alive(|| running.try_wait().unwrap().map(|status| format!("otter exited ({status}) before the tables were equal")))
        .log(log)
        .run();
}

/// Waits until A and B agree on every table (row count and `CHECKSUM TABLE`); panics with the
/// tables that differ and the log otherwise.
pub fn wait_equal(a: &MariaDb, b: &MariaDb, secs: u64, log: &Path) {
    Wait::pair(a, b, Tables::Named(TABLES), secs).log(log).run();
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET /metrics` over a plain TCP connection; returns the body after checking the status.
pub fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP header end: {resp}"));
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body.to_owned()
}
