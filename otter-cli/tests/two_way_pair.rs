//! A two-way pair A <-> B through one `otter run` with two pipelines (harness servers, no mocks),
//! once per conflict policy: conflicting updates made on both sites while otter is stopped, then
//! concurrent workloads on both sites with DDL on both (CREATE, ALTER, DROP TABLE) and a
//! "do not replicate" transaction. After quiescence A equals B, each conflict's winner is the one
//! the policy names, the conflict log lists them, and neither binlog grows any more (no loop).

mod two_way_support;

use std::collections::HashMap;

use otter_testkit::Client;
use two_way_support::{assert_quiet, config, interrupt, sites, spawn_run, tail, wait_converged, Edge, Rng, Site};

const ROWS: i64 = 40;

fn setup(a: &Site) {
    let mut sql = String::from(
        "CREATE DATABASE s;
         CREATE TABLE s.acct (id INT PRIMARY KEY, v BIGINT NOT NULL, site VARCHAR(8) NOT NULL DEFAULT '',
           a INT NOT NULL DEFAULT 0, b INT NOT NULL DEFAULT 0, note VARCHAR(40) NOT NULL DEFAULT '');
         CREATE TABLE s.ev (id INT AUTO_INCREMENT PRIMARY KEY, site VARCHAR(8) NOT NULL, n INT NOT NULL);
         CREATE TABLE s.gone (id INT PRIMARY KEY);",
    );
    for id in 1..=ROWS {
        sql.push_str(&format!("INSERT INTO s.acct (id, v, note) VALUES ({id}, 1, 'init');"));
    }
    a.db.sql(&sql).unwrap();
}

/// Random concurrent work of one site: shared-row updates, own inserts, DDL.
fn workload(client: &Client, site: &str, seed: u64, policy: &str) {
    let mut rng = Rng(seed | 1);
    let mut next = move |n: u64| rng.below(n);
    for i in 0..120 {
        let id = 11 + next((ROWS - 10) as u64) as i64;
        let sql = match policy {
            "column-groups" if site == "A" => format!("UPDATE s.acct SET a = a + 1 WHERE id = {id}"),
            "column-groups" => format!("UPDATE s.acct SET b = b + 1 WHERE id = {id}"),
            _ => format!("UPDATE s.acct SET v = v + 1 + {}, site = '{site}', note = '{site}-{i}' WHERE id = {id}", next(2)),
        };
        client.sql(&format!("BEGIN; {sql}; INSERT INTO s.ev (site, n) VALUES ('{site}', {i}); COMMIT")).unwrap();
        if i == 40 {
            let t = format!("s.from{site}");
            client.sql(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, x INT); INSERT INTO {t} VALUES (1, 1), (2, 2)")).unwrap();
        }
        if i == 80 {
            client.sql(&format!("ALTER TABLE s.from{site} ADD COLUMN y INT NOT NULL DEFAULT 7; UPDATE s.from{site} SET y = 8 WHERE id = 1")).unwrap();
        }
    }
}

fn winners(site: &Site) -> Vec<(i64, String)> {
    site.db
        .query("SELECT JSON_VALUE(row_key, '$.id'), winner FROM otter.conflicts WHERE tbl = 'acct'")
        .unwrap()
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect()
}

fn run_pair(policy: &str, rule: &str, conflicts: &[(&str, &str)], expected: &[(i64, &str, &str)]) {
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    setup(a);
    let dir = tempfile::tempdir().unwrap();
    let inc: &[&str] = &["s\\..*", "loc\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let cfg = config(dir.path(), &edges, rule);
    let log = dir.path().join("otter.log");

    // 1. Initial sync, then stop.
    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));

    // 2. Conflicting changes on both sites while otter is stopped.
    for (site, sql) in conflicts {
        let target = if *site == "A" { a } else { b };
        target.db.sql(sql).unwrap();
    }
    // Site-local data: DDL and a transaction marked "do not replicate".
    for site in [a, b] {
        site.db.sql("/* otter:nosync */ CREATE DATABASE loc; /* otter:nosync */ CREATE TABLE loc.t (id INT PRIMARY KEY)").unwrap();
    }
    a.db.sql("BEGIN; INSERT INTO otter.nosync (id, n) VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1; INSERT INTO loc.t VALUES (1); COMMIT").unwrap();

    // 3. Restart; concurrent workloads and DDL on both sites.
    let child = spawn_run(&cfg, &log);
    let (ca, cb) = (a.db.client(), b.db.client());
    let pa = policy.to_owned();
    let pb = policy.to_owned();
    let wa = std::thread::spawn(move || workload(&ca, "A", 7, &pa));
    let wb = std::thread::spawn(move || workload(&cb, "B", 11, &pb));
    wa.join().unwrap();
    wb.join().unwrap();
    a.db.sql("DROP TABLE s.gone").unwrap();
    b.db.sql("BEGIN; INSERT INTO otter.nosync (id, n) VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1; INSERT INTO loc.t VALUES (2); COMMIT").unwrap();
    wait_converged(&[a, b], &["s"], 180, &log);
    assert_quiet(&[a, b], &log);

    // Every site holds the winners the policy names.
    for (id, col, want) in expected.iter().filter(|(_, col, _)| *col != "winner") {
        for site in [a, b] {
            let got = site.db.value(&format!("SELECT {col} FROM s.acct WHERE id = {id}")).unwrap();
            assert_eq!(got, *want, "{policy}: {col} of row {id} on {}", site.name);
        }
    }
    // The conflict log lists the conflicts with the same winner on both sites.
    let mut logged: HashMap<i64, Vec<String>> = HashMap::new();
    for site in [a, b] {
        for (id, w) in winners(site) {
            logged.entry(id).or_default().push(w);
        }
    }
    for (id, _, want) in expected.iter().filter(|(_, col, _)| *col == "winner") {
        let ws = logged.get(id).unwrap_or_else(|| panic!("{policy}: no conflict logged for row {id}; log: {logged:?}"));
        assert!(ws.iter().all(|w| w == want), "{policy}: row {id} winners {ws:?}, expected {want}");
    }
    // The 120 + 120 workload rows arrived exactly once; "do not replicate" data stayed home; the
    // dropped table is gone on both sites.
    assert_eq!(a.db.value("SELECT COUNT(*) FROM s.ev").unwrap(), "240");
    assert_eq!(b.db.value("SELECT COUNT(*) FROM s.ev").unwrap(), "240");
    assert_eq!(a.db.value("SELECT GROUP_CONCAT(id) FROM loc.t").unwrap(), "1");
    assert_eq!(b.db.value("SELECT GROUP_CONCAT(id) FROM loc.t").unwrap(), "2");
    for site in [a, b] {
        assert_eq!(site.db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 's' AND TABLE_NAME = 'gone'").unwrap(), "0");
    }
    assert_eq!(b.db.value("SELECT y FROM s.fromA WHERE id = 1").unwrap(), "8", "DDL and data A -> B");
    assert_eq!(a.db.value("SELECT y FROM s.fromB WHERE id = 1").unwrap(), "8", "DDL and data B -> A");
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
}

