//! Smoke tests of the harness itself:
//! - two servers with different server ids start side by side on their own ports;
//! - a write on one grows its binlog and shows in `SHOW MASTER STATUS` / `SHOW BINLOG EVENTS`;
//! - the other server is untouched;
//! - after drop neither process nor directory is left;
//! - the replication options a test asks for reach the server.

use otter_testkit::{process_alive, MariaDb, ServerConfig};

fn master_status(db: &MariaDb) -> (String, u64) {
    let rows = db.query("SHOW MASTER STATUS").unwrap();
    let row = rows.first().expect("SHOW MASTER STATUS returned no row: binlog is off");
    (row[0].clone(), row[1].parse().unwrap())
}

fn binlog_bytes(db: &MariaDb) -> u64 {
    db.binlog_files().unwrap().iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

#[test]
fn two_servers_are_isolated_and_leave_nothing_behind() {
    let a = MariaDb::start(ServerConfig::new(11)).unwrap();
    let b = MariaDb::start(ServerConfig::new(22)).unwrap();
    eprintln!("servers started in {:?} and {:?}", a.started_in(), b.started_in());
    assert_ne!(a.port(), b.port());
    assert_eq!(a.value("SELECT @@server_id").unwrap(), "11");
    assert_eq!(b.value("SELECT @@server_id").unwrap(), "22");

    let (a_file, a_pos) = master_status(&a);
    let (b_file, b_pos) = master_status(&b);
    let a_bytes = binlog_bytes(&a);
    let b_bytes = binlog_bytes(&b);

    a.sql(
        "CREATE DATABASE smoke;
         CREATE TABLE smoke.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
         INSERT INTO smoke.t VALUES (1, 'one'), (2, 'two');",
    )
    .unwrap();

    let (a_file2, a_pos2) = master_status(&a);
    assert_eq!(a_file2, a_file);
    assert!(a_pos2 > a_pos, "position did not advance: {a_pos} -> {a_pos2}");
    assert!(binlog_bytes(&a) > a_bytes, "binlog file did not grow");
    let events = a.query(&format!("SHOW BINLOG EVENTS IN '{a_file}'")).unwrap();
    let types: Vec<&str> = events.iter().map(|r| r[2].as_str()).collect();
    assert!(types.contains(&"Table_map"), "no Table_map in {types:?}");
    assert!(types.contains(&"Write_rows_v1"), "no Write_rows_v1 in {types:?}");
    assert!(events.iter().any(|r| r[5].contains("CREATE TABLE smoke.t")), "CREATE TABLE not logged");

    // B saw nothing.
    assert_eq!(master_status(&b), (b_file, b_pos));
    assert_eq!(binlog_bytes(&b), b_bytes);
    assert_eq!(b.value("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='smoke'").unwrap(), "0");

    // The TCP URL works for other clients too.
    assert!(a.url().starts_with("mysql://root@127.0.0.1:"));

    let pids = [a.pid().unwrap(), b.pid().unwrap()];
    let dirs = [a.dir().to_path_buf(), b.dir().to_path_buf()];
    assert!(pids.iter().all(|p| process_alive(*p)));
    drop(a);
    drop(b);
    for pid in pids {
        assert!(!process_alive(pid), "mariadbd {pid} still running after drop");
    }
    for dir in dirs {
        assert!(!dir.exists(), "{} still exists after drop", dir.display());
    }
}

#[test]
fn options_reach_the_server() {
    let db = MariaDb::start(
        ServerConfig::new(5)
            .binlog_row_image("MINIMAL")
            .binlog_row_metadata("FULL")
            .gtid_domain_id(7)
            .log_bin_compress(true)
            .binlog_checksum("NONE")
            .auto_increment(4, 3),
    )
    .unwrap();
    let vars = db
        .query(
            "SELECT @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@gtid_domain_id, \
             @@log_bin_compress, @@binlog_checksum, @@auto_increment_increment, @@auto_increment_offset, @@log_bin",
        )
        .unwrap();
    assert_eq!(vars[0], ["ROW", "MINIMAL", "FULL", "7", "1", "NONE", "4", "3", "1"]);
    db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, x INT); INSERT INTO d.t (x) VALUES (1),(2)")
        .unwrap();
    // auto_increment_increment/offset = 4/3 gives ids 3, 7.
    assert_eq!(db.query("SELECT id FROM d.t ORDER BY id").unwrap(), [["3"], ["7"]]);
}

#[test]
fn binlog_off_and_statement_format() {
    let off = MariaDb::start(ServerConfig::new(1).log_bin(false)).unwrap();
    assert_eq!(off.value("SELECT @@log_bin").unwrap(), "0");
    let stmt = MariaDb::start(ServerConfig::new(2).binlog_format("STATEMENT")).unwrap();
    assert_eq!(stmt.value("SELECT @@binlog_format").unwrap(), "STATEMENT");
}

#[test]
fn restart_keeps_data_and_port() {
    let mut db = MariaDb::start(ServerConfig::new(9)).unwrap();
    db.sql("CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY); INSERT INTO r.t VALUES (1)").unwrap();
    let port = db.port();
    let first = db.pid().unwrap();
    db.restart().unwrap();
    assert_eq!(db.port(), port);
    assert_ne!(db.pid().unwrap(), first);
    assert!(!process_alive(first));
    assert_eq!(db.value("SELECT COUNT(*) FROM r.t").unwrap(), "1");
    // Two binlog files now: the restart rotated the log.
    assert_eq!(db.binlog_files().unwrap().len(), 2);
}

#[test]
fn failed_start_shows_the_error_log() {
    let err = MariaDb::start(ServerConfig::new(3).arg("--no-such-option-for-otter")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("--- error log ---"), "{msg}");
    assert!(msg.contains("no-such-option-for-otter"), "{msg}");
}
