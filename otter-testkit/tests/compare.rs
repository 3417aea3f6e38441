//! The table comparison of `otter_testkit::compare` on real servers:
//! - servers with the same tables and rows agree at once;
//! - a row more on one side is reported with the table and both sides' counts and checksums, at
//!   the deadline, or as soon as the liveness check says the applier is gone, with the log's tail;
//! - comparing schemas, a table only one side has is a difference, and no table at all never
//!   agrees.

use std::time::Duration;

use otter_testkit::compare::{log_tail, Report, Tables, Wait};
use otter_testkit::{MariaDb, ServerConfig};

#[test]
fn waits_report_what_differs() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    for db in [&a, &b] {
        db.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, v VARCHAR(9)); INSERT INTO s.t VALUES (1, 'x')").unwrap();
    }
    let t = Tables::Named(&["s.t", "s.gone"]);
    Wait::pair(&a, &b, t, 10).run();
    assert!(Report::new(&[("a", &a), ("b", &b)], Tables::Schemas(&["s"])).is_equal());

    a.sql("INSERT INTO s.t VALUES (2, 'y')").unwrap();
    let e = Wait::pair(&a, &b, t, 1).every(Duration::from_millis(100)).try_run().unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("tables differ after 1s"), "{text}");
    assert!(text.contains("s.t: source 2 rows, checksum ") && text.contains("target 1 rows, checksum "), "{text}");
    assert!(!text.contains("s.gone"), "a table missing on both sides agrees: {text}");

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    std::fs::write(&log, (1..=150).map(|n| format!("line {n}\n")).collect::<String>()).unwrap();
    let mut checks = 0;
    let e = Wait::pair(&a, &b, t, 60)
        .alive(|| {
            checks += 1;
            (checks == 2).then(|| "otter exited".to_owned())
        })
        .log(&log)
        .try_run()
        .unwrap_err();
    assert_eq!(e.reason, "otter exited");
    assert_eq!(e.log_tail.as_deref(), Some(log_tail(&log, 100).as_str()));
    assert!(e.to_string().ends_with("line 150") && !e.to_string().contains("line 50\n"), "{e}");

    b.sql("CREATE TABLE s.only_b (id INT); INSERT INTO s.t VALUES (2, 'y')").unwrap();
    let r = Report::new(&[("a", &a), ("b", &b)], Tables::Schemas(&["s"]));
    assert!(!r.is_equal());
    assert_eq!(r.differences().map(|(t, _)| t).collect::<Vec<_>>(), ["s.only_b"]);
    assert!(r.to_string().contains("s.only_b: a has no such table; b 0 rows"), "{r}");
    let none = Report::new(&[("a", &a), ("b", &b)], Tables::Schemas(&["nothing_here"]));
    assert!(!none.is_equal() && none.to_string().starts_with("no table found"), "{none}");
}
