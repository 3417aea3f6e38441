//! Origin marks for two-way and multi-site replication: how a transaction applied by otter says
//! where it came from, and which marked transactions a source forwards.
//!
//! Every transaction the MySQL loader applies in a two-way pipeline begins with a row written to
//! `<marks schema>.txn_mark` (`pipeline, part, origin, via`): `origin` is the site where the change
//! was first written, `via` the site it was copied from. A DDL statement it applies starts with the
//! comment `/* otter:mark origin=A via=B */` (servers keep leading comments of DDL in the binlog),
//! right after a row `(CONNECTION_ID(), origin, via)` written to `<marks schema>.ddl_mark` by the same
//! session: statements servers log rewritten without their comments (`CREATE VIEW`, `CREATE
//! TRIGGER/PROCEDURE/FUNCTION/EVENT`, which get a `DEFINER` clause) are matched to that row by the
//! QUERY event's thread id. A `DROP TABLE`, which servers also rewrite, is applied as a marked
//! `RENAME TABLE` into the marks schema followed by a drop there, and forwarded again as the
//! `DROP TABLE` it was.
//! Applications mark their own transactions "do not replicate" (Otter's `_SYNC` flag) by writing
//! a row to `<marks schema>.nosync`, or DDL with the comment `/* otter:nosync */`.
//!
//! Invariants:
//! - a source never emits rows of the marks schema (checkpoints, marks, conflict log);
//! - a transaction's mark is its first row event, so every chunk of a transaction of any size is
//!   decided before any of it is emitted;
//! - a DDL statement's mark is its leading comment when it has one, otherwise the `ddl_mark` row its
//!   session wrote just before (see `source::mysql::ddl_marks`);
//! - triggers named `otter_…` ([`is_own_trigger`]) are otter's own, created by each site's loader:
//!   their `CREATE/DROP TRIGGER` is never forwarded, in one-way and two-way pipelines alike;
//! - [`MarkRules::forwards`] drops a change destined to its origin or to the site it came from, and
//!   (unless `forward`) every change not written at the source site — in a pair or a mesh nothing
//!   comes back; in a tree (`forward = true` on inner edges) every site gets a change once.

use serde::{Deserialize, Serialize};

/// Table of origin marks, in the marks schema.
pub const MARK_TABLE: &str = "txn_mark";
/// Table of DDL marks, in the marks schema: the origin mark of the next DDL statement of a loader
/// session (`conn_id` = `CONNECTION_ID()`), for statements servers log without their comments.
pub const DDL_MARK_TABLE: &str = "ddl_mark";
/// Prefix of the names of otter's own triggers (compared case-insensitively).
pub const OWN_TRIGGER_PREFIX: &str = "otter_";
/// Table applications write to mark a transaction "do not replicate", in the marks schema.
pub const NOSYNC_TABLE: &str = "nosync";
/// Default marks schema (the loader's checkpoint schema).
pub const DEFAULT_SCHEMA: &str = "otter";

/// Where a marked transaction came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Site where the change was first written; empty = "do not replicate".
    pub origin: String,
    /// Site the change was copied from (empty for "do not replicate").
    pub via: String,
    /// A DDL mark on a `RENAME TABLE ... TO <marks schema>.…` that stands for a `DROP TABLE`.
    pub drop: bool,
}

impl Mark {
    /// The "do not replicate" mark.
    pub fn nosync() -> Mark {
        Mark { origin: String::new(), via: String::new(), drop: false }
    }

    /// True for the "do not replicate" mark.
    pub fn is_nosync(&self) -> bool {
        self.origin.is_empty()
    }
}

/// The two sites of a two-way pipeline and how it forwards changes that came from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoWayConfig {
    /// Name of the source's site (letters, digits, `_`, `-`; at most 64).
    pub source_site: String,
    /// Name of the target's site.
    pub target_site: String,
    /// Also send changes the source site received from other sites (tree edges). Default false:
    /// only changes written at the source site are sent (pairs, stars, meshes).
    #[serde(default)]
    pub forward: bool,
    /// Schema of the mark tables on both sites (default `otter`; the loader's checkpoint schema).
    #[serde(default = "default_schema")]
    pub marks_schema: String,
}

fn default_schema() -> String {
    DEFAULT_SCHEMA.into()
}

impl TwoWayConfig {
    /// Checks the site names.
    pub fn validate(&self) -> crate::Result<()> {
        for (key, v) in [("source_site", &self.source_site), ("target_site", &self.target_site)] {
            if !valid_site(v) {
                return Err(crate::Error::config(format!(
                    "two_way.{key} = {v:?}: a site name is 1-64 letters, digits, '_' or '-'"
                )));
            }
        }
        if self.source_site == self.target_site {
            return Err(crate::Error::config(format!("two_way: source_site and target_site are both {:?}", self.source_site)));
        }
        if self.marks_schema.is_empty() || self.marks_schema.contains('`') {
            return Err(crate::Error::config(format!("two_way.marks_schema {:?} is not a valid schema name", self.marks_schema)));
        }
        Ok(())
    }

