//! The link to the target goes down mid-run (every connection closed, new ones refused) while
//! the source keeps changing — rows of known tables, and a table the sink has not seen yet (so
//! reading its definition on the target fails too): `otter run` must neither end nor lose
//! anything; once the link is back, B equals A.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{config_sink, interrupt, schema, spawn_run, wait_equal_while_running};
use otter_testkit::{MariaDb, Proxy, ServerConfig};

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn a_target_link_down_mid_run_delays_but_never_ends_the_run() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let link = Proxy::start(&format!("127.0.0.1:{}", b.port())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_sink(dir.path(), &a, &format!("mysql://root@127.0.0.1:{}", link.port()), 2, "w\\\\..*", "", "");
    let log = dir.path().join("run.log");
    let mut otter = spawn_run(&config, &log);
    a.sql("INSERT INTO w.sb1 VALUES (1, 1, 'c', 'p')").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.value("SELECT COUNT(*) FROM w.sb1").unwrap_or_default() != "1" {
        assert!(Instant::now() < deadline, "{}", log_text(&log));
        std::thread::sleep(Duration::from_millis(100));
    }
    for round in 0..3 {
        link.cut();
        // A new table and rows for it, and rows of a known one, while the target is out of reach.
        a.sql(&format!(
            "CREATE TABLE w.late{round} (id INT PRIMARY KEY, v INT); INSERT INTO w.late{round} VALUES (1, {round}), (2, {round});
             INSERT INTO w.sb2 VALUES ({round}, 1, 'c', 'p'); DELETE FROM w.sb1 WHERE id = 1; INSERT INTO w.sb1 VALUES (1, {round}, 'c', 'p')"
        ))
        .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        assert!(otter.try_wait().unwrap().is_none(), "otter ended while the target was out of reach:\n{}", log_text(&log));
        link.restore();
        std::thread::sleep(Duration::from_millis(500));
    }
    let tables = ["w.sb1", "w.sb2", "w.late0", "w.late1", "w.late2"];
    wait_equal_while_running(&a, &b, &tables, 120, &mut otter, &log);
    assert!(interrupt(otter).success(), "{}", log_text(&log));
    assert!(!log_text(&log).contains("Pipeline failed"), "{}", log_text(&log));
}
