//! DDL applied in its source session's terms, A -> B on real servers whose defaults differ: A's
//! server character set is latin1 (B's utf8mb4), so a replicated `CREATE DATABASE` without a
//! character set must still make a latin1 database on B; an `ALTER TABLE ... ADD COLUMN` with a
//! `DATETIME DEFAULT CURRENT_TIMESTAMP` run in a `+05:00` session must backfill B's rows with the
//! same local time; DDL sent in a latin1 session (ENUM members, a default, a comment with
//! non-ASCII text) must be read as latin1, not UTF-8. B ends equal to A (`CHECKSUM TABLE`), with
//! the same column types, defaults and comments.

mod common;

use common::{start, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["cs.t", "cs.l"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_runs_in_the_source_sessions_terms() {
    let a = MariaDb::start(ServerConfig::new(1).arg("--character-set-server=latin1").arg("--collation-server=latin1_swedish_ci")).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(
        "CREATE DATABASE cs;
         CREATE TABLE cs.t (id INT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO cs.t VALUES (1, 'caf\u{e9}'), (2, 'plain');
         SET time_zone = '+05:00';
         ALTER TABLE cs.t ADD COLUMN at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP;
         DO SLEEP(1.5);
         SET NAMES latin1;
         CREATE TABLE cs.l (id INT PRIMARY KEY, e ENUM('Gr\u{f6}\u{df}e', 'klein'), c VARCHAR(20) DEFAULT 'Stra\u{df}e' COMMENT 'Ma\u{df}');
         INSERT INTO cs.l (id, e) VALUES (1, 'Gr\u{f6}\u{df}e'), (2, 'klein');",
    )
    .unwrap();
    let running = start("ddl", &a, &b, "cs\\..*", MysqlSinkConfig::new(b.url()), 103).await;
    wait_equal(&a, &b, TABLES, 60, Some(&running)).await;
    running.stop().await.unwrap();
    let charset = "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'cs'";
    assert_eq!(b.value(charset).unwrap(), "latin1");
    let columns = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLUMN_DEFAULT, COLUMN_COMMENT
                   FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'cs' ORDER BY TABLE_NAME, ORDINAL_POSITION";
    assert_eq!(a.query(columns).unwrap(), b.query(columns).unwrap());
    assert_eq!(a.query("SELECT id, v, at FROM cs.t ORDER BY id").unwrap(), b.query("SELECT id, v, at FROM cs.t ORDER BY id").unwrap());
}
