//! Tests for `json.rs`: hand-made binaries for every type, MySQL formatting rules, hostile input,
//! and a property test against a test-only encoder (`serde_json::Value` -> MySQL binary JSON).

use super::*;
use crate::error::ErrorKind;
use proptest::prelude::*;
use serde_json::{json, Number, Value};

// ---------------------------------------------------------------------------------------------
// Test-only encoder, written from the format description in json_binary.h.

/// Tiny deterministic generator for the encoder's free choices (small/large, signed/unsigned).
struct Choices(u64);

impl Choices {
    fn bit(&mut self) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 & 1 == 1
    }
}

fn var_len(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A whole document: type byte + value.
fn encode(v: &Value, seed: u64) -> Vec<u8> {
    let mut c = Choices(seed | 1);
    let (ty, body) = enc(v, &mut c);
    let mut out = vec![ty];
    out.extend(body);
    out
}

/// A whole document with MySQL's own choices: signed integers, small format when it fits.
fn encode_like_mysql(v: &Value) -> Vec<u8> {
    let mut c = Choices(0); // xorshift of 0 stays 0: every choice is `false`
    let (ty, body) = enc(v, &mut c);
    let mut out = vec![ty];
    out.extend(body);
    out
}

/// (type, value bytes) of `v`.
fn enc(v: &Value, c: &mut Choices) -> (u8, Vec<u8>) {
    match v {
        Value::Null => (LITERAL, vec![0]),
        Value::Bool(b) => (LITERAL, vec![if *b { 1 } else { 2 }]),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let unsigned = i >= 0 && c.bit();
                if let Ok(v) = i16::try_from(i) {
                    if unsigned {
                        (UINT16, (v as u16).to_le_bytes().to_vec())
                    } else {
                        (INT16, v.to_le_bytes().to_vec())
                    }
                } else if let (true, Ok(v)) = (unsigned, u16::try_from(i)) {
                    (UINT16, v.to_le_bytes().to_vec())
                } else if let Ok(v) = i32::try_from(i) {
                    if unsigned {
                        (UINT32, (v as u32).to_le_bytes().to_vec())
                    } else {
                        (INT32, v.to_le_bytes().to_vec())
                    }
                } else if let (true, Ok(v)) = (unsigned, u32::try_from(i)) {
                    (UINT32, v.to_le_bytes().to_vec())
                } else if unsigned {
                    (UINT64, (i as u64).to_le_bytes().to_vec())
                } else {
                    (INT64, i.to_le_bytes().to_vec())
                }
            } else if let Some(u) = n.as_u64() {
                (UINT64, u.to_le_bytes().to_vec())
            } else {
                (DOUBLE, n.as_f64().unwrap().to_le_bytes().to_vec())
            }
        }
        Value::String(s) => {
            let mut out = Vec::new();
            var_len(s.len(), &mut out);
            out.extend_from_slice(s.as_bytes());
            (STRING, out)
        }
        Value::Array(items) => container(None, items.iter().collect(), c),
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.as_bytes().cmp(b.0.as_bytes())));
            let keys = members.iter().map(|m| m.0.as_str()).collect();
            container(Some(keys), members.iter().map(|m| m.1).collect(), c)
        }
    }
}

fn container(keys: Option<Vec<&str>>, values: Vec<&Value>, c: &mut Choices) -> (u8, Vec<u8>) {
    let children: Vec<(u8, Vec<u8>)> = values.iter().map(|v| enc(v, c)).collect();
    let object = keys.is_some();
    if !c.bit() || !c.bit() {
        if let Some(b) = layout(keys.as_deref(), &children, false) {
            return (if object { SMALL_OBJECT } else { SMALL_ARRAY }, b);
        }
    }
    let b = layout(keys.as_deref(), &children, true).expect("fits the large format");
    (if object { LARGE_OBJECT } else { LARGE_ARRAY }, b)
}

