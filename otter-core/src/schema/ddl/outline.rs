//! What an `ALTER TABLE` (or `CREATE INDEX` / `DROP INDEX`) statement adds and drops, by name:
//! enough for a caller to rebuild, on a scratch copy of a table, the state the statement started
//! from, and to ask the server whether the statement's effect is already there.
//!
//! Invariants: no input panics; the statement is read by the catalog's own parser, never guessed
//! from its text; a statement that does not parse, is not an `ALTER TABLE`, or adds something this
//! outline cannot name is `None`: a foreign key (a temporary copy cannot hold one), a key without
//! a name on columns the statement does not also add (the server chooses the name), a rename of
//! the table, partition conversions. What the outline leaves out (column changes, options, CHECK
//! and foreign key drops) is still in the statement, for the server to apply or refuse; the only
//! text removed from it is the `ALGORITHM`/`LOCK`/`ONLINE` choice of how to alter.

use crate::schema::ddl::ast::{AlterSpec, KeyKind, Statement};
use crate::schema::ddl::lexer::{self, LexOptions, Token, TokenKind};
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::settings::{Flavor, SqlMode};
use crate::schema::ddl::{statement, QueryKind};

/// The columns and keys an `ALTER TABLE` statement adds and drops (from [`alter_outline`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterOutline {
    /// The table's database: the statement's, else the default database.
    pub db: String,
    /// The table.
    pub table: String,
    /// Columns added (`ADD [COLUMN]`), in written order.
    pub added_columns: Vec<String>,
    /// Named keys added, `PRIMARY` for a primary key. Keys without a name are all on added
    /// columns (see the module invariants), so they go with those columns.
    pub added_keys: Vec<String>,
    /// Columns dropped (`DROP [COLUMN]`).
    pub dropped_columns: Vec<String>,
    /// Keys dropped (`DROP INDEX`, `DROP KEY`; `PRIMARY` for `DROP PRIMARY KEY`).
    pub dropped_keys: Vec<String>,
    /// The statement without its `ALGORITHM [=] x` and `LOCK [=] x` clauses and its `ONLINE`
    /// keyword, which choose how the server makes the change, never what it makes (a temporary
    /// table cannot be altered in place). Everything else is kept verbatim.
    pub any_algorithm: String,
}

/// The outline of `sql` if it is an `ALTER TABLE`, `CREATE INDEX` or `DROP INDEX` statement read
/// in `sql_mode` on a server of `flavor`, with `default_db` as the current database; `None` when
/// it is not, does not parse, or adds something the outline cannot name (module invariants).
pub fn alter_outline(
    sql: &str,
    default_db: Option<&str>,
    sql_mode: SqlMode,
    flavor: Flavor,
) -> Option<AlterOutline> {
    let opts = LexOptions {
        ansi_quotes: sql_mode.ansi_quotes(),
        no_backslash_escapes: sql_mode.no_backslash_escapes(),
        mariadb: flavor == Flavor::MariaDb,
        server_version: None,
    };
    let tokens = lexer::tokens(sql, opts).ok()?;
    if super::classify_tokens(&tokens) != QueryKind::Ddl || sql_mode.unsupported(flavor).is_some() {
        return None;
    }
    let mut parser = Parser::new(
        sql,
        tokens.clone(),
        flavor == Flavor::MariaDb,
        sql_mode.real_as_float(),
    );
    let Statement::AlterTable { table, specs } = statement::parse(&mut parser).ok()? else {
        return None;
    };
    let mut outline = AlterOutline {
        db: table.db.or_else(|| default_db.map(str::to_owned))?,
        table: table.name,
        added_columns: Vec::new(),
        added_keys: Vec::new(),
        dropped_columns: Vec::new(),
        dropped_keys: Vec::new(),
        any_algorithm: without_algorithm(sql, &tokens),
    };
    for spec in &specs {
        match spec {
            AlterSpec::AddColumn { def, .. } => outline.added_columns.push(def.name.clone()),
            AlterSpec::DropColumn { name, .. } => outline.dropped_columns.push(name.clone()),
            AlterSpec::DropIndex { name, .. } => outline.dropped_keys.push(name.clone()),
            AlterSpec::RenameTable(_)
            | AlterSpec::PartitionToTable(_)
            | AlterSpec::TableToPartition(_) => return None,
            _ => {}
        }
    }
    for spec in &specs {
        let AlterSpec::AddKey(key) = spec else {
            continue;
        };
        match (key.kind, &key.name) {
            (KeyKind::ForeignKey, _) => return None,
            (KeyKind::Primary, _) => outline.added_keys.push("PRIMARY".into()),
            (_, Some(name)) => outline.added_keys.push(name.clone()),
            (_, None) => {
                let added = |c: &str| {
                    outline
                        .added_columns
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(c))
                };
                if !key.parts.iter().all(|p| added(&p.column)) {
                    return None;
                }
            }
        }
    }
    Some(outline)
}

