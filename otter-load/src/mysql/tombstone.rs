//! Tombstones: what `last-writer-wins` needs to know about rows that are gone.
//!
//! A site must know, when an older or equal update arrives for a row it no longer has, that it
//! deleted that row and at which version. Each table under `last-writer-wins` gets, on every site
//! a pipeline applies to, a tombstone table `<marks_schema>.tomb_<hash>` (the table's key columns
//! with their exact types and collations, the version column's type, the deleting site and the
//! time) and an `AFTER DELETE` trigger `otter_tomb_<hash>` on the table itself that upserts the
//! deleted row's key and version — in the same transaction as the delete, whoever deletes (the
//! application, or otter applying another site's delete). The loader also records an incoming
//! delete's own version (which may be newer than the row it removed), and consults the tombstone
//! whenever an incoming insert or update finds no row: a tombstone at a version >= the incoming
//! one means the delete wins and the change is dropped (and logged).
//!
//! Invariants: a tombstone's version only grows; keys compare with the table's own types and
//! collations (the tombstone columns are copies of the key columns), so "same row" means what it
//! means to the target; the trigger and the table are created by the loader of each site itself
//! (never replicated: the capture never forwards `otter_` triggers, and otter's schema is never
//! captured). Tombstones older than the rule's `tombstone_hours` are removed: a change that
//! arrives later than that after a delete of its row (a site cut off for longer) no longer meets
//! the tombstone and re-inserts the row (logged as "row missing: re-inserted").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::mysql::quote::{ident, text};
use otter_core::mysql::conn::translate;
use otter_core::{Error, ErrorKind, Result};

/// Columns of a tombstone table besides the key columns.
pub(crate) const VERSION: &str = "otter_version";
pub(crate) const SITE: &str = "otter_site";
pub(crate) const AT: &str = "otter_at";

