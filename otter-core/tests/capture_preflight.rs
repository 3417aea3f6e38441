//! Preflight failures against real servers, each with a message that says how to fix it:
//! binlog off, STATEMENT format, missing privileges, a purged start position (file and GTID), a
//! clashing server id; and the MINIMAL row image warning.

mod common;

use common::{config, expect_error};
use otter_core::mysql::conn::{ConnectOptions, ServerInfo, TlsConfig};
use otter_core::preflight::Outcome;
use otter_core::source::mysql::preflight;
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_core::ErrorKind;
use otter_testkit::{MariaDb, ServerConfig};

async fn start_error(url: &str, from: &str) -> otter_core::Error {
    let mut s = MysqlSource::start(config(url, from), SourceOptions::default());
    expect_error(&mut s, 30).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binlog_off() {
    let db = MariaDb::start(ServerConfig::new(1).log_bin(false)).unwrap();
    let e = start_error(&db.url(), "latest").await;
    assert_eq!(e.kind(), ErrorKind::Preflight);
    assert!(e.to_string().contains("binary logging is off") && e.to_string().contains("--log-bin"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_format() {
    let db = MariaDb::start(ServerConfig::new(1).binlog_format("STATEMENT")).unwrap();
    let e = start_error(&db.url(), "latest").await;
    assert_eq!(e.kind(), ErrorKind::Preflight);
    assert!(e.to_string().contains("binlog_format is STATEMENT") && e.to_string().contains("binlog_format=ROW"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_privileges() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE USER 'weak'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'weak'@'127.0.0.1'").unwrap();
    let e = start_error(&db.url_for("weak", "pw"), "latest").await;
    assert_eq!(e.kind(), ErrorKind::Privilege);
    let msg = e.to_string();
    assert!(msg.contains("REPLICATION SLAVE") && msg.contains("GRANT"), "{msg}");
    assert!(!msg.contains("pw@"), "password leaked: {msg}");
    // Wrong password: an authentication error, password not shown.
    let e = start_error(&db.url_for("weak", "wrong-secret"), "latest").await;
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.to_string().contains("wrong-secret"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purged_positions_name_the_earliest_available() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql("CREATE DATABASE p; CREATE TABLE p.t (id INT PRIMARY KEY); INSERT INTO p.t VALUES (1)").unwrap();
    let old_gtid = db.value("SELECT @@gtid_binlog_pos").unwrap();
    db.sql("FLUSH BINARY LOGS; INSERT INTO p.t VALUES (2); FLUSH BINARY LOGS; INSERT INTO p.t VALUES (3)").unwrap();
    // InnoDB releases a binlog for purging only after its binlog checkpoint: retry until it did.
    for _ in 0..100 {
        db.sql("PURGE BINARY LOGS TO 'mysql-bin.000003'").unwrap();
        if db.query("SHOW BINARY LOGS").unwrap().len() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(db.query("SHOW BINARY LOGS").unwrap().len(), 1, "PURGE did not purge");
    let e = start_error(&db.url(), "mysql-bin.000001:4").await;
    assert_eq!(e.kind(), ErrorKind::PositionPurged);
    assert!(e.to_string().contains("mysql-bin.000003:4"), "{e}");
    // A GTID older than the oldest binlog.
    let e = start_error(&db.url(), &old_gtid).await;
    assert_eq!(e.kind(), ErrorKind::PositionPurged, "{e}");
    assert!(e.to_string().contains("purged"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_id_clash_and_row_image_warning() {
    let db = MariaDb::start(ServerConfig::new(7).binlog_row_image("MINIMAL")).unwrap();
    let mut cfg = config(&db.url(), "latest");
    cfg.server_id = Some(7);
    let mut s = MysqlSource::start(cfg, SourceOptions::default());
    let e = expect_error(&mut s, 30).await;
    assert_eq!(e.kind(), ErrorKind::ServerIdConflict);
    assert!(e.to_string().contains("server_id 7"), "{e}");

    let opts = ConnectOptions::new(&db.url(), &TlsConfig::default()).unwrap();
    let mut conn = opts.connect().await.unwrap();
    let server = ServerInfo::query(&mut conn).await.unwrap();
    let c = preflight::check_binlog_row_image(&mut conn).await.unwrap();
    match c.outcome {
        Outcome::Warn(w) => assert!(w.contains("MINIMAL") && w.contains("binlog_row_image=FULL"), "{w}"),
        other => panic!("expected a warning, got {other:?}"),
    }
    let all = preflight::run_all(&mut conn, &server, 1234, &"latest".parse().unwrap()).await.unwrap();
    assert!(all.iter().all(|c| c.ok()), "{all:?}");
}
