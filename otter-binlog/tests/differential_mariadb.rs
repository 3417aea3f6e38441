//! Differential tests against MariaDB's own decoder: a real server writes rows of a table with
//! every MariaDB column type and edge values (max/min integers, negative DECIMAL(65,30), zero and
//! fractional-second temporals, 4-byte UTF-8, NULLs, large BLOBs, JSON, ENUM with >255 members,
//! SET with 64 members, BIT(64), INET6, UUID, GEOMETRY), under FULL, MINIMAL and NOBLOB row
//! images, with and without checksums and binlog compression. otter's decoded rows must equal
//! `mariadb-binlog --verbose --base64-output=decode-rows` of the same files, value by value.

use std::collections::BTreeMap;
use std::process::Command;

use otter_binlog::{EventData, FileReader, RowsKind, Value};
use otter_testkit::{MariaDb, ServerConfig};

fn create_table() -> String {
    let en: Vec<String> = (1..=300).map(|i| format!("'e{i}'")).collect();
    let st: Vec<String> = (1..=64).map(|i| format!("'s{i}'")).collect();
    format!(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, \
         siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, \
         biu BIGINT UNSIGNED, dec1 DECIMAL(65,30), dec2 DECIMAL(10,0), dec3 DECIMAL(5,5), fl FLOAT, db DOUBLE, \
         dt DATE, tm TIME, tm3 TIME(3), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL, ts4 TIMESTAMP(4) NULL, \
         yr YEAR, ch CHAR(10), vc VARCHAR(300) CHARACTER SET utf8mb4, lat VARCHAR(20) CHARACTER SET latin1, \
         bn BINARY(4), vb VARBINARY(300), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lt LONGTEXT, js JSON, \
         en ENUM({}), st SET({}), b1 BIT(1), b64 BIT(64), geo GEOMETRY, i6 INET6, uu UUID) ENGINE=InnoDB",
        en.join(","),
        st.join(",")
    )
}

fn workload() -> String {
    let emoji = "🦦".repeat(300);
    let big = "ab".repeat(60_000);
    format!(
        "SET SESSION sql_mode = ''; SET SESSION time_zone = '+00:00';
         INSERT INTO d.t VALUES (1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
           9223372036854775807, 18446744073709551615,
           -12345678901234567890123456789012345.123456789012345678901234567890, 9999999999, -0.12345,
           -3.4e38, 1.7976931348623157e308, '9999-12-31', '838:59:59', '-838:59:58.999', '9999-12-31 23:59:59',
           '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07', '1970-01-01 00:00:01.0001', 2155, 'abc',
           '{emoji}', 'café', 0x00010203, 0xdeadbeef00ff, 'tiny', 'blob', REPEAT('x', 100000), 'long text',
           '{{\"a\": [1, 2, {{\"b\": null}}], \"c\": \"ü\"}}', 'e300', '{all}', b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
           POINT(1.5, -2), 'ffff::1', '123e4567-e89b-12d3-a456-426614174000');
         INSERT INTO d.t VALUES (2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
           0.000000000000000000000000000001, -9999999999, 0.00001, 0, -0.5, '0000-00-00', '-00:00:01', '00:00:00.001',
           '0000-00-00 00:00:00', '1000-01-01 00:00:00.000001', '0000-00-00 00:00:00', '1970-01-01 00:00:01.5', 0,
           '', '', '', 0x00000000, '', '', '', '', '', '[]', 'e1', '', b'0', b'0', POINT(0, 0), '::', '00000000-0000-0000-0000-000000000000');
         INSERT INTO d.t (id) VALUES (3);
         UPDATE d.t SET ti = 1, vc = 'changed 🦦', mb = '{big}', dec1 = 1.5, st = 's1,s64', js = '{{}}' WHERE id = 1;
         UPDATE d.t SET fl = 1.1, db = 0.1, dtm6 = '2000-01-01 00:00:00.5', bl = NULL WHERE id = 3;
         UPDATE d.t SET i = i + 1 WHERE id IN (1, 2);
         DELETE FROM d.t WHERE id = 2;",
        all = (1..=64).map(|i| format!("s{i}")).collect::<Vec<_>>().join(","),
    )
}

