//! An `ALTER TABLE` (or `CREATE INDEX` / `DROP INDEX`) refused because something it adds is
//! already there or something it drops is already gone — typically two sites that ran the same
//! DDL, one copy arriving after the other: does the table already look exactly as the statement
//! makes it?
//!
//! Method (the target server decides): otter-core's DDL parser names the columns and keys the
//! statement adds and drops ([`alter_outline`]). A `TEMPORARY` copy of the table
//! (`CREATE TEMPORARY TABLE ... LIKE`) is checked to have the table's definition, then turned
//! into the table as it was before the statement: the columns and keys the statement adds are
//! dropped from it (when the table has them), and each column or key the statement drops that is
//! not there gets a placeholder (a trailing nullable `INT` column, a plain index on one existing
//! column) which the statement drops again — adding and dropping those leaves no trace in the
//! definition, so a drop of something absent counts as done exactly when everything else the
//! statement does is there. The statement then runs on the copy (renamed, in the DDL's session,
//! without `ALGORITHM`/`LOCK` clauses, which choose how, never what), and the copy's
//! `SHOW CREATE TABLE` is compared with the table's.
//!
//! Invariants: equal is [`Effect::Present`]; different is [`Effect::Conflicts`] with both
//! definitions; a statement the parser cannot outline, a copy that does not start with the
//! table's definition, and any step the server refuses are [`Effect::Unknown`]. Foreign keys,
//! which a temporary table cannot hold, are left out of both sides of every comparison (the copy
//! loses them; a statement that adds or drops one is refused on the copy, hence unknown). Column
//! order counts: a column the table has in another position than the statement would put it is
//! a conflict; keys compare as a set (their order in the definition only tells when each was
//! created). The copy is always dropped.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::DdlEvent;
use otter_core::mysql::quote::ident;
use otter_core::schema::{alter_outline, AlterOutline, Flavor};
use otter_core::transform::rewrite_ddl_tables;
use otter_core::two_way::strip_ddl_mark;

use super::{normalized, scratch_is_private, scratch_name, show_create, Effect};

/// Decides for an ALTER-like `ddl` refused because of what it adds or drops (see the module doc).
pub(super) async fn compare(conn: &mut Conn, ddl: &DdlEvent) -> Effect {
    let flavor = match conn.query_first::<String, _>("SELECT VERSION()").await {
        Ok(Some(v)) if v.to_ascii_lowercase().contains("mariadb") => Flavor::MariaDb,
        Ok(Some(_)) => Flavor::MySql,
        _ => return Effect::Unknown,
    };
    let statement = strip_ddl_mark(&ddl.statement).trim_start();
    let default_db = Some(ddl.schema.as_str()).filter(|s| !s.is_empty());
    let Some(outline) = alter_outline(statement, default_db, ddl.sql_mode, flavor) else {
        return Effect::Unknown;
    };
    if !scratch_is_private(conn).await {
        return Effect::Unknown;
    }
    let (db, table) = (outline.db.as_str(), outline.table.as_str());
    let (Some(existing), Some(shape)) = (show_create(conn, db, table).await, Shape::read(conn, db, table).await) else {
        return Effect::Unknown;
    };
    let Some(steps) = before_statement(&outline, &shape) else { return Effect::Unknown };
    let scratch = scratch_name();
    let on_copy = rewrite_ddl_tables(&outline.any_algorithm, &ddl.schema, |d, t| (d == db && t == table).then(|| (db.to_owned(), scratch.clone())));
    let Some(on_copy) = on_copy else { return Effect::Unknown };
    let made = run_on_copy(conn, db, table, &scratch, &existing, &steps, &on_copy).await;
    let _ = conn.query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {}.{}", ident(db), ident(&scratch))).await;
    let Some(made) = made else { return Effect::Unknown };
    let foreign_keys = if existing.lines().any(is_foreign_key) { " (foreign keys, which a temporary table cannot hold, are not compared)" } else { "" };
    if comparable(&made) == comparable(&existing) {
        return Effect::Present(format!("the target already has {db}.{table} as this statement makes it ({}){foreign_keys}", summary(&outline)));
    }
    Effect::Conflicts(format!(
        "the target has {db}.{table} with another definition than this statement makes it{foreign_keys}.\n--- on the target ---\n{existing}\n--- as the statement makes it (from the target's table without what it adds) ---\n{}",
        made.replacen(&ident(&scratch), &ident(table), 1).replacen("CREATE TEMPORARY TABLE", "CREATE TABLE", 1)
    ))
}

/// The table's columns (name, data type) and keys (name, columns; `None` for an expression).
#[derive(Debug, Default)]
struct Shape {
    columns: Vec<(String, String)>,
    keys: Vec<(String, Vec<Option<String>>)>,
}

