//! `columns`: include, exclude and rename columns of matching tables (Otter's ColumnPair).
//!
//! Per matching table: with `include`, only the listed columns are kept (in table order); then
//! the `exclude`d ones are removed; then `rename` (`old = "new"`) renames. Names compare
//! case-insensitively ([`names_equal`]); names a table does not have are ignored (tables evolve:
//! a column may appear later) and logged once per schema version. The narrowed schema is built
//! once per source schema object and cached; its keys are remapped to the new positions.
//!
//! Keys: removing a column of the table's identifying key ([`TableSchema::key_columns`]: the
//! primary key, else the first all-NOT-NULL unique key) is an error, reported at the first change
//! of that table with its name and the column's — downstream could no longer tell rows apart.
//! Other unique keys and indexes that lose a column are dropped from the narrowed schema (a
//! partial key constrains nothing).
//!
//! Invariants: row images keep exactly one value per column of their (new) schema; values are
//! moved, not re-encoded; events are never reordered, added or removed; positions and
//! `RowChange.id`s are untouched; DDL events pass unchanged (their text still names the source
//! columns).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cache::SchemaCache;
use crate::change::{Event, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::pattern::TablePattern;
use crate::schema::{names_equal, TableSchema};
use crate::traits::{Batch, Transform};

/// Configuration of the `columns` transform.
///
/// ```toml
/// [[pipeline.transform]]
/// kind = "columns"
/// table = "shop.users"
/// exclude = ["password_hash"]
/// rename = { email = "email_address" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsConfig {
    /// Tables it applies to: a pattern on `schema.table` (regex or wildcard, as `route.from`).
    pub table: String,
    /// Force reading `table` as a wildcard or a regex. Default: detected.
    #[serde(default)]
    pub wildcard: Option<bool>,
    /// Keep only these columns (default: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Remove these columns (default: none).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Rename columns, `old = "new"` (default: none).
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
}

/// A narrowed/renamed schema and which source positions survive.
#[derive(Debug)]
struct Shape {
    schema: Arc<TableSchema>,
    /// `keep[i]`: source column `i` survives; `None` when every column does (rename only).
    keep: Option<Vec<bool>>,
}

/// The `columns` transform.
#[derive(Debug)]
pub struct Columns {
    spec: Spec,
    cache: SchemaCache<Option<Arc<Shape>>>,
}

/// The compiled configuration.
#[derive(Debug)]
struct Spec {
    table: TablePattern,
    include: Vec<String>,
    exclude: Vec<String>,
    rename: Vec<(String, String)>,
}

impl Columns {
    /// Builds the transform; fails on a bad pattern, an empty configuration or an empty new name.
    pub fn new(cfg: &ColumnsConfig) -> Result<Columns> {
        let table = TablePattern::new(&cfg.table, cfg.wildcard)?;
        if cfg.include.is_empty() && cfg.exclude.is_empty() && cfg.rename.is_empty() {
            return Err(Error::config(format!("columns transform for {:?}: set include, exclude or rename", cfg.table)));
        }
        if let Some((old, _)) = cfg.rename.iter().find(|(_, new)| new.trim().is_empty()) {
            return Err(Error::config(format!("columns transform for {:?}: empty new name for column {old:?}", cfg.table)));
        }
        let spec = Spec {
            table,
            include: cfg.include.clone(),
            exclude: cfg.exclude.clone(),
            rename: cfg.rename.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        };
        Ok(Columns { spec, cache: SchemaCache::default() })
    }
}

