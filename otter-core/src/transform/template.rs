//! `db.table` name templates, the targets of routes (`to = "$1.orders"`).
//!
//! Syntax: exactly one `.` separates the database from the table; `$N` or `${N}` is capture group
//! `N` of the route's [`TablePattern`](crate::pattern::TablePattern) (a regex group, or the text a wildcard's `*` matched, in
//! order); `$$` is a literal `$`.
//!
//! Invariants: a template refers only to groups its pattern has (checked when built) and always
//! yields a database and a table part.

use crate::error::{Error, Result};

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

    /// Expands the template with the captures of [`TablePattern::captures`](crate::pattern::TablePattern::captures).
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
