//! Character sets and collations: normalised names, each character set's built-in default
//! collation and its maximum bytes per character.
//!
//! Invariants:
//! - every name returned is lower case, and `utf8` is always spelled `utf8mb3` (as MariaDB 10.6+
//!   and MySQL 8.0.30+ report it), so names from DDL text and from `information_schema` compare
//!   equal;
//! - a collation's character set is the longest known character set name that prefixes it followed
//!   by `_` (`binary` is its own character set). This holds for every collation MariaDB 10.11 and
//!   MySQL 8 ship.

/// `(charset, default collation, max bytes per character)` for MariaDB 10.11, plus `gb18030`
/// (MySQL 8 only). MySQL 8's different default for `utf8mb4` is applied by [`super::Flavor`].
const CHARSETS: &[(&str, &str, u32)] = &[
    ("armscii8", "armscii8_general_ci", 1),
    ("ascii", "ascii_general_ci", 1),
    ("big5", "big5_chinese_ci", 2),
    ("binary", "binary", 1),
    ("cp1250", "cp1250_general_ci", 1),
    ("cp1251", "cp1251_general_ci", 1),
    ("cp1256", "cp1256_general_ci", 1),
    ("cp1257", "cp1257_general_ci", 1),
    ("cp850", "cp850_general_ci", 1),
    ("cp852", "cp852_general_ci", 1),
    ("cp866", "cp866_general_ci", 1),
    ("cp932", "cp932_japanese_ci", 2),
    ("dec8", "dec8_swedish_ci", 1),
    ("eucjpms", "eucjpms_japanese_ci", 3),
    ("euckr", "euckr_korean_ci", 2),
    ("gb18030", "gb18030_chinese_ci", 4),
    ("gb2312", "gb2312_chinese_ci", 2),
    ("gbk", "gbk_chinese_ci", 2),
    ("geostd8", "geostd8_general_ci", 1),
    ("greek", "greek_general_ci", 1),
    ("hebrew", "hebrew_general_ci", 1),
    ("hp8", "hp8_english_ci", 1),
    ("keybcs2", "keybcs2_general_ci", 1),
    ("koi8r", "koi8r_general_ci", 1),
    ("koi8u", "koi8u_general_ci", 1),
    ("latin1", "latin1_swedish_ci", 1),
    ("latin2", "latin2_general_ci", 1),
    ("latin5", "latin5_turkish_ci", 1),
    ("latin7", "latin7_general_ci", 1),
    ("macce", "macce_general_ci", 1),
    ("macroman", "macroman_general_ci", 1),
    ("sjis", "sjis_japanese_ci", 2),
    ("swe7", "swe7_swedish_ci", 1),
    ("tis620", "tis620_thai_ci", 1),
    ("ucs2", "ucs2_general_ci", 2),
    ("ujis", "ujis_japanese_ci", 3),
    ("utf16", "utf16_general_ci", 4),
    ("utf16le", "utf16le_general_ci", 4),
    ("utf32", "utf32_general_ci", 4),
    ("utf8mb3", "utf8mb3_general_ci", 3),
    ("utf8mb4", "utf8mb4_general_ci", 4),
];

fn lookup(charset: &str) -> Option<&'static (&'static str, &'static str, u32)> {
    CHARSETS.iter().find(|(name, _, _)| *name == charset)
}

/// Lower-cases a character set name and spells `utf8` as `utf8mb3`.
pub fn normalize_charset(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "utf8" {
        "utf8mb3".to_owned()
    } else {
        lower
    }
}

/// Lower-cases a collation name and spells the `utf8_` prefix as `utf8mb3_`.
pub fn normalize_collation(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_prefix("utf8_") {
        Some(rest) => format!("utf8mb3_{rest}"),
        None => lower,
    }
}

/// The character set a (normalised) collation belongs to, if it names a known character set.
pub fn charset_of_collation(collation: &str) -> Option<&'static str> {
    if collation == "binary" {
        return Some("binary");
    }
    CHARSETS
        .iter()
        .filter(|(cs, _, _)| {
            collation.len() > cs.len()
                && collation.starts_with(cs)
                && collation.as_bytes().get(cs.len()) == Some(&b'_')
        })
        .max_by_key(|(cs, _, _)| cs.len())
        .map(|(cs, _, _)| *cs)
}

/// The compiled-in default collation of a (normalised) character set (MariaDB 10.11 values).
pub fn builtin_default_collation(charset: &str) -> Option<&'static str> {
    lookup(charset).map(|(_, collation, _)| *collation)
}

/// The maximum number of bytes one character of a (normalised) character set takes.
pub fn mbmaxlen(charset: &str) -> Option<u32> {
    lookup(charset).map(|(_, _, len)| *len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_maps_to_its_longest_charset_prefix() {
        assert_eq!(charset_of_collation("utf16le_general_ci"), Some("utf16le"));
        assert_eq!(charset_of_collation("utf16_bin"), Some("utf16"));
        assert_eq!(charset_of_collation("utf8mb4_0900_ai_ci"), Some("utf8mb4"));
        assert_eq!(charset_of_collation("binary"), Some("binary"));
        assert_eq!(charset_of_collation("uca1400_ai_ci"), None);
        assert_eq!(charset_of_collation("latin1"), None);
    }

    #[test]
    fn utf8_is_spelled_utf8mb3() {
        assert_eq!(normalize_charset("UTF8"), "utf8mb3");
        assert_eq!(normalize_charset("utf8mb4"), "utf8mb4");
        assert_eq!(normalize_collation("utf8_General_CI"), "utf8mb3_general_ci");
        assert_eq!(normalize_collation("utf8mb4_bin"), "utf8mb4_bin");
    }

    #[test]
    fn sizes_and_defaults() {
        assert_eq!(mbmaxlen("utf8mb4"), Some(4));
        assert_eq!(mbmaxlen("latin1"), Some(1));
        assert_eq!(mbmaxlen("nope"), None);
        assert_eq!(
            builtin_default_collation("latin1"),
            Some("latin1_swedish_ci")
        );
    }
}
