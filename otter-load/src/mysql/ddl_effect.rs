//! Whether the target already has what a refused DDL statement would make: a database that
//! exists, a table whose definition is exactly the one the statement creates (e.g. a DBA prepared
//! the target before the first run, or the statement ran before a crash), or a table that already
//! looks exactly as an `ALTER TABLE` / `CREATE INDEX` / `DROP INDEX` refused with "duplicate
//! column", "duplicate key name", "multiple primary key" or "can't drop" makes it (two sites ran
//! the same DDL; see `ddl_effect::alter`).
//!
//! Invariants: "the same table" is decided by the target server itself — the statement is run
//! again on a `TEMPORARY` table of another name in the same database (so it gets that database's
//! defaults; a temporary table is visible to this session only and a row-format binlog does not
//! log it: with the binary log on in another format nothing is run and the answer is unknown), in
//! the same session settings, and the two `SHOW CREATE TABLE` texts are compared (names and the
//! `AUTO_INCREMENT` counter aside); nothing is assumed from the statement's text. The scratch
//! table is always dropped. Anything that cannot be decided is reported as unknown (the caller
//! then treats the refusal as any other error).

mod alter;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::DdlEvent;
use otter_core::mysql::quote::ident;
use otter_core::two_way::strip_ddl_mark;

/// ER_DB_CREATE_EXISTS.
const DATABASE_EXISTS: u16 = 1007;
/// ER_TABLE_EXISTS_ERROR.
const TABLE_EXISTS: u16 = 1050;
/// ER_DUP_FIELDNAME.
const DUPLICATE_COLUMN: u16 = 1060;
/// ER_DUP_KEYNAME.
const DUPLICATE_KEY_NAME: u16 = 1061;
/// ER_MULTIPLE_PRI_KEY.
const MULTIPLE_PRIMARY_KEY: u16 = 1068;
/// ER_CANT_DROP_FIELD_OR_KEY.
const CANT_DROP: u16 = 1091;

/// What the target has of a DDL that failed with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The target already has exactly this (the note says what).
    Present(String),
    /// The target has an object of that name with another definition: both shown.
    Conflicts(String),
    /// Not an "already exists" case this module decides.
    Unknown,
}

/// Decides for `ddl`, refused with `code`, on `conn` (whose session is the DDL's).
pub async fn check(conn: &mut Conn, ddl: &DdlEvent, code: u16) -> Effect {
    match code {
        DATABASE_EXISTS if first_words(&ddl.statement, &["CREATE", "DATABASE"]) || first_words(&ddl.statement, &["CREATE", "SCHEMA"]) => {
            Effect::Present("the database already exists on the target (its own character set and collation are kept)".into())
        }
        TABLE_EXISTS if first_words(&ddl.statement, &["CREATE", "TABLE"]) => match ddl.tables.first() {
            Some((db, table)) => compare_table(conn, ddl, db, table).await,
            None => Effect::Unknown,
        },
        DUPLICATE_COLUMN | DUPLICATE_KEY_NAME | MULTIPLE_PRIMARY_KEY | CANT_DROP => alter::compare(conn, ddl).await,
        _ => Effect::Unknown,
    }
}

/// True when the statement's first words (comments aside) are `words`, case-insensitively.
fn first_words(sql: &str, words: &[&str]) -> bool {
    let stmt = strip_ddl_mark(sql);
    let mut it = stmt.split_whitespace();
    words.iter().all(|w| it.next().is_some_and(|x| x.eq_ignore_ascii_case(w)))
}

async fn compare_table(conn: &mut Conn, ddl: &DdlEvent, db: &str, table: &str) -> Effect {
    if !scratch_is_private(conn).await {
        return Effect::Unknown;
    }
    let scratch = scratch_name();
    let statement = strip_ddl_mark(&ddl.statement).trim_start();
    let renamed = otter_core::transform::rewrite_ddl_tables(statement, &ddl.schema, |d, t| {
        (d.eq_ignore_ascii_case(db) && t.eq_ignore_ascii_case(table)).then(|| (db.to_owned(), scratch.clone()))
    });
    // `CREATE TABLE` (checked by the caller) becomes `CREATE TEMPORARY TABLE`.
    let Some(temporary) = renamed.and_then(|r| r.get(6..).map(|rest| format!("CREATE TEMPORARY{rest}"))) else { return Effect::Unknown };
    let existing = show_create(conn, db, table).await;
    let created = match conn.query_drop(temporary.as_str()).await {
        Ok(()) => show_create(conn, db, &scratch).await,
        Err(_) => None,
    };
    let _ = conn.query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {}.{}", ident(db), ident(&scratch))).await;
    match (existing, created) {
        (Some(e), Some(c)) if normalized(&e) == normalized(&c) => {
            Effect::Present(format!("the target already has {db}.{table} exactly as the statement creates it"))
        }
        (Some(e), Some(c)) => Effect::Conflicts(format!(
            "the target already has {db}.{table} with another definition.\n--- on the target ---\n{e}\n--- as the statement creates it ---\n{}",
            c.replacen(&format!("`{scratch}`"), &ident(table), 1).replacen("CREATE TEMPORARY TABLE", "CREATE TABLE", 1)
        )),
        _ => Effect::Unknown,
    }
}

/// A name for a scratch table, unique within the session.
fn scratch_name() -> String {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    format!("_otter_cmp_{stamp}")
}

/// True when a temporary table made in this session is written to no binary log: the log is
/// off (globally or for the session) or row-based.
async fn scratch_is_private(conn: &mut Conn) -> bool {
    let row: Option<(u8, u8, String)> = conn.query_first("SELECT @@GLOBAL.log_bin, @@SESSION.sql_log_bin, @@SESSION.binlog_format").await.ok().flatten();
    row.is_some_and(|(log_bin, sql_log_bin, format)| log_bin == 0 || sql_log_bin == 0 || format.eq_ignore_ascii_case("ROW"))
}

async fn show_create(conn: &mut Conn, db: &str, table: &str) -> Option<String> {
    let row: Option<(String, String)> = conn.query_first(format!("SHOW CREATE TABLE {}.{}", ident(db), ident(table))).await.ok()?;
    row.map(|(_, sql)| sql)
}

/// The definition without its first line's table name and the `AUTO_INCREMENT=` counter.
fn normalized(create: &str) -> String {
    let body = create.split_once('\n').map_or("", |(_, rest)| rest);
    body.split_whitespace()
        .filter(|w| !w.to_ascii_uppercase().starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_compare_without_name_and_counter() {
        let a = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4";
        let b = "CREATE TABLE `_otter_cmp_1` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        assert_eq!(normalized(a), normalized(b));
        assert_ne!(normalized(a), normalized(&b.replace("int(11)", "bigint(20)")));
        assert!(first_words("/* otter:... */ create  table x (id int)", &["CREATE", "TABLE"]) || !first_words("create database x", &["CREATE", "TABLE"]));
        assert!(first_words("CREATE database x", &["CREATE", "DATABASE"]));
    }
}
