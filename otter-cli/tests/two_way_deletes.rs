//! Deletes racing updates in a two-way pair A <-> B (one `otter run`, two pipelines, harness
//! servers), for every policy: with otter stopped, each row gets one change on A and one on B —
//! {update, delete} x {update, delete} x {A's version older than, equal to, newer than B's} — then
//! otter runs until both sites are quiet. Both sites end identical, each row as docs/TWO_WAY.md
//! names the winner, and every decision that changed or dropped an incoming change is in
//! `otter.conflicts` on the site that made it.

mod two_way_support;

use two_way_support::{assert_quiet, config, interrupt, live_pair, live_writer, sites, spawn_run, tail, wait_converged, Edge, Site};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Update,
    Delete,
}

/// One row's race: A's op at version `va`, B's at `vb`.
#[derive(Clone, Copy, Debug)]
struct Case {
    id: i64,
    a: Op,
    b: Op,
    va: i64,
    vb: i64,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut id = 0;
    for a in [Op::Update, Op::Delete] {
        for b in [Op::Update, Op::Delete] {
            for (va, vb) in [(2, 3), (2, 2), (3, 2)] {
                id += 1;
                out.push(Case { id, a, b, va, vb });
            }
        }
    }
    out
}

const RULES: &str = "[[pipeline.sink.conflict]]\ntables = \"s\\\\.lww\"\npolicy = \"last-writer-wins\"\ncolumn = \"version\"\n\
     [[pipeline.sink.conflict]]\ntables = \"s\\\\.pw\"\npolicy = \"primary-wins\"\nprimary = \"A\"\n\
     [[pipeline.sink.conflict]]\ntables = \"s\\\\.cg\"\npolicy = \"column-groups\"\nprimary = \"A\"\ngroups = [[\"a\"], [\"b\"]]\n";

/// What a site does to a row (`table`) in `case` for `site` ("A" or "B").
fn change(table: &str, c: &Case, site: &str) -> String {
    let (op, v) = if site == "A" { (c.a, c.va) } else { (c.b, c.vb) };
    let id = c.id;
    // column-groups: A writes group `a`, B group `b`; the other tables: the whole row.
    let set = if table == "s.cg" {
        if site == "A" { format!("a = {}", 100 + id) } else { format!("b = {}", 200 + id) }
    } else {
        format!("version = {v}, site = '{site}', payload = '{site}-{id}'")
    };
    match op {
        Op::Update => format!("UPDATE {table} SET {set} WHERE id = {id};"),
        Op::Delete => format!("UPDATE {table} SET {set} WHERE id = {id}; DELETE FROM {table} WHERE id = {id};"),
    }
}

/// The row the docs name the winner (`None`: deleted), as `version,site,payload` or `a,b`.
fn expected(table: &str, c: &Case) -> Option<String> {
    let row = |site: &str, v: i64| Some(format!("{v}\t{site}\t{site}-{}", c.id));
    match (table, c.a, c.b) {
        (_, Op::Delete, Op::Delete) => None,
        // Newer version wins; on equal versions the higher site (B); a delete of version v beats
        // a write of version <= v.
        ("s.lww", Op::Update, Op::Update) => if c.va > c.vb { row("A", c.va) } else { row("B", c.vb) },
        ("s.lww", Op::Update, Op::Delete) => (c.va > c.vb).then(|| row("A", c.va)).flatten(),
        ("s.lww", Op::Delete, Op::Update) => (c.vb > c.va).then(|| row("B", c.vb)).flatten(),
        // The primary (A) wins.
        ("s.pw", Op::Update, _) => row("A", c.va),
        ("s.pw", Op::Delete, _) => None,
        // Different groups both survive; deletes win.
        ("s.cg", Op::Update, Op::Update) => Some(format!("{}\t{}", 100 + c.id, 200 + c.id)),
        ("s.cg", _, _) => None,
        _ => unreachable!(),
    }
}