fn put_off(buf: &mut [u8], at: usize, v: usize, large: bool) {
    if large {
        buf[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    } else {
        buf[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes());
    }
}

fn layout(keys: Option<&[&str]>, children: &[(u8, Vec<u8>)], large: bool) -> Option<Vec<u8>> {
    let off = if large { 4 } else { 2 };
    let n = children.len();
    let key_entry = if keys.is_some() { off + 2 } else { 0 };
    let header = 2 * off + n * (key_entry + 1 + off);
    let mut buf = vec![0u8; header];
    put_off(&mut buf, 0, n, large);
    for (i, k) in keys.unwrap_or(&[]).iter().enumerate() {
        let at = 2 * off + i * key_entry;
        let key_off = buf.len();
        put_off(&mut buf, at, key_off, large);
        buf[at + off..at + off + 2].copy_from_slice(&(k.len() as u16).to_le_bytes());
        buf.extend_from_slice(k.as_bytes());
    }
    for (i, (ty, bytes)) in children.iter().enumerate() {
        let at = 2 * off + n * key_entry + i * (1 + off);
        buf[at] = *ty;
        if inlined(*ty, large) {
            // MySQL stores the inlined value as an int16/int32 of the entry's width.
            let v: i64 = match *ty {
                LITERAL => i64::from(bytes[0]),
                INT16 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
                UINT16 => i64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
                INT32 => i64::from(i32::from_le_bytes(bytes[..4].try_into().unwrap())),
                _ => i64::from(u32::from_le_bytes(bytes[..4].try_into().unwrap())),
            };
            buf[at + 1..at + 1 + off].copy_from_slice(&v.to_le_bytes()[..off]);
        } else {
            let value_off = buf.len();
            put_off(&mut buf, at + 1, value_off, large);
            buf.extend_from_slice(bytes);
        }
    }
    let size = buf.len();
    if !large && size > usize::from(u16::MAX) {
        return None;
    }
    put_off(&mut buf, off, size, large);
    Some(buf)
}

/// Does `parsed` (serde_json's reading of our text) equal `want` exactly?
///
/// serde_json without its `float_roundtrip` feature may read a double a few ULPs off (seen: 2).
/// So a double also counts as equal when it is at most 16 ULPs away *and* our text for `want`,
/// read by Rust's correctly rounded parser, gives back `want` bit for bit (which is what
/// matters). With `float_roundtrip` enabled the first, bit-exact test always decides.
fn same_f64(want: f64, parsed: f64) -> bool {
    if want.to_bits() == parsed.to_bits() {
        return true;
    }
    let close = want.is_sign_negative() == parsed.is_sign_negative() && want.to_bits().abs_diff(parsed.to_bits()) <= 16;
    let mut text = String::new();
    close && write_double(&mut text, want).is_ok() && text.parse::<f64>().map(f64::to_bits) == Ok(want.to_bits())
}

/// Exact equality (`a` expected, `b` parsed), doubles compared bit for bit (see [`same_f64`])
/// and numbers kept in their kind.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.is_f64(), y.is_f64()) {
            (true, true) => same_f64(x.as_f64().unwrap(), y.as_f64().unwrap()),
            (false, false) => x == y,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-made binaries.

fn text(bin: &[u8]) -> String {
    json_text(bin).unwrap()
}

fn err(bin: &[u8]) -> ErrorKind {
    json_text(bin).unwrap_err().kind()
}

fn opaque(field_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![OPAQUE, field_type];
    var_len(data.len(), &mut v);
    v.extend_from_slice(data);
    v
}

/// TIME_to_longlong_datetime_packed, written from the formula.
fn datetime_packed(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> i64 {
    let ymd = ((y * 13 + mo) << 5) | d;
    let hms = (h << 12) | (mi << 6) | s;
    (((ymd << 17) | hms) << 24) + us
}

#[test]
fn scalars() {
    assert_eq!(text(&[]), "null", "empty binary is JSON null, like parse_binary");
    assert_eq!(text(&[LITERAL, 0]), "null");
    assert_eq!(text(&[LITERAL, 1]), "true");
    assert_eq!(text(&[LITERAL, 2]), "false");
    assert_eq!(text(&[INT16, 0xff, 0xff]), "-1");
    assert_eq!(text(&[UINT16, 0xff, 0xff]), "65535");
    assert_eq!(text(&[INT32, 0, 0, 0, 0x80]), "-2147483648");
    assert_eq!(text(&[UINT32, 0xff, 0xff, 0xff, 0xff]), "4294967295");
    assert_eq!(text(&[&[INT64][..], &i64::MIN.to_le_bytes()].concat()), "-9223372036854775808");
    assert_eq!(text(&[&[UINT64][..], &u64::MAX.to_le_bytes()].concat()), "18446744073709551615");
    assert_eq!(text(&[&[DOUBLE][..], &1.5f64.to_le_bytes()].concat()), "1.5");
    assert_eq!(text(&[STRING, 3, b'a', b'b', b'c']), "\"abc\"");
    assert_eq!(text(&[STRING, 0]), "\"\"");
    // Trailing bytes after the top-level value are ignored, as by the server.
    assert_eq!(text(&[INT16, 7, 0, 0xee]), "7");
}

#[test]
fn string_escapes() {
    let s = "q\"b\\ \u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f} é😀";
    let mut bin = vec![STRING];
    var_len(s.len(), &mut bin);
    bin.extend_from_slice(s.as_bytes());
    assert_eq!(text(&bin), "\"q\\\"b\\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\u{7f} é😀\"");
    // A long string needs a multi-byte length.
    let long = "x".repeat(300);
    let mut bin = vec![STRING, 0xac, 0x02];
    bin.extend_from_slice(long.as_bytes());
    assert_eq!(text(&bin), format!("\"{long}\""));
}

#[test]
fn doubles_like_my_gcvt() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (100.0, "100.0"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (0.0001, "0.0001"),
        (1e-15, "0.000000000000001"),
        (1.5e-15, "0.0000000000000015"),
        (1e-16, "1e-16"),
        (1.25e-16, "1.25e-16"),
        (1e14, "100000000000000.0"),
        (123456789012345.0, "123456789012345.0"),
        (1e15, "1e15"),
        (1.5e15, "1.5e15"),
        (9007199254740992.0, "9.007199254740992e15"),
        (1234567890123456.8, "1234567890123456.8"),
        (1e20, "1e20"),
        (-1.2345678901234568e20, "-1.2345678901234568e20"),
        (1.7976931348623157e308, "1.7976931348623157e308"),
        (5e-324, "5e-324"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (1e100, "1e100"),
    ];
    for &(x, want) in cases {
        let mut out = String::new();
        write_double(&mut out, x).unwrap();
        assert_eq!(out, want, "{x:e}");
        assert_eq!(out.parse::<f64>().unwrap().to_bits(), x.to_bits(), "round trip of {out}");
    }
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(err(&[&[DOUBLE][..], &bad.to_le_bytes()].concat()), ErrorKind::Invalid("json double"));
    }
}

#[test]
fn small_object_and_array() {
    // {"a": 1, "b": [1, 2]}, laid out by hand.
    let bin = [
        SMALL_OBJECT,
        2,
        0,
        30,
        0, // count, size
        18,
        0,
        1,
        0,
        19,
        0,
        1,
        0, // key entries
        INT16,
        1,
        0,
        SMALL_ARRAY,
        20,
        0, // value entries (1 inlined)
        b'a',
        b'b', // keys
        2,
        0,
        10,
        0,
        INT16,
        1,
        0,
        INT16,
        2,
        0, // [1, 2]
    ];
    assert_eq!(text(&bin), r#"{"a": 1, "b": [1, 2]}"#);
    assert_eq!(encode_like_mysql(&json!({"a": 1, "b": [1, 2]})), bin, "the encoder agrees");
    assert_eq!(text(&[SMALL_ARRAY, 0, 0, 4, 0]), "[]");
    assert_eq!(text(&[SMALL_OBJECT, 0, 0, 4, 0]), "{}");
    // Non-inlined int32 in the small format, inlined in the large one.
    let v = json!([70000, -70000, "s", null, 1.5]);
    for seed in 0..16 {
        let bin = encode(&v, seed);
        assert_eq!(text(&bin), "[70000, -70000, \"s\", null, 1.5]");
    }
}

#[test]
fn large_format_when_needed() {
    let big = "y".repeat(70_000);
    let v = json!({"k": [big.clone(), 1, -100000, true], "a": {}});
    let bin = encode(&v, 7);
    assert_eq!(bin[0], LARGE_OBJECT);
    let out = text(&bin);
    assert_eq!(out, format!(r#"{{"a": {{}}, "k": ["{big}", 1, -100000, true]}}"#));
}

#[test]
fn opaque_values() {
    // DECIMAL 1234567890.1234 as DECIMAL(14,4).
    let dec = [14, 4, 0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
    assert_eq!(text(&opaque(FT_NEWDECIMAL, &dec)), "1234567890.1234");
    assert_eq!(text(&opaque(FT_NEWDECIMAL, &[0, 0])), "0");
    assert_eq!(err(&opaque(FT_NEWDECIMAL, &dec[..8])), ErrorKind::Invalid("json decimal"));
    assert_eq!(err(&opaque(FT_NEWDECIMAL, &[66, 0, 0x80])), ErrorKind::Invalid("json decimal"));
    // Dates and times.
    let dt = datetime_packed(2015, 1, 15, 23, 24, 25, 123456);
    assert_eq!(text(&opaque(FT_DATETIME, &dt.to_le_bytes())), "\"2015-01-15 23:24:25.123456\"");
    assert_eq!(text(&opaque(FT_TIMESTAMP, &dt.to_le_bytes())), "\"2015-01-15 23:24:25.123456\"");
    let d = datetime_packed(2015, 1, 15, 0, 0, 0, 0);
    assert_eq!(text(&opaque(FT_DATE, &d.to_le_bytes())), "\"2015-01-15\"");
    assert_eq!(text(&opaque(FT_DATE, &0i64.to_le_bytes())), "\"0000-00-00\"");
    let t = (((838i64 << 12) | (59 << 6) | 59) << 24) + 1;
    assert_eq!(text(&opaque(FT_TIME, &(-t).to_le_bytes())), "\"-838:59:59.000001\"");
    let t = ((1i64 << 12) | (2 << 6) | 3) << 24;
    assert_eq!(text(&opaque(FT_TIME, &t.to_le_bytes())), "\"01:02:03.000000\"");
    assert_eq!(err(&opaque(FT_TIME, &[0; 7])), ErrorKind::Invalid("json datetime"));
    let bad_minute = datetime_packed(2015, 1, 15, 23, 60, 0, 0);
    assert_eq!(err(&opaque(FT_DATETIME, &bad_minute.to_le_bytes())), ErrorKind::Invalid("json datetime"));
    let bad_micros = datetime_packed(2015, 1, 15, 23, 0, 0, 1_000_000);
    assert_eq!(err(&opaque(FT_DATETIME, &bad_micros.to_le_bytes())), ErrorKind::Invalid("json datetime"));
    // VAR_STRING opaque prints as a plain string; other types as base64.
    assert_eq!(text(&opaque(FT_VAR_STRING, b"a\"b")), "\"a\\\"b\"");
    assert_eq!(text(&opaque(252, b"abc")), "\"base64:type252:YWJj\"");
    assert_eq!(text(&opaque(16, b"ab")), "\"base64:type16:YWI=\"");
    assert_eq!(text(&opaque(16, b"")), "\"base64:type16:\"");
    let long = opaque(15, &[0u8; 60]);
    let want = format!("\"base64:type15:{}\\n{}\"", "A".repeat(76), "A".repeat(4));
    assert_eq!(text(&long), want);
    // Nested opaque values inside an array.
    let v = [
        SMALL_ARRAY,
        1,
        0,
        0,
        0, // size patched below
        OPAQUE,
        7,
        0,
    ];
    let mut bin = v.to_vec();
    bin.extend_from_slice(&[252, 1, b'z']);
    let size = bin.len() - 1;
    bin[3] = size as u8;
    assert_eq!(text(&bin), "[\"base64:type252:eg==\"]");
}

#[test]
fn unquoted_top_level_for_mysqlbinlog() {
    let mut out = String::from("x=");
    let kind = write_value(&[STRING, 2, b'\'', b'\n'], &mut out, false).unwrap();
    assert_eq!((out.as_str(), kind), ("x='\n", ValueKind::Text));
    let mut out = String::new();
    let dt = datetime_packed(2020, 2, 29, 1, 2, 3, 0);
    assert_eq!(write_value(&opaque(FT_DATETIME, &dt.to_le_bytes()), &mut out, false), Ok(ValueKind::Text));
    assert_eq!(out, "2020-02-29 01:02:03.000000");
    let mut out = String::new();
    assert_eq!(write_value(&opaque(15, &[0u8; 60]), &mut out, false), Ok(ValueKind::Text));
    assert_eq!(out, format!("base64:type15:{}\n{}", "A".repeat(76), "A".repeat(4)));
    let mut out = String::new();
    assert_eq!(write_value(&encode(&json!(["s"]), 1), &mut out, false), Ok(ValueKind::Container));
    assert_eq!(out, "[\"s\"]", "nested strings stay quoted");
    let mut out = String::new();
    assert_eq!(write_value(&[], &mut out, false), Ok(ValueKind::Bare));
    assert_eq!(write_value(&[INT16, 1, 0], &mut out, false), Ok(ValueKind::Bare));
    assert_eq!(out, "null1");
}

#[test]
fn rejects_malformed() {
    assert_eq!(err(&[0x0d, 0]), ErrorKind::Invalid("json value type"));
    assert_eq!(err(&[LITERAL, 3]), ErrorKind::Invalid("json literal"));
    assert!(json_text(&[INT32, 1, 2]).unwrap_err().is_truncation());
    assert!(json_text(&[STRING, 5, b'a']).unwrap_err().is_truncation());
    assert_eq!(err(&[STRING, 0x80, 0x80, 0x80, 0x80, 0x80, 0]), ErrorKind::Invalid("json length"));
    assert_eq!(err(&[STRING, 0xff, 0xff, 0xff, 0xff, 0x1f]), ErrorKind::Invalid("json length"));
    assert_eq!(err(&[STRING, 2, 0xc3, 0x28]), ErrorKind::Invalid("json string utf-8"));
    // Key with invalid UTF-8.
    let bin = [SMALL_OBJECT, 1, 0, 12, 0, 11, 0, 1, 0, LITERAL, 0, 0, 0xff];
    assert_eq!(err(&bin), ErrorKind::Invalid("json string utf-8"));
    // Size larger than the bytes present.
    assert!(json_text(&[SMALL_ARRAY, 0, 0, 9, 0]).unwrap_err().is_truncation());
    // Element count whose entries do not fit the declared size.
    assert_eq!(err(&[SMALL_ARRAY, 2, 0, 7, 0, LITERAL, 0, 0]), ErrorKind::Invalid("json container header"));
    assert_eq!(err(&[LARGE_ARRAY, 0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0]), ErrorKind::Invalid("json container header"));
    // Value offset pointing into the header, and past the end.
    assert_eq!(err(&[SMALL_ARRAY, 1, 0, 8, 0, STRING, 2, 0, 0]), ErrorKind::Invalid("json value offset"));
    assert!(json_text(&[SMALL_ARRAY, 1, 0, 7, 0, STRING, 9, 0]).unwrap_err().is_truncation());
    // Key offset into the header.
    let bin = [SMALL_OBJECT, 1, 0, 12, 0, 0, 0, 1, 0, LITERAL, 0, 0, b'k'];
    assert_eq!(err(&bin), ErrorKind::Invalid("json key offset"));
    // Output is restored on error.
    let mut out = String::from("keep");
    assert!(write_json_text(&[SMALL_ARRAY, 2, 0, 10, 0, LITERAL, 1, 0, 0x0d, 0, 0], &mut out).is_err());
    assert_eq!(out, "keep");
}

#[test]
fn depth_limit() {
    // [[[...]]] with `n` levels, each a small array holding the next one.
    fn nested(n: usize) -> Vec<u8> {
        let mut inner = vec![0, 0, 4, 0]; // []
        for _ in 1..n {
            let mut outer = vec![1, 0, 0, 0, SMALL_ARRAY, 7, 0];
            outer.extend_from_slice(&inner);
            let size = outer.len() as u16;
            outer[2..4].copy_from_slice(&size.to_le_bytes());
            inner = outer;
        }
        let mut doc = vec![SMALL_ARRAY];
        doc.extend(inner);
        doc
    }
    let ok = text(&nested(MAX_DEPTH));
    assert_eq!(ok, format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)));
    assert_eq!(err(&nested(MAX_DEPTH + 1)), ErrorKind::Invalid("json nesting depth"));
    assert_eq!(err(&nested(5000)), ErrorKind::Invalid("json nesting depth"));
}

#[test]
fn shared_values_are_rejected() {
    // Each level: an array of 8 entries all pointing at the same child array. Without the byte
    // budget this prints 8^depth elements.
    let mut inner = vec![0u8, 0, 4, 0];
    for _ in 0..30 {
        let n = 8usize;
        let header = 4 + 3 * n;
        let mut outer = vec![n as u8, 0, 0, 0];
        for _ in 0..n {
            outer.extend_from_slice(&[SMALL_ARRAY, header as u8, 0]);
        }
        outer.extend_from_slice(&inner);
        let size = outer.len() as u16;
        outer[2..4].copy_from_slice(&size.to_le_bytes());
        inner = outer;
    }
    let mut doc = vec![SMALL_ARRAY];
    doc.extend(inner);
    assert_eq!(err(&doc), ErrorKind::Invalid("json overlapping values"));
    // A single string referenced by many entries.
    let n = 1000usize;
    let header = 4 + 3 * n;
    let mut bin = vec![SMALL_ARRAY];
    bin.extend_from_slice(&(n as u16).to_le_bytes());
    bin.extend_from_slice(&((header + 202) as u16).to_le_bytes());
    for _ in 0..n {
        bin.extend_from_slice(&[STRING, (header & 0xff) as u8, (header >> 8) as u8]);
    }
    bin.push(200);
    bin.push(1);
    bin.extend_from_slice(&[b'x'; 200]);
    assert_eq!(err(&bin), ErrorKind::Invalid("json overlapping values"));
}

// ---------------------------------------------------------------------------------------------
// Properties.

fn finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-70_000i64..70_000).prop_map(|i| json!(i)),
        (-5_000_000_000i64..5_000_000_000).prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        finite_f64().prop_map(|f| Value::Number(Number::from_f64(f).unwrap())),
        any::<String>().prop_map(Value::String),
        "[ -~\\n\\t\\u{0}-\\u{1f}\"\\\\]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 256, 10, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
            proptest::collection::btree_map("[a-c]{0,3}|\\PC{0,4}", inner, 0..10)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn round_trip_through_serde(v in json_value(), seed in any::<u64>()) {
        let bin = encode(&v, seed);
        let out = json_text(&bin).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        prop_assert!(same(&v, &parsed), "{} -> {}", v, out);
    }

    #[test]
    fn random_bytes_never_panic(bin in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut out = String::new();
        if write_json_text(&bin, &mut out).is_ok() {
            prop_assert!(out.len() <= 64 * bin.len() + 64);
        } else {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn mutated_documents_never_panic(v in json_value(), seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut bin = encode(&v, seed);
        for (at, x) in flips {
            let i = at % bin.len();
            bin[i] ^= x;
        }
        if let Ok(out) = json_text(&bin) {
            prop_assert!(out.len() <= 64 * bin.len() + 64);
        }
    }
}
