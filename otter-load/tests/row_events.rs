//! Inserts and updates as MariaDB row events (`BINLOG` statements) against real servers: updates
//! of every column type of `common::types`, and inserts of narrow rows, reach B equal to A
//! (`CHECKSUM TABLE`, row counts, and row by row) through `BINLOG` statements (B's `Com_binlog`
//! counter), none refused (no rollback to a savepoint); rows missing on B make their run of
//! updates, and rows already on B their run of inserts, fall back to upserts in the same transaction, which give the
//! upserts' result (B equal again, nothing lost); a user without the `BINLOG REPLAY` privilege
//! gets upserts and B stays equal; so does a target whose `slave_exec_mode` is `IDEMPOTENT`
//! (under which row events would skip missing rows); a table with a trigger on B gets no row
//! events (the trigger fires for every updated row, as it does for the usual statements).

mod common;

use common::types::{row, status, workload, SCHEMA, TABLES};
use common::sync_until_equal;
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

/// The columns of `s.all` after its key.
const COLUMNS: [&str; 25] = [
    "ti", "si", "mi", "bi", "ubi", "d", "d0", "f", "g", "vc", "lat", "asc_", "ch", "bin", "vb", "bl", "tx", "lt", "dt", "tm",
    "dtm", "ts", "yr", "e", "st",
];

/// Gives rows `from..to` of `s.all` on A the values of row `id + shift`, 100 rows per statement
/// (each row an update of an existing row in A's binary log).
fn update(a: &MariaDb, from: u32, to: u32, shift: u32) {
    let set: Vec<String> = COLUMNS.iter().map(|c| format!("{c} = VALUES({c})")).collect();
    let mut sql = String::from("SET time_zone = '+00:00';");
    let ids: Vec<u32> = (from..to).collect();
    for chunk in ids.chunks(100) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&id| {
                let values = row(id + shift);
                let rest = values.strip_prefix(&format!("({}", id + shift)).unwrap();
                format!("({id}{rest}")
            })
            .collect();
        sql.push_str(&format!("INSERT INTO s.all VALUES {} ON DUPLICATE KEY UPDATE {};", rows.join(", "), set.join(", ")));
    }
    a.sql(&sql).unwrap();
}

fn config(url: String) -> MysqlSinkConfig {
    let mut cfg = MysqlSinkConfig::new(url);
    cfg.workers = Some(2);
    cfg.row_events_min_rows = 16;
    cfg
}

/// Every column of `s.all`, row by row, in a form that compares bytes.
fn dump(s: &MariaDb) -> Vec<Vec<String>> {
    s.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    s.query(
        "SELECT id, ti, si, mi, bi, ubi, d, d0, f, g, HEX(vc), HEX(lat), HEX(asc_), HEX(ch), HEX(bin), HEX(vb), HEX(bl), \
         HEX(tx), HEX(lt), dt, tm, dtm, ts, yr, e, st FROM s.all ORDER BY id",
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_of_every_type_go_as_row_events_and_missing_rows_fall_back() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 600);
    sync_until_equal("rows", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    let before = status(&b, "Com_binlog");
    let refused = status(&b, "Com_rollback_to_savepoint");

    update(&a, 0, 600, 1000);
    sync_until_equal("rows", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));
    assert!(status(&b, "Com_binlog") > before, "no BINLOG statement on B");
    // Every run went through: none was rolled back to its savepoint and replaced.
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), refused, "a run of row events was refused");

    // Rows B lacks: their run is refused (a row event needs the row) and applied as upserts.
    b.sql("DELETE FROM s.all WHERE id BETWEEN 100 AND 149").unwrap();
    update(&a, 0, 600, 2000);
    sync_until_equal("rows", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));
    assert!(status(&b, "Com_rollback_to_savepoint") > refused, "the run with missing rows was not refused");
    assert_eq!(b.value("SELECT COUNT(*) FROM s.all WHERE id BETWEEN 100 AND 149").unwrap(), "50");

    // The next run of updates takes the path again once the table's back-off is over (a fresh
    // pipeline run starts without one).
    let before = status(&b, "Com_binlog");
    update(&a, 0, 600, 3000);
    sync_until_equal("rows", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));
    assert!(status(&b, "Com_binlog") > before, "no BINLOG statement after the fallback");
}

/// A narrow table (rows of ~30 bytes, as the workload's `perf.narrow`): its inserts go as row
/// events.
const NARROW: &str = "CREATE TABLE s.narrow (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, \
     qty SMALLINT NOT NULL, price DECIMAL(10,2) NOT NULL, note VARCHAR(8), ts DATETIME NOT NULL, KEY (user_id))";

