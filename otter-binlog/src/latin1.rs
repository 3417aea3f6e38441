//! MySQL's `latin1`, which is Windows-1252: decoding its bytes, and telling its collations.
//!
//! Invariant: every byte decodes to exactly one character (the five bytes Windows-1252 leaves
//! undefined map to the C1 controls of the same value, as MySQL's latin1 does), so decoding
//! never fails.

/// Windows-1252's characters for 0x80..=0x9F.
const HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}',
    '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
    '\u{2013}', '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// One latin1 byte as a character.
pub fn char_of(b: u8) -> char {
    match b {
        0x80..=0x9F => HIGH.get(usize::from(b - 0x80)).copied().unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// latin1 bytes as text.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char_of(b)).collect()
}

/// Whether collation `id` belongs to latin1 (MySQL's and MariaDB's, NO PAD ones included).
pub fn is_collation(id: u16) -> bool {
    matches!(id, 5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 | 1032 | 1071)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_one_character() {
        assert_eq!(decode(b"a\xe9\x80\x81\x9f\xff"), "a\u{e9}\u{20ac}\u{81}\u{178}\u{ff}");
        assert_eq!((0..=255u8).map(char_of).collect::<std::collections::HashSet<_>>().len(), 256);
        assert!(is_collation(8) && is_collation(47) && !is_collation(33) && !is_collation(45));
    }
}