fn read(site: &Site, table: &str, id: i64) -> Option<String> {
    let cols = if table == "s.cg" { "a, b" } else { "version, site, payload" };
    let v = site.db.sql(&format!("SELECT {cols} FROM {table} WHERE id = {id}")).unwrap();
    v.lines().next().map(str::to_owned)
}

/// The decisions logged on `site` for row `id` of `table`.
fn decisions(site: &Site, table: &str, id: i64) -> Vec<String> {
    let tbl = table.trim_start_matches("s.");
    site.db
        .query(&format!("SELECT decision FROM otter.conflicts WHERE tbl = '{tbl}' AND JSON_VALUE(row_key, '$.id') = {id} ORDER BY id"))
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn two_way_deletes_racing_updates_converge_under_every_policy() {
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    let cases = cases();
    let mut sql = String::from(
        "CREATE DATABASE s;
         CREATE TABLE s.lww (id INT PRIMARY KEY, version BIGINT NOT NULL, site VARCHAR(4) NOT NULL, payload VARCHAR(20) NOT NULL);
         CREATE TABLE s.pw (id INT PRIMARY KEY, version BIGINT NOT NULL, site VARCHAR(4) NOT NULL, payload VARCHAR(20) NOT NULL);
         CREATE TABLE s.cg (id INT PRIMARY KEY, version BIGINT NOT NULL, a INT NOT NULL, b INT NOT NULL);",
    );
    // The reproduction of the issue, as two more last-writer-wins rows.
    for c in cases.iter().map(|c| c.id).chain([100, 101]) {
        sql.push_str(&format!(
            "INSERT INTO s.lww VALUES ({c}, 1, 'A', 'init'); INSERT INTO s.pw VALUES ({c}, 1, 'A', 'init'); INSERT INTO s.cg VALUES ({c}, 1, 0, 0);"
        ));
    }
    a.db.sql(&sql).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inc: &[&str] = &["s\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let cfg = config(dir.path(), &edges, RULES);
    let log = dir.path().join("otter.log");

    // Synced, then stopped.
    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));

    // One change per site per row while otter is stopped.
    for site in [a, b] {
        let mut sql = String::new();
        for table in ["s.lww", "s.pw", "s.cg"] {
            for c in &cases {
                sql.push_str(&change(table, c, &site.name));
            }
        }
        site.db.sql(&sql).unwrap();
    }
    // The rows: A updates to 2 and deletes / to 2, 3 and deletes; B updates to 2.
    a.db.sql("UPDATE s.lww SET version = 2, site = 'A' WHERE id = 100; DELETE FROM s.lww WHERE id = 100;
              UPDATE s.lww SET version = 2, site = 'A' WHERE id = 101; UPDATE s.lww SET version = 3 WHERE id = 101; DELETE FROM s.lww WHERE id = 101;")
        .unwrap();
    b.db.sql("UPDATE s.lww SET version = 2, site = 'B', payload = 'B-100' WHERE id = 100; UPDATE s.lww SET version = 2, site = 'B', payload = 'B-101' WHERE id = 101;")
        .unwrap();

    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    assert_quiet(&[a, b], &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));

    let mut failures = Vec::new();
    for table in ["s.lww", "s.pw", "s.cg"] {
        for c in &cases {
            let want = expected(table, c);
            for site in [a, b] {
                let got = read(site, table, c.id);
                if got != want {
                    failures.push(format!("{table} {c:?} on {}: {got:?}, expected {want:?}", site.name));
                }
                // Every race here changes or drops an incoming change on both sites — except
                // column-groups updates of different groups, which merge.
                let merged = table == "s.cg" && c.a == Op::Update && c.b == Op::Update;
                let logged = decisions(site, table, c.id);
                if !merged && (logged.is_empty() || logged.iter().any(String::is_empty)) {
                    failures.push(format!("{table} {c:?}: decisions on {}: {logged:?}", site.name));
                }
            }
        }
    }
    for id in [100, 101] {
        for site in [a, b] {
            if let Some(row) = read(site, "s.lww", id) {
                failures.push(format!("issue row {id} on {}: {row} (the delete at an equal or higher version must win)", site.name));
            }
        }
        let on_a = decisions(a, "s.lww", id);
        if !on_a.iter().any(|d| d.starts_with("incoming change dropped: the row was deleted here at version")) {
            failures.push(format!("issue row {id}: A did not log dropping B's update: {on_a:?}"));
        }
    }
    assert!(failures.is_empty(), "{}\nlog tail:\n{}", failures.join("\n"), tail(&log));
}

