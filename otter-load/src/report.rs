//! How the loader names what failed: an op's table and key, a shortened statement.
//!
//! Invariant: the text never holds more than a bounded part of a row's values (keys cut at 64
//! bytes, statements at the caller's limit).

use otter_binlog::Value;

use crate::merge::Op;
use crate::worker::TableOps;

/// The table and key an op writes, for error messages.
pub(crate) fn describe(t: &TableOps, op: &Op) -> String {
    let image = op.key_image();
    let key: Vec<String> = t
        .info
        .key
        .iter()
        .filter_map(|&i| Some(format!("{}={}", t.schema.columns.get(i)?.name, key_text(image.get(i)?))))
        .collect();
    format!("{}.{} key ({})", t.schema.db, t.schema.name, key.join(", "))
}

/// A key value as a person reads it in an error: numbers as numbers, text quoted, other bytes in
/// hex (both cut at 64 bytes).
fn key_text(v: &Value<'_>) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(char::is_control) => {
                let mut end = s.len().min(64);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                let more = if end < s.len() { "..." } else { "" };
                format!("'{}'{more}", s.get(..end).unwrap_or("").replace('\'', "''"))
            }
            _ => {
                let cut = b.get(..64).unwrap_or(b);
                let more = if cut.len() < b.len() { "..." } else { "" };
                format!("0x{}{more}", cut.iter().map(|x| format!("{x:02x}")).collect::<String>())
            }
        },
        other => format!("{other:?}"),
    }
}

/// `s` cut at about `n` bytes (on a character boundary), with its full length.
pub(crate) fn shorten(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", s.get(..end).unwrap_or(""), s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn keys_read_like_sql() {
        assert_eq!(key_text(&Value::Int(-7)), "-7");
        assert_eq!(key_text(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(key_text(&Value::Null), "NULL");
        assert_eq!(key_text(&Value::Bytes(Cow::Borrowed(b"o'k"))), "'o''k'");
        assert_eq!(key_text(&Value::Bytes(Cow::Borrowed(&[0, 0xff]))), "0x00ff");
        let long = vec![b'x'; 100];
        assert_eq!(key_text(&Value::Bytes(Cow::Owned(long))), format!("'{}'...", "x".repeat(64)));
        // Cut on a character boundary, not into hex.
        let otters = "🦦".repeat(20);
        assert_eq!(key_text(&Value::Bytes(Cow::Owned(otters.into_bytes()))), format!("'{}'...", "🦦".repeat(16)));
    }

    #[test]
    fn statements_are_cut_on_a_character_boundary() {
        assert_eq!(shorten("abc", 10), "abc");
        assert_eq!(shorten("ééé", 3), "é… (6 bytes)");
    }
}
