//! Table patterns on `schema.table` and `db.table` name templates, shared by the built-in
//! transforms.
//!
//! A pattern is either a regular expression in Canal's syntax or a wildcard:
//! - **regex** (Canal): matched against `schema.table`, anchored at both ends and
//!   case-insensitive, e.g. `shop\.order_\d+` or `shop\..*`;
//! - **wildcard**: `*` matches any run of characters other than `.`, everything else is literal
//!   (case-insensitive too), e.g. `shop.order_*` or `*.users`.
//!
//! Which one a pattern is: the `wildcard` flag of the configuration when given; otherwise a
//! pattern is a regex when it contains one of `\ ^ $ | ? + ( ) [ ] { }`, or contains the
//! sequence `.*` and is a valid regex; else it is a wildcard. So `shop.order_*`, `*.t` and `*.*`
//! are wildcards, `shop\..*` and `shop.order_.*` are regexes. (`shop.*` is therefore a regex
//! matching `shop` followed by anything, `shopping.x` included; write `wildcard = true` to mean
//! exactly "every table of `shop`".)
//!
//! Capture groups: `$1`, `$2`... of a [`NameTemplate`] are the regex's groups, or the texts the
//! wildcard's `*`s matched, in order.
//!
//! Invariants: a pattern never matches a name it would not match as a whole; a template refers
//! only to groups its pattern has (checked when built) and always yields a database and a table
//! part.

use regex::{Regex, RegexBuilder};

use crate::error::{Error, Result};

/// A compiled table pattern on `schema.table`: a Canal regex (anchored, case-insensitive, e.g.
/// `shop\.order_\d+`) or a wildcard (`*` matches any run of characters but `.`, the rest is
/// literal, case-insensitive, e.g. `shop.order_*`, `*.users`).
///
/// Unless forced (`wildcard = true|false` in the configuration), a pattern is a regex when it
/// contains one of `\ ^ $ | ? + ( ) [ ] { }`, or contains `.*` and is a valid regex; otherwise a
/// wildcard. So `shop.order_*`, `*.t` and `*.*` are wildcards; `shop\..*`, `shop.order_.*` and
/// `shop.*` are regexes (the last also matches `shopping.x`: force `wildcard = true` for
/// "every table of `shop`"). Capture groups (`$1`...) are the regex's groups or the `*` matches.
#[derive(Debug, Clone)]
pub struct TablePattern {
    regex: Regex,
    source: String,
    wildcard: bool,
}

const REGEX_META: &[char] = &['\\', '^', '$', '|', '?', '+', '(', ')', '[', ']', '{', '}'];

impl TablePattern {
    /// Compiles `pattern`; `wildcard` forces the interpretation (`None`: detect, see the module
    /// docs).
    pub fn new(pattern: &str, wildcard: Option<bool>) -> Result<TablePattern> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(Error::config("empty table pattern (use e.g. shop.order_* or shop\\..*)"));
        }
        let wildcard = wildcard.unwrap_or_else(|| looks_like_wildcard(pattern));
        let body = if wildcard { wildcard_regex(pattern) } else { pattern.to_owned() };
        let regex = RegexBuilder::new(&format!("^(?:{body})$")).case_insensitive(true).build().map_err(|e| {
            Error::config(format!("invalid table pattern {pattern:?}: {e} (a regex on schema.table like shop\\..*, or a wildcard like shop.order_*)"))
        })?;
        Ok(TablePattern { regex, source: pattern.to_owned(), wildcard })
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the pattern was read as a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Number of capture groups (`*`s of a wildcard).
    pub fn groups(&self) -> usize {
        self.regex.captures_len().saturating_sub(1)
    }

    /// True when `db.table` matches.
    pub fn is_match(&self, db: &str, table: &str) -> bool {
        self.regex.is_match(&format!("{db}.{table}"))
    }

    /// The capture groups when `db.table` matches: index 0 is the whole name, then `$1`, `$2`...
    /// (a group that did not participate is empty).
    pub fn captures(&self, db: &str, table: &str) -> Option<Vec<String>> {
        let name = format!("{db}.{table}");
        let caps = self.regex.captures(&name)?;
        Some(caps.iter().map(|m| m.map_or_else(String::new, |m| m.as_str().to_owned())).collect())
    }
}

/// The detection rule of the module docs.
fn looks_like_wildcard(pattern: &str) -> bool {
    if pattern.contains(REGEX_META) {
        return false;
    }
    !(pattern.contains(".*") && Regex::new(pattern).is_ok())
}

/// `shop.order_*` → `shop\.order_([^.]*)`.
fn wildcard_regex(pattern: &str) -> String {
    pattern.split('*').map(regex::escape).collect::<Vec<_>>().join("([^.]*)")
}

/// One piece of a template part.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
}

