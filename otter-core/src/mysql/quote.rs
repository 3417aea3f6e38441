//! The one quoting function for SQL text sent to MySQL/MariaDB: identifiers in backticks and
//! string literals that mean the same under every `sql_mode`.
//!
//! Invariants: [`push_text`] writes a literal whose value is exactly the given string whether or
//! not the session has `NO_BACKSLASH_ESCAPES` (a string holding a backslash or a NUL is written
//! as `_utf8mb4 X'…'`, the rest as `'…'` with quotes doubled; `ANSI_QUOTES` does not affect
//! single quotes); [`push_ident`] doubles backticks; [`push_value`] writes a wire value as the
//! literal the server reads back as that value (bytes as `X'…'`, so no character set or escape
//! setting can change them). Values from configs, URLs or the wire reach
//! SQL only through these functions or through bound parameters.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a string literal (see the module invariants).
pub fn push_text(s: &str, out: &mut String) {
    if s.bytes().any(|b| b == b'\\' || b == 0) {
        out.reserve(s.len() * 2 + 12);
        out.push_str("_utf8mb4 X'");
        for b in s.bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out.push('\'');
        return;
    }
    out.reserve(s.len() + 2);
    out.push('\'');
    let mut parts = s.split('\'');
    if let Some(p) = parts.next() {
        out.push_str(p);
    }
    for p in parts {
        out.push_str("''");
        out.push_str(p);
    }
    out.push('\'');
}

/// `s` as a string literal (see the module invariants).
pub fn text(s: &str) -> String {
    let mut out = String::new();
    push_text(s, &mut out);
    out
}

/// Appends `name` as a backtick-quoted identifier.
pub fn push_ident(name: &str, out: &mut String) {
    out.reserve(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        if c == '`' {
            out.push_str("``");
        } else {
            out.push(c);
        }
    }
    out.push('`');
}

/// `name` as a backtick-quoted identifier.
pub fn ident(name: &str) -> String {
    let mut out = String::new();
    push_ident(name, &mut out);
    out
}

/// Appends `v` as a literal: integers in digits, floats in exponent notation (read as DOUBLE),
/// bytes as a hexadecimal binary string `X'…'`, dates and times as `'YYYY-MM-DD hh:mm:ss.ffffff'`
/// and `'[-]D hh:mm:ss.ffffff'`, `NULL`. Where text must compare in a column's collation, the
/// caller wraps it (see [`crate::mysql::chunk::key`]).
pub fn push_value(v: &mysql_async::Value, out: &mut String) {
    use mysql_async::Value as W;
    use std::fmt::Write;
    match v {
        W::NULL => out.push_str("NULL"),
        W::Int(i) => {
            let _ = write!(out, "{i}");
        }
        W::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        W::Float(f) => {
            let _ = write!(out, "{:e}", f64::from(*f));
        }
        W::Double(f) => {
            let _ = write!(out, "{f:e}");
        }
        W::Bytes(b) => {
            out.reserve(b.len() * 2 + 3);
            out.push_str("X'");
            for b in b {
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            out.push('\'');
        }
        W::Date(y, mo, d, h, mi, s, us) => {
            let _ = write!(out, "'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'");
        }
        W::Time(neg, days, h, mi, s, us) => {
            let _ = write!(out, "'{}{days} {h:02}:{mi:02}:{s:02}.{us:06}'", if *neg { "-" } else { "" });
        }
    }
}

/// `v` as a literal (see [`push_value`]).
pub fn value(v: &mysql_async::Value) -> String {
    let mut out = String::new();
    push_value(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_as_literals() {
        use mysql_async::Value as W;
        assert_eq!(value(&W::Int(-7)), "-7");
        assert_eq!(value(&W::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(value(&W::Bytes(b"a'\\\0".to_vec())), "X'61275c00'");
        assert_eq!(value(&W::Double(1.5)), "1.5e0");
        assert_eq!(value(&W::Date(2026, 1, 2, 3, 4, 5, 6)), "'2026-01-02 03:04:05.000006'");
        assert_eq!(value(&W::Time(true, 2, 3, 4, 5, 0)), "'-2 03:04:05.000000'");
        assert_eq!(value(&W::NULL), "NULL");
    }

    #[test]
    fn literals_and_identifiers() {
        assert_eq!(text("it's"), "'it''s'");
        assert_eq!(text(""), "''");
        assert_eq!(text("a\\"), "_utf8mb4 X'615c'");
        assert_eq!(text("\0"), "_utf8mb4 X'00'");
        assert_eq!(text("ü"), "'ü'");
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
