//! Source failover by GTID, through `otter run` against real servers: a primary P with two GTID
//! replicas (`log_slave_updates`, `read_only` as replicas are), one of them stopped behind.
//! - P is killed and the up-to-date replica promoted (replication reset, `read_only` off):
//!   otter, running, moves to it by GTID (the file names of the two servers are the same, their
//!   contents are not) and the target equals the new primary after writes there — rows, deletes
//!   and a keyless table (a transaction applied twice or skipped would show).
//! - The new primary is killed and only the lagging replica promoted: otter refuses it, names
//!   the GTIDs it lacks, and exits 2 — without skipping anything on the target.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{spawn_run, Rng};
use otter_testkit::compare::{log_tail, Tables, Wait};
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["f.t", "f.log"];
/// What the target holds, in short.
const SUMMARY: &str = "SELECT (SELECT COUNT(*) FROM f.t), (SELECT SUM(v) FROM f.t), (SELECT COUNT(*) FROM f.log), (SELECT GROUP_CONCAT(DISTINCT note) FROM f.t)";

fn replica(server_id: u32) -> MariaDb {
    let r = MariaDb::start(ServerConfig { log_slave_updates: true, ..ServerConfig::new(server_id) }).unwrap();
    r.sql("SET GLOBAL read_only = ON").unwrap();
    r
}

fn follow(replica: &MariaDb, primary: &MariaDb) {
    replica
        .sql(&format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos, \
             MASTER_CONNECT_RETRY = 1; START SLAVE",
            primary.port()
        ))
        .unwrap();
}

/// What a failover tool does: replication off and forgotten, writable.
fn promote(r: &MariaDb) {
    r.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF").unwrap();
}

fn write(server: &MariaDb, rng: &mut Rng, txns: u64, tag: &str) {
    let client = server.client();
    for i in 0..txns {
        let id = 1 + rng.below(200);
        let sql = match rng.below(4) {
            0 => format!("DELETE FROM f.t WHERE id = {id}"),
            1 => format!("INSERT INTO f.log VALUES ({id}, '{tag}{i}')"),
            _ => format!("INSERT INTO f.t VALUES ({id}, {i}, '{tag}') ON DUPLICATE KEY UPDATE v = v + 1, note = '{tag}'"),
        };
        client.sql(&format!("BEGIN; {sql}; COMMIT")).unwrap();
    }
}

/// Waits until `replica` has everything `primary` wrote to its binlog.
fn caught_up(replica: &MariaDb, primary: &MariaDb) {
    let want = primary.value("SELECT @@gtid_binlog_pos").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while replica.value("SELECT @@gtid_slave_pos").unwrap() != want {
        assert!(Instant::now() < deadline, "the replica did not catch up to {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(dir: &Path, p: &MariaDb, failover: &[&MariaDb], target: &MariaDb) -> PathBuf {
    let list: Vec<String> = failover.iter().map(|s| format!("\"{}\"", s.url())).collect();
    let text = format!(
        "state_dir = \"{}\"\n\
         [[pipeline]]\nname = \"p_to_t\"\n\
         [pipeline.source]\nurl = \"{}\"\nfailover = [{}]\nfailover_after_secs = 2\ninclude = [\"f\\\\..*\"]\nheartbeat_secs = 1\nmax_reconnect_backoff_secs = 1\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{}\"\nworkers = 2\nmax_retry_backoff_secs = 1\n\
         [pipeline.batch]\nlinger_ms = 20\n",
        dir.join("state").display(),
        p.url(),
        list.join(", "),
        target.url()
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_exit(child: &mut Child, secs: u64, log: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "otter kept running:\n{}", log_tail(log, 40));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn otter_follows_a_promoted_replica_by_gtid_and_refuses_one_that_lacks_transactions() {
    let mut p = MariaDb::start(ServerConfig::new(1)).unwrap();
    let t = MariaDb::start(ServerConfig::new(2)).unwrap();
    let mut good = replica(3);
    let lag = replica(4);
    // The replica's own database (another GTID domain) shifts its binlog: the same file names
    // as P's, other contents at the same offsets.
    good.sql("SET SESSION gtid_domain_id = 9; CREATE DATABASE local_only; CREATE TABLE local_only.x (a INT); INSERT INTO local_only.x VALUES (1)").unwrap();
    follow(&good, &p);
    follow(&lag, &p);
    p.sql("CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, v INT, note VARCHAR(20)); CREATE TABLE f.log (a INT, b VARCHAR(20))").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &p, &[&lag, &good], &t);
    let log = dir.path().join("run.log");
    let mut otter = spawn_run(&config, &log);
    let mut rng = Rng(0xfa11);
    write(&p, &mut rng, 300, "p");
    caught_up(&lag, &p);
    lag.sql("STOP SLAVE").unwrap();
    let lag_at = domain0(&lag.value("SELECT @@gtid_binlog_pos").unwrap());
    write(&p, &mut rng, 100, "p");
    caught_up(&good, &p);
    Wait::pair(&p, &t, Tables::Named(TABLES), 60).log(&log).run();

    // P dies; the up-to-date replica is promoted and written to. otter moves to it.
    p.kill();
    promote(&good);
    write(&good, &mut rng, 200, "g");
    Wait::pair(&good, &t, Tables::Named(TABLES), 90)
        .alive(|| otter.try_wait().unwrap().map(|s| format!("otter exited ({s}) instead of moving to the promoted replica")))
        .log(&log)
        .run();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("The source failed over") && text.contains("starting from the GTID"), "{}", log_tail(&log, 40));

    // The new primary dies; only the lagging replica is promoted: refused, the GTIDs named.
    let before = t.query(SUMMARY).unwrap();

    let good_at = domain0(&good.value("SELECT @@gtid_binlog_pos").unwrap());
    good.kill();
    promote(&lag);
    let status = wait_exit(&mut otter, 90, &log);
    assert_eq!(status.code(), Some(2), "{}", log_tail(&log, 40));
    let (lag_seq, good_seq) = (seq(&lag_at), seq(&good_at));
    let named = format!("0-?-{} .. {good_at} ({} transactions of domain 0)", lag_seq + 1, good_seq - lag_seq);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("lacks transactions otter already read") && text.contains(&named), "expected {named:?}:\n{}", log_tail(&log, 40));
    // Nothing of the lagging server was applied: the target is as the dead primary left it.
    assert_eq!(t.query(SUMMARY).unwrap(), before);
    // Started again, otter refuses at once, naming the same GTIDs.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["run", "--config"]).arg(&config).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&named), "{err}");
    assert_eq!(t.query(SUMMARY).unwrap(), before);
}

/// The GTID of domain 0 in a MariaDB GTID position (`0-3-612,9-3-3` -> `0-3-612`).
fn domain0(pos: &str) -> String {
    pos.trim().split(',').find(|g| g.starts_with("0-")).unwrap_or_else(|| panic!("no domain 0 in {pos}")).to_owned()
}

/// The sequence number of a GTID (`0-3-612` -> 612).
fn seq(gtid: &str) -> u64 {
    gtid.rsplit('-').next().unwrap().parse().unwrap()
}