fn hash(db: &str, table: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in db.bytes().chain([0]).chain(table.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The tombstone table of `db.table`, qualified and quoted.
pub(crate) fn table(schema: &str, db: &str, table: &str) -> String {
    format!("{}.{}", ident(schema), ident(&format!("tomb_{}", hash(db, table))))
}

/// The trigger's name (in the table's database).
fn trigger(db: &str, table: &str) -> String {
    format!("otter_tomb_{}", hash(db, table))
}

/// What a tombstone table is made for.
pub(crate) struct Target<'a> {
    /// Marks schema (where the tombstone table lives).
    pub schema: &'a str,
    /// The guarded table.
    pub db: &'a str,
    /// The guarded table.
    pub table: &'a str,
    /// Its key columns (the ones rows are matched on).
    pub key: Vec<&'a str>,
    /// Its version column.
    pub version: &'a str,
    /// This site (the tombstone's site for a delete nobody marked).
    pub site: &'a str,
}

fn err(e: mysql_async::Error) -> Error {
    translate(e, "creating the tombstones of a last-writer-wins table on the target")
}

/// Creates the tombstone table and the trigger of `t` when missing (idempotent).
pub(crate) async fn ensure(conn: &mut Conn, t: &Target<'_>) -> Result<()> {
    let tomb = table(t.schema, t.db, t.table);
    let mut wanted: Vec<&str> = t.key.clone();
    wanted.push(t.version);
    let described: Vec<(String, String, Option<String>)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (t.db, t.table),
        )
        .await
        .map_err(err)?;
    let typed = |name: &str| -> Result<String> {
        let (_, ty, coll) = described.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)).ok_or_else(|| {
            Error::new(ErrorKind::Config, format!("last-writer-wins on {}.{}: the target table has no column {name}", t.db, t.table))
        })?;
        Ok(match coll {
            Some(c) => format!("{ty} COLLATE {}", ident(c)),
            None => ty.clone(),
        })
    };
    if let Some(missing) = t.key.iter().chain([&t.version]).find(|c| !described.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(c))) {
        // The table no longer fits the rule: our trigger (naming that column) would make every
        // delete fail, so it goes first.
        let drop = format!("DROP TRIGGER IF EXISTS {}.{}", ident(t.db), ident(&trigger(t.db, t.table)));
        conn.query_drop(drop).await.map_err(err)?;
        return Err(Error::new(
            ErrorKind::Config,
            format!("last-writer-wins on {}.{}: the target table has no column {missing}: fix the table or the rule", t.db, t.table),
        ));
    }
    // A tombstone table keyed on other columns (the table's key changed) starts over.
    let tomb_name = format!("tomb_{}", hash(t.db, t.table));
    let pk: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
            (t.schema, tomb_name.as_str()),
        )
        .await
        .map_err(err)?;
    let same_key = pk.len() == t.key.len() && pk.iter().zip(&t.key).all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !pk.is_empty() && !same_key {
        tracing::warn!(table = %format!("{}.{}", t.db, t.table), "The key of a last-writer-wins table changed: its tombstones start over.");
        conn.query_drop(format!("DROP TABLE {tomb}")).await.map_err(err)?;
    }
    let mut cols = Vec::new();
    for k in &t.key {
        cols.push(format!("{} {} NOT NULL", ident(k), typed(k)?));
    }
    cols.push(format!("{} {} NULL", ident(VERSION), typed(t.version)?));
    cols.push(format!("{} VARCHAR(64) NOT NULL", ident(SITE)));
    cols.push(format!("{} DATETIME(6) NOT NULL", ident(AT)));
    let keys: Vec<String> = t.key.iter().map(|k| ident(k)).collect();
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {tomb} ({}, PRIMARY KEY ({}), KEY ({})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT={}",
        cols.join(", "),
        keys.join(", "),
        ident(AT),
        text(&format!("otter: tombstones of {}.{} (last-writer-wins)", t.db, t.table))
    );
    conn.query_drop(create).await.map_err(err)?;
    let name = trigger(t.db, t.table);
    let old: Vec<String> = t.key.iter().chain([&t.version]).map(|c| format!("OLD.{}", ident(c))).collect();
    let body = format!(
        "INSERT INTO {tomb} ({}, {v}, {s}, {a}) VALUES ({}, COALESCE(@otter_origin, {site}), UTC_TIMESTAMP(6)) {}",
        keys.join(", "),
        old.join(", "),
        upsert(),
        v = ident(VERSION),
        s = ident(SITE),
        a = ident(AT),
        site = text(t.site),
    );
    // A trigger whose body is not this one (the table's key, version column or site changed) is
    // replaced: a stale body could name columns that are gone and make every delete fail.
    let existing: Option<String> = conn
        .exec_first("SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?", (t.db, name.as_str()))
        .await
        .map_err(err)?;
    match existing {
        Some(b) if b.trim() == body => return Ok(()),
        Some(_) => {
            tracing::info!(table = %format!("{}.{}", t.db, t.table), trigger = %name, "Replacing the delete tombstone trigger (the table changed).");
            conn.query_drop(format!("DROP TRIGGER IF EXISTS {}.{}", ident(t.db), ident(&name))).await.map_err(err)?;
        }
        None => {}
    }
    let create = format!("CREATE TRIGGER {}.{} AFTER DELETE ON {}.{} FOR EACH ROW {body}", ident(t.db), ident(&name), ident(t.db), ident(t.table));
    match conn.query_drop(create).await {
        Ok(()) => {
            tracing::info!(table = %format!("{}.{}", t.db, t.table), trigger = %name, "Installed the delete tombstone trigger of a last-writer-wins table.");
            Ok(())
        }
        // Another loader of this site created it a moment ago.
        Err(e) if otter_core::mysql::conn::server_code(&e) == Some(1359) => Ok(()),
        Err(e) => Err(err(e).context(format!(
            "last-writer-wins on {}.{} needs a delete trigger on the target (TRIGGER privilege on the table; with the binary log on, \
             SUPER or log_bin_trust_function_creators = ON)",
            t.db, t.table
        ))),
    }
}

/// `ON DUPLICATE KEY UPDATE` of a tombstone: the version only grows; site and time follow it.
fn upsert() -> String {
    let (v, s, a) = (ident(VERSION), ident(SITE), ident(AT));
    let newer = format!("({v} IS NULL OR VALUES({v}) >= {v})");
    format!(
        "ON DUPLICATE KEY UPDATE {s} = IF({newer}, VALUES({s}), {s}), {a} = IF({newer}, VALUES({a}), {a}), {v} = IF({newer}, VALUES({v}), {v})"
    )
}

/// Records that the row with key literals `key` was deleted at version literal `version` by
/// `origin` (the loader's upsert for an incoming delete).
pub(crate) fn record(tomb: &str, key_cols: &[String], key: &[String], version: &str, origin: &str) -> String {
    format!(
        "INSERT INTO {tomb} ({}, {}, {}, {}) VALUES ({}, {version}, {}, UTC_TIMESTAMP(6)) {}",
        key_cols.join(", "),
        ident(VERSION),
        ident(SITE),
        ident(AT),
        key.join(", "),
        text(origin),
        upsert()
    )
}

/// Removes tombstones older than `hours` (at most `limit` rows).
pub(crate) fn gc_sql(tomb: &str, hours: u64, limit: u64) -> String {
    format!("DELETE FROM {tomb} WHERE {} < UTC_TIMESTAMP(6) - INTERVAL {hours} HOUR LIMIT {limit}", ident(AT))
}

/// The tombstones one loader looks after on its target: made once per table and run, and
/// collected every [`GC_EVERY`].
#[derive(Debug)]
pub(crate) struct Tombstones {
    schema: String,
    site: String,
    /// Per table made in this run: the key it was made for, the tombstone table, retention hours.
    made: HashMap<(String, String), (Vec<String>, String, u64)>,
    last_gc: Option<Instant>,
}