impl Spec {
    fn shape(&self, t: &TableSchema) -> Result<Option<Arc<Shape>>> {
        if !self.table.is_match(&t.db, &t.name) {
            return Ok(None);
        }
        let listed = |list: &[String], name: &str| list.iter().any(|x| names_equal(x, name));
        let keep: Vec<bool> = t
            .columns
            .iter()
            .map(|c| (self.include.is_empty() || listed(&self.include, &c.name)) && !listed(&self.exclude, &c.name))
            .collect();
        let unknown: Vec<&str> = self
            .include
            .iter()
            .chain(&self.exclude)
            .chain(self.rename.iter().map(|(old, _)| old))
            .filter(|n| t.column_index(n).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            tracing::warn!(table = %format!("{}.{}", t.db, t.name), columns = %unknown.join(", "), "The columns transform names columns this table does not have; ignoring them.");
        }
        for &k in t.key_columns().unwrap_or(&[]) {
            if !keep.get(k).copied().unwrap_or(true) {
                let col = t.columns.get(k).map_or("?", |c| c.name.as_str());
                return Err(Error::config(format!(
                    "columns transform: column {col} of {}.{} is part of the table's key and cannot be removed \
                     (rows could no longer be identified); keep it, or narrow the transform's table pattern",
                    t.db, t.name
                )));
            }
        }
        let mut new_pos = Vec::with_capacity(keep.len());
        let mut next = 0usize;
        for &k in &keep {
            new_pos.push(k.then(|| {
                next += 1;
                next - 1
            }));
        }
        let mut schema = t.clone();
        schema.columns = t.columns.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c.clone()).collect();
        let mut renamed = false;
        for c in &mut schema.columns {
            if let Some((_, new)) = self.rename.iter().find(|(old, _)| names_equal(old, &c.name)) {
                renamed |= c.name != *new;
                c.name.clone_from(new);
            }
        }
        if let Some(dup) = schema.columns.iter().enumerate().find(|(i, c)| schema.columns.iter().skip(i + 1).any(|d| names_equal(&d.name, &c.name))) {
            return Err(Error::config(format!("columns transform: renaming gives {}.{} two columns named {}", t.db, t.name, dup.1.name)));
        }
        let all_kept = keep.iter().all(|k| *k);
        if all_kept && !renamed {
            return Ok(None);
        }
        let map = |cols: &[usize]| cols.iter().map(|&c| new_pos.get(c).copied().flatten()).collect::<Option<Vec<usize>>>();
        schema.primary_key = map(&t.primary_key).unwrap_or_default();
        schema.unique_keys = t.unique_keys.iter().filter_map(|k| map(&k.columns).map(|columns| crate::schema::UniqueKey { columns, ..k.clone() })).collect();
        schema.indexes = t.indexes.iter().filter_map(|k| map(&k.columns).map(|columns| crate::schema::Index { columns, ..k.clone() })).collect();
        Ok(Some(Arc::new(Shape { schema: Arc::new(schema), keep: (!all_kept).then_some(keep) })))
    }
}

fn narrow(image: &mut Option<Row>, keep: &[bool], table: &TableSchema) -> Result<()> {
    let Some(row) = image else { return Ok(()) };
    if row.len() != keep.len() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!("a row image of {}.{} has {} values but its schema has {} columns", table.db, table.name, row.len(), keep.len()),
        ));
    }
    let mut i = 0usize;
    row.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
    Ok(())
}

