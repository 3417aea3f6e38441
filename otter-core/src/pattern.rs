//! Table patterns on `schema.table`: the one place a table pattern is compiled, for the capture's
//! include/exclude lists ([`crate::table_filter::TableFilter`]), the transforms' `from` / `table`
//! patterns ([`crate::transform`]) and the loader's conflict rules (`tables`).
//!
//! The compile rule, the same for every caller: a pattern must match the *whole* name (it is
//! wrapped in `^(?:...)$`), it matches case-insensitively (as in Canal), and one that does not
//! compile is a configuration error naming the pattern.
//!
//! What differs between callers is only how the text is read, chosen explicitly by the
//! constructor:
//! - [`TablePattern::regex`]: a regular expression in Canal's syntax, taken as written (capture
//!   filters, conflict rules), e.g. `shop\.order_\d+` or `shop\..*`;
//! - [`TablePattern::new`]: trimmed and never empty; a regex or a **wildcard** (transforms). In a
//!   wildcard `*` matches any run of characters other than `.` and everything else is literal,
//!   e.g. `shop.order_*` or `*.users`.
//!
//! Which one a [`TablePattern::new`] pattern is: the `wildcard` flag of the configuration when
//! given; otherwise a pattern is a regex when it contains one of `\ ^ $ | ? + ( ) [ ] { }`, or
//! contains the sequence `.*` and is a valid regex; else it is a wildcard. So `shop.order_*`, `*.t`
//! and `*.*` are wildcards, `shop\..*` and `shop.order_.*` are regexes. (`shop.*` is therefore a
//! regex matching `shop` followed by anything, `shopping.x` included; write `wildcard = true` to
//! mean exactly "every table of `shop`".)
//!
//! Capture groups: `$1`, `$2`... of a [`crate::transform::NameTemplate`] are the regex's groups,
//! or the texts the wildcard's `*`s matched, in order.
//!
//! Invariant: a pattern never matches a name it would not match as a whole.

use regex::{Regex, RegexBuilder};

use crate::error::{Error, Result};

/// A compiled table pattern on `schema.table`: a Canal regex (anchored, case-insensitive, e.g.
/// `shop\.order_\d+`) or a wildcard (`*` matches any run of characters but `.`, the rest is
/// literal, case-insensitive, e.g. `shop.order_*`, `*.users`).
///
/// Built by [`TablePattern::regex`] (always a regex, as written) or [`TablePattern::new`]
/// (trimmed; a regex or a wildcard, detected or forced: see the module docs). Capture groups
/// (`$1`...) are the regex's groups or the `*` matches.
#[derive(Debug, Clone)]
pub struct TablePattern {
    regex: Regex,
    source: String,
    wildcard: bool,
}

const REGEX_META: &[char] = &['\\', '^', '$', '|', '?', '+', '(', ')', '[', ']', '{', '}'];

/// What an error message suggests instead of a pattern that does not compile.
const REGEX_HINT: &str = "patterns are regular expressions on schema.table, e.g. shop\\..*";
const EITHER_HINT: &str = "a regex on schema.table like shop\\..*, or a wildcard like shop.order_*";

impl TablePattern {
    /// Compiles `pattern` as a Canal regular expression on `schema.table`, exactly as written (no
    /// trimming; an empty pattern matches no table).
    pub fn regex(pattern: &str) -> Result<TablePattern> {
        let regex = compile(pattern, pattern, REGEX_HINT)?;
        Ok(TablePattern { regex, source: pattern.to_owned(), wildcard: false })
    }

    /// Compiles `pattern` (trimmed, not empty) as a regex or a wildcard; `wildcard` forces the
    /// interpretation (`None`: detect, see the module docs).
    pub fn new(pattern: &str, wildcard: Option<bool>) -> Result<TablePattern> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(Error::config("empty table pattern (use e.g. shop.order_* or shop\\..*)"));
        }
        let wildcard = wildcard.unwrap_or_else(|| looks_like_wildcard(pattern));
        let body = if wildcard { wildcard_regex(pattern) } else { pattern.to_owned() };
        let regex = compile(pattern, &body, EITHER_HINT)?;
        Ok(TablePattern { regex, source: pattern.to_owned(), wildcard })
    }

    /// The pattern as configured (trimmed by [`TablePattern::new`]).
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
        self.is_match_name(&format!("{db}.{table}"))
    }

    /// True when `name`, already written as `schema.table`, matches (for callers that match one
    /// name against many patterns).
    pub fn is_match_name(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The capture groups when `db.table` matches: index 0 is the whole name, then `$1`, `$2`...
    /// (a group that did not participate is empty).
    pub fn captures(&self, db: &str, table: &str) -> Option<Vec<String>> {
        let name = format!("{db}.{table}");
        let caps = self.regex.captures(&name)?;
        Some(caps.iter().map(|m| m.map_or_else(String::new, |m| m.as_str().to_owned())).collect())
    }
}

/// The compile rule: `body` anchored at both ends, case-insensitive; a failure names `pattern`
/// (as configured) and `hint`.
fn compile(pattern: &str, body: &str, hint: &str) -> Result<Regex> {
    anchored(body).map_err(|e| Error::config(format!("invalid table pattern {pattern:?}: {e} ({hint})")))
}

/// `body` as a whole-text, case-insensitive regex (the compile rule without its message, for a
/// part of a pattern such as the database part [`crate::table_filter`] derives).
pub(crate) fn anchored(body: &str) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{body})$")).case_insensitive(true).build()
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
    fn regexes_are_taken_as_written() {
        let r = TablePattern::regex("shop\\..*").unwrap();
        assert!(!r.is_wildcard());
        assert!(r.is_match("SHOP", "orders"), "case-insensitive");
        assert!(!r.is_match("shop2", "orders"), "anchored");
        assert!(r.is_match_name("shop.x"));
        // `*.users` is no wildcard here: as a regex it does not compile.
        let e = TablePattern::regex("*.users").unwrap_err().to_string();
        assert!(e.contains("invalid table pattern \"*.users\"") && e.contains("regular expressions on schema.table"), "{e}");
        // Not trimmed, and an empty pattern matches no table.
        assert!(!TablePattern::regex(" shop\\..*").unwrap().is_match("shop", "x"));
        assert!(!TablePattern::regex("").unwrap().is_match("", ""));
        let e = TablePattern::new("shop(", None).unwrap_err().to_string();
        assert!(e.contains("invalid table pattern \"shop(\"") && e.contains("or a wildcard"), "{e}");
    }
}