/// `sql` without the tokens of `ALGORITHM [=] x` / `LOCK [=] x` (with one comma that separates
/// them from a neighbouring specification) and of the `ONLINE` keyword before `TABLE`/`INDEX`.
/// Only unquoted words at parenthesis depth 0 followed by one of the clause's own values count;
/// the bytes between removed tokens (spaces, comments) stay.
fn without_algorithm(sql: &str, tokens: &[Token]) -> String {
    let word = |i: usize, words: &[&str]| {
        tokens.get(i).is_some_and(|t| {
            t.kind == TokenKind::Word && words.iter().any(|w| t.text.eq_ignore_ascii_case(w))
        })
    };
    let punct = |i: usize, p: &str| {
        tokens
            .get(i)
            .is_some_and(|t| t.kind == TokenKind::Punct && t.text == p)
    };
    let mut removed = vec![false; tokens.len()];
    let mut depth = 0usize;
    let mut before_object = true;
    let mut i = 0;
    while i < tokens.len() {
        if punct(i, "(") {
            depth += 1;
        } else if punct(i, ")") {
            depth = depth.saturating_sub(1);
        }
        if word(i, &["TABLE", "INDEX"]) {
            before_object = false;
        }
        if before_object && word(i, &["ONLINE"]) {
            removed[i] = true;
        }
        let values: &[&str] = if word(i, &["ALGORITHM"]) {
            &["DEFAULT", "INPLACE", "COPY", "INSTANT", "NOCOPY"]
        } else if word(i, &["LOCK"]) {
            &["DEFAULT", "NONE", "SHARED", "EXCLUSIVE"]
        } else {
            &[]
        };
        let value = if punct(i + 1, "=") { i + 2 } else { i + 1 };
        if depth == 0 && !values.is_empty() && word(value, values) {
            removed[i..=value].iter_mut().for_each(|r| *r = true);
            // One separating comma: the one before (unless already removed), else the one after.
            if let Some(before) = i.checked_sub(1).filter(|&b| punct(b, ",") && !removed[b]) {
                removed[before] = true;
            } else if punct(value + 1, ",") {
                removed[value + 1] = true;
            }
            i = value + 1;
            continue;
        }
        i += 1;
    }
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for (t, _) in tokens.iter().zip(&removed).filter(|(_, r)| **r) {
        out.push_str(sql.get(copied..t.start).unwrap_or(""));
        copied = t.end;
    }
    out.push_str(sql.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(sql: &str) -> Option<AlterOutline> {
        alter_outline(sql, Some("d"), SqlMode::default(), Flavor::MariaDb)
    }

    #[test]
    fn names_what_is_added_and_dropped() {
        let o = outline("ALTER TABLE t ADD COLUMN x INT NULL, ADD INDEX ix (x), ADD y INT UNIQUE, DROP COLUMN v, DROP KEY `old`, DROP PRIMARY KEY, ADD PRIMARY KEY (id, x)").unwrap();
        assert_eq!((o.db.as_str(), o.table.as_str()), ("d", "t"));
        assert_eq!(o.added_columns, ["x", "y"]);
        assert_eq!(o.added_keys, ["ix", "PRIMARY"]);
        assert_eq!(o.dropped_columns, ["v"]);
        assert_eq!(o.dropped_keys, ["old", "PRIMARY"]);
        let o = outline("CREATE UNIQUE INDEX u ON other.t (a)").unwrap();
        assert_eq!(
            (o.db.as_str(), o.added_keys.as_slice()),
            ("other", ["u".to_owned()].as_slice())
        );
        let o = outline("/* otter:nosync */ DROP INDEX i ON t").unwrap();
        assert_eq!(o.dropped_keys, ["i"]);
        // Changes the outline does not name stay in the statement for the server.
        let o =
            outline("ALTER TABLE t MODIFY a BIGINT, DROP FOREIGN KEY f, ENGINE=InnoDB").unwrap();
        assert!(o.added_columns.is_empty() && o.dropped_keys.is_empty());
    }

    #[test]
    fn what_cannot_be_named_is_none() {
        for sql in [
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id)",
            "ALTER TABLE t ADD INDEX (a)",
            "ALTER TABLE t ADD x INT, ADD KEY (x, a)",
            "ALTER TABLE t ADD x INT, RENAME TO u",
            "CREATE TABLE t (id INT)",
            "INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN",
        ] {
            assert_eq!(outline(sql), None, "{sql}");
        }
        assert_eq!(
            alter_outline(
                "ALTER TABLE t ADD x INT",
                None,
                SqlMode::default(),
                Flavor::MariaDb
            ),
            None
        );
        // Unnamed keys on added columns only go with those columns.
        let o = outline("ALTER TABLE t ADD (x INT, y INT, KEY (x, y))").unwrap();
        assert!(o.added_keys.is_empty());
    }

    #[test]
    fn algorithm_and_lock_clauses_are_left_out() {
        // Spaces between removed tokens stay; compared here with runs of spaces as one.
        let any = |sql: &str| {
            let text = outline(sql).map(|o| o.any_algorithm).unwrap_or_default();
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        assert_eq!(
            any("ALTER TABLE t ADD x INT, ALGORITHM=INPLACE, LOCK = NONE"),
            "ALTER TABLE t ADD x INT"
        );
        assert_eq!(
            any("ALTER ONLINE TABLE t ALGORITHM INSTANT, ADD x INT"),
            "ALTER TABLE t ADD x INT"
        );
        assert_eq!(
            any("CREATE INDEX i ON t (a) ALGORITHM=INPLACE LOCK=NONE"),
            "CREATE INDEX i ON t (a)"
        );
        assert_eq!(
            any("ALTER TABLE t ADD x INT /*!50600 , ALGORITHM=INPLACE */"),
            "ALTER TABLE t ADD x INT /*!50600 */"
        );
        assert_eq!(
            any("ALTER TABLE t ADD x INT, LOCK=SHARED, ADD y INT"),
            "ALTER TABLE t ADD x INT , ADD y INT"
        );
        // A column named `algorithm` is not a clause.
        assert_eq!(
            any("ALTER TABLE t ADD algorithm INT, ADD online INT"),
            "ALTER TABLE t ADD algorithm INT, ADD online INT"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]

        #[test]
        fn random_text_never_panics(ascii in "[ -~\t\n]{0,120}", text in "\\PC{0,60}") {
            for sql in [
                ascii.clone(),
                text.clone(),
                format!("ALTER TABLE t {ascii}"),
                format!("ALTER ONLINE TABLE t ADD x INT, LOCK = NONE, ALGORITHM {text}"),
            ] {
                let _ = outline(&sql);
            }
        }
    }
}
