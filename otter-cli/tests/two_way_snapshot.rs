//! Adding a site to a running pair (docs/SNAPSHOT.md, "Adding a site"): A holds data and keeps
//! taking writes, B is new and empty; one `otter run` has A -> B with `snapshot = "initial"`
//! and B -> A from B's first event. The copy reaches B marked as A's, so B -> A sends none of it
//! back (A's rows are not written again: B -> A applies nothing until B's own writes); B's own
//! writes then reach A, the sites converge, and neither binlog grows once idle (no echo).

mod two_way_support;

use std::time::Duration;

use two_way_support::{assert_quiet, config, interrupt, sites, spawn_run, tail, wait_converged, wait_until, Edge};

/// Rows the B -> A pipeline committed so far (its status file).
fn applied(dir: &std::path::Path, pipeline: &str) -> u64 {
    let path = dir.join("state").join(pipeline).join("status.json");
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()).and_then(|v| v["rows"].as_u64()).unwrap_or(0)
}

#[test]
fn a_new_site_is_copied_online_and_the_copy_is_not_sent_back() {
    let all = sites(&["A", "B"]);
    let (a, b) = (&all[0], &all[1]);
    a.db.sql(
        "CREATE DATABASE s;
         CREATE TABLE s.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20), n INT);
         INSERT INTO s.t SELECT seq * 2, CONCAT('a', seq), seq FROM s.seq_1_to_20000;
         CREATE TABLE s.log (id BIGINT AUTO_INCREMENT PRIMARY KEY, site VARCHAR(4), n INT);",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let edges = [Edge { from: a, to: b, include: &["s\\..*"], forward: false }, Edge { from: b, to: a, include: &["s\\..*"], forward: false }];
    let path = config(dir.path(), &edges, "");
    // A -> B copies what A has and streams from there; B -> A reads B from its start.
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("from = \"earliest\"", "snapshot = \"initial\"\nsnapshot_readers = 2\nsnapshot_chunk_ms = 50", 1);
    std::fs::write(&path, text).unwrap();
    let log = dir.path().join("run.log");
    let otter = spawn_run(&path, &log);
    // A keeps taking writes during the copy.
    let writer = {
        let client = a.db.client();
        std::thread::spawn(move || {
            for i in 0..200 {
                client.sql(&format!("UPDATE s.t SET n = n + 1 WHERE id = {}; INSERT INTO s.log (site, n) VALUES ('A', {i})", (i * 97 % 20_000) * 2)).unwrap();
            }
        })
    };
    wait_until(120, &log, "the copy into B", || std::fs::read_to_string(&log).unwrap_or_default().contains("Online snapshot finished"));
    writer.join().unwrap();
    wait_converged(&[a, b], &["s"], 120, &log);
    // Nothing of the copy came back to A.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(applied(dir.path(), "B_to_A"), 0, "B -> A applied rows of the copy:\n{}", tail(&log));
    // B's own writes reach A, and the pair goes quiet.
    b.db.sql("INSERT INTO s.log (site, n) VALUES ('B', 1), ('B', 2); UPDATE s.t SET v = 'from B' WHERE id = 2").unwrap();
    wait_converged(&[a, b], &["s"], 120, &log);
    wait_until(30, &log, "B -> A applying B's rows", || applied(dir.path(), "B_to_A") == 3);
    assert_eq!(a.db.value("SELECT v FROM s.t WHERE id = 2").unwrap().trim(), "from B");
    assert_quiet(&[a, b], &log);
    assert!(interrupt(otter, &log).success(), "{}", tail(&log));
}
