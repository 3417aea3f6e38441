//! Building a table from its final column list and key list, the way the server finishes every
//! CREATE and ALTER (`mysql_prepare_create_table`).
//!
//! Invariants, in the order they are applied:
//! 1. an index generated for a FOREIGN KEY is dropped when another key starts with the same
//!    columns (the server keeps one index per foreign key);
//! 2. unnamed keys are named after their first column, with `_2`, `_3`, ... when an earlier key
//!    has that name (names compare case-insensitively; `PRIMARY` is reserved);
//! 3. primary key columns are NOT NULL;
//! 4. on MariaDB, a UNIQUE key over a BLOB-like column without prefix, or longer than the engine's
//!    key limit (InnoDB 3072 bytes, MyISAM 1000), or declared `USING HASH`, is a long-unique key
//!    with a hidden hash column;
//! 5. keys are sorted as the server sorts them (`sort_keys`): unique keys first — NOT NULL before
//!    nullable, PRIMARY first, whole columns before prefixes — then the other indexes, FULLTEXT
//!    last, each group in definition order. Long-unique keys keep their place among the unique
//!    keys; CREATE TABLE, and an ALTER TABLE that adds a key, first move them behind all other
//!    keys (observed on MariaDB 10.11). Hidden hash columns follow the user columns, in the order
//!    of their keys.

use crate::schema::ddl::ast::KeyKind;
use crate::schema::ddl::resolve::mbmaxlen;
use crate::schema::ddl::settings::Settings;
use crate::schema::ddl::DdlError;
use crate::schema::model::{names_equal, Column, Index, IndexKind, TableSchema, UniqueKey};

/// A key on its way into a table: parts refer to positions in the final column list.
#[derive(Debug, Clone)]
pub(crate) struct WorkKey {
    pub kind: KeyKind,
    pub name: Option<String>,
    /// `(column position, prefix length)`.
    pub parts: Vec<(usize, Option<u32>)>,
    /// Declared `USING HASH` in this statement (not remembered afterwards, like the server).
    pub using_hash: bool,
    pub if_not_exists: bool,
}

/// Everything a table is built from.
pub(crate) struct TableParts {
    pub db: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub keys: Vec<WorkKey>,
    pub charset: Option<String>,
    pub collation: Option<String>,
    pub engine: Option<String>,
    /// Move long-unique keys behind the others before sorting, as MariaDB does in CREATE TABLE
    /// and in an ALTER TABLE that adds a key (other ALTERs leave them where they were).
    pub long_unique_last: bool,
}

fn conflict(message: String) -> DdlError {
    DdlError::Conflict(message)
}

/// The effective prefix of a key part: `None` when it covers the whole column. A new key's prefix
/// longer than its column, or on a type that cannot have one, is an error; an old key's is
/// dropped instead, as the server does when a column changes type.
pub(crate) fn normalize_prefix(
    prefix: Option<u32>,
    column: &Column,
    existing: bool,
) -> Result<Option<u32>, DdlError> {
    let Some(p) = prefix else { return Ok(None) };
    if column.sql_type.is_blob_like() {
        return Ok(Some(p));
    }
    match column.sql_type.char_length() {
        Some(n) if p < n => Ok(Some(p)),
        Some(n) if p == n || existing => Ok(None),
        None if existing => Ok(None),
        _ => Err(conflict(format!(
            "incorrect prefix length {p} on column {}",
            column.name
        ))),
    }
}

/// Builds the table: drops redundant foreign-key indexes, names keys, forces primary key columns
/// NOT NULL, marks long-unique keys, sorts keys and appends hidden hash columns.
pub(crate) fn build(parts: TableParts, settings: &Settings) -> Result<TableSchema, DdlError> {
    let TableParts {
        db,
        name,
        mut columns,
        keys,
        charset,
        collation,
        engine,
        long_unique_last,
    } = parts;
    let keys = drop_covered_foreign_key_indexes(keys);
    let keys = name_keys(keys, &columns)?;
    for key in keys.iter().filter(|k| k.kind == KeyKind::Primary) {
        for &(i, _) in &key.parts {
            if let Some(c) = columns.get_mut(i) {
                c.nullable = false;
            }
        }
    }
    let engine_name = engine
        .clone()
        .unwrap_or_else(|| settings.default_storage_engine.clone());
    let mut sorted = Vec::with_capacity(keys.len());
    for key in keys {
        let long_hash = settings.is_mariadb()
            && key.kind == KeyKind::Unique
            && is_long_unique(&key, &columns, &engine_name)?;
        sorted.push(SortKey {
            key,
            position: 0,
            long_hash,
        });
    }
    if long_unique_last {
        sorted.sort_by_key(|k| k.long_hash);
    }
    for (position, key) in sorted.iter_mut().enumerate() {
        key.position = position;
    }
    insertion_sort(&mut sorted, &columns);
    let mut table = TableSchema {
        db,
        name,
        columns: std::mem::take(&mut columns),
        primary_key: Vec::new(),
        unique_keys: Vec::new(),
        indexes: Vec::new(),
        charset,
        collation,
        engine,
    };
    for SortKey { key, long_hash, .. } in sorted {
        place_key(&mut table, key, long_hash);
    }
    table.sync_long_unique_hash_columns();
    Ok(table)
}