/// One decoded row change: kind, table, and column index → value text (mariadb-binlog notation
/// is normalised on their side, otter's values are kept typed on ours).
#[derive(Debug)]
struct MdbRow {
    kind: RowsKind,
    table: String,
    before: BTreeMap<usize, Vec<u8>>,
    after: BTreeMap<usize, Vec<u8>>,
}

/// Parses `### ...` lines of `mariadb-binlog -v` output (raw bytes: values may not be UTF-8).
fn parse_mdb(out: &[u8]) -> Vec<MdbRow> {
    let mut rows = Vec::new();
    let mut in_set = false;
    for line in out.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"### ") else { continue };
        let text = String::from_utf8_lossy(rest);
        if let Some(t) = text.strip_prefix("INSERT INTO ") {
            rows.push(MdbRow { kind: RowsKind::Write, table: t.replace('`', ""), before: BTreeMap::new(), after: BTreeMap::new() });
            in_set = true;
        } else if let Some(t) = text.strip_prefix("UPDATE ") {
            rows.push(MdbRow { kind: RowsKind::Update, table: t.replace('`', ""), before: BTreeMap::new(), after: BTreeMap::new() });
            in_set = false;
        } else if let Some(t) = text.strip_prefix("DELETE FROM ") {
            rows.push(MdbRow { kind: RowsKind::Delete, table: t.replace('`', ""), before: BTreeMap::new(), after: BTreeMap::new() });
            in_set = false;
        } else if text == "SET" {
            in_set = true;
        } else if text == "WHERE" {
            in_set = false;
        } else if let Some(v) = rest.strip_prefix(b"  @") {
            let eq = v.iter().position(|&b| b == b'=').unwrap();
            let idx: usize = std::str::from_utf8(&v[..eq]).unwrap().parse().unwrap();
            // The value ends where the `/* TYPE ... */` comment of -vv starts.
            let body = &v[eq + 1..];
            let end = body.windows(4).rposition(|w| w == b" /* ").unwrap_or(body.len());
            let value = body[..end].to_vec();
            let row = rows.last_mut().unwrap();
            if in_set { row.after.insert(idx - 1, value) } else { row.before.insert(idx - 1, value) };
        }
    }
    rows
}

/// Decodes a `'...'` string of mariadb-binlog (bytes below 0x20 as `\xNN`, the rest raw).
fn unquote(v: &[u8]) -> Vec<u8> {
    let inner = &v[1..v.len() - 1];
    let mut out = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' && inner.get(i + 1) == Some(&b'x') && i + 3 < inner.len() {
            let hex = std::str::from_utf8(&inner[i + 2..i + 4]).unwrap();
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(inner[i]);
        i += 1;
    }
    out
}

fn bits(v: &str) -> u64 {
    u64::from_str_radix(v.trim_start_matches("b'").trim_end_matches('\''), 2).unwrap()
}

/// Checks one otter value against mariadb-binlog's text for it.
fn same(v: &Value<'_>, mdb: &[u8]) -> bool {
    let text = String::from_utf8_lossy(mdb).trim().to_string();
    match v {
        Value::Null => text == "NULL",
        Value::Int(i) => text.split_whitespace().next().and_then(|t| t.parse::<i64>().ok()) == Some(*i),
        Value::UInt(u) => {
            let shown = text.split(['(', ')']).nth(1).unwrap_or(&text).trim();
            shown.parse::<u64>().ok() == Some(*u) || text.parse::<u64>().ok() == Some(*u)
        }
        Value::Float(f) => text.parse::<f32>().ok() == Some(*f),
        Value::Double(d) => text.parse::<f64>().ok() == Some(*d),
        Value::Decimal(d) => text == d.to_string(),
        // mariadb-binlog prints the stored byte + 1900, so YEAR 0000 (byte 0) shows as 1900.
        Value::Year(0) => text == "1900",
        Value::Year(y) => text.parse::<u16>().ok() == Some(*y),
        Value::Date(d) => text.trim_matches('\'').replace(':', "-") == d.to_string(),
        Value::Time(t) => text.trim_matches('\'') == t.to_string(),
        Value::DateTime(t) => text.trim_matches('\'') == t.to_string(),
        Value::Timestamp(t) => text == t.to_string(),
        Value::Bytes(b) | Value::Geometry(b) => mdb.first() == Some(&b'\'') && unquote(mdb) == b.as_ref(),
        Value::Bit(b) => bits(&text) == *b,
        Value::Enum(i) => text.parse::<u16>().ok() == Some(*i),
        // SET bytes are printed in storage (little-endian) order, each byte most significant bit first.
        Value::Set(s) => {
            let digits = text.trim_start_matches("b'").trim_end_matches('\'');
            let bytes: Vec<u8> = digits.as_bytes().chunks(8).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap()).collect();
            bytes.iter().enumerate().fold(0u64, |acc, (i, b)| acc | (u64::from(*b) << (8 * i))) == *s
        }
        other => panic!("unexpected value kind from MariaDB: {other:?}"),
    }
}