/// How often old tombstones are removed.
pub(crate) const GC_EVERY: Duration = Duration::from_secs(600);

impl Tombstones {
    /// Tombstones in `schema` of the target site `site`.
    pub(crate) fn new(schema: &str, site: &str) -> Tombstones {
        Tombstones { schema: schema.to_owned(), site: site.to_owned(), made: HashMap::new(), last_gc: None }
    }

    /// Makes sure `db.table` (key columns `key`) has its tombstones under `rule` — again when
    /// its key is not the one they were made for (a DDL another pipeline applied changed it).
    pub(crate) async fn ensure(&mut self, conn: &mut Conn, db: &str, table: &str, key: Vec<&str>, rule: &crate::conflict::ConflictRule) -> Result<()> {
        let id = (db.to_owned(), table.to_owned());
        if self.made.get(&id).is_some_and(|(k, _, _)| k.len() == key.len() && k.iter().zip(&key).all(|(a, b)| a.eq_ignore_ascii_case(b))) {
            return Ok(());
        }
        let version = rule.column.as_deref().unwrap_or_default();
        let owned: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
        ensure(conn, &Target { schema: &self.schema, db, table, key, version, site: &self.site }).await?;
        self.made.insert(id, (owned, self::table(&self.schema, db, table), rule.tombstone_hours));
        Ok(())
    }

    /// Forgets what was made (after a DDL: the table or its key may have changed).
    pub(crate) fn forget(&mut self) {
        self.made.clear();
    }

    /// Makes the tombstones of every table on the target that a last-writer-wins rule covers
    /// (keyed on its primary key, else its first unique key of NOT NULL columns), so that
    /// deletes are recorded before the first change of the run arrives.
    pub(crate) async fn ensure_existing(&mut self, conn: &mut Conn, rules: &[std::sync::Arc<crate::conflict::CompiledRule>]) -> Result<()> {
        let lww: Vec<&crate::conflict::CompiledRule> = rules.iter().map(|r| &**r).filter(|r| r.rule.policy == crate::conflict::ConflictPolicy::LastWriterWins).collect();
        if lww.is_empty() {
            return Ok(());
        }
        let tables: Vec<(String, String)> = conn
            .query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
                 AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')",
            )
            .await
            .map_err(err)?;
        for (db, table) in tables {
            let Some(rule) = lww.iter().find(|r| r.matches(&db, &table)) else { continue };
            let key = key_of(conn, &db, &table).await?;
            if key.is_empty() {
                continue; // no key: the loader refuses the table with a clear error when rows come
            }
            self.ensure(conn, &db, &table, key.iter().map(String::as_str).collect(), &rule.rule).await?;
        }
        Ok(())
    }

    /// The statements removing old tombstones, when a collection is due.
    pub(crate) fn gc_due(&mut self) -> Option<Vec<String>> {
        if self.made.is_empty() || self.last_gc.is_some_and(|t| t.elapsed() < GC_EVERY) {
            return None;
        }
        self.last_gc = Some(Instant::now());
        Some(self.made.values().map(|(_, tomb, hours)| gc_sql(tomb, *hours, 10_000)).collect())
    }
}

/// A table's key on the target: its primary key, else its first unique key of NOT NULL columns.
async fn key_of(conn: &mut Conn, db: &str, table: &str) -> Result<Vec<String>> {
    let rows: Vec<(String, String, String)> = conn
        .exec(
            "SELECT s.INDEX_NAME, s.COLUMN_NAME, c.IS_NULLABLE FROM information_schema.STATISTICS s \
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME \
             WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0 ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX",
            (db, table),
        )
        .await
        .map_err(err)?;
    let mut indexes: Vec<(String, Vec<String>, bool)> = Vec::new();
    for (index, column, nullable) in rows {
        if indexes.last().is_none_or(|(i, _, _)| *i != index) {
            indexes.push((index.clone(), Vec::new(), true));
        }
        if let Some(last) = indexes.last_mut() {
            last.1.push(column);
            last.2 &= nullable == "NO";
        }
    }
    Ok(indexes.into_iter().find(|(_, _, not_null)| *not_null).map(|(_, cols, _)| cols).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_short() {
        assert_eq!(table("otter", "s", "acct"), table("otter", "s", "acct"));
        assert_ne!(table("otter", "s", "acct"), table("otter", "sa", "cct"));
        assert!(trigger("s", &"t".repeat(300)).len() <= 64);
        let r = record("`otter`.`tomb_x`", &["`id`".into()], &["1".into()], "5", "a'b");
        assert!(r.contains("VALUES (1, 5, 'a''b', UTC_TIMESTAMP(6))"), "{r}");
    }
}
