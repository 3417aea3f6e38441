//! Table filters in Canal's syntax: include/exclude regular expressions matched against
//! `schema.table`, e.g. `shop\..*` (every table of `shop`) or `db2.t_.*`.
//!
//! Invariants: a pattern must match the *whole* name (it is anchored), case-insensitively as in
//! Canal (the one compile rule of [`crate::pattern`], read as a regex:
//! [`TablePattern::regex`]); an empty include list includes everything; exclude wins over
//! include; the system schemas (`mysql`, `sys`, `information_schema`, `performance_schema`) and
//! otter's own `otter` are excluded unless a pattern includes them explicitly by name.

use regex::Regex;

use crate::error::Result;
use crate::pattern::{anchored, TablePattern};

/// Schemas never captured unless named: the server's own, and otter's (checkpoints, marks,
/// conflict log — `otter` by default).
const SYSTEM_SCHEMAS: [&str; 5] = ["mysql", "sys", "information_schema", "performance_schema", "otter"];

/// Which tables a source captures.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    full: TablePattern,
    /// Matches the database part, for database-level DDL (`None`: every database).
    db: Option<Regex>,
}

fn compile(p: &str) -> Result<Pattern> {
    let full = TablePattern::regex(p)?;
    // The database part: up to the first escaped dot, else the first dot.
    let db_part = match p.find("\\.") {
        Some(i) => p.get(..i).unwrap_or(p),
        None => p.split_once('.').map_or("", |(d, _)| d),
    };
    // `.*` (or `.x`) has no database part before its dot: it matches every database; so does a
    // part that is no regex on its own.
    let db = if db_part.is_empty() { None } else { anchored(db_part).ok() };
    Ok(Pattern { full, db })
}

/// Splits Canal-style comma-separated lists and trims the parts.
fn split_patterns(list: &[String]) -> impl Iterator<Item = &str> {
    list.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty())
}

impl TableFilter {
    /// Builds a filter; each entry may itself be a comma-separated list (Canal's `filter.regex`).
    pub fn new(include: &[String], exclude: &[String]) -> Result<TableFilter> {
        Ok(TableFilter {
            include: split_patterns(include).map(compile).collect::<Result<_>>()?,
            exclude: split_patterns(exclude).map(compile).collect::<Result<_>>()?,
        })
    }

    /// A filter that captures every user table.
    pub fn all() -> TableFilter {
        TableFilter::default()
    }

    /// True when changes of `db.table` are captured.
    pub fn allows(&self, db: &str, table: &str) -> bool {
        let name = format!("{db}.{table}");
        if self.exclude.iter().any(|p| p.full.is_match_name(&name)) {
            return false;
        }
        if self.include.is_empty() {
            return !is_system(db);
        }
        self.include.iter().any(|p| p.full.is_match_name(&name) && (!is_system(db) || names_system(p.full.as_str(), db)))
    }

    /// True when database-level DDL of `db` (CREATE/DROP/ALTER DATABASE) is forwarded.
    pub fn allows_database(&self, db: &str) -> bool {
        if self.exclude.iter().any(|p| p.full.is_match(db, "") || p.full.as_str() == format!("{db}\\..*")) {
            return false;
        }
        if self.include.is_empty() {
            return !is_system(db);
        }
        self.include.iter().any(|p| p.db.as_ref().is_none_or(|re| re.is_match(db)) && (!is_system(db) || names_system(p.full.as_str(), db)))
    }
}

fn is_system(db: &str) -> bool {
    SYSTEM_SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(db))
}

/// A pattern names a system schema explicitly when it starts with that schema's name.
fn names_system(pattern: &str, db: &str) -> bool {
    pattern.to_ascii_lowercase().starts_with(&db.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(inc: &[&str], exc: &[&str]) -> TableFilter {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        TableFilter::new(&v(inc), &v(exc)).unwrap()
    }

    #[test]
    fn canal_syntax() {
        let filter = f(&["db1\\..*,db2.t_.*"], &[]);
        assert!(filter.allows("db1", "anything"));
        assert!(filter.allows("DB1", "x"), "case-insensitive like Canal");
        assert!(filter.allows("db2", "t_orders"));
        assert!(!filter.allows("db2", "orders"));
        assert!(!filter.allows("db10", "x"), "patterns are anchored");
        assert!(filter.allows_database("db1"));
        assert!(filter.allows_database("db2"));
        assert!(!filter.allows_database("db3"));
    }

    #[test]
    fn exclude_and_system_schemas() {
        let all = f(&[], &["shop\\.tmp_.*"]);
        assert!(all.allows("shop", "orders"));
        assert!(!all.allows("shop", "tmp_1"));
        assert!(!all.allows("mysql", "user"));
        assert!(f(&["mysql\\..*"], &[]).allows("mysql", "user"));
        assert!(!f(&[".*\\..*"], &[]).allows("mysql", "user"));
        assert!(f(&[".*"], &[]).allows_database("shop"), "a pattern without a database part covers every database");
        assert!(TableFilter::new(&["(".into()], &[]).is_err());
    }
}