impl Transform for Columns {
    fn name(&self) -> &str {
        "columns"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        for event in &mut batch.events {
            let Event::Rows(chunk) = event else { continue };
            for change in &mut chunk.changes {
                let Columns { spec, cache } = self;
                let Some(shape) = cache.get_or_try_insert(&change.table, |t| spec.shape(t))?.clone() else { continue };
                if let Some(keep) = &shape.keep {
                    narrow(&mut change.before, keep, &change.table)?;
                    narrow(&mut change.after, keep, &change.table)?;
                }
                change.table = Arc::clone(&shape.schema);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind::*;
    use crate::schema::{Index, IndexKind, SqlType};
    use crate::transform::test_util::*;

    fn columns(table: &str, include: &[&str], exclude: &[&str], rename: &[(&str, &str)]) -> Columns {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Columns::new(&ColumnsConfig {
            table: table.into(),
            wildcard: None,
            include: v(include),
            exclude: v(exclude),
            rename: rename.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect(),
        })
        .unwrap()
    }

    /// `shop.users` with an extra column `extra` and an index on (note, extra).
    fn users() -> Arc<TableSchema> {
        let mut t = (*table("shop", "users")).clone();
        t.columns.push(col("extra", SqlType::Int));
        t.indexes.push(Index { name: "ne".into(), kind: IndexKind::Plain, columns: vec![2, 3], prefix_lengths: vec![None, None] });
        t.unique_keys[0].columns = vec![1];
        Arc::new(t)
    }

    fn with_extra(c: &mut crate::change::RowChange) {
        for img in [&mut c.before, &mut c.after].into_iter().flatten() {
            img.push(otter_binlog::Value::Int(7));
        }
    }

    #[test]
    fn exclude_rename_and_keys() {
        let u = users();
        let mut b = batch(vec![txn(100, vec![change(&u, Update, 1, 100, 0), change(&u, Delete, 2, 100, 1)])]);
        for e in &mut b.events {
            if let Event::Rows(c) = e {
                c.changes.iter_mut().for_each(with_extra);
            }
        }
        let mut t = columns("shop.users", &[], &["NOTE"], &[("Email", "mail")]);
        t.apply(&mut b).unwrap();
        let c = changes(&b);
        let schema = &c[0].table;
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "mail", "extra"]);
        assert_eq!(schema.primary_key, [0]);
        assert_eq!(schema.unique_keys[0].columns, [1], "the unique key follows its renamed column");
        assert!(schema.indexes.is_empty(), "an index that lost a column is dropped");
        let j = crate::json::change_json(c[0]);
        assert_eq!(j["after"], serde_json::json!({"id": 1, "mail": "u1@x", "extra": 7}));
        assert_eq!(j["before"], serde_json::json!({"id": 1, "mail": "u1@x", "extra": 7}));
        assert_eq!(c[1].before.as_ref().map(Vec::len), Some(3));
        assert!(Arc::ptr_eq(&c[0].table, &c[1].table));
    }

    #[test]
    fn include_keeps_table_order_and_key_removal_fails() {
        let u = users();
        let mut b = batch(vec![txn(100, vec![change(&u, Insert, 1, 100, 0)])]);
        if let Event::Rows(c) = &mut b.events[0] {
            c.changes.iter_mut().for_each(with_extra);
        }
        columns("*.users", &["extra", "id", "nope"], &[], &[]).apply(&mut b).unwrap();
        let c = changes(&b);
        assert_eq!(crate::json::change_json(c[0])["after"], serde_json::json!({"id": 1, "extra": 7}));
        assert!(c[0].table.unique_keys.is_empty());

        let mut b = batch(vec![txn(100, vec![change(&u, Insert, 1, 100, 0)])]);
        let err = columns("shop.users", &[], &["id"], &[]).apply(&mut b).unwrap_err();
        assert!(err.to_string().contains("id of shop.users"), "{err}");
        let err = columns("shop.users", &[], &[], &[("note", "ID")]).apply(&mut b).unwrap_err();
        assert!(err.to_string().contains("two columns"), "{err}");
    }

    #[test]
    fn other_tables_and_noops_keep_their_schema() {
        let (a, u) = (table("shop", "a"), table("shop", "users"));
        let mut b = batch(vec![txn(100, vec![change(&a, Insert, 1, 100, 0), change(&u, Insert, 2, 100, 1)])]);
        columns("shop.users", &[], &["missing"], &[]).apply(&mut b).unwrap();
        let c = changes(&b);
        assert!(Arc::ptr_eq(&c[0].table, &a) && Arc::ptr_eq(&c[1].table, &u));
        assert!(Columns::new(&ColumnsConfig { table: "x".into(), wildcard: None, include: vec![], exclude: vec![], rename: BTreeMap::new() }).is_err());
    }
}
