//! Two-way pair A <-> B through one `otter run` (harness servers, no mocks): statements the server
//! logs rewritten without their comments — `CREATE DEFINER=… VIEW`, `CREATE TRIGGER`,
//! `CREATE PROCEDURE/FUNCTION/EVENT` — made on A reach B exactly once and never come back (the
//! loader's `ddl_mark` row marks them by session); otter's own triggers (`otter_…`) are never sent.

mod two_way_support;

use std::time::{Duration, Instant};

use otter_testkit::MariaDb;
use two_way_support::{assert_quiet, config, interrupt, sites, spawn_run, wait_converged, wait_until, Edge};

/// The statements made on A, and how each one reads in a binlog (backticks removed, upper case).
const OBJECTS: &[(&str, &str)] = &[
    ("CREATE DEFINER=root@localhost VIEW v AS SELECT id, v FROM t", "VIEW V AS"),
    ("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.v = ABS(NEW.v)", "TRIGGER TRG "),
    ("CREATE PROCEDURE p(IN n INT) SELECT COUNT(*) + n FROM t", "PROCEDURE P("),
    ("CREATE DEFINER=root@localhost FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN x * 2", "FUNCTION F("),
    ("CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t WHERE id < 0", "EVENT EV "),
];

/// How many QUERY events of `db`'s binlogs contain `needle` (backticks removed, upper case).
fn logged(db: &MariaDb, needle: &str) -> usize {
    let files = db.query("SHOW BINARY LOGS").unwrap();
    let mut n = 0;
    for f in files {
        for ev in db.query(&format!("SHOW BINLOG EVENTS IN '{}'", f[0])).unwrap() {
            let info = ev.get(5).map(|i| i.replace('`', "").to_uppercase()).unwrap_or_default();
            if ev.get(2).map(String::as_str) == Some("Query") && info.contains(needle) {
                n += 1;
            }
        }
    }
    n
}

/// The QUERY events of `db`'s binlogs other than transaction control, for failure messages.
fn ddl_events(db: &MariaDb) -> String {
    let mut out = Vec::new();
    for f in db.query("SHOW BINARY LOGS").unwrap() {
        for ev in db.query(&format!("SHOW BINLOG EVENTS IN '{}'", f[0])).unwrap() {
            let info = ev.get(5).cloned().unwrap_or_default();
            if ev.get(2).map(String::as_str) == Some("Query") && !matches!(info.as_str(), "BEGIN" | "COMMIT") {
                out.push(format!("{}:{} {info}", f[0], ev[1]));
            }
        }
    }
    out.join("\n")
}

/// `(views, triggers, routines, events)` of schema `s`, each as a sorted name list.
fn objects(db: &MariaDb) -> [String; 4] {
    let names = |sql: &str| db.value(sql).unwrap();
    [
        names("SELECT IFNULL(GROUP_CONCAT(TABLE_NAME ORDER BY 1), '') FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 's'"),
        names("SELECT IFNULL(GROUP_CONCAT(TRIGGER_NAME ORDER BY 1), '') FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 's'"),
        names("SELECT IFNULL(GROUP_CONCAT(ROUTINE_NAME ORDER BY 1), '') FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 's'"),
        names("SELECT IFNULL(GROUP_CONCAT(EVENT_NAME ORDER BY 1), '') FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 's'"),
    ]
}

