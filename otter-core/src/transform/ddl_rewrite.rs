//! Finding and replacing the table names a DDL statement mentions, for routing.
//!
//! What is rewritten — a name (`t`, `` `t` ``, `db.t`, `` `db`.`t` ``) in one of these places:
//! - after `TABLE` / `TABLES` (skipping `IF [NOT] EXISTS`): `CREATE TABLE`, `ALTER TABLE`,
//!   `DROP TABLE`, `RENAME TABLE`, `TRUNCATE TABLE`, `... EXCHANGE PARTITION p WITH TABLE t`;
//! - the further names of `DROP TABLE a, b` and `RENAME TABLE a TO b, c TO d`;
//! - `TRUNCATE t`; `CREATE TABLE a LIKE b` and `CREATE TABLE a (LIKE b)`;
//! - `REFERENCES t` (foreign keys);
//! - `ON t` of `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX i ON t` and `DROP INDEX i ON t`;
//! - `ALTER TABLE a RENAME [TO|AS] b`;
//! - `DELETE FROM t` (a re-sync's purge, see `source::mysql::snapshot::resync`).
//!
//! What is left alone: names inside strings and comments (executable comments `/*!...*/` are
//! read as SQL, like the server does), column and index names, names in `SELECT` parts
//! (`CREATE TABLE ... AS SELECT ... FROM t`), views, triggers and routines, names quoted with
//! `"..."` (ANSI_QUOTES is not assumed), and three-part names (`db.t.col`). A statement that does
//! not lex (unterminated string or comment) is not rewritten. Statements are read by the schema
//! module's SQL lexer (default `sql_mode`, MariaDB and MySQL executable comments run), so a name
//! is what the DDL parser would take for one: numbers and hex literals never are.
//!
//! Invariants: only the byte ranges of recognised names change; everything else (spacing, case,
//! comments) is copied verbatim. A replaced name is written fully qualified and backquoted
//! (`` `db`.`t` ``), so it does not depend on the statement's default schema.

use crate::schema::ddl::lexer::{tokens, word, LexOptions, Token};

/// A table name found in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRef {
    /// The database part when the name is qualified.
    pub db: Option<String>,
    /// The table part.
    pub table: String,
    /// Byte range of the whole name in the statement.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stmt {
    RenameTable,
    DropTable,
    Index,
    Alter,
    Truncate,
    Delete,
    Other,
}

fn statement_kind(toks: &[Token]) -> Stmt {
    let w = |i| word(toks, i);
    match w(0).as_str() {
        "RENAME" if matches!(w(1).as_str(), "TABLE" | "TABLES") => Stmt::RenameTable,
        "ALTER" => Stmt::Alter,
        "TRUNCATE" => Stmt::Truncate,
        "DELETE" => Stmt::Delete,
        "DROP" => {
            let i = if w(1) == "TEMPORARY" { 2 } else { 1 };
            match w(i).as_str() {
                "TABLE" | "TABLES" => Stmt::DropTable,
                "INDEX" => Stmt::Index,
                _ => Stmt::Other,
            }
        }
        "CREATE" => {
            let mut i = 1;
            if w(i) == "OR" && w(i + 1) == "REPLACE" {
                i += 2;
            }
            if matches!(w(i).as_str(), "ONLINE" | "OFFLINE") {
                i += 1;
            }
            if matches!(w(i).as_str(), "UNIQUE" | "FULLTEXT" | "SPATIAL") {
                i += 1;
            }
            if w(i) == "INDEX" {
                Stmt::Index
            } else {
                Stmt::Other
            }
        }
        _ => Stmt::Other,
    }
}

/// Parses a (possibly qualified) name starting at token `i`: the name and the index of its last
/// token.
fn name_at(toks: &[Token], i: usize) -> Option<(TableRef, usize)> {
    let first = toks.get(i).filter(|t| t.is_ident())?;
    if toks.get(i + 1).is_some_and(|t| t.is_punct(".")) {
        let second = toks.get(i + 2).filter(|t| t.is_ident())?;
        if toks.get(i + 3).is_some_and(|t| t.is_punct(".")) {
            return None; // db.t.col: not a table
        }
        let r = TableRef { db: Some(first.text.clone()), table: second.text.clone(), start: first.start, end: second.end };
        return Some((r, i + 2));
    }
    Some((TableRef { db: None, table: first.text.clone(), start: first.start, end: first.end }, i))
}

/// The table names `sql` mentions in table positions (see the module docs), in text order;
/// `None` when the text does not lex.
pub(crate) fn table_refs(sql: &str) -> Option<Vec<TableRef>> {
    let toks = tokens(sql, LexOptions::DEFAULT).ok()?;
    let stmt = statement_kind(&toks);
    let mut refs = Vec::new();
    let mut depth = 0usize;
    let mut last_ref_end: Option<usize> = None;
    let mut seen_on = false;
    let mut i = 0usize;
    while let Some(t) = toks.get(i) {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
        }
        let name_start = if t.is_kw("TABLE") || t.is_kw("TABLES") {
            let mut j = i + 1;
            if word(&toks, j) == "IF" {
                j += if word(&toks, j + 1) == "NOT" { 3 } else { 2 };
            }
            Some(j)
        } else if t.is_kw("REFERENCES")
            || (depth == 0 && matches!(stmt, Stmt::RenameTable | Stmt::DropTable) && t.is_punct(","))
            || (depth == 0 && stmt == Stmt::RenameTable && t.is_kw("TO"))
        {
            Some(i + 1)
        } else if t.is_kw("LIKE") {
            let prev = i.checked_sub(1);
            let after_ref = prev == last_ref_end && prev.is_some();
            let after_paren = prev.and_then(|p| toks.get(p)).is_some_and(|p| p.is_punct("(")) && i.checked_sub(2) == last_ref_end && last_ref_end.is_some();
            (after_ref || after_paren).then_some(i + 1)
        } else if t.is_kw("ON") && stmt == Stmt::Index && !seen_on {
            seen_on = true;
            Some(i + 1)
        } else if i == 0 && stmt == Stmt::Truncate && word(&toks, 1) != "TABLE" {
            Some(1)
        } else if i == 1 && stmt == Stmt::Delete && t.is_kw("FROM") {
            Some(2)
        } else if stmt == Stmt::Alter && t.is_kw("RENAME") {
            match word(&toks, i + 1).as_str() {
                "TO" | "AS" => Some(i + 2),
                "COLUMN" | "INDEX" | "KEY" | "CONSTRAINT" | "PARTITION" => None,
                _ => Some(i + 1),
            }
        } else {
            None
        };
        match name_start.and_then(|j| name_at(&toks, j)) {
            Some((r, last)) => {
                refs.push(r);
                last_ref_end = Some(last);
                i = last + 1;
            }
            None => i += 1,
        }
    }
    Some(refs)
}