// Rows with a "winner" entry must appear in the conflict log with that winner.

#[test]
fn two_way_pair_last_writer_wins() {
    run_pair(
        "last-writer-wins",
        "[[pipeline.sink.conflict]]\ntables = \"s\\\\.acct\"\npolicy = \"last-writer-wins\"\ncolumn = \"v\"\n",
        &[
            ("A", "UPDATE s.acct SET v = 3, note = 'A' WHERE id IN (1, 2); UPDATE s.acct SET v = 2, note = 'A' WHERE id IN (3, 4, 5); DELETE FROM s.acct WHERE id = 6"),
            ("B", "UPDATE s.acct SET v = 2, note = 'B' WHERE id IN (1, 2, 5); UPDATE s.acct SET v = 3, note = 'B' WHERE id IN (3, 4, 6)"),
        ],
        &[
            (1, "note", "A"),
            (2, "note", "A"),
            (3, "note", "B"),
            (4, "note", "B"),
            (5, "note", "B"), // equal versions: the higher site wins
            (6, "note", "B"), // an update wins over a concurrent delete
            (1, "winner", "A"),
            (3, "winner", "B"),
            (5, "winner", "B"),
            (6, "winner", "B"),
        ],
    );
}

#[test]
fn two_way_pair_primary_wins() {
    run_pair(
        "primary-wins",
        "[[pipeline.sink.conflict]]\ntables = \"s\\\\.acct\"\npolicy = \"primary-wins\"\nprimary = \"A\"\n",
        &[
            ("A", "UPDATE s.acct SET note = 'A', a = 1 WHERE id IN (1, 2, 3)"),
            ("B", "UPDATE s.acct SET note = 'B', b = 1 WHERE id IN (1, 2, 3); UPDATE s.acct SET note = 'B7' WHERE id = 7"),
        ],
        &[(1, "note", "A"), (2, "b", "0"), (3, "a", "1"), (7, "note", "B7"), (1, "winner", "A"), (3, "winner", "A")],
    );
}

#[test]
fn two_way_pair_column_groups() {
    run_pair(
        "column-groups",
        "[[pipeline.sink.conflict]]\ntables = \"s\\\\.acct\"\npolicy = \"column-groups\"\nprimary = \"A\"\ngroups = [[\"note\", \"v\"], [\"a\"], [\"b\"]]\n",
        &[
            ("A", "UPDATE s.acct SET a = 5 WHERE id IN (1, 2); UPDATE s.acct SET note = 'A', v = 9 WHERE id = 3"),
            ("B", "UPDATE s.acct SET b = 6 WHERE id IN (1, 2); UPDATE s.acct SET note = 'B', v = 8 WHERE id = 3"),
        ],
        &[(1, "a", "5"), (1, "b", "6"), (2, "a", "5"), (2, "b", "6"), (3, "note", "A"), (3, "v", "9"), (3, "winner", "A")],
    );
}

#[test]
fn two_way_check_warns_when_auto_increment_keys_collide() {
    let check = |s: &[Site]| {
        let dir = tempfile::tempdir().unwrap();
        let inc: &[&str] = &["s\\..*"];
        let edges = [Edge { from: &s[0], to: &s[1], include: inc, forward: false }, Edge { from: &s[1], to: &s[0], include: inc, forward: false }];
        let cfg = config(dir.path(), &edges, "");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(&cfg).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|l| l.contains("auto_increment")).unwrap_or_else(|| panic!("no auto_increment row:\n{text}")).to_owned();
        (out.status.code(), line)
    };
    // Distinct offsets (the harness sites use increment 2, offsets 1 and 2): pass.
    let good = sites(&["A", "B"]);
    let (code, line) = check(&good);
    assert_eq!(code, Some(0), "{line}");
    assert!(line.contains("PASS"), "{line}");
    // Both sites on the defaults (1, 1): keys collide -> a warning that says how to fix it.
    for s in &good {
        s.db.sql("SET GLOBAL auto_increment_increment = 1; SET GLOBAL auto_increment_offset = 1").unwrap();
    }
    let (code, line) = check(&good);
    assert_eq!(code, Some(0), "warnings do not fail the check: {line}");
    assert!(line.contains("WARN") && line.contains("auto_increment_increment = 2"), "{line}");
}
