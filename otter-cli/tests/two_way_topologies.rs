//! Multi-site topologies through `otter run` (harness servers, no mocks):
//! - a three-level tree (top T; middles M1, M2; a leaf under each) with up-only, down-only and
//!   both-ways tables: every table holds exactly what it should at every level, once;
//! - a three-site full mesh with concurrent writes on every site, otter killed with SIGKILL
//!   mid-run and restarted: the sites converge, nothing is duplicated or lost, no loop.

mod two_way_support;

use std::time::Duration;

use two_way_support::{assert_quiet, config, interrupt, sites, spawn_run, tail, wait_converged, wait_until, Edge, Site};

fn ids(site: &Site, table: &str) -> Vec<i64> {
    let text = site.db.value(&format!("SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM {table}")).unwrap();
    text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
}

#[test]
fn two_way_tree_three_levels() {
    let s = sites(&["T", "M1", "M2", "L1", "L2"]);
    let (t, m1, m2, l1, l2) = (&s[0], &s[1], &s[2], &s[3], &s[4]);
    // Every site starts with the same (empty) tables; only rows flow.
    for site in &s {
        site.db
            .sql(
                "/* otter:nosync */ CREATE DATABASE tr;
                 /* otter:nosync */ CREATE TABLE tr.up (id INT PRIMARY KEY, site VARCHAR(4));
                 /* otter:nosync */ CREATE TABLE tr.down (id INT PRIMARY KEY, site VARCHAR(4));
                 /* otter:nosync */ CREATE TABLE tr.both (id INT PRIMARY KEY, site VARCHAR(4));",
            )
            .unwrap();
    }
    let up: &[&str] = &["tr\\.up", "tr\\.both"];
    let down: &[&str] = &["tr\\.down", "tr\\.both"];
    let edge = |from, to, include| Edge { from, to, include, forward: true };
    let edges = [
        edge(l1, m1, up),
        edge(m1, l1, down),
        edge(l2, m2, up),
        edge(m2, l2, down),
        edge(m1, t, up),
        edge(t, m1, down),
        edge(m2, t, up),
        edge(t, m2, down),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &edges, "");
    let log = dir.path().join("otter.log");
    let child = spawn_run(&cfg, &log);
    // Site k writes ids k*100+1..k*100+5 into every table.
    for (k, site) in s.iter().enumerate() {
        let base = (k as i64 + 1) * 100;
        let mut sql = String::new();
        for i in 1..=5 {
            for table in ["up", "down", "both"] {
                sql.push_str(&format!("INSERT INTO tr.{table} VALUES ({}, '{}');", base + i, site.name));
            }
        }
        site.db.sql(&sql).unwrap();
    }
    let rows = |sites: &[&Site]| -> Vec<i64> {
        let mut v: Vec<i64> = sites
            .iter()
            .flat_map(|x| {
                let k = s.iter().position(|y| y.name == x.name).unwrap() as i64 + 1;
                (1..=5).map(move |i| k * 100 + i)
            })
            .collect();
        v.sort();
        v
    };
    // Expected contents at each site.
    let expect: Vec<(&Site, Vec<i64>, Vec<i64>)> = vec![
        (t, rows(&[t, m1, m2, l1, l2]), rows(&[t])),
        (m1, rows(&[m1, l1]), rows(&[t, m1])),
        (m2, rows(&[m2, l2]), rows(&[t, m2])),
        (l1, rows(&[l1]), rows(&[t, m1, l1])),
        (l2, rows(&[l2]), rows(&[t, m2, l2])),
    ];
    let all = rows(&[t, m1, m2, l1, l2]);
    wait_until(180, &log, "tree propagation", || {
        expect.iter().all(|(site, u, d)| ids(site, "tr.up") == *u && ids(site, "tr.down") == *d && ids(site, "tr.both") == all)
    });
    assert_quiet(&s.iter().collect::<Vec<_>>(), &log);
    for (site, u, d) in &expect {
        assert_eq!(ids(site, "tr.up"), *u, "up-only rows at {}", site.name);
        assert_eq!(ids(site, "tr.down"), *d, "down-only rows at {}", site.name);
        assert_eq!(ids(site, "tr.both"), all, "both-ways rows at {}", site.name);
    }
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
}