fn place_key(table: &mut TableSchema, key: WorkKey, long_hash: bool) {
    let columns: Vec<usize> = key.parts.iter().map(|p| p.0).collect();
    let prefix_lengths: Vec<Option<u32>> = key.parts.iter().map(|p| p.1).collect();
    let name = key.name.unwrap_or_default();
    let kind = match key.kind {
        KeyKind::Primary => {
            table.primary_key = columns;
            return;
        }
        KeyKind::Unique => {
            table.unique_keys.push(UniqueKey {
                name,
                columns,
                prefix_lengths,
                long_hash,
            });
            return;
        }
        KeyKind::Plain => IndexKind::Plain,
        KeyKind::FullText => IndexKind::FullText,
        KeyKind::Spatial => IndexKind::Spatial,
        KeyKind::Vector => IndexKind::Vector,
        KeyKind::ForeignKey => IndexKind::ForeignKey,
    };
    table.indexes.push(Index {
        name,
        kind,
        columns,
        prefix_lengths,
    });
}

/// The server's `foreign_key_prefix`: whether one of the keys is a generated foreign-key index
/// whose parts are a prefix of the other's.
fn generated_is_prefix(a: &WorkKey, b: &WorkKey) -> bool {
    let (a_gen, b_gen) = (a.kind == KeyKind::ForeignKey, b.kind == KeyKind::ForeignKey);
    let (short, long) = match (a_gen, b_gen) {
        (false, false) => return false,
        (true, true) if a.parts.len() > b.parts.len() => (b, a),
        (true, _) => (a, b),
        (false, true) => (b, a),
    };
    short.parts.len() <= long.parts.len()
        && short.parts.iter().zip(&long.parts).all(|(x, y)| x == y)
}

fn drop_covered_foreign_key_indexes(keys: Vec<WorkKey>) -> Vec<WorkKey> {
    let mut ignored = vec![false; keys.len()];
    for i in 0..keys.len() {
        for j in 0..i {
            let (Some(key), Some(earlier)) = (keys.get(i), keys.get(j)) else {
                continue;
            };
            if ignored.get(j).copied().unwrap_or(true) || !generated_is_prefix(key, earlier) {
                continue;
            }
            let drop_this = earlier.kind != KeyKind::ForeignKey
                || (key.kind == KeyKind::ForeignKey && key.parts.len() < earlier.parts.len());
            let victim = if drop_this { i } else { j };
            if let Some(flag) = ignored.get_mut(victim) {
                *flag = true;
            }
            break;
        }
    }
    keys.into_iter()
        .zip(ignored)
        .filter(|(_, ignored)| !ignored)
        .map(|(k, _)| k)
        .collect()
}

/// Names unnamed keys after their first column, skips `IF NOT EXISTS` keys whose name is taken,
/// and rejects duplicate names and a second primary key.
fn name_keys(keys: Vec<WorkKey>, columns: &[Column]) -> Result<Vec<WorkKey>, DdlError> {
    let mut named: Vec<WorkKey> = Vec::with_capacity(keys.len());
    for mut key in keys {
        let taken = |n: &str, named: &[WorkKey]| {
            named
                .iter()
                .any(|k| k.name.as_deref().is_some_and(|m| names_equal(m, n)))
        };
        if key.kind == KeyKind::Primary {
            if named.iter().any(|k| k.kind == KeyKind::Primary) {
                return Err(conflict("multiple primary keys".into()));
            }
            key.name = Some("PRIMARY".into());
        } else if let Some(n) = &key.name {
            if taken(n, &named) {
                if key.if_not_exists {
                    continue;
                }
                return Err(conflict(format!("duplicate key name {n}")));
            }
            if names_equal(n, "PRIMARY") {
                return Err(conflict(
                    "a key other than the primary key is named PRIMARY".into(),
                ));
            }
        } else {
            let first = key
                .parts
                .first()
                .and_then(|p| columns.get(p.0))
                .map(|c| c.name.clone())
                .unwrap_or_default();
            let candidates =
                std::iter::once(first.clone()).chain((2..100).map(|i| format!("{first}_{i}")));
            let free = candidates
                .filter(|c| !names_equal(c, "PRIMARY"))
                .find(|c| !taken(c, &named))
                .ok_or_else(|| conflict(format!("no free key name for column {first}")))?;
            key.name = Some(free);
        }
        named.push(key);
    }
    Ok(named)
}

