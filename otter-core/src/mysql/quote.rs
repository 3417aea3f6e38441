//! The one quoting function for SQL text sent to MySQL/MariaDB: identifiers in backticks and
//! string literals that mean the same under every `sql_mode`.
//!
//! Invariants: [`push_text`] writes a literal whose value is exactly the given string whether or
//! not the session has `NO_BACKSLASH_ESCAPES` (a string holding a backslash or a NUL is written
//! as `_utf8mb4 X'…'`, the rest as `'…'` with quotes doubled; `ANSI_QUOTES` does not affect
//! single quotes); [`push_ident`] doubles backticks. Values from configs, URLs or the wire reach
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

#[cfg(test)]
mod tests {
    use super::*;

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