impl Shape {
    async fn read(conn: &mut Conn, db: &str, table: &str) -> Option<Shape> {
        let columns: Vec<(String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (db, table),
            )
            .await
            .ok()?;
        let parts: Vec<(String, Option<String>)> = conn
            .exec(
                "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                (db, table),
            )
            .await
            .ok()?;
        let mut keys: Vec<(String, Vec<Option<String>>)> = Vec::new();
        for (name, column) in parts {
            match keys.last_mut() {
                Some((last, cols)) if *last == name => cols.push(column),
                _ => keys.push((name, vec![column])),
            }
        }
        (!columns.is_empty()).then_some(Shape { columns, keys })
    }

    fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(name))
    }

    fn has_key(&self, name: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// The ALTER specifications (at most two lists, run in order) that turn a copy of `shape` into the
/// table before the statement; `None` when a drop cannot get a neutral placeholder (an absent
/// primary key, no column to index).
fn before_statement(outline: &AlterOutline, shape: &Shape) -> Option<Vec<Vec<String>>> {
    let mut removal = Vec::new();
    let mut left = Shape::default();
    let removed_key = |k: &str| outline.added_keys.iter().any(|a| a.eq_ignore_ascii_case(k));
    let removed_column = |c: &str| outline.added_columns.iter().any(|a| a.eq_ignore_ascii_case(c));
    for (key, columns) in &shape.keys {
        if removed_key(key) {
            removal.push(if key.eq_ignore_ascii_case("PRIMARY") { "DROP PRIMARY KEY".to_owned() } else { format!("DROP INDEX {}", ident(key)) });
        } else if columns.iter().any(|c| c.as_deref().is_none_or(|c| !removed_column(c))) {
            // A key loses the dropped columns and disappears with the last of them.
            left.keys.push((key.clone(), Vec::new()));
        }
    }
    for (column, ty) in &shape.columns {
        if removed_column(column) {
            removal.push(format!("DROP COLUMN {}", ident(column)));
        } else {
            left.columns.push((column.clone(), ty.clone()));
        }
    }
    let mut placeholders: Vec<String> = Vec::new();
    let mut dropped_columns = outline.dropped_columns.clone();
    dropped_columns.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    for column in dropped_columns.iter().filter(|c| !left.has_column(c)) {
        placeholders.push(format!("ADD COLUMN {} INT NULL", ident(column)));
    }
    let mut dropped_keys = outline.dropped_keys.clone();
    dropped_keys.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    for key in dropped_keys.iter().filter(|k| !left.has_key(k)) {
        if key.eq_ignore_ascii_case("PRIMARY") {
            return None;
        }
        let plain = |ty: &str| !["blob", "text", "json", "geometry", "point", "linestring", "polygon", "vector"].iter().any(|x| ty.to_ascii_lowercase().contains(x));
        let (column, _) = left.columns.iter().find(|(c, ty)| plain(ty) && !dropped_columns.iter().any(|d| d.eq_ignore_ascii_case(c)))?;
        placeholders.push(format!("ADD INDEX {} ({})", ident(key), ident(column)));
    }
    Some([removal, placeholders].into_iter().filter(|s| !s.is_empty()).collect())
}

/// Makes the copy, checks it starts as the table, runs `steps` then the statement on it; its
/// definition after that, or `None` when the server refused a step.
async fn run_on_copy(conn: &mut Conn, db: &str, table: &str, scratch: &str, existing: &str, steps: &[Vec<String>], statement: &str) -> Option<String> {
    let copy = format!("{}.{}", ident(db), ident(scratch));
    run(conn, &format!("CREATE TEMPORARY TABLE {copy} LIKE {}.{}", ident(db), ident(table))).await?;
    if comparable(&show_create(conn, db, scratch).await?) != comparable(existing) {
        tracing::debug!(table = %format!("{db}.{table}"), "A temporary copy does not have the table's definition; whether the DDL is in effect stays unknown.");
        return None;
    }
    for specs in steps {
        run(conn, &format!("ALTER TABLE {copy} {}", specs.join(", "))).await?;
    }
    run(conn, statement).await?;
    show_create(conn, db, scratch).await
}

/// Runs one statement on the copy; `None` (logged) when the server refuses it.
async fn run(conn: &mut Conn, sql: &str) -> Option<()> {
    match conn.query_drop(sql).await {
        Ok(()) => Some(()),
        Err(e) => {
            tracing::debug!(statement = %sql, error = %e, "Refused on the temporary copy; whether the DDL is in effect stays unknown.");
            None
        }
    }
}

/// A `SHOW CREATE TABLE` line declaring a foreign key.
fn is_foreign_key(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("CONSTRAINT ") && line.contains(" FOREIGN KEY ")
}

/// The definition as [`normalized`] compares it, with its keys and constraints as a set (in the
/// order of their text: their order in the definition only tells when each was created), without
/// foreign keys and without the commas between elements (which removing one would disturb).
fn comparable(create: &str) -> String {
    let (mut columns, mut keys, mut tail) = (Vec::new(), Vec::new(), Vec::new());
    for line in create.lines().skip(1).map(|l| l.trim().trim_end_matches(',')) {
        if !tail.is_empty() || line.starts_with(')') {
            tail.push(line);
        } else if is_key(line) {
            if !is_foreign_key(line) {
                keys.push(line);
            }
        } else {
            columns.push(line);
        }
    }
    keys.sort_unstable();
    normalized(&format!("-\n{}", [columns, keys, tail].concat().join("\n")))
}

/// A `SHOW CREATE TABLE` element line declaring a key or a constraint (not a column).
fn is_key(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    ["PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "VECTOR", "CONSTRAINT", "CHECK", "PERIOD"].contains(&first)
}

/// What the statement adds and drops, for the log.
fn summary(outline: &AlterOutline) -> String {
    let list = |what: &str, names: &[String]| (!names.is_empty()).then(|| format!("{what} {}", names.join(", ")));
    let parts: Vec<String> = [
        list("adds column", &outline.added_columns),
        list("adds key", &outline.added_keys),
        list("drops column", &outline.dropped_columns),
        list("drops key", &outline.dropped_keys),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "no column or key added or dropped".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otter_core::schema::SqlMode;

    fn outline(sql: &str) -> AlterOutline {
        alter_outline(sql, Some("d"), SqlMode::default(), Flavor::MariaDb).unwrap()
    }

    fn shape(columns: &[&str], keys: &[(&str, &[&str])]) -> Shape {
        Shape {
            columns: columns.iter().map(|c| ((*c).to_owned(), if *c == "doc" { "text" } else { "int" }.to_owned())).collect(),
            keys: keys.iter().map(|(k, cs)| ((*k).to_owned(), cs.iter().map(|c| Some((*c).to_owned())).collect())).collect(),
        }
    }

    #[test]
    fn additions_are_removed_and_absent_drops_get_placeholders() {
        let table = shape(&["doc", "id", "v", "x"], &[("PRIMARY", &["id"]), ("ix", &["x"]), ("both", &["v", "x"])]);
        let steps = before_statement(&outline("ALTER TABLE t ADD COLUMN x INT NULL, ADD INDEX ix (x), DROP COLUMN gone, DROP INDEX old"), &table).unwrap();
        assert_eq!(
            steps,
            [vec!["DROP INDEX `ix`".to_owned(), "DROP COLUMN `x`".to_owned()], vec!["ADD COLUMN `gone` INT NULL".to_owned(), "ADD INDEX `old` (`id`)".to_owned()]]
        );
        // Present things the statement drops need nothing; an absent primary key cannot be faked.
        assert_eq!(before_statement(&outline("ALTER TABLE t DROP COLUMN v, DROP INDEX `BOTH`"), &table).unwrap(), Vec::<Vec<String>>::new());
        assert_eq!(before_statement(&outline("ALTER TABLE t DROP PRIMARY KEY"), &shape(&["id"], &[])), None);
        assert_eq!(before_statement(&outline("ALTER TABLE t ADD PRIMARY KEY (id)"), &table).unwrap(), [vec!["DROP PRIMARY KEY".to_owned()]]);
        // A key whose only column goes is gone too, so a drop of its name needs a placeholder.
        let steps = before_statement(&outline("ALTER TABLE t ADD COLUMN x INT, DROP INDEX ix"), &shape(&["id", "x"], &[("ix", &["x"])])).unwrap();
        assert_eq!(steps[1], ["ADD INDEX `ix` (`id`)"]);
    }

    #[test]
    fn foreign_keys_and_separators_are_not_compared() {
        let with_fk = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` int(11) DEFAULT NULL,\n  KEY `fk` (`a`),\n  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`id`)\n) ENGINE=InnoDB";
        let copy = "CREATE TEMPORARY TABLE `_otter_cmp_1` (\n  `id` int(11) NOT NULL,\n  `a` int(11) DEFAULT NULL,\n  KEY `fk` (`a`)\n) ENGINE=InnoDB";
        assert_eq!(comparable(with_fk), comparable(copy));
        assert_ne!(comparable(with_fk), comparable(&copy.replace("KEY `fk` (`a`)", "KEY `fk` (`id`)")));
        assert!(is_foreign_key("  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`id`),") && !is_foreign_key("  CONSTRAINT `c` CHECK (`a` > 0)"));
        // Keys in another order are the same keys; columns in another order are not the same.
        let keys = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `x` int(11),\n  KEY `a` (`x`),\n  KEY `b` (`id`)\n) ENGINE=InnoDB";
        assert_eq!(comparable(keys), comparable(&keys.replace("KEY `a` (`x`),\n  KEY `b` (`id`)", "KEY `b` (`id`),\n  KEY `a` (`x`)")));
        assert_ne!(comparable(keys), comparable(&keys.replace("`id` int(11) NOT NULL,\n  `x` int(11)", "`x` int(11),\n  `id` int(11) NOT NULL")));
    }
}