/// InnoDB and MyISAM key length limits in bytes; `None` for engines whose limit is not modelled.
fn engine_key_limit(engine: &str) -> Option<u64> {
    match engine.to_ascii_lowercase().as_str() {
        "innodb" => Some(3072),
        "myisam" => Some(1000),
        _ => None,
    }
}

/// Whether a MariaDB UNIQUE key is a long-unique (hash) key.
fn is_long_unique(key: &WorkKey, columns: &[Column], engine: &str) -> Result<bool, DdlError> {
    let mut bytes = 0u64;
    for &(i, prefix) in &key.parts {
        let column = columns
            .get(i)
            .ok_or_else(|| conflict("key column out of range".into()))?;
        let width = match &column.charset {
            Some(cs) => mbmaxlen(cs)?,
            None => 1,
        };
        match prefix {
            None if column.sql_type.is_blob_like() => return Ok(true),
            Some(p) => bytes += u64::from(p) * u64::from(width),
            None => {
                bytes += column.sql_type.key_byte_length(width).ok_or_else(|| {
                    DdlError::Unsupported(format!(
                        "key length of column {} of type {:?}",
                        column.name, column.sql_type
                    ))
                })?
            }
        }
    }
    let lower = engine.to_ascii_lowercase();
    if key.using_hash {
        return match lower.as_str() {
            "memory" | "heap" => Ok(false),
            "innodb" | "myisam" | "aria" => Ok(true),
            _ => Err(DdlError::Unsupported(format!(
                "UNIQUE ... USING HASH on engine {engine}"
            ))),
        };
    }
    match engine_key_limit(engine) {
        Some(limit) => Ok(bytes > limit),
        None if bytes > 1000 => Err(DdlError::Unsupported(format!(
            "a {bytes}-byte UNIQUE key on engine {engine} (long-unique hash or not is unknown)"
        ))),
        None => Ok(false),
    }
}

struct SortKey {
    key: WorkKey,
    position: usize,
    long_hash: bool,
}

impl SortKey {
    fn unique(&self) -> bool {
        self.key.kind.is_unique()
    }
    fn has_null(&self, columns: &[Column]) -> bool {
        self.key
            .parts
            .iter()
            .any(|&(i, _)| columns.get(i).is_none_or(|c| c.nullable))
    }
    fn partial(&self) -> bool {
        self.key.parts.iter().any(|p| p.1.is_some())
    }
}

/// The server's `sort_keys`: whether `a` sorts after `b`.
fn sorts_after(a: &SortKey, b: &SortKey, columns: &[Column]) -> bool {
    if a.unique() != b.unique() {
        return b.unique();
    }
    if a.unique() && (a.long_hash || b.long_hash) {
        // Long-unique keys are never reordered among the unique keys.
        return a.position > b.position;
    }
    if a.unique() {
        let (an, bn) = (a.has_null(columns), b.has_null(columns));
        if an != bn {
            return an;
        }
        let (ap, bp) = (
            a.key.kind == KeyKind::Primary,
            b.key.kind == KeyKind::Primary,
        );
        if ap != bp {
            return bp;
        }
        if a.partial() != b.partial() {
            return a.partial();
        }
    }
    let (af, bf) = (
        a.key.kind == KeyKind::FullText,
        b.key.kind == KeyKind::FullText,
    );
    if af != bf {
        return af;
    }
    a.position > b.position
}

/// A stable insertion sort (the server's tie-break is the definition order).
fn insertion_sort(keys: &mut [SortKey], columns: &[Column]) {
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 {
            let swap = match (keys.get(j - 1), keys.get(j)) {
                (Some(prev), Some(cur)) => sorts_after(prev, cur, columns),
                _ => false,
            };
            if !swap {
                break;
            }
            keys.swap(j - 1, j);
            j -= 1;
        }
    }
}
