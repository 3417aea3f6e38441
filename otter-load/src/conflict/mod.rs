//! Conflict resolution for two-way and multi-site sync, chosen per table, plus the tables otter
//! keeps on every target for it: origin marks, the "do not replicate" flag and the conflict log.
//!
//! A change to a table with a conflict rule is applied by *guarded* statements that look at the
//! row on the target inside the apply transaction: a conflict is a row whose current content is
//! not the change's before image (for an insert: an existing row that differs). Policies:
//! - `last-writer-wins`: the write with the higher `column` (a version or timestamp) wins; ties go
//!   to the higher site — the one in `site_column` when set (rows carry their writer's site; needed
//!   for meshes), else the site of the change vs the target site (exact for pairs). A delete of a
//!   row at version `v` beats writes of version `<= v` and loses to newer ones, on every site:
//!   sites that deleted a row remember its key and version in a tombstone (`mysql::tombstone`);
//! - `primary-wins`: on the `primary` site a conflicting remote change is not applied; elsewhere
//!   the incoming change is applied (it came from, or through, the primary);
//! - `column-groups`: updates only set the column groups they changed (each listed group, and each
//!   other column on its own), so changes to different groups of one row both survive; a group
//!   changed on two sites keeps the `primary` site's values; deletes win;
//! - `report`: for fan-in (many sources into one table): an insert of an existing key with other
//!   content is not applied but recorded; other changes are applied as usual.
//!
//! Invariants: every decision that changes or drops an incoming change is written to
//! `<schema>.conflicts` (with its reason) in the same transaction as the decision; decisions
//! depend only on the row versions (a tombstone's included) and the site names, so every site
//! decides the same way and all converge. Columns of approximate types (FLOAT, DOUBLE, JSON,
//! spatial) are not compared (their text forms are not exact), so conflicts only in them go
//! unnoticed.

mod policies;
mod sql;

use otter_core::mysql::quote::{ident, text};
use otter_core::pattern::TablePattern;
use otter_core::two_way::{MARK_TABLE, NOSYNC_TABLE};
use otter_core::{Error, Result};
use serde::{Deserialize, Serialize};

pub(crate) use policies::guarded_statements;
pub(crate) use sql::{Guarded, Sites};

/// How conflicting changes to a table are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Higher version (or timestamp) column wins; ties by site.
    LastWriterWins,
    /// The `primary` site's version wins.
    PrimaryWins,
    /// Per column group; the `primary` site wins within a group.
    ColumnGroups,
    /// Fan-in: inserts never overwrite a different existing row; collisions are recorded.
    Report,
}

impl ConflictPolicy {
    /// The policy's name in configs and the conflict log.
    pub fn name(self) -> &'static str {
        match self {
            ConflictPolicy::LastWriterWins => "last-writer-wins",
            ConflictPolicy::PrimaryWins => "primary-wins",
            ConflictPolicy::ColumnGroups => "column-groups",
            ConflictPolicy::Report => "report",
        }
    }
}

/// `[[pipeline.sink.conflict]]`: the policy for the target tables matching `tables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConflictRule {
    /// Target tables: a regular expression on `schema.table` (anchored, case-insensitive:
    /// [`TablePattern::regex`]).
    pub tables: String,
    /// The policy.
    pub policy: ConflictPolicy,
    /// `last-writer-wins`: the version or timestamp column (applications must raise it on every
    /// write).
    #[serde(default)]
    pub column: Option<String>,
    /// `last-writer-wins`: a column holding the writing site's name, to break ties between
    /// equal versions (needed for meshes; optional for pairs).
    #[serde(default)]
    pub site_column: Option<String>,
    /// `primary-wins`, `column-groups`: the site whose version wins.
    #[serde(default)]
    pub primary: Option<String>,
    /// `column-groups`: column groups (columns not listed form a group each).
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
    /// `last-writer-wins`: how long a site remembers a deleted row's key and version (its
    /// tombstone), hours (default 168, a week). Keep it longer than any replication delay between
    /// the sites: a change that arrives later than that after a delete of its row re-inserts it.
    #[serde(default = "default_tombstone_hours")]
    pub tombstone_hours: u64,
}

fn default_tombstone_hours() -> u64 {
    168
}

/// A rule ready to match tables.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule.
    pub rule: ConflictRule,
    tables: TablePattern,
}

impl CompiledRule {
    /// True when the rule covers target table `db.table`.
    pub fn matches(&self, db: &str, table: &str) -> bool {
        self.tables.is_match(db, table)
    }
}

/// Checks and compiles rules (errors name the rule and the missing key).
pub fn compile(rules: &[ConflictRule]) -> Result<Vec<CompiledRule>> {
    rules
        .iter()
        .map(|r| {
            let what = format!("conflict rule for {:?} ({})", r.tables, r.policy.name());
            let need = |v: &Option<String>, key: &str| {
                if v.as_deref().is_none_or(str::is_empty) {
                    Err(Error::config(format!("{what}: `{key}` is required")))
                } else {
                    Ok(())
                }
            };
            match r.policy {
                ConflictPolicy::LastWriterWins => {
                    need(&r.column, "column")?;
                    if r.tombstone_hours == 0 {
                        return Err(Error::config(format!("{what}: `tombstone_hours` must be at least 1")));
                    }
                }
                ConflictPolicy::PrimaryWins => need(&r.primary, "primary")?,
                ConflictPolicy::ColumnGroups => {
                    need(&r.primary, "primary")?;
                    if r.groups.is_empty() {
                        return Err(Error::config(format!("{what}: `groups` is required (e.g. [[\"a\", \"b\"], [\"c\"]])")));
                    }
                }
                ConflictPolicy::Report => {}
            }
            let tables = TablePattern::regex(&r.tables).map_err(|e| e.context(format!("{what}: invalid `tables`")))?;
            Ok(CompiledRule { rule: r.clone(), tables })
        })
        .collect()
}