#[test]
fn two_way_mesh_three_sites_with_kill9() {
    let s = sites(&["X", "Y", "Z"]);
    s[0].db
        .sql(
            "CREATE DATABASE m;
             CREATE TABLE m.ev (id INT AUTO_INCREMENT PRIMARY KEY, site VARCHAR(4) NOT NULL, n INT NOT NULL);
             CREATE TABLE m.counter (id INT PRIMARY KEY, v BIGINT NOT NULL, site VARCHAR(4) NOT NULL, note VARCHAR(20) NOT NULL);
             INSERT INTO m.counter VALUES (1, 0, 'X', ''), (2, 0, 'X', ''), (3, 0, 'X', '');",
        )
        .unwrap();
    let inc: &[&str] = &["m\\..*"];
    let mut edges = Vec::new();
    for a in &s {
        for b in &s {
            if a.name != b.name {
                edges.push(Edge { from: a, to: b, include: inc, forward: false });
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let rule = "[[pipeline.sink.conflict]]\ntables = \"m\\\\.counter\"\npolicy = \"last-writer-wins\"\ncolumn = \"v\"\nsite_column = \"site\"\n";
    let cfg = config(dir.path(), &edges, rule);
    let log = dir.path().join("otter.log");
    let mut child = spawn_run(&cfg, &log);
    wait_converged(&s.iter().collect::<Vec<_>>(), &["m"], 120, &log);
    let writers: Vec<_> = s
        .iter()
        .enumerate()
        .map(|(k, site)| {
            let (client, name) = (site.db.client(), site.name.clone());
            std::thread::spawn(move || {
                for i in 0..150 {
                    let counter = 1 + (i + k) % 3;
                    client
                        .sql(&format!(
                            "BEGIN; INSERT INTO m.ev (site, n) VALUES ('{name}', {i});
                             UPDATE m.counter SET v = v + 1, site = '{name}', note = '{name}{i}' WHERE id = {counter}; COMMIT"
                        ))
                        .unwrap();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL mid-run
    child.wait().unwrap();
    child = spawn_run(&cfg, &log);
    for w in writers {
        w.join().unwrap();
    }
    let refs: Vec<&Site> = s.iter().collect();
    wait_converged(&refs, &["m"], 240, &log);
    assert_quiet(&refs, &log);
    for site in &s {
        assert_eq!(site.db.value("SELECT COUNT(*) FROM m.ev").unwrap(), "450", "every insert once at {}", site.name);
        assert_eq!(site.db.value("SELECT COUNT(DISTINCT site, n) FROM m.ev").unwrap(), "450", "no duplicate at {}", site.name);
    }
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
}

#[test]
fn two_way_fan_in_reports_key_collisions() {
    let s = sites(&["A", "C", "B"]);
    let (a, c, b) = (&s[0], &s[1], &s[2]);
    for site in [a, c] {
        site.db.sql("CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, note VARCHAR(20))").unwrap();
    }
    a.db.sql("INSERT INTO f.t VALUES (1, 'from A'), (2, 'from A')").unwrap();
    b.db.sql("CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, note VARCHAR(20))").unwrap();
    // Two one-way pipelines into B; only rows flow (the tables exist everywhere).
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("state_dir = \"{}\"\n", dir.path().join("state").display());
    for src in [a, c] {
        text.push_str(&format!(
            "[[pipeline]]\nname = \"{n}_to_B\"\n[pipeline.source]\nurl = \"{u}\"\nfrom = \"earliest\"\ninclude = [\"f\\\\.t\"]\n\
             [pipeline.sink]\nkind = \"mysql\"\nurl = \"{bu}\"\napply_ddl = false\n\
             [[pipeline.sink.conflict]]\ntables = \"f\\\\.t\"\npolicy = \"report\"\n",
            n = src.name,
            u = src.db.url(),
            bu = b.db.url()
        ));
    }
    let cfg = dir.path().join("fan_in.toml");
    std::fs::write(&cfg, text).unwrap();
    let log = dir.path().join("otter.log");
    let child = spawn_run(&cfg, &log);
    // C's rows come after A's are applied. (Two sources inserting the same key in the very same
    // instant can miss the log entry; see docs/TWO_WAY.md.)
    wait_until(120, &log, "A's rows applied", || b.db.value("SELECT COUNT(*) FROM f.t").unwrap_or_default() == "2");
    c.db.sql("INSERT INTO f.t VALUES (1, 'from C'), (2, 'from C')").unwrap();
    wait_until(120, &log, "two collisions reported", || {
        b.db.value("SELECT COUNT(*) FROM otter.conflicts WHERE tbl = 't'").unwrap_or_default() == "2"
    });
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
    // Each key holds the row that arrived first, unchanged; the loser is in the log.
    let rows = b.db.query("SELECT id, note FROM f.t ORDER BY id").unwrap();
    assert_eq!(rows.len(), 2);
    let logged = b.db.query("SELECT JSON_VALUE(row_key, '$.id'), origin, winner, JSON_VALUE(incoming_row, '$.note'), JSON_VALUE(local_row, '$.note') FROM otter.conflicts ORDER BY 1").unwrap();
    for (row, entry) in rows.iter().zip(&logged) {
        assert_eq!(entry[0], row[0]);
        assert_eq!(entry[2], "target", "the row already there is kept");
        assert_eq!(entry[4], row[1], "local_row is what B kept");
        assert_ne!(entry[3], row[1], "incoming_row is the other source's row");
        assert_eq!(entry[1], "C_to_B", "origin names the losing pipeline");
        assert_eq!(row[1], "from A");
    }
}