/// A `db.table` target such as `shop.orders`, `$1.orders` or `archive.${2}_old`.
///
/// Syntax: exactly one `.` separates the database from the table; `$N` or `${N}` is capture
/// group `N` of the pattern; `$$` is a literal `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTemplate {
    db: Vec<Piece>,
    table: Vec<Piece>,
    source: String,
}

impl NameTemplate {
    /// Parses `template`, checking that it refers only to groups `1..=groups`.
    pub fn parse(template: &str, groups: usize) -> Result<NameTemplate> {
        let bad = |why: &str| Error::config(format!("invalid target {template:?}: {why} (expected db.table, e.g. shop.orders or $1.orders)"));
        let pieces = parse_pieces(template).map_err(|why| bad(&why))?;
        let mut db = Vec::new();
        let mut table = Vec::new();
        let mut seen_dot = false;
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    let mut parts = t.split('.');
                    let first = parts.next().unwrap_or("");
                    push_text(if seen_dot { &mut table } else { &mut db }, first);
                    for rest in parts {
                        if seen_dot {
                            return Err(bad("more than one '.'"));
                        }
                        seen_dot = true;
                        push_text(&mut table, rest);
                    }
                }
                Piece::Group(n) => {
                    if n == 0 || n > groups {
                        return Err(bad(&format!("${n} refers to a group the pattern does not have (it has {groups})")));
                    }
                    if seen_dot { &mut table } else { &mut db }.push(Piece::Group(n));
                }
            }
        }
        if !seen_dot {
            return Err(bad("no '.' between database and table"));
        }
        if db.is_empty() || table.is_empty() {
            return Err(bad("empty database or table part"));
        }
        Ok(NameTemplate { db, table, source: template.to_owned() })
    }

    /// The template as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Expands the template with the captures of [`TablePattern::captures`].
    pub fn expand(&self, captures: &[String]) -> (String, String) {
        (expand(&self.db, captures), expand(&self.table, captures))
    }
}

fn push_text(part: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        part.push(Piece::Text(text.to_owned()));
    }
}

fn expand(pieces: &[Piece], captures: &[String]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Group(n) => s.push_str(captures.get(*n).map_or("", String::as_str)),
        }
    }
    s
}

/// Splits a template into literal text and `$N` / `${N}` references.
fn parse_pieces(template: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if chars.peek() == Some(&'$') {
            chars.next();
            text.push('$');
            continue;
        }
        if braced {
            chars.next();
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        if braced && chars.next() != Some('}') {
            return Err("unterminated ${".into());
        }
        let n: usize = digits.parse().map_err(|_| "'$' must be followed by a group number ($1, ${2}) or another '$'".to_owned())?;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Group(n));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_and_matching() {
        let w = TablePattern::new("shop.order_*", None).unwrap();
        assert!(w.is_wildcard());
        assert!(w.is_match("shop", "order_07"));
        assert!(w.is_match("SHOP", "Order_07"), "case-insensitive");
        assert!(!w.is_match("shopx", "order_07"));
        assert!(!w.is_match("shop", "order_07.x"), "* does not cross a dot");
        assert_eq!(w.captures("shop", "order_07").unwrap(), ["shop.order_07", "07"]);

        let any_db = TablePattern::new("*.users", None).unwrap();
        assert!(any_db.is_wildcard());
        assert!(any_db.is_match("a", "users"));
        assert!(!any_db.is_match("a", "users2"));

        let r = TablePattern::new("shop\\.order_(\\d+)", None).unwrap();
        assert!(!r.is_wildcard());
        assert!(r.is_match("shop", "order_12"));
        assert!(!r.is_match("shop", "order_x"));
        assert_eq!(r.captures("shop", "order_12").unwrap()[1], "12");

        let all = TablePattern::new("*.*", None).unwrap();
        assert!(all.is_wildcard() && all.is_match("a", "b") && all.groups() == 2);
        let dotstar = TablePattern::new("shop.order_.*", None).unwrap();
        assert!(!dotstar.is_wildcard());
        assert!(dotstar.is_match("shop", "order_99"));

        let forced = TablePattern::new("shop.*", Some(true)).unwrap();
        assert!(forced.is_match("shop", "x"));
        assert!(!forced.is_match("shopping", "x"));

        assert!(TablePattern::new("(", None).is_err());
        assert!(TablePattern::new(" ", None).is_err());
    }

    #[test]
    fn templates() {
        let t = NameTemplate::parse("$1.orders", 2).unwrap();
        assert_eq!(t.expand(&["x".into(), "shop".into(), "7".into()]), ("shop".into(), "orders".into()));
        let t = NameTemplate::parse("archive.${2}_old$$", 2).unwrap();
        assert_eq!(t.expand(&["".into(), "a".into(), "t".into()]), ("archive".into(), "t_old$".into()));
        for bad in ["orders", "a.b.c", ".t", "d.", "$3.t", "$0.t", "${1.t", "$x.t"] {
            assert!(NameTemplate::parse(bad, 2).is_err(), "{bad}");
        }
    }
}
