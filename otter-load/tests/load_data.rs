//! The `LOAD DATA LOCAL INFILE` fast path against real servers: every common column type, with
//! the bytes its escaping must get right (tab, newline, CR, NUL, backslash, a literal `\N`),
//! NULLs, utf8mb4 and latin1 text, binary strings, decimals, floats at their limits, temporal
//! values with fractional seconds, zero dates and years, ENUM and SET, a keyless table; B ends
//! equal to A (`CHECKSUM TABLE`, row counts, and row by row); the typed table is shown to take the
//! fast path (the server's `Com_load` grows) and a table with BIT/JSON columns not to. Rows that
//! already exist on the target make the run
//! fall back to the usual statements (the source's rows still win), a target with
//! `local_infile = OFF` is applied with statements, and a pipeline aborted mid-stream resumes
//! without applying anything twice (the keyless table would show duplicates).

mod common;

use common::{start, wait_equal};
use otter_load::MysqlSinkConfig;
use otter_testkit::{MariaDb, ServerConfig};

const TABLES: &[&str] = &["s.all", "s.nokey", "s.other"];

const SCHEMA: &str = "CREATE DATABASE s;
    CREATE TABLE s.all (id INT PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT,
      ubi BIGINT UNSIGNED, d DECIMAL(30,10), d0 DECIMAL(5,0) UNSIGNED, f FLOAT, g DOUBLE,
      vc VARCHAR(100) CHARACTER SET utf8mb4, lat VARCHAR(40) CHARACTER SET latin1,
      asc_ VARCHAR(40) CHARACTER SET ascii, ch CHAR(10) CHARACTER SET utf8mb4, bin BINARY(8), vb VARBINARY(300),
      bl BLOB, tx TEXT CHARACTER SET utf8mb4, lt MEDIUMTEXT CHARACTER SET latin1, dt DATE, tm TIME(3),
      dtm DATETIME(6), ts TIMESTAMP(2) NULL, yr YEAR, e ENUM('a','b','with space'), st SET('x','y','z'));
    CREATE TABLE s.nokey (a INT, b VARBINARY(10));
    CREATE TABLE s.other (id INT PRIMARY KEY, bt BIT(12), js JSON, v VARCHAR(10));";

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "''".into();
    }
    format!("X'{}'", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn text(cs: &str, b: &[u8]) -> String {
    format!("_{cs} {}", hex(b))
}

fn pick<'a>(n: u32, xs: &[&'a str]) -> &'a str {
    xs[n as usize % xs.len()]
}

