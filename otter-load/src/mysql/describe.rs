//! What the target's tables look like: which source columns each one can take and which columns
//! identify a row. Read from `information_schema` on first use and cached until a DDL.
//!
//! Invariants: a source column is written only if the target has a column of that name (compared
//! case-insensitively) that is not generated; a missing column is an error unless configured to be
//! ignored (then warned once per table); generated source columns are never written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::schema::{names_equal, TableSchema};
use otter_core::mysql::conn::translate;
use otter_core::{Error, ErrorKind, Result};

use crate::mysql::row_events::{RowLayout, TargetColumn};
use crate::target::{ParentKey, TargetInfo};

/// (target db, target table, address of the source schema).
type SchemaKey = (String, String, usize);

/// Cache of [`TargetInfo`] per source schema version.
#[derive(Debug, Default)]
pub struct TargetCache {
    /// Holding the schema `Arc` keeps its address from being reused by another schema.
    by_schema: HashMap<SchemaKey, (Arc<TableSchema>, Arc<TargetInfo>)>,
    warned: HashSet<(String, String)>,
}

impl TargetCache {
    /// Forgets everything (after a DDL).
    pub fn clear(&mut self) {
        self.by_schema.clear();
    }

    /// The mapping for `schema` (its `db`/`name` are the target's, after routing).
    pub async fn get(&mut self, conn: &mut Conn, schema: &Arc<TableSchema>, ignore_missing: bool) -> Result<Arc<TargetInfo>> {
        let cache_key = (schema.db.clone(), schema.name.clone(), Arc::as_ptr(schema) as usize);
        if let Some((s, i)) = self.by_schema.get(&cache_key) {
            if Arc::ptr_eq(s, schema) {
                return Ok(Arc::clone(i));
            }
        }
        let described: Vec<(String, String, String, Option<String>, String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, EXTRA, COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema.db.as_str(), schema.name.as_str()),
            )
            .await
            .map_err(|e| translate(e, "reading the target table's columns"))?;
        let described: Vec<TargetColumn> = described
            .into_iter()
            .map(|(name, extra, column_type, charset, nullable, key)| TargetColumn {
                name,
                extra,
                column_type,
                charset,
                nullable: nullable == "YES",
                primary: key == "PRI",
            })
            .collect();
        if described.is_empty() {
            return Err(Error::new(
                ErrorKind::Sink,
                format!(
                    "table {}.{} does not exist on the target: create it there (or start the pipeline from a position \
                     before its CREATE TABLE so otter replicates it)",
                    schema.db, schema.name
                ),
            ));
        }
        let writable: Vec<&str> = described
            .iter()
            .filter(|t| !t.extra.to_ascii_uppercase().contains("GENERATED"))
            .map(|t| t.name.as_str())
            .collect();
        let mut columns = Vec::new();
        let mut missing = Vec::new();
        for (i, c) in schema.columns.iter().enumerate() {
            if c.generated.is_some() {
                continue;
            }
            if writable.iter().any(|t| names_equal(t, &c.name)) {
                columns.push(i);
            } else if !described.iter().any(|t| names_equal(&t.name, &c.name)) {
                missing.push(c.name.clone());
            }
        }
        if !missing.is_empty() {
            if !ignore_missing {
                return Err(Error::new(
                    ErrorKind::Sink,
                    format!(
                        "the target table {}.{} lacks the source column(s) {}: add them, or set ignore_missing_columns = true",
                        schema.db,
                        schema.name,
                        missing.join(", ")
                    ),
                ));
            }
            if self.warned.insert((schema.db.clone(), schema.name.clone())) {
                tracing::warn!(table = %format!("{}.{}", schema.db, schema.name), columns = %missing.join(", "), "Target table lacks source columns; their values are not written.");
            }
        }
        let (key, keyless) = match schema.key_columns() {
            Some(k) if k.iter().all(|i| columns.contains(i)) => (k.to_vec(), false),
            _ => {
                if self.warned.insert((schema.db.clone(), format!("{}#key", schema.name))) {
                    tracing::warn!(table = %format!("{}.{}", schema.db, schema.name), "Table has no primary or NOT NULL unique key: rows are matched on all columns, one at a time.");
                }
                (columns.clone(), true)
            }
        };
        let load_data = columns.iter().all(|&i| {
            let Some(c) = schema.columns.get(i) else { return false };
            described
                .iter()
                .find(|t| names_equal(&t.name, &c.name))
                .is_some_and(|t| crate::mysql::load_data::same_column(c, &t.column_type, t.charset.as_deref()))
        });
        let parents = parents(conn, schema).await?;
        let row_layout = if load_data && !keyless { row_layout(conn, schema, &described).await? } else { None };
        let info = Arc::new(TargetInfo { columns, key, keyless, load_data, parents, row_layout });
        self.by_schema.insert(cache_key, (Arc::clone(schema), Arc::clone(&info)));
        Ok(info)
    }
}

/// The row layout of `schema`'s target table for row events ([`RowLayout::of`]).
async fn row_layout(conn: &mut Conn, schema: &TableSchema, described: &[TargetColumn]) -> Result<Option<Arc<RowLayout>>> {
    let triggers: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?",
            (schema.db.as_str(), schema.name.as_str()),
        )
        .await
        .map_err(|e| translate(e, "reading the target table's triggers"))?;
    Ok(RowLayout::of(schema, described, triggers.unwrap_or(1)).map(Arc::new))
}

/// The foreign keys of `schema`'s target table whose columns the source has.
async fn parents(conn: &mut Conn, schema: &TableSchema) -> Result<Vec<ParentKey>> {
    let rows: Vec<(String, String, String, String, String)> = conn
        .exec(
            "SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
            (schema.db.as_str(), schema.name.as_str()),
        )
        .await
        .map_err(|e| translate(e, "reading the target table's foreign keys"))?;
    let mut out: Vec<(String, ParentKey, bool)> = Vec::new();
    for (constraint, column, db, table, referenced) in rows {
        if out.last().is_none_or(|(c, _, _)| *c != constraint) {
            out.push((constraint.clone(), ParentKey { columns: Vec::new(), db, table, referenced: Vec::new() }, true));
        }
        let Some((_, p, complete)) = out.last_mut() else { continue };
        match schema.columns.iter().position(|c| names_equal(&c.name, &column)) {
            Some(i) => {
                p.columns.push(i);
                p.referenced.push(referenced);
            }
            None => *complete = false,
        }
    }
    Ok(out.into_iter().filter(|(_, _, complete)| *complete).map(|(_, p, _)| p).collect())
}