#[test]
fn two_way_live_pair_with_deletes_and_kill9_converges_with_a_complete_log() {
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = live_pair(a, b, dir.path());
    let log = dir.path().join("otter.log");
    let mut child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);

    // Writers on both sites; odd values of `down` mark otter's downtimes.
    let (clock, down, stop) = (Arc::new(AtomicI64::new(10)), Arc::new(AtomicU32::new(0)), Arc::new(AtomicBool::new(false)));
    let mut writers: Vec<_> = [(a.db.client(), "A", 7u64), (b.db.client(), "B", 11)]
        .into_iter()
        .map(|(client, site, seed)| {
            let (clock, down, stop) = (Arc::clone(&clock), Arc::clone(&down), Arc::clone(&stop));
            std::thread::spawn(move || live_writer(client, site, seed, clock, down, stop))
        })
        .collect();
    // The writers stop at the end of the second downtime: what raced then is not healed by later
    // writes, the restarted otter alone must reconcile it.
    let mut touched = Vec::new();
    for round in 0..2 {
        std::thread::sleep(Duration::from_secs(3));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        down.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(5));
        if round == 1 {
            stop.store(true, Ordering::Relaxed);
            touched = writers.drain(..).map(|w| w.join().unwrap()).collect::<Vec<Vec<(u32, i64)>>>();
        }
        down.fetch_add(1, Ordering::SeqCst);
        child = spawn_run(&cfg, &log);
    }
    wait_converged(&[a, b], &["s"], 180, &log);
    assert_quiet(&[a, b], &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));

    // Keys both sites wrote during the same downtime raced: each site logged a decision for them.
    let mut raced: Vec<i64> = touched[0].iter().filter(|t| touched[1].contains(t)).map(|(_, id)| *id).collect();
    raced.sort_unstable();
    raced.dedup();
    assert!(raced.len() >= 5, "too few races to judge: {raced:?}");
    let mut missing = Vec::new();
    for site in [a, b] {
        for id in &raced {
            if decisions(site, "s.live", *id).is_empty() {
                missing.push(format!("{} row {id}", site.name));
            }
        }
    }
    assert!(missing.is_empty(), "raced rows without a logged decision: {missing:?}");
}

