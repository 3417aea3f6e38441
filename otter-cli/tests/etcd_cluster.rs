//! Many nodes on etcd, through `otter run` against real servers and a real etcd that the test
//! starts: six pipelines (one per database, each with a keyed and a keyless table written all
//! along) on three nodes that share one pipelines file (each its own state directory, as on three
//! machines):
//! - they spread 2/2/2, and each pipeline's fencing epoch on the target is the create revision of
//!   its owner key in etcd;
//! - one node killed with SIGKILL: its pipelines move to the others within 15 s (3/3);
//! - etcd cut off from one node only (a proxy between them): that node stops writing, the other
//!   takes every pipeline; with the link back the cut-off node rejoins and gets its share again;
//! - at the end every table equals the source (a keyless table would show a row applied twice).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{interrupt, spawn_run, Rng};
use otter_testkit::compare::{log_tail, Tables, Wait};
use otter_testkit::{Etcd, MariaDb, Proxy, ServerConfig};

const PIPELINES: usize = 6;

fn tables() -> Vec<String> {
    (1..=PIPELINES).flat_map(|i| [format!("d{i}.t"), format!("d{i}.k")]).collect()
}

fn config(dir: &Path, a: &MariaDb, b: &MariaDb, etcd: &str) -> PathBuf {
    let mut text = format!(
        "state_dir = \"{}\"\n[coordinator]\nkind = \"etcd\"\nendpoints = [\"{etcd}\"]\nprefix = \"/otter/test\"\nttl_secs = 4\n",
        dir.join("state").display()
    );
    for i in 1..=PIPELINES {
        text.push_str(&format!(
            "[[pipeline]]\nname = \"p{i}\"\n\
             [pipeline.source]\nurl = \"{}\"\ninclude = [\"d{i}\\\\..*\"]\nheartbeat_secs = 1\nmax_reconnect_backoff_secs = 1\n\
             [pipeline.sink]\nkind = \"mysql\"\nurl = \"{}\"\nworkers = 1\nmax_retry_backoff_secs = 1\nlease_secs = 2\n\
             [pipeline.batch]\nlinger_ms = 20\n",
            a.url(),
            b.url()
        ));
    }
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn writer(client: otter_testkit::Client, stop: Arc<AtomicBool>) {
    let mut rng = Rng(0xe7cd);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let d = 1 + rng.below(PIPELINES as u64);
        let id = 1 + rng.below(100);
        let sql = match rng.below(4) {
            0 => format!("DELETE FROM d{d}.t WHERE id = {id}"),
            1 => format!("INSERT INTO d{d}.k VALUES ({id}, 'w{i}')"),
            _ => format!("INSERT INTO d{d}.t VALUES ({id}, {i}) ON DUPLICATE KEY UPDATE v = v + 1"),
        };
        client.sql(&format!("BEGIN; {sql}; COMMIT")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pipeline -> (holder pid, epoch), from the target's lease table.
fn holders(b: &MariaDb) -> BTreeMap<String, (u32, u64)> {
    let rows = b.query("SELECT pipeline, holder, epoch FROM otter.lease").unwrap_or_default();
    rows.into_iter()
        .filter_map(|r| {
            let pid = r.get(1)?.strip_prefix("pid ")?.split(' ').next()?.parse().ok()?;
            Some((r.first()?.clone(), (pid, r.get(2)?.parse().ok()?)))
        })
        .collect()
}

/// How many pipelines each of `nodes` holds (every pipeline held, and applying: its loader is
/// ready in that node's log).
fn spread(b: &MariaDb, nodes: &[&Child]) -> Vec<usize> {
    let h = holders(b);
    nodes.iter().map(|n| h.values().filter(|(pid, _)| *pid == n.id()).count()).collect()
}

fn wait_spread(b: &MariaDb, nodes: &[&Child], want: &[usize], secs: u64, logs: &[&Path]) -> Duration {
    let started = Instant::now();
    loop {
        let now = spread(b, nodes);
        if now == want {
            return started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(secs) {
            let tails: Vec<String> = logs.iter().map(|l| log_tail(l, 25)).collect();
            panic!("spread {now:?}, expected {want:?} within {secs}s; holders {:?}\n{}", holders(b), tails.join("\n-----\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The create revision of each pipeline's owner key in etcd.
fn owner_revisions(etcd: &Etcd) -> BTreeMap<String, u64> {
    use base64::Engine;
    let out = Command::new("etcdctl").args(["--endpoints", &etcd.url(), "get", "--prefix", "/otter/test/owners/", "-w", "json"]).env("ETCDCTL_API", "3").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut map = BTreeMap::new();
    for kv in json["kvs"].as_array().cloned().unwrap_or_default() {
        let key = base64::engine::general_purpose::STANDARD.decode(kv["key"].as_str().unwrap_or_default()).unwrap_or_default();
        let key = String::from_utf8_lossy(&key).trim_start_matches("/otter/test/owners/").to_owned();
        map.insert(key, kv["create_revision"].as_u64().unwrap_or_default());
    }
    map
}

#[test]
fn six_pipelines_on_three_nodes_spread_move_on_a_kill_and_leave_a_node_cut_off_from_etcd() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    for i in 1..=PIPELINES {
        a.sql(&format!("CREATE DATABASE d{i}; CREATE TABLE d{i}.t (id INT PRIMARY KEY, v INT); CREATE TABLE d{i}.k (a INT, b VARCHAR(20))")).unwrap();
    }
    let etcd = Etcd::start().unwrap();
    let link3 = Proxy::start(&format!("127.0.0.1:{}", etcd.port())).unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let configs: Vec<PathBuf> = dirs
        .iter()
        .enumerate()
        .map(|(n, d)| config(d.path(), &a, &b, &if n == 2 { format!("http://127.0.0.1:{}", link3.port()) } else { etcd.url() }))
        .collect();
    let logs: Vec<PathBuf> = dirs.iter().map(|d| d.path().join("run.log")).collect();
    // `otter check` looks at etcd too: reachable here, a clear failure (exit 2) where it is not.
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&configs[0]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |text: &str| text.lines().find(|l| l.contains(" coordinator ")).unwrap_or_default().to_owned();
    assert!(out.status.success() && line(&text).contains("PASS") && line(&text).contains("0 live node(s)"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = tempfile::tempdir().unwrap();
    let bad = config(nowhere.path(), &a, &b, &format!("http://127.0.0.1:{closed}"));
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&bad).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(line(&text).contains("FAIL") && line(&text).contains("cannot be reached"), "{text}");
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (client, stop) = (a.client(), Arc::clone(&stop));
        std::thread::spawn(move || writer(client, stop))
    };
    let mut n1 = spawn_run(&configs[0], &logs[0]);
    let n2 = spawn_run(&configs[1], &logs[1]);
    let n3 = spawn_run(&configs[2], &logs[2]);
    let log_refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    wait_spread(&b, &[&n1, &n2, &n3], &[2, 2, 2], 90, &log_refs);
    // The fencing epoch on the target is the owner key's create revision in etcd.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let epochs: BTreeMap<String, u64> = holders(&b).into_iter().map(|(p, (_, e))| (p, e)).collect();
        if epochs == owner_revisions(&etcd) {
            break;
        }
        assert!(Instant::now() < deadline, "epochs {epochs:?} vs etcd {:?}", owner_revisions(&etcd));
        std::thread::sleep(Duration::from_millis(200));
    }

    // SIGKILL one node: its two pipelines move within 15 s.
    n1.kill().unwrap();
    n1.wait().unwrap();
    let took = wait_spread(&b, &[&n2, &n3], &[3, 3], 15, &log_refs);
    eprintln!("pipelines of the killed node moved in {took:?}");

    // etcd unreachable for node 3 only: it stops writing, node 2 takes everything.
    link3.cut();
    let took = wait_spread(&b, &[&n2, &n3], &[6, 0], 30, &log_refs);
    eprintln!("pipelines of the cut-off node moved in {took:?}");
    let text3 = std::fs::read_to_string(&logs[2]).unwrap();
    assert!(text3.contains("Cannot renew the etcd lease"), "{}", log_tail(&logs[2], 30));
    // The link back: node 3 joins again and gets its share.
    link3.restore();
    wait_spread(&b, &[&n2, &n3], &[3, 3], 60, &log_refs);

    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let names = tables();
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    Wait::pair(&a, &b, Tables::Named(&named), 120).log(&logs[1]).run();
    assert!(interrupt(n2).success(), "{}", log_tail(&logs[1], 30));
    assert!(interrupt(n3).success(), "{}", log_tail(&logs[2], 30));
    for log in &logs {
        assert!(!std::fs::read_to_string(log).unwrap_or_default().contains("Duplicate entry"), "{}", log_tail(log, 30));
    }
}