/// Every rows event of every file, decoded by otter, compared with mariadb-binlog.
fn compare_files(files: &[std::path::PathBuf], label: &str) -> usize {
    let mut compared = 0;
    for file in files {
        let out = Command::new("mariadb-binlog")
            .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "mariadb-binlog failed on {}", file.display());
        let expected = parse_mdb(&out.stdout);
        let mut got = Vec::new();
        let mut reader = FileReader::open(file).unwrap();
        while let Some(frame) = reader.next_event().unwrap() {
            let EventData::Rows(rows) = &frame.event.data else { continue };
            let table = frame.parser.table_for(rows).unwrap();
            for row in rows.rows(table).unwrap() {
                let row = row.unwrap();
                got.push((rows.kind, table.full_name(), row.before.map(|r| r.into_iter().map(Value::into_owned).collect::<Vec<_>>()), row.after.map(|r| r.into_iter().map(Value::into_owned).collect::<Vec<_>>())));
            }
        }
        assert_eq!(got.len(), expected.len(), "{label}: row count differs in {}", file.display());
        for (n, ((kind, table, before, after), mdb)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(*kind, mdb.kind, "{label}: row {n} kind");
            assert_eq!(*table, mdb.table, "{label}: row {n} table");
            for (image, theirs, what) in [(before, &mdb.before, "before"), (after, &mdb.after, "after")] {
                let Some(image) = image else {
                    assert!(theirs.is_empty(), "{label}: row {n} has no {what} image in otter");
                    continue;
                };
                for (col, v) in image.iter().enumerate() {
                    match theirs.get(&col) {
                        None => assert!(matches!(v, Value::Absent), "{label}: row {n} {what} @{} present in otter only: {v:?}", col + 1),
                        Some(text) => {
                            assert!(same(v, text), "{label}: row {n} {what} @{}: otter {v:?} vs mariadb-binlog {:?}", col + 1, String::from_utf8_lossy(text));
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    compared
}

fn run(config: ServerConfig, label: &str) -> usize {
    let db = MariaDb::start(config).unwrap();
    db.sql(&create_table()).unwrap();
    db.sql(&workload()).unwrap();
    db.sql("FLUSH BINARY LOGS").unwrap();
    let files = db.binlog_files().unwrap();
    let closed: Vec<_> = files[..files.len() - 1].to_vec();
    let n = compare_files(&closed, label);
    assert!(n > 80, "{label}: only {n} values compared");
    n
}

#[test]
fn full_image_crc32() {
    run(ServerConfig::new(1).binlog_checksum("CRC32"), "FULL/CRC32");
}

#[test]
fn minimal_image_no_checksum() {
    run(ServerConfig::new(1).binlog_row_image("MINIMAL").binlog_checksum("NONE"), "MINIMAL/NONE");
}

#[test]
fn noblob_image_compressed() {
    run(ServerConfig::new(1).binlog_row_image("NOBLOB").log_bin_compress(true), "NOBLOB/compressed");
}

#[test]
fn full_metadata_compressed_no_checksum() {
    run(
        ServerConfig::new(1).binlog_row_metadata("FULL").log_bin_compress(true).binlog_checksum("NONE"),
        "FULL metadata/compressed/NONE",
    );
}
