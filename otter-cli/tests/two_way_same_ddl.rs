//! The same DDL run on two sites of a tree through `otter run` (a known multi-centre failure: the
//! second copy of an `ALTER TABLE ... ADD COLUMN` fails with "duplicate column" where the first
//! one already arrived, and stopped that pipeline). Top T, middles M1 and M2, a leaf under each;
//! a table that flows both ways. Both leaves add the same column at once, then rows using it are
//! written on every site: no pipeline stops, every site ends with the same definition and rows,
//! and the binlogs go quiet.

mod two_way_support;

use std::time::{Duration, Instant};

use two_way_support::{assert_quiet, config, interrupt, sites, spawn_run, tail, wait_until, Edge, Site};

/// `id:x` of every row of `tr.both`, and its definition.
fn contents(site: &Site) -> (String, String) {
    let rows = site.db.value("SELECT COALESCE(GROUP_CONCAT(CONCAT(id, ':', COALESCE(x, '-')) ORDER BY id), '') FROM tr.both").unwrap_or_default();
    let create = site.db.query("SHOW CREATE TABLE tr.both").map(|r| r[0][1].clone()).unwrap_or_default();
    (rows, create)
}

fn has_column_x(site: &Site) -> bool {
    site.db.value("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'tr' AND TABLE_NAME = 'both' AND COLUMN_NAME = 'x'").unwrap() == "1"
}

#[test]
fn two_way_tree_same_alter_on_both_leaves() {
    let s = sites(&["T", "M1", "M2", "L1", "L2"]);
    let (t, m1, m2, l1, l2) = (&s[0], &s[1], &s[2], &s[3], &s[4]);
    for site in &s {
        site.db
            .sql("/* otter:nosync */ CREATE DATABASE tr; /* otter:nosync */ CREATE TABLE tr.both (id INT PRIMARY KEY, site VARCHAR(4));")
            .unwrap();
    }
    let both: &[&str] = &["tr\\.both"];
    let edge = |from, to| Edge { from, to, include: both, forward: true };
    let edges = [edge(l1, m1), edge(m1, l1), edge(l2, m2), edge(m2, l2), edge(m1, t), edge(t, m1), edge(m2, t), edge(t, m2)];
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &edges, "");
    let log = dir.path().join("otter.log");
    let mut child = spawn_run(&cfg, &log);
    let failed = || std::fs::read_to_string(&log).unwrap_or_default().contains("Pipeline failed");
    // Site k writes ids k*100+1, k*100+2 before the DDL.
    let base = |site: &Site| (s.iter().position(|x| x.name == site.name).unwrap() as i64 + 1) * 100;
    for site in &s {
        site.db.sql(&format!("INSERT INTO tr.both VALUES ({}, '{n}'), ({}, '{n}')", base(site) + 1, base(site) + 2, n = site.name)).unwrap();
    }
    wait_until(120, &log, "the first rows everywhere", || s.iter().all(|x| x.db.value("SELECT COUNT(*) FROM tr.both").unwrap() == "10"));
    // Both leaves run the same DDL at once, and write rows using the new column right away.
    let alter = "ALTER TABLE tr.both ADD COLUMN x INT NULL";
    let leaves: Vec<_> = [l1, l2].iter().map(|leaf| (leaf.db.client(), base(leaf), leaf.name.clone())).collect();
    let threads: Vec<_> = leaves
        .into_iter()
        .map(|(client, b, name)| std::thread::spawn(move || client.sql(&format!("{alter}; INSERT INTO tr.both VALUES ({}, '{name}', {})", b + 3, b + 3)).unwrap()))
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    wait_until(120, &log, "the column on every site", || {
        assert!(!failed(), "a pipeline failed; log tail:\n{}", tail(&log));
        s.iter().all(has_column_x)
    });
    for site in [t, m1, m2] {
        site.db.sql(&format!("INSERT INTO tr.both VALUES ({}, '{}', {})", base(site) + 3, site.name, base(site) + 3)).unwrap();
    }
    // Rows written before the DDL get the column too (NULL), and are updated with it on a middle.
    m1.db.sql("UPDATE tr.both SET x = 7 WHERE id IN (101, 501)").unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let first = contents(t);
        if first.0.split(',').count() == 15 && s.iter().all(|x| contents(x) == first) {
            break;
        }
        if failed() || Instant::now() > deadline {
            // otter logs a failed pipeline when it ends: stop it to see which one and why.
            let status = interrupt(child, &log);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let failures: Vec<&str> = text.lines().filter(|l| l.contains("Pipeline failed")).collect();
            panic!("the sites did not converge (otter exited with {status}):\n{}\nlog tail:\n{}", failures.join("\n"), tail(&log));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (rows, create) = contents(t);
    assert_eq!(rows, "101:7,102:-,103:103,201:-,202:-,203:203,301:-,302:-,303:303,401:-,402:-,403:403,501:7,502:-,503:503");
    assert!(create.contains("`x` int(11) DEFAULT NULL"), "{create}");
    // The second copy of the DDL was recognised somewhere (T or a middle or a leaf), not applied twice.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("DDL already in effect on the target"), "no identical DDL was met; log tail:\n{}", tail(&log));
    assert_quiet(&s.iter().collect::<Vec<_>>(), &log);
    assert!(child.try_wait().unwrap().is_none(), "otter exited; log tail:\n{}", tail(&log));
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
    assert!(!failed(), "a pipeline failed; log tail:\n{}", tail(&log));
}
