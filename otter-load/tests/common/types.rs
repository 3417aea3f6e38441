//! The every-type workload of the fast-path tests (`LOAD DATA`, bulk execution): every common
//! column type, with the bytes an escaping or a character set conversion must get right (tab,
//! newline, CR, NUL, backslash, a literal `\\N`), NULLs, utf8mb4 and latin1 text, binary
//! strings, decimals, floats at their limits, temporal values with fractional seconds, zero
//! dates and years, ENUM and SET; a keyless table; a table of types neither path takes (BIT,
//! JSON).

use otter_testkit::MariaDb;

pub const TABLES: &[&str] = &["s.all", "s.nokey", "s.other"];

pub const SCHEMA: &str = "CREATE DATABASE s;
    CREATE TABLE s.all (id INT PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT,
      ubi BIGINT UNSIGNED, d DECIMAL(30,10), d0 DECIMAL(5,0) UNSIGNED, f FLOAT, g DOUBLE,
      vc VARCHAR(100) CHARACTER SET utf8mb4, lat VARCHAR(40) CHARACTER SET latin1,
      asc_ VARCHAR(40) CHARACTER SET ascii, ch CHAR(10) CHARACTER SET utf8mb4, bin BINARY(8), vb VARBINARY(300),
      bl BLOB, tx TEXT CHARACTER SET utf8mb4, lt MEDIUMTEXT CHARACTER SET latin1, dt DATE, tm TIME(3),
      dtm DATETIME(6), ts TIMESTAMP(2) NULL, yr YEAR, e ENUM('a','b','with space'), st SET('x','y','z'));
    CREATE TABLE s.nokey (a INT, b VARBINARY(10));
    CREATE TABLE s.other (id INT PRIMARY KEY, bt BIT(12), js JSON, v VARCHAR(10));";

pub fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "''".into();
    }
    format!("X'{}'", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

pub fn text(cs: &str, b: &[u8]) -> String {
    format!("_{cs} {}", hex(b))
}

pub fn pick<'a>(n: u32, xs: &[&'a str]) -> &'a str {
    xs[n as usize % xs.len()]
}

/// One row of `s.all` as a VALUES tuple.
pub fn row(n: u32) -> String {
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
        if n.is_multiple_of(3) { format!("{}", i64::MIN + i64::from(n)) } else { format!("{}", i64::from(n) * 1_000_000_000_000) },
        u64::MAX - u64::from(n),
        pick(n, &["-12345678901234567890.0123456789", "0.0000000001", "NULL", "99999999999999999999.9999999999"]),
        pick(n, &["0", "99999", "12"]),
        pick(n, &["1.5", "-0.1", "3.4e38", "1.1754944e-38", "1e-45", "123456.789", "0", "NULL"]),
        pick(n, &["0.1", "1.7976931348623157e308", "5e-324", "-2.5e-300", "1e15", "NULL"]),
        text("ascii", format!("plain {n} \\ end").as_bytes()),
        text("utf8mb4", format!("c{n}  ").as_bytes()),
        hex(&bin),
        if n.is_multiple_of(17) { "NULL".into() } else { hex(&vb) },
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
pub fn workload(a: &MariaDb, from: u32, to: u32) {
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

pub fn status(b: &MariaDb, name: &str) -> u64 {
    b.query(&format!("SHOW GLOBAL STATUS LIKE '{name}'")).unwrap().first().and_then(|r| r.get(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}