#[test]
fn two_way_pair_views_triggers_routines_reach_the_other_site_once() {
    let s = sites(&["A", "B"]);
    let (a, b) = (&s[0], &s[1]);
    a.db.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO s.t VALUES (1, 1), (2, -2)").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inc: &[&str] = &["s\\..*"];
    let edges = [Edge { from: a, to: b, include: inc, forward: false }, Edge { from: b, to: a, include: inc, forward: false }];
    let cfg = config(dir.path(), &edges, "");
    let log = dir.path().join("otter.log");
    let child = spawn_run(&cfg, &log);
    wait_converged(&[a, b], &["s"], 120, &log);

    // On A: a view, a trigger, routines and an event (all logged rewritten, without comments), and
    // otter's own trigger, created and dropped; then a table (comment-marked) as the last DDL.
    let mut sql = String::from("USE s;");
    for (stmt, _) in OBJECTS {
        sql.push_str(stmt);
        sql.push(';');
    }
    sql.push_str(
        "CREATE DEFINER=root@localhost TRIGGER IF NOT EXISTS otter_tomb_t AFTER DELETE ON t FOR EACH ROW SET @otter_x = 1;
         CREATE TRIGGER Otter_Tomb_2 AFTER UPDATE ON t FOR EACH ROW SET @otter_y = 1;
         DROP TRIGGER IF EXISTS s.otter_tomb_t;
         INSERT INTO t VALUES (3, -3);
         CREATE TABLE done (id INT PRIMARY KEY);",
    );
    a.db.sql(&sql).unwrap();
    wait_until(120, &log, "the DDL reaching B", || {
        b.db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 's' AND TABLE_NAME = 'done'").unwrap() == "1"
    });
    wait_converged(&[a, b], &["s"], 60, &log);
    assert_quiet(&[a, b], &log);

    // Both pipelines still run: rows made now on either site reach the other one. (`otter run`
    // keeps its other pipelines going when one fails and reports the failure when it stops.)
    a.db.sql("INSERT INTO s.t VALUES (10, -10)").unwrap();
    b.db.sql("INSERT INTO s.t VALUES (20, -20)").unwrap();
    let crossed = || ["10", "20"].iter().all(|id| [a, b].iter().all(|s| s.db.value(&format!("SELECT COUNT(*) FROM s.t WHERE id = {id}")).unwrap() == "1"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !crossed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    if !crossed() {
        let status = interrupt(child, &log);
        panic!("rows made after the DDL did not cross over; otter run ended with {status}; log:\n{}", std::fs::read_to_string(&log).unwrap());
    }
    assert_quiet(&[a, b], &log);
    let status = interrupt(child, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "otter run ended with {status}; log:\n{text}");
    assert!(!text.contains("ERROR") && !text.contains("already exists"), "log:\n{text}");

    // Nothing came back: A's pipeline from B applied no DDL at all (A's to B did), and each
    // statement is in A's binlog once and in B's once (applied once).
    let ddl_applied = |db: &MariaDb, pipeline: &str| {
        db.value(&format!("SELECT COUNT(*) FROM otter.checkpoint WHERE pipeline = '{pipeline}' AND last_ddl IS NOT NULL")).unwrap()
    };
    assert_eq!(ddl_applied(&a.db, "B_to_A"), "0", "B_to_A applied DDL; binlog of A:\n{}", ddl_events(&a.db));
    assert_ne!(ddl_applied(&b.db, "A_to_B"), "0");
    for (stmt, needle) in OBJECTS {
        assert_eq!(logged(&a.db, needle), 1, "{stmt} on A; binlog of A:\n{}", ddl_events(&a.db));
        assert_eq!(logged(&b.db, needle), 1, "{stmt} on B; binlog of B:\n{}", ddl_events(&b.db));
    }
    // B has every object A has, except otter's own triggers, whose statements never reached it.
    assert_eq!(objects(&a.db), ["v".to_owned(), "Otter_Tomb_2,trg".to_owned(), "f,p".to_owned(), "ev".to_owned()]);
    assert_eq!(objects(&b.db), ["v".to_owned(), "trg".to_owned(), "f,p".to_owned(), "ev".to_owned()]);
    assert_eq!(logged(&a.db, "OTTER_TOMB"), 3);
    assert_eq!(logged(&b.db, "OTTER_TOMB"), 0, "binlog of B:\n{}", ddl_events(&b.db));
    // The objects work on B (the trigger ran on both sites: no negative value).
    for site in [a, b] {
        assert_eq!(site.db.value("SELECT GROUP_CONCAT(v ORDER BY id) FROM s.v").unwrap(), "1,-2,3,10,20", "{}", site.name);
    }
    assert_eq!(b.db.value("SELECT s.f(21)").unwrap(), "42");
    assert_eq!(b.db.value("CALL s.p(1)").unwrap(), "6");
}