/// One row of `s.all` as a VALUES tuple.
fn row(n: u32) -> String {
    let tricky: Vec<u8> = [&b"t\t\\N\n\r\0 "[..], "é🦦 ".as_bytes(), n.to_string().as_bytes(), b" \\"].concat();
    let vc = match n % 11 {
        0 => "NULL".into(),
        1 => text("utf8mb4", b"\\N"),
        2 => "''".into(),
        _ => text("utf8mb4", &tricky),
    };
    let lat = text("latin1", &[0xe9, b'\\', b'\t', 0, 0xff, b'N', b'a' + (n % 26) as u8]);
    let bin: Vec<u8> = vec![0, b'\\', b'\t', b'\n', b'\r', n as u8];
    let vb: Vec<u8> = (0..(n % 300)).map(|i| (i * 7 + n) as u8).collect();
    let bl: Vec<u8> = (0..=255u8).cycle().skip(n as usize).take(300).collect();
    let lt: Vec<u8> = (0x80..=0xffu8).chain(b"\\N\t\n".iter().copied()).collect();
    format!(
        "({n}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {vc}, {lat}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        (n % 256) as i32 - 128,
        n * 200 % 65536,
        -(n as i64) * 1000,
        if n % 3 == 0 { format!("{}", i64::MIN + i64::from(n)) } else { format!("{}", i64::from(n) * 1_000_000_000_000) },
        u64::MAX - u64::from(n),
        pick(n, &["-12345678901234567890.0123456789", "0.0000000001", "NULL", "99999999999999999999.9999999999"]),
        pick(n, &["0", "99999", "12"]),
        pick(n, &["1.5", "-0.1", "3.4e38", "1.1754944e-38", "1e-45", "123456.789", "0", "NULL"]),
        pick(n, &["0.1", "1.7976931348623157e308", "5e-324", "-2.5e-300", "1e15", "NULL"]),
        text("ascii", format!("plain {n} \\ end").as_bytes()),
        text("utf8mb4", format!("c{n}  ").as_bytes()),
        hex(&bin),
        if n % 17 == 0 { "NULL".into() } else { hex(&vb) },
        hex(&bl),
        text("utf8mb4", &tricky.repeat(3)),
        text("latin1", &lt),
        pick(n, &["'2024-02-29'", "'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "NULL"]),
        pick(n, &["'-838:59:59.000'", "'12:34:56.789'", "'00:00:00.001'", "'838:59:59'"]),
        pick(n, &["'2024-01-01 00:00:00.000001'", "'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00'"]),
        pick(n, &["'2038-01-19 03:14:07.99'", "NULL", "'1970-01-01 00:00:01.00'", "'2024-06-01 12:00:00.5'"]),
        pick(n, &["0", "1901", "2155", "2024", "NULL"]),
        pick(n, &["'a'", "'with space'", "NULL", "'b'"]),
        pick(n, &["''", "'x,z'", "'x,y,z'", "NULL", "'y'"]),
    )
}

/// Inserts rows `from..to` of every table, in statements of 100 rows.
fn workload(a: &MariaDb, from: u32, to: u32) {
    let mut sql = String::from("SET time_zone = '+00:00';");
    let ids: Vec<u32> = (from..to).collect();
    for chunk in ids.chunks(100) {
        let rows: Vec<String> = chunk.iter().map(|&n| row(n)).collect();
        sql.push_str(&format!("INSERT INTO s.all VALUES {};", rows.join(", ")));
        let keyless: Vec<String> = chunk.iter().map(|&n| format!("({}, {})", n % 10, hex(&[b'\\', b'\t', (n % 3) as u8]))).collect();
        sql.push_str(&format!("INSERT INTO s.nokey VALUES {};", keyless.join(", ")));
        let other: Vec<String> = chunk.iter().map(|&n| format!("({n}, b'101', '{{\"k\": {n}}}', 'v{n}')")).collect();
        sql.push_str(&format!("INSERT INTO s.other VALUES {};", other.join(", ")));
    }
    a.sql(&sql).unwrap();
}

fn status(b: &MariaDb, name: &str) -> u64 {
    b.query(&format!("SHOW GLOBAL STATUS LIKE '{name}'")).unwrap().first().and_then(|r| r.get(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn config(b: &MariaDb) -> MysqlSinkConfig {
    let mut cfg = MysqlSinkConfig::new(b.url());
    cfg.workers = Some(2);
    cfg.load_data_min_rows = 16;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_through_load_data_and_exactly_once_after_an_abort() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    workload(&a, 0, 600);
    let running = start("ld", &a, &b, "s\\..*", config(&b), 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    assert!(status(&b, "Com_load") > 0, "the fast path was not taken");
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), 0, "a LOAD DATA run fell back");
    // Row by row too, for the columns CHECKSUM TABLE could hide behind equal sums.
    let dump = "SELECT id, HEX(vc), HEX(lat), HEX(bin), HEX(vb), HEX(tx), HEX(lt), f, g, d, yr, dt, tm, dtm, ts, e, st FROM s.all ORDER BY id";
    a.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    b.sql("SET GLOBAL time_zone = '+00:00'").unwrap();
    assert_eq!(a.query(dump).unwrap(), b.query(dump).unwrap());

    // s.all alone takes the fast path; s.other (BIT, JSON) alone never does.
    let loads = status(&b, "Com_load");
    let rows: Vec<String> = (600..800).map(row).collect();
    a.sql(&format!("SET time_zone = '+00:00'; INSERT INTO s.all VALUES {};", rows.join(", "))).unwrap();
    sync(&a, &b).await;
    let after_all = status(&b, "Com_load");
    assert!(after_all > loads, "s.all did not go through LOAD DATA");
    let other: Vec<String> = (600..800).map(|n| format!("({n}, b'1', '[{n}]', 'o')")).collect();
    a.sql(&format!("INSERT INTO s.other VALUES {};", other.join(", "))).unwrap();
    sync(&a, &b).await;
    assert_eq!(status(&b, "Com_load"), after_all, "s.other went through LOAD DATA");
    assert_eq!(status(&b, "Com_rollback_to_savepoint"), 0, "a LOAD DATA run fell back");

    // Abort (no graceful stop) while a larger backlog is being applied, then resume.
    workload(&a, 800, 3000);
    let running = start("ld", &a, &b, "s\\..*", config(&b), 101).await;
    while b.value("SELECT COUNT(*) FROM s.all").unwrap().parse::<u64>().unwrap() <= 800 && !running.finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
    let running = start("ld", &a, &b, "s\\..*", config(&b), 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    assert_eq!(b.value("SELECT COUNT(*) FROM s.nokey").unwrap(), "2800");
}

/// Runs the pipeline until B equals A, then stops it.
async fn sync(a: &MariaDb, b: &MariaDb) {
    let running = start("ld", a, b, "s\\..*", config(b), 101).await;
    wait_equal(a, b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_rows_fall_back_and_local_infile_off_uses_statements() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql(SCHEMA).unwrap();
    b.sql(SCHEMA).unwrap();
    // B already holds some of the rows A inserts, with other values, and a row A never has.
    b.sql("SET time_zone = '+00:00'").unwrap();
    b.sql(&format!("INSERT INTO s.all (id, vc, tx) VALUES {}", (100..400).step_by(7).map(|n| format!("({n}, 'old', 'old')")).collect::<Vec<_>>().join(", ")))
        .unwrap();
    workload(&a, 0, 500);
    let mut cfg = config(&b);
    // B already has the tables: A's CREATE statements fail there and are skipped.
    cfg.skip_ddl_errors = true;
    let running = start("ld", &a, &b, "s\\..*", cfg.clone(), 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
    assert!(status(&b, "Com_rollback_to_savepoint") > 0, "no run fell back");

    // The target refuses LOCAL INFILE: statements only, still equal.
    b.sql("SET GLOBAL local_infile = 0").unwrap();
    workload(&a, 500, 1500);
    let running = start("ld", &a, &b, "s\\..*", cfg, 101).await;
    wait_equal(&a, &b, TABLES, 120, Some(&running)).await;
    running.stop().await.unwrap();
}
