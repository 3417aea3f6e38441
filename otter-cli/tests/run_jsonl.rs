//! `otter run` with a `jsonl` sink end to end (a harness MariaDB, no mocks):
//! - stopped with SIGINT (and, in a second test, SIGTERM) in the middle of a running workload —
//!   inserts, multi-row updates and deletes, multi-statement and rolled-back transactions, some
//!   larger than a chunk and a batch — it exits 0 leaving a clean prefix of the stream; restarted,
//!   it catches up and the file holds every committed change exactly once, in commit order, each
//!   transaction's changes together;
//! - the Prometheus endpoint (`metrics_addr`) reports the rows and transactions written, the
//!   committed binlog position and the lag, and the account's password appears nowhere in the log;
//! - a caught-up pipeline on an idle source shows a lag of about the heartbeat period (status
//!   file, `otter status`, `otter_lag_seconds`), not the age of the last commit.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use common::{free_port, scrape, spawn_run, Rng};
use otter_testkit::{Client, MariaDb, ServerConfig};
use serde_json::Value as Json;

/// `(v, note)` of a row image.
type Image = Option<(i64, String)>;

/// One row change as the test expects to read it back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    kind: &'static str,
    id: i64,
    before: Image,
    after: Image,
}

/// The table `w.t` as the workload leaves it, and the generator of its transactions.
struct Model {
    rows: BTreeMap<i64, (i64, String)>,
    next_id: i64,
    rng: Rng,
}

impl Model {
    fn new(seed: u64) -> Model {
        Model { rows: BTreeMap::new(), next_id: 1, rng: Rng(seed | 1) }
    }

    fn insert(&mut self, sql: &mut String, out: &mut Vec<Change>, i: u64, n: usize) {
        let mut values = Vec::new();
        for _ in 0..n {
            let (id, v, note) = (self.next_id, self.rng.below(1000) as i64, format!("i{i}"));
            self.next_id += 1;
            values.push(format!("({id}, {v}, '{note}')"));
            out.push(Change { kind: "insert", id, before: None, after: Some((v, note.clone())) });
            self.rows.insert(id, (v, note));
        }
        sql.push_str(&format!("INSERT INTO w.t (id, v, note) VALUES {};", values.join(", ")));
    }

    /// Up to `n` consecutive existing ids, from a random one.
    fn pick(&mut self, n: usize) -> Vec<i64> {
        let keys: Vec<i64> = self.rows.keys().copied().collect();
        let start = self.rng.below(keys.len() as u64) as usize;
        keys.get(start..).unwrap_or(&[]).iter().take(n).copied().collect()
    }

    fn update(&mut self, sql: &mut String, out: &mut Vec<Change>, i: u64, n: usize) {
        let ids = self.pick(n);
        let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else { return self.insert(sql, out, i, 1) };
        sql.push_str(&format!("UPDATE w.t SET v = v + 1, note = 'u{i}' WHERE id BETWEEN {lo} AND {hi} ORDER BY id;"));
        for id in ids {
            let old = self.rows[&id].clone();
            let new = (old.0 + 1, format!("u{i}"));
            out.push(Change { kind: "update", id, before: Some(old), after: Some(new.clone()) });
            self.rows.insert(id, new);
        }
    }

    fn delete(&mut self, sql: &mut String, out: &mut Vec<Change>, i: u64, n: usize) {
        let ids = self.pick(n);
        let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else { return self.insert(sql, out, i, 1) };
        sql.push_str(&format!("DELETE FROM w.t WHERE id BETWEEN {lo} AND {hi} ORDER BY id;"));
        for id in ids {
            let old = self.rows.remove(&id);
            out.push(Change { kind: "delete", id, before: old, after: None });
        }
    }

    fn statement(&mut self, sql: &mut String, out: &mut Vec<Change>, i: u64) {
        match self.rng.below(4) {
            0 | 1 => self.insert(sql, out, i, 1),
            2 => self.update(sql, out, i, 2),
            _ => self.delete(sql, out, i, 1),
        }
    }