/// Rewrites the table names of `sql` that `route` maps (`(db, table)` → new `(db, table)`);
/// unqualified names resolve in `default_db` (and are left alone when it is empty). `None` when
/// nothing changed.
pub(crate) fn rewrite(sql: &str, default_db: &str, mut route: impl FnMut(&str, &str) -> Option<(String, String)>) -> Option<String> {
    let refs = table_refs(sql)?;
    let mut out = String::with_capacity(sql.len() + 16);
    let mut copied = 0usize;
    let mut changed = false;
    for r in refs {
        let db = r.db.as_deref().unwrap_or(default_db);
        if db.is_empty() {
            continue;
        }
        let Some((new_db, new_table)) = route(db, &r.table) else { continue };
        out.push_str(sql.get(copied..r.start)?);
        out.push_str(&crate::mysql::quote::ident(&new_db));
        out.push('.');
        out.push_str(&crate::mysql::quote::ident(&new_table));
        copied = r.end;
        changed = true;
    }
    if !changed {
        return None;
    }
    out.push_str(sql.get(copied..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        table_refs(sql)
            .unwrap()
            .into_iter()
            .map(|r| match r.db {
                Some(db) => format!("{db}.{}", r.table),
                None => r.table,
            })
            .collect()
    }

    #[test]
    fn finds_table_positions() {
        assert_eq!(names("ALTER TABLE order_00 ADD COLUMN order_01 INT COMMENT 'order_02'"), ["order_00"]);
        assert_eq!(names("CREATE TABLE IF NOT EXISTS `shop`.`o 1` (id INT, FOREIGN KEY (id) REFERENCES users(id))"), ["shop.o 1", "users"]);
        assert_eq!(names("DROP TABLE IF EXISTS a, shop.b /* generated by server */"), ["a", "shop.b"]);
        assert_eq!(names("RENAME TABLE a TO b, c TO d.e"), ["a", "b", "c", "d.e"]);
        assert_eq!(names("ALTER TABLE a RENAME TO b"), ["a", "b"]);
        assert_eq!(names("ALTER TABLE a RENAME COLUMN x TO y, RENAME INDEX i TO j"), ["a"]);
        assert_eq!(names("ALTER TABLE a RENAME b"), ["a", "b"]);
        assert_eq!(names("CREATE TABLE a LIKE b"), ["a", "b"]);
        assert_eq!(names("CREATE TABLE a (LIKE b)"), ["a", "b"]);
        assert_eq!(names("CREATE TABLE a (c VARCHAR(9) CHECK (c LIKE d))"), ["a"]);
        assert_eq!(names("CREATE UNIQUE INDEX i ON t (c)"), ["t"]);
        assert_eq!(names("DROP INDEX i ON db.t"), ["db.t"]);
        assert_eq!(names("TRUNCATE t"), ["t"]);
        assert_eq!(names("TRUNCATE TABLE t"), ["t"]);
        assert_eq!(names("DELETE FROM `s`.`t` WHERE (a) NOT IN ((1)) AND (b IN (SELECT x FROM u))"), ["s.t"]);
        assert_eq!(names("CREATE TABLE a SELECT * FROM b"), ["a"]);
        assert_eq!(names("/*!40000 ALTER TABLE `t` DISABLE KEYS */"), ["t"]);
        assert_eq!(names("CREATE DATABASE shop"), Vec::<String>::new());
    }

    #[test]
    fn rewrites_only_routed_names() {
        let route = |db: &str, t: &str| (db == "shop" && t.starts_with("order_")).then(|| ("dw".to_owned(), "orders".to_owned()));
        assert_eq!(
            rewrite("ALTER TABLE order_03 ADD note VARCHAR(9) DEFAULT 'order_03' -- order_03", "shop", route).as_deref(),
            Some("ALTER TABLE `dw`.`orders` ADD note VARCHAR(9) DEFAULT 'order_03' -- order_03")
        );
        assert_eq!(
            rewrite("RENAME TABLE `shop`.`order_01` TO shop.old, x.order_02 TO shop.order_09", "", route).as_deref(),
            Some("RENAME TABLE `dw`.`orders` TO shop.old, x.order_02 TO `dw`.`orders`")
        );
        assert_eq!(rewrite("ALTER TABLE users ADD x INT", "shop", route), None);
        assert_eq!(rewrite("ALTER TABLE order_01 ADD x INT", "", route), None, "unqualified without a default schema");
        assert_eq!(rewrite("ALTER TABLE order_01 COMMENT 'open", "shop", route), None);
    }
}