/// Statements creating otter's two-way tables in `schema` (idempotent).
pub fn ensure_sql(schema: &str) -> Vec<String> {
    let s = ident(schema);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`{MARK_TABLE}` (
               pipeline VARCHAR(190) NOT NULL,
               part INT NOT NULL,
               origin VARCHAR(64) NOT NULL,
               via VARCHAR(64) NOT NULL,
               PRIMARY KEY (pipeline, part)
             ) ENGINE=InnoDB COMMENT='otter: origin marks of applied transactions (first row of each)'"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`{}` (
               conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
               origin VARCHAR(64) NOT NULL,
               via VARCHAR(64) NOT NULL,
               at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
             ) ENGINE=InnoDB COMMENT='otter: origin mark of the next DDL statement of each loader session'",
            otter_core::two_way::DDL_MARK_TABLE
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`{NOSYNC_TABLE}` (
               id INT NOT NULL PRIMARY KEY,
               n BIGINT NOT NULL DEFAULT 0
             ) ENGINE=InnoDB COMMENT='otter: write a row here first in a transaction that must not be replicated'"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.`conflicts` (
               id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
               at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
               pipeline VARCHAR(190) NOT NULL,
               db VARCHAR(64) NOT NULL,
               tbl VARCHAR(64) NOT NULL,
               row_key TEXT NOT NULL,
               policy VARCHAR(32) NOT NULL,
               origin VARCHAR(64) NOT NULL,
               local_row LONGTEXT NULL,
               incoming_row LONGTEXT NULL,
               winner VARCHAR(64) NOT NULL,
               decision VARCHAR(255) NOT NULL DEFAULT '',
               KEY by_table (db, tbl)
             ) ENGINE=InnoDB COMMENT='otter: conflicts detected on this site and how they were resolved'"
        ),
    ]
}

/// Brings a conflict log created by an older otter up to date (the `decision` column).
pub async fn upgrade(conn: &mut mysql_async::Conn, schema: &str) -> Result<()> {
    use mysql_async::prelude::Queryable;
    let has: Option<String> = conn
        .exec_first(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'conflicts' AND COLUMN_NAME = 'decision'",
            (schema,),
        )
        .await
        .map_err(|e| otter_core::mysql::conn::translate(e, "target"))?;
    if has.is_none() {
        conn.query_drop(format!("ALTER TABLE {}.`conflicts` ADD COLUMN decision VARCHAR(255) NOT NULL DEFAULT ''", ident(schema)))
            .await
            .map_err(|e| otter_core::mysql::conn::translate(e, "adding the decision column to the conflict log"))?;
    }
    Ok(())
}

/// The statements that open an apply transaction with its origin mark (the session variable
/// `@otter_origin` tells the tombstone triggers which site a delete came from).
pub fn mark_sql(schema: &str, pipeline: &str, part: usize, origin: &str, via: &str) -> [String; 3] {
    let s = ident(schema);
    [
        format!("SET @otter_origin = {}", text(origin)),
        format!("DELETE FROM {s}.`{MARK_TABLE}` WHERE pipeline = {} AND part = {part}", text(pipeline)),
        format!("INSERT INTO {s}.`{MARK_TABLE}` (pipeline, part, origin, via) VALUES ({}, {part}, {}, {})", text(pipeline), text(origin), text(via)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(policy: ConflictPolicy) -> ConflictRule {
        ConflictRule { tables: "shop\\..*".into(), policy, column: None, site_column: None, primary: None, groups: Vec::new(), tombstone_hours: 168 }
    }

    #[test]
    fn rules_name_what_is_missing() {
        let e = compile(&[rule(ConflictPolicy::LastWriterWins)]).unwrap_err().to_string();
        assert!(e.contains("`column` is required") && e.contains("last-writer-wins"), "{e}");
        let e = compile(&[rule(ConflictPolicy::PrimaryWins)]).unwrap_err().to_string();
        assert!(e.contains("`primary`"), "{e}");
        let e = compile(&[ConflictRule { primary: Some("a".into()), ..rule(ConflictPolicy::ColumnGroups) }]).unwrap_err().to_string();
        assert!(e.contains("`groups`"), "{e}");
        let e = compile(&[ConflictRule { tables: "(".into(), ..rule(ConflictPolicy::Report) }]).unwrap_err().to_string();
        assert!(e.contains("invalid `tables`"), "{e}");
        let ok = compile(&[rule(ConflictPolicy::Report)]).unwrap();
        assert!(ok[0].matches("SHOP", "orders") && !ok[0].matches("shop2", "x"));
    }

    #[test]
    fn policies_parse_from_toml() {
        let r: ConflictRule = toml::from_str("tables = 'a\\\\.t'\npolicy = 'last-writer-wins'\ncolumn = 'v'").unwrap();
        assert_eq!(r.policy, ConflictPolicy::LastWriterWins);
        assert!(toml::from_str::<ConflictRule>("tables = 'x'\npolicy = 'newest'").is_err());
        assert!(toml::from_str::<ConflictRule>("tables = 'x'\npolicy = 'report'\ncolum = 'v'").is_err());
    }
}