    /// The capture-side rules.
    pub fn rules(&self) -> MarkRules {
        MarkRules { schema: self.marks_schema.clone(), target_site: Some(self.target_site.clone()), forward: self.forward }
    }
}

/// True for a valid site name (1-64 letters, digits, `_` or `-`).
pub(crate) fn valid_site(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a source does with marked transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkRules {
    /// Schema of the mark tables.
    pub schema: String,
    /// The site this source's changes go to; `None` for one-way pipelines (everything but
    /// "do not replicate" is forwarded).
    pub target_site: Option<String>,
    /// Forward changes that came from other sites.
    pub forward: bool,
}

impl Default for MarkRules {
    fn default() -> Self {
        MarkRules { schema: DEFAULT_SCHEMA.into(), target_site: None, forward: true }
    }
}

impl MarkRules {
    /// True when a transaction with `mark` (None: written at the source site) is sent on.
    pub fn forwards(&self, mark: Option<&Mark>) -> bool {
        let Some(m) = mark else { return true };
        if m.is_nosync() {
            return false;
        }
        match &self.target_site {
            None => true,
            Some(t) => self.forward && m.origin != *t && m.via != *t,
        }
    }

    /// True for the marks table of these rules.
    pub fn is_mark_table(&self, db: &str, table: &str) -> bool {
        db.eq_ignore_ascii_case(&self.schema) && table.eq_ignore_ascii_case(MARK_TABLE)
    }

    /// True for the DDL marks table of these rules.
    pub fn is_ddl_mark_table(&self, db: &str, table: &str) -> bool {
        db.eq_ignore_ascii_case(&self.schema) && table.eq_ignore_ascii_case(DDL_MARK_TABLE)
    }

    /// True for the "do not replicate" table of these rules.
    pub fn is_nosync_table(&self, db: &str, table: &str) -> bool {
        db.eq_ignore_ascii_case(&self.schema) && table.eq_ignore_ascii_case(NOSYNC_TABLE)
    }
}

/// The leading comment that marks a DDL statement.
pub fn ddl_comment(origin: &str, via: &str, drop: bool) -> String {
    format!("/* otter:mark origin={origin} via={via}{} */ ", if drop { " op=drop" } else { "" })
}

/// The mark of a DDL statement (a leading `/* otter:mark … */` or `/* otter:nosync */` comment).
pub fn ddl_mark(sql: &str) -> Option<Mark> {
    let rest = sql.trim_start().strip_prefix("/*")?;
    let (body, _) = rest.split_once("*/")?;
    let body = body.trim();
    if body == "otter:nosync" {
        return Some(Mark::nosync());
    }
    let fields = body.strip_prefix("otter:mark")?;
    let mut mark = Mark { origin: String::new(), via: String::new(), drop: false };
    for f in fields.split_whitespace() {
        match f.split_once('=') {
            Some(("origin", v)) => mark.origin = v.to_owned(),
            Some(("via", v)) => mark.via = v.to_owned(),
            Some(("op", "drop")) => mark.drop = true,
            _ => {}
        }
    }
    (valid_site(&mark.origin) && valid_site(&mark.via)).then_some(mark)
}

/// The statements a loader session runs right before a DDL statement to mark it (see
/// [`DDL_MARK_TABLE`]): a delete of the session's previous row and the insert of the new one, with
/// two `?` parameters, `origin` and `via`. Deleted and re-inserted, never updated, so the row is
/// complete in the binlog under every `binlog_row_image`.
pub fn ddl_mark_sql(schema: &str) -> [String; 2] {
    let table = format!("{}.{}", crate::mysql::quote::ident(schema), crate::mysql::quote::ident(DDL_MARK_TABLE));
    [
        format!("DELETE FROM {table} WHERE conn_id = CONNECTION_ID()"),
        format!("INSERT INTO {table} (conn_id, origin, via, at) VALUES (CONNECTION_ID(), ?, ?, SYSDATE(6))"),
    ]
}

/// True when `sql` creates or drops one of otter's own triggers (named `otter_…`, any case).
pub fn is_own_trigger(sql: &str) -> bool {
    crate::schema::trigger_name(sql).is_some_and(|name| {
        name.get(..OWN_TRIGGER_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(OWN_TRIGGER_PREFIX))
    })
}

/// `sql` without a leading otter mark comment.
pub fn strip_ddl_mark(sql: &str) -> &str {
    let t = sql.trim_start();
    if ddl_mark(t).is_some() {
        if let Some((_, rest)) = t.split_once("*/") {
            return rest.trim_start();
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(origin: &str, via: &str) -> Mark {
        Mark { origin: origin.into(), via: via.into(), drop: false }
    }

    #[test]
    fn forwarding_rules() {
        let pair = MarkRules { schema: "otter".into(), target_site: Some("B".into()), forward: false };
        assert!(pair.forwards(None), "local changes go out");
        assert!(!pair.forwards(Some(&m("B", "B"))), "never back to the origin");
        assert!(!pair.forwards(Some(&m("C", "C"))), "a pair/mesh edge sends local changes only");
        assert!(!pair.forwards(Some(&Mark::nosync())));
        let tree = MarkRules { forward: true, ..pair.clone() };
        assert!(tree.forwards(Some(&m("C", "C"))), "tree edges forward");
        assert!(!tree.forwards(Some(&m("C", "B"))), "not back where it came from");
        assert!(!tree.forwards(Some(&m("B", "C"))), "not back to its origin");
        let one_way = MarkRules::default();
        assert!(one_way.forwards(Some(&m("X", "Y"))));
        assert!(!one_way.forwards(Some(&Mark::nosync())));
    }

    #[test]
    fn ddl_comments_round_trip() {
        let sql = format!("{}ALTER TABLE t ADD c INT", ddl_comment("sh", "us", false));
        assert_eq!(ddl_mark(&sql), Some(m("sh", "us")));
        assert_eq!(strip_ddl_mark(&sql), "ALTER TABLE t ADD c INT");
        let drop = ddl_comment("a", "b", true);
        assert!(ddl_mark(&drop).is_some_and(|m| m.drop));
        assert_eq!(ddl_mark("/* otter:nosync */ DROP TABLE x"), Some(Mark::nosync()));
        assert_eq!(ddl_mark("/* hello */ ALTER TABLE t ADD c INT"), None);
        assert_eq!(ddl_mark("ALTER TABLE t ADD c INT /* otter:mark origin=a via=b */"), None, "leading only");
        assert_eq!(ddl_mark("/* otter:mark origin= via=b */ x"), None);
        assert_eq!(strip_ddl_mark("/* other */ x"), "/* other */ x");
    }

    #[test]
    fn two_way_own_triggers() {
        assert!(is_own_trigger("CREATE DEFINER=`root`@`localhost` TRIGGER `otter_tomb_t` AFTER DELETE ON `t` FOR EACH ROW SET @a = 1"));
        assert!(is_own_trigger("CREATE TRIGGER IF NOT EXISTS s.OTTER_x BEFORE INSERT ON t FOR EACH ROW SET @a = 1"));
        assert!(is_own_trigger("DROP TRIGGER IF EXISTS `s`.`Otter_x`"));
        assert!(is_own_trigger("drop trigger otter_"));
        assert!(!is_own_trigger("CREATE DEFINER=`otter_app`@`%` TRIGGER app_t BEFORE INSERT ON t FOR EACH ROW SET @a = 1"), "the definer is not the name");
        assert!(!is_own_trigger("CREATE TRIGGER otter BEFORE INSERT ON t FOR EACH ROW SET @a = 1"));
        assert!(!is_own_trigger("CREATE TRIGGER ottertrig BEFORE INSERT ON t FOR EACH ROW SET @a = 1"));
        assert!(!is_own_trigger("CREATE TABLE otter_t (id INT)"));
        assert!(!is_own_trigger("CREATE DEFINER=`root`@`localhost` VIEW `otter_v` AS SELECT 1"));
        assert!(!is_own_trigger("DROP TRIGGER `s`.`üotter_x`"));
    }

    #[test]
    fn two_way_ddl_mark_statements_quote_the_schema() {
        let [delete, insert] = ddl_mark_sql("my`marks");
        assert_eq!(delete, "DELETE FROM `my``marks`.`ddl_mark` WHERE conn_id = CONNECTION_ID()");
        assert!(insert.starts_with("INSERT INTO `my``marks`.`ddl_mark` (conn_id, origin, via, at) VALUES (CONNECTION_ID(), ?, ?, "), "{insert}");
    }

    #[test]
    fn config_validation() {
        let ok = TwoWayConfig { source_site: "sh".into(), target_site: "us-1".into(), forward: false, marks_schema: "otter".into() };
        assert!(ok.validate().is_ok());
        let same = TwoWayConfig { target_site: "sh".into(), ..ok.clone() };
        assert!(same.validate().unwrap_err().to_string().contains("both"));
        let bad = TwoWayConfig { source_site: "a b".into(), ..ok };
        assert!(bad.validate().unwrap_err().to_string().contains("source_site"));
    }
}