/// Inserts rows `from..to` (ids `from + 1..=to`) into `s.narrow`, 500 per transaction; `salt`
/// changes their values.
fn narrow(s: &MariaDb, from: u32, to: u32, salt: u32) {
    // The sequence engine's tables live in the current database.
    let mut sql = String::from("USE s;");
    for lo in (from..to).step_by(500) {
        let hi = (lo + 500).min(to);
        sql.push_str(&format!(
            "INSERT INTO s.narrow SELECT seq, CRC32(seq + {salt}) % 1000, seq % 20, (seq * 7 + {salt}) / 100, \
             IF(seq % 3 = 0, NULL, CONCAT('n', seq % 1000)), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq + {salt} SECOND \
             FROM seq_{}_to_{hi};",
            lo + 1
        ));
    }
    s.sql(&sql).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_inserts_go_as_row_events_and_rows_already_there_fall_back() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(&format!("CREATE DATABASE s; {NARROW}")).unwrap();
    let tables = ["s.narrow"];
    let (before, refused) = (status(&b, "Com_binlog"), status(&b, "Com_rollback_to_savepoint"));
    narrow(&a, 0, 3000, 0);
    sync_until_equal("inserts", &a, &b, "s\\..*", config(b.url()), &tables, 120).await;
    assert!(status(&b, "Com_binlog") > before, "the inserts took no BINLOG statement");
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), refused, "a run of inserts as row events was refused");

    // Rows B already holds (other values): their run of inserts is refused (a duplicate key) and
    // applied as upserts, which give them A's values.
    narrow(&b, 3000, 3050, 7);
    narrow(&a, 3000, 6000, 0);
    sync_until_equal("inserts", &a, &b, "s\\..*", config(b.url()), &tables, 120).await;
    assert!(status(&b, "Com_rollback_to_savepoint") > refused, "the run of inserts of rows B holds was not refused");
    assert_eq!(b.value("SELECT COUNT(*) FROM s.narrow").unwrap(), "6000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_privilege_under_idempotent_mode_or_with_a_trigger_writes_go_as_upserts() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 300);
    // Every privilege but the two that allow BINLOG statements.
    b.sql(
        "CREATE USER otter@'%' IDENTIFIED BY 'pw'; CREATE USER otter@localhost IDENTIFIED BY 'pw';
         GRANT ALL ON *.* TO otter@'%'; GRANT ALL ON *.* TO otter@localhost;
         REVOKE SUPER, BINLOG REPLAY ON *.* FROM otter@'%'; REVOKE SUPER, BINLOG REPLAY ON *.* FROM otter@localhost",
    )
    .unwrap();
    let unprivileged = config(b.url_for("otter", "pw"));
    sync_until_equal("noprivilege", &a, &b, "s\\..*", unprivileged.clone(), TABLES, 120).await;
    update(&a, 0, 300, 1000);
    sync_until_equal("noprivilege", &a, &b, "s\\..*", unprivileged, TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));

    // slave_exec_mode = IDEMPOTENT: row events would skip the rows B lacks; upserts restore them.
    b.sql("SET GLOBAL slave_exec_mode = 'IDEMPOTENT'; DELETE FROM s.all WHERE id BETWEEN 100 AND 149").unwrap();
    let before = status(&b, "Com_binlog");
    update(&a, 0, 300, 3000);
    workload(&a, 300, 400);
    sync_until_equal("noprivilege", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));
    assert_eq!(b.value("SELECT COUNT(*) FROM s.all WHERE id BETWEEN 100 AND 149").unwrap(), "50");
    assert_eq!(status(&b, "Com_binlog"), before, "row events under slave_exec_mode = IDEMPOTENT");
    b.sql("SET GLOBAL slave_exec_mode = 'STRICT'").unwrap();

    // A trigger on B: its table takes the usual path, and the trigger sees every update.
    b.sql(
        "CREATE TABLE s.audit (id INT); \
         CREATE TRIGGER s.all_updated AFTER UPDATE ON s.all FOR EACH ROW INSERT INTO s.audit VALUES (NEW.id)",
    )
    .unwrap();
    let before = status(&b, "Com_binlog");
    update(&a, 0, 300, 2000);
    sync_until_equal("noprivilege", &a, &b, "s\\..*", config(b.url()), TABLES, 120).await;
    assert_eq!(dump(&a), dump(&b));
    assert_eq!(status(&b, "Com_binlog"), before, "row events for a table with a trigger");
    assert_eq!(b.value("SELECT COUNT(DISTINCT id) FROM s.audit").unwrap(), "300");
}