#[test]
fn two_way_tombstones_expire_after_tombstone_hours() {
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    a.db.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, version BIGINT NOT NULL, site VARCHAR(4) NOT NULL, payload VARCHAR(20) NOT NULL);
              INSERT INTO s.t VALUES (1, 1, 'A', 'init'), (2, 1, 'A', 'init');")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inc: &[&str] = &["s\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let rule = "[[pipeline.sink.conflict]]\ntables = \"s\\\\.t\"\npolicy = \"last-writer-wins\"\ncolumn = \"version\"\ntombstone_hours = 1\n";
    let cfg = config(dir.path(), &edges, rule);
    let log = dir.path().join("otter.log");
    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));

    // A deletes both rows at version 5; B updates both to the older version 3.
    a.db.sql("UPDATE s.t SET version = 5 WHERE id IN (1, 2); DELETE FROM s.t WHERE id IN (1, 2);").unwrap();
    b.db.sql("UPDATE s.t SET version = 3, site = 'B', payload = 'B' WHERE id IN (1, 2);").unwrap();
    let tomb = a.db.value("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_COMMENT LIKE '%tombstones of s.t%'").unwrap();
    assert_eq!(a.db.value(&format!("SELECT COUNT(*) FROM {tomb}")).unwrap(), "2", "the trigger recorded both deletes");
    // Row 2's delete is older than tombstone_hours (as after a long outage).
    a.db.sql(&format!("UPDATE {tomb} SET otter_at = UTC_TIMESTAMP(6) - INTERVAL 2 HOUR WHERE id = 2")).unwrap();

    let child = spawn_run(&cfg, &log);
    assert_quiet(&[a, b], &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
    // Row 1: within the bound, the delete (version 5) wins over B's older update on both sites.
    assert_eq!((read(a, "s.t", 1), read(b, "s.t", 1)), (None, None));
    // Row 2: beyond the bound A no longer knows it deleted the row: B's update re-inserts it there
    // (logged), while B applied A's delete — the documented cost of an expired tombstone.
    assert_eq!((read(a, "s.t", 2), read(b, "s.t", 2)), (Some("3\tB\tB".to_owned()), None));
    assert!(decisions(a, "s.t", 2).iter().any(|d| d == "row missing here: re-inserted"), "{:?}", decisions(a, "s.t", 2));
    assert_eq!(a.db.value(&format!("SELECT COUNT(*) FROM {tomb} WHERE id = 2")).unwrap(), "0", "the expired tombstone was collected");
}

#[test]
fn two_way_tombstones_follow_a_changed_key() {
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    a.db.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, version BIGINT NOT NULL, site VARCHAR(4) NOT NULL, payload VARCHAR(20) NOT NULL);
              INSERT INTO s.t VALUES (1, 1, 'A', 'init'), (2, 1, 'A', 'init'), (3, 1, 'A', 'init');")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inc: &[&str] = &["s\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let rule = "[[pipeline.sink.conflict]]\ntables = \"s\\\\.t\"\npolicy = \"last-writer-wins\"\ncolumn = \"version\"\n";
    let cfg = config(dir.path(), &edges, rule);
    let log = dir.path().join("otter.log");
    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);
    // The key changes on A (replicated to B); then both sites change and delete rows.
    a.db.sql("ALTER TABLE s.t ADD COLUMN x INT NOT NULL DEFAULT 0, DROP PRIMARY KEY, ADD PRIMARY KEY (id, x)").unwrap();
    wait_converged(&[a, b], &["s"], 120, &log);
    a.db.sql("INSERT INTO s.t VALUES (4, 2, 'A', 'new', 7); UPDATE s.t SET version = 3, site = 'A' WHERE id = 1").unwrap();
    b.db.sql("INSERT INTO s.t VALUES (5, 2, 'B', 'new', 8); UPDATE s.t SET version = 3, site = 'B' WHERE id = 2").unwrap();
    wait_converged(&[a, b], &["s"], 120, &log);
    // Deletes keep working on both sites (the triggers follow the table) and replicate.
    a.db.sql("UPDATE s.t SET version = 4 WHERE id = 3; DELETE FROM s.t WHERE id = 3").unwrap();
    b.db.sql("UPDATE s.t SET version = 4 WHERE id = 4; DELETE FROM s.t WHERE id = 4").unwrap();
    wait_converged(&[a, b], &["s"], 120, &log);
    assert_quiet(&[a, b], &log);
    assert!(interrupt(child, &log).success(), "{}", tail(&log));
    for site in [a, b] {
        assert_eq!(site.db.value("SELECT GROUP_CONCAT(id ORDER BY id) FROM s.t").unwrap(), "1,2,5", "rows on {}", site.name);
        let tomb = site.db.value("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_COMMENT LIKE '%tombstones of s.t%'").unwrap();
        let key = site
            .db
            .value(&format!("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_NAME = '{tomb}' AND INDEX_NAME = 'PRIMARY'"))
            .unwrap();
        assert_eq!(key, "id,x", "tombstone key on {}", site.name);
    }
}