    /// The SQL of transaction `i` and the changes it commits (none when it rolls back).
    fn txn(&mut self, i: u64) -> (String, Vec<Change>) {
        let (mut sql, mut out) = (String::new(), Vec::new());
        match self.rng.below(10) {
            0..=2 => self.insert(&mut sql, &mut out, i, 1),
            3 => self.insert(&mut sql, &mut out, i, 5),
            4 => self.update(&mut sql, &mut out, i, 1),
            5 => self.update(&mut sql, &mut out, i, 4),
            6 => {
                let n = 1 + self.rng.below(3) as usize;
                self.delete(&mut sql, &mut out, i, n);
            }
            7 | 8 => {
                sql.push_str("BEGIN;");
                for _ in 0..2 + self.rng.below(3) {
                    self.statement(&mut sql, &mut out, i);
                }
                sql.push_str("COMMIT;");
            }
            _ => {
                // Rolled back: changes nothing, and the model must not remember it.
                let mut scratch = Model { rows: self.rows.clone(), next_id: self.next_id, rng: Rng(self.rng.next() | 1) };
                let mut ignored = Vec::new();
                sql.push_str("BEGIN;");
                scratch.insert(&mut sql, &mut ignored, i, 2);
                scratch.update(&mut sql, &mut ignored, i, 2);
                sql.push_str("ROLLBACK;");
            }
        }
        (sql, out)
    }
}

/// Runs `txns` transactions on `client`, counting commits in `committed`; before transaction
/// `gate_at` it waits for a message on `gate`. Returns each transaction's committed changes.
fn workload(client: &Client, seed: u64, txns: u64, gate_at: u64, gate: Option<mpsc::Receiver<()>>, committed: &AtomicU64) -> Vec<Vec<Change>> {
    let mut model = Model::new(seed);
    let mut all = Vec::new();
    for i in 0..txns {
        if i == gate_at {
            if let Some(g) = &gate {
                g.recv().unwrap();
            }
        }
        let (sql, changes) = model.txn(i);
        client.sql(&sql).unwrap();
        committed.fetch_add(1, Ordering::Relaxed);
        all.push(changes);
    }
    all
}

const SCHEMA: &str = "CREATE DATABASE w; CREATE TABLE w.t (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20) NOT NULL)";

/// Writes the config of pipeline `w_to_file` (small chunks and batches, so transactions span
/// several of them) and returns its path.
fn config(dir: &Path, url: &str, out: &Path, from: &str, metrics_addr: Option<&str>) -> PathBuf {
    let metrics = metrics_addr.map(|a| format!("metrics_addr = \"{a}\"\n")).unwrap_or_default();
    let text = format!(
        "state_dir = \"{}\"\n{metrics}\
         [[pipeline]]\nname = \"w_to_file\"\n\
         [pipeline.source]\nurl = \"{url}\"\nfrom = \"{from}\"\ninclude = [\"w\\\\..*\"]\nserver_id = 778\nheartbeat_secs = 1\n\
         max_reconnect_backoff_secs = 1\nchunk_rows = 3\n\
         [pipeline.sink]\nkind = \"jsonl\"\npath = \"{}\"\n\
         [pipeline.batch]\nmax_rows = 4\nlinger_ms = 20\n",
        dir.join("state").display(),
        out.display()
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The log without the terminal colour codes `tracing` puts around field names.
fn log_text(log: &Path) -> String {
    let raw = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = rest[i..].find('m').map_or("", |j| &rest[i + j + 1..]);
    }
    out.push_str(rest);
    out
}

/// Waits until `done` holds; panics with the log after `secs` seconds.
fn wait_for(secs: u64, log: &Path, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; log:\n{}", log_text(log));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the log shows the `n`-th start of the capture (so a signal reaches a running
/// `otter`, not a process still starting).
fn wait_started(log: &Path, n: usize) {
    wait_for(60, log, "otter to start", || log_text(log).matches("Starting capture.").count() >= n);
}

/// Sends `signal` (`INT`, `TERM`) and waits; asserts exit code 0.
fn stop(mut child: Child, signal: &str, log: &Path) {
    Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "otter run exited with {status} on SIG{signal}; log:\n{}", log_text(log));
}

/// The complete lines of the output file (a line being written may be cut short).
fn lines(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn image(v: &Json) -> Image {
    (!v.is_null()).then(|| (v["v"].as_i64().unwrap(), v["note"].as_str().unwrap().to_owned()))
}

/// The row-change lines as changes, grouped by transaction (`txn` field), in file order.
fn txns(lines: &[Json]) -> Vec<Vec<Change>> {
    let mut out: Vec<(String, Vec<Change>)> = Vec::new();
    for l in lines.iter().filter(|l| l["kind"] != "ddl") {
        assert_eq!(l["table"], "w.t", "{l}");
        let kind = match l["kind"].as_str().unwrap() {
            "insert" => "insert",
            "update" => "update",
            "delete" => "delete",
            k => panic!("unexpected kind {k}"),
        };
        let img = if l["after"].is_null() { &l["before"] } else { &l["after"] };
        let c = Change { kind, id: img["id"].as_i64().unwrap(), before: image(&l["before"]), after: image(&l["after"]) };
        let txn = l["txn"].as_str().unwrap().to_owned();
        match out.last_mut() {
            Some((t, cs)) if *t == txn => cs.push(c),
            _ => out.push((txn, vec![c])),
        }
    }
    out.into_iter().map(|(_, cs)| cs).collect()
}

/// Stops `otter run` with `signal` mid-workload, restarts it, lets it catch up, stops it again,
/// and checks the file.
fn stop_restart_catch_up(signal: &str, seed: u64) {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql(SCHEMA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("w.jsonl"), dir.path().join("otter.log"));
    let cfg = config(dir.path(), &db.url(), &out, "earliest", None);
    let child = spawn_run(&cfg, &log);
    wait_started(&log, 1);

    // The workload waits before transaction 100 until the stop signal was sent, so the signal
    // lands while transactions are still being committed (50 or more of 160 are).
    let (gate_tx, gate_rx) = mpsc::channel();
    let committed = Arc::new(AtomicU64::new(0));
    let (client, counter) = (db.client(), Arc::clone(&committed));
    let worker = std::thread::spawn(move || workload(&client, seed, 160, 100, Some(gate_rx), &counter));
    wait_for(120, &log, "50 transactions committed and 20 changes written", || {
        committed.load(Ordering::Relaxed) >= 50 && txns(&lines(&out)).concat().len() >= 20
    });
    stop(child, signal, &log);
    gate_tx.send(()).unwrap();
    let after_stop = txns(&lines(&out)).concat();
    assert!(after_stop.len() >= 20, "the stop kept what was written");

    let child = spawn_run(&cfg, &log);
    wait_started(&log, 2);
    let expected: Vec<Vec<Change>> = worker.join().unwrap().into_iter().filter(|t| !t.is_empty()).collect();
    let want = expected.concat();
    wait_for(120, &log, "otter to catch up", || txns(&lines(&out)).concat().len() >= want.len());
    stop(child, signal, &log);

    let text = log_text(&log);
    let got = lines(&out);
    // What the first stop left was an exact prefix of the stream: no change repeated or skipped.
    assert_eq!(after_stop, want[..after_stop.len()], "after the first stop");
    // Every committed change exactly once, in commit order, each transaction's changes together.
    assert_eq!(txns(&got), expected, "log:\n{text}");
    let ddl: Vec<&str> = got.iter().filter(|l| l["kind"] == "ddl").map(|l| l["ddl"].as_str().unwrap()).collect();
    assert_eq!(ddl.len(), 2, "{ddl:?}");
    assert!(ddl[0].contains("CREATE DATABASE") && ddl[1].contains("CREATE TABLE"), "{ddl:?}");
    // The restart resumed from the file's recorded position, with the schema from the history.
    let starts: Vec<&str> = text.lines().filter(|l| l.contains("Starting pipeline.")).collect();
    assert_eq!(starts.len(), 2, "{text}");
    assert!(starts[0].contains("configured start") && starts[1].contains("position=mysql-bin."), "{starts:?}");
    assert!(text.contains("Schema history loaded.") && text.contains("tables=1"), "{text}");
}

#[test]
fn sigint_mid_workload_restart_exactly_once() {
    stop_restart_catch_up("INT", 0x1234);
}

#[test]
fn sigterm_mid_workload_restart_exactly_once() {
    stop_restart_catch_up("TERM", 0x9876);
}

/// The value of `name{pipeline="w_to_file"}`, when present.
fn metric(body: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{pipeline=\"w_to_file\"}} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

#[test]
fn metrics_endpoint_reports_progress() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql(SCHEMA).unwrap();
    let password = "Otter-metrics-pw-7f3a";
    db.sql(&format!(
        "CREATE USER 'otter'@'127.0.0.1' IDENTIFIED BY '{password}'; GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'otter'@'127.0.0.1'"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("w.jsonl"), dir.path().join("otter.log"));
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = config(dir.path(), &db.url_for("otter", password), &out, "latest", Some(&addr));
    let child = spawn_run(&cfg, &log);
    wait_started(&log, 1);
    let began = SystemTime::now();

    let expected: Vec<Vec<Change>> =
        workload(&db.client(), 0x5eed, 40, u64::MAX, None, &AtomicU64::new(0)).into_iter().filter(|t| !t.is_empty()).collect();
    let (rows, txn_count) = (expected.concat().len() as f64, expected.len() as f64);
    let status = db.query("SHOW MASTER STATUS").unwrap();
    let (file, offset) = (status[0][0].clone(), status[0][1].parse::<f64>().unwrap());
    let file_number: f64 = file.rsplit('.').next().unwrap().parse().unwrap();

    // Caught up: every row committed and the position at the end of the binlog.
    let mut body = String::new();
    wait_for(120, &log, "the metrics to show every row", || {
        body = scrape(&addr);
        metric(&body, "otter_rows_total") == Some(rows) && metric(&body, "otter_position_offset") == Some(offset)
    });
    assert_eq!(metric(&body, "otter_transactions_total"), Some(txn_count), "{body}");
    assert_eq!(metric(&body, "otter_position_file_number"), Some(file_number), "{body}");
    assert_eq!(metric(&body, "otter_up"), Some(1.0), "{body}");
    assert_eq!(metric(&body, "otter_errors_total"), Some(0.0), "{body}");
    for (name, kind) in [("otter_rows_total", "counter"), ("otter_transactions_total", "counter"), ("otter_lag_seconds", "gauge"), ("otter_position_offset", "gauge")] {
        assert!(body.contains(&format!("# TYPE {name} {kind}\n")), "{name}: {body}");
    }
    // Lag: now minus a commit time or heartbeat receipt time, both during this test.
    let lag = metric(&body, "otter_lag_seconds").unwrap_or_else(|| panic!("no lag: {body}"));
    assert!(lag >= 0.0 && lag <= began.elapsed().unwrap().as_secs_f64() + 1.0, "lag {lag}");
    assert_eq!(txns(&lines(&out)), expected);

    stop(child, "INT", &log);
    let text = log_text(&log);
    assert!(text.contains("otter:***@"), "the URL is logged redacted: {text}");
    assert!(!text.contains(password), "the password leaked into the log:\n{text}");
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn idle_caught_up_pipeline_shows_little_lag() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql(SCHEMA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("w.jsonl"), dir.path().join("otter.log"));
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = config(dir.path(), &db.url(), &out, "latest", Some(&addr));
    let child = spawn_run(&cfg, &log);
    wait_started(&log, 1);
    for i in 1..=3 {
        db.sql(&format!("INSERT INTO w.t VALUES ({i}, {i}, 'n{i}')")).unwrap();
    }
    // Every commit happened at or before this second.
    let last_commit = unix_secs();
    wait_for(60, &log, "the three rows written", || txns(&lines(&out)).concat().len() == 3);

    // Idle: nothing is committed on the source any more, and the file has everything.
    std::thread::sleep(Duration::from_secs(8));
    let status_path = dir.path().join("state").join("w_to_file").join("status.json");
    let mut status = Json::Null;
    wait_for(10, &log, "a status snapshot taken after the idle period", || {
        status = std::fs::read(&status_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Json::Null);
        status["at"].as_u64().is_some_and(|at| at >= last_commit + 8)
    });
    // The last commit is 8 s or more old at that snapshot: lag from it would be at least that.
    assert_eq!(status["state"], "running", "{status}");
    let lag = status["lag_secs"].as_u64().unwrap_or_else(|| panic!("no lag in {status}"));
    assert!(lag <= 3, "status file lag {lag}s on an idle, caught-up pipeline: {status}\nlog:\n{}", log_text(&log));

    let printed = Command::new(env!("CARGO_BIN_EXE_otter")).args(["status", "--config"]).arg(&cfg).output().unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let table = String::from_utf8_lossy(&printed.stdout).into_owned();
    let row: Vec<&str> = table.lines().find(|l| l.starts_with("w_to_file")).unwrap_or_else(|| panic!("{table}")).split_whitespace().collect();
    let shown: u64 = row[2].strip_suffix('s').and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("lag column in {table}"));
    assert!(unix_secs() >= last_commit + 8);
    assert!(shown <= 3, "otter status shows lag {shown}s:\n{table}");

    let body = scrape(&addr);
    let gauge = metric(&body, "otter_lag_seconds").unwrap_or_else(|| panic!("no lag: {body}"));
    assert!(gauge <= 3.0, "otter_lag_seconds {gauge}");
    stop(child, "INT", &log);
}
