//! The schema model: a table's columns in binlog order and its keys.
//!
//! Invariants (upheld by [`crate::schema::Catalog`], expected of tables handed to it):
//! - `columns` is in the order the server writes row images: position `i` is binlog column `i`.
//!   On MariaDB this includes the hidden `DB_ROW_HASH_n` columns of "long unique" keys
//!   ([`Generated::LongUniqueHash`]), which `information_schema` does not show;
//! - every key refers to columns by position in `columns`; `prefix_lengths` has the same length as
//!   the key's `columns`;
//! - column names compare case-insensitively ([`names_equal`]); database and table names are
//!   case-sensitive (`lower_case_table_names=0`);
//! - keys are kept in the order the server sorts them: unique keys with only NOT NULL columns
//!   first (PRIMARY first among them), then the other unique keys, long-unique keys last; then
//!   the non-unique indexes.

use serde::{Deserialize, Serialize};

use crate::schema::sql_type::SqlType;

/// One table as of some binlog position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Database (schema) name, case-sensitive.
    pub db: String,
    /// Table name, case-sensitive.
    pub name: String,
    /// Columns in binlog row-image order (including MariaDB's hidden long-unique hash columns).
    pub columns: Vec<Column>,
    /// Primary key column positions in key order; empty when the table has no PRIMARY KEY.
    pub primary_key: Vec<usize>,
    /// UNIQUE keys other than the primary key, in the server's key order.
    pub unique_keys: Vec<UniqueKey>,
    /// Non-unique indexes. They do not constrain rows but their names decide the names the
    /// server gives to unnamed keys, and `DROP INDEX` must know which kind of index it drops.
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// Table default character set (e.g. `utf8mb4`), if known.
    pub charset: Option<String>,
    /// Table default collation (e.g. `utf8mb4_general_ci`), if known.
    pub collation: Option<String>,
    /// Storage engine as written (e.g. `InnoDB`), if known. Decides MariaDB long-unique keys.
    #[serde(default)]
    pub engine: Option<String>,
}

/// A UNIQUE key (not the primary key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueKey {
    /// Index name as the server knows it (generated names follow the server's rule).
    pub name: String,
    /// Column positions in key order.
    pub columns: Vec<usize>,
    /// Per key column: the indexed prefix in characters, `None` for the whole column.
    #[serde(default)]
    pub prefix_lengths: Vec<Option<u32>>,
    /// MariaDB "long unique" key, enforced through a hidden hash column rather than a B-tree.
    #[serde(default)]
    pub long_hash: bool,
}

/// A non-unique index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Index name as the server knows it.
    pub name: String,
    /// What kind of index it is.
    pub kind: IndexKind,
    /// Column positions in key order.
    pub columns: Vec<usize>,
    /// Per key column: the indexed prefix in characters, `None` for the whole column.
    pub prefix_lengths: Vec<Option<u32>>,
}

/// The kind of a non-unique index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// `KEY` / `INDEX`.
    Plain,
    /// `FULLTEXT`.
    FullText,
    /// `SPATIAL`.
    Spatial,
    /// `VECTOR` (MariaDB 11.7+).
    Vector,
    /// The index the server creates for a `FOREIGN KEY` that no other index covers. The server
    /// drops it again when a later index covers the same columns.
    ForeignKey,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name (compare with [`names_equal`]).
    pub name: String,
    /// SQL type.
    pub sql_type: SqlType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// UNSIGNED (numeric types; ZEROFILL implies it).
    pub unsigned: bool,
    /// Character set of a text column (`None` for non-text columns).
    pub charset: Option<String>,
    /// Collation of a text column (`None` for non-text columns).
    pub collation: Option<String>,
    /// Generated column kind, if generated.
    pub generated: Option<Generated>,
    /// INVISIBLE (still present in row images).
    pub invisible: bool,
    /// AUTO_INCREMENT.
    pub auto_increment: bool,
    /// Raw SQL text of the DEFAULT clause as written (e.g. `'abc'`, `NULL`, `current_timestamp()`);
    /// `None` when no DEFAULT was written. Implicit server defaults are not modelled.
    pub default: Option<String>,
}

impl Column {
    /// A plain nullable column: signed, no character set, not generated, visible, no DEFAULT
    /// (set the other fields with struct update syntax).
    pub fn new(name: impl Into<String>, sql_type: SqlType) -> Column {
        Column {
            name: name.into(),
            sql_type,
            nullable: true,
            unsigned: false,
            charset: None,
            collation: None,
            generated: None,
            invisible: false,
            auto_increment: false,
            default: None,
        }
    }

    /// The metadata the server writes for this column in TABLE_MAP events
    /// ([`SqlType::binlog_meta`] with its character set's longest character); `None` where the
    /// type has none this model can give, or a text column's character set is unknown.
    pub fn binlog_meta(&self) -> Option<u16> {
        let mbmaxlen = if self.sql_type.is_text() { crate::schema::charset::mbmaxlen(&crate::schema::charset::normalize_charset(self.charset.as_deref()?))? } else { 1 };
        self.sql_type.binlog_meta(mbmaxlen)
    }
}

/// How a generated column is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Generated {
    /// `VIRTUAL` (the default).
    Virtual,
    /// `STORED` / `PERSISTENT`.
    Stored,
    /// MariaDB's hidden `DB_ROW_HASH_n` column of a long-unique key: present in every row image,
    /// absent from `information_schema`.
    LongUniqueHash,
}
/// Whether two column (or index) names are equal the way the server compares them: ignoring case.
pub fn names_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

impl TableSchema {
    /// A table `db.name` of `columns` with the given primary key (column positions; empty for
    /// none), and no other keys, indexes or table options.
    pub fn new(db: impl Into<String>, name: impl Into<String>, columns: Vec<Column>, primary_key: Vec<usize>) -> TableSchema {
        TableSchema {
            db: db.into(),
            name: name.into(),
            columns,
            primary_key,
            unique_keys: Vec::new(),
            indexes: Vec::new(),
            charset: None,
            collation: None,
            engine: None,
        }
    }

    /// The position of a column by name (case-insensitive).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| names_equal(&c.name, name))
    }

    /// The columns that identify a row: the primary key, else the first unique key whose columns
    /// are all NOT NULL (the key InnoDB would cluster on), else `None`.
    pub fn key_columns(&self) -> Option<&[usize]> {
        if !self.primary_key.is_empty() {
            return Some(&self.primary_key);
        }
        self.unique_keys
            .iter()
            .find(|k| {
                !k.columns.is_empty()
                    && k.columns
                        .iter()
                        .all(|&i| self.columns.get(i).is_some_and(|c| !c.nullable))
            })
            .map(|k| k.columns.as_slice())
    }

    /// The columns `information_schema.COLUMNS` shows: all but hidden long-unique hash columns.
    pub fn visible_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.generated != Some(Generated::LongUniqueHash))
    }

    /// Re-creates the hidden long-unique hash columns from the keys: removes every
    /// [`Generated::LongUniqueHash`] column and appends one `DB_ROW_HASH_n` (BIGINT UNSIGNED,
    /// nullable when a key column is) per `long_hash` unique key, in key order, as MariaDB does
    /// whenever it rebuilds a table. Keys must not refer to hash columns.
    pub fn sync_long_unique_hash_columns(&mut self) {
        let hidden: Vec<usize> = (0..self.columns.len())
            .filter(|&i| {
                self.columns
                    .get(i)
                    .is_some_and(|c| c.generated == Some(Generated::LongUniqueHash))
            })
            .collect();
        if !hidden.is_empty() {
            let map = position_map_without(self.columns.len(), &hidden);
            self.columns
                .retain(|c| c.generated != Some(Generated::LongUniqueHash));
            self.remap_columns(&map);
        }
        let mut hash_columns = Vec::new();
        for key in self.unique_keys.iter().filter(|k| k.long_hash) {
            let nullable = key
                .columns
                .iter()
                .any(|&i| self.columns.get(i).is_none_or(|c| c.nullable));
            let mut n = 1;
            let name = loop {
                let candidate = format!("DB_ROW_HASH_{n}");
                let taken = self
                    .columns
                    .iter()
                    .chain(&hash_columns)
                    .any(|c: &Column| names_equal(&c.name, &candidate));
                if !taken {
                    break candidate;
                }
                n += 1;
            };
            hash_columns.push(Column {
                name,
                sql_type: SqlType::BigInt,
                nullable,
                unsigned: true,
                charset: None,
                collation: None,
                generated: Some(Generated::LongUniqueHash),
                invisible: true,
                auto_increment: false,
                default: None,
            });
        }
        self.columns.extend(hash_columns);
    }

    /// Rewrites every key's column positions through `map` (old position → new position); key
    /// columns mapped to `None` are removed from their key.
    pub(crate) fn remap_columns(&mut self, map: &[Option<usize>]) {
        let remap = |cols: &mut Vec<usize>, prefixes: &mut Vec<Option<u32>>| {
            let pairs: Vec<(usize, Option<u32>)> = cols
                .iter()
                .zip(prefixes.iter().copied().chain(std::iter::repeat(None)))
                .filter_map(|(&c, p)| map.get(c).copied().flatten().map(|n| (n, p)))
                .collect();
            *cols = pairs.iter().map(|p| p.0).collect();
            *prefixes = pairs.iter().map(|p| p.1).collect();
        };
        let mut no_prefixes = Vec::new();
        remap(&mut self.primary_key, &mut no_prefixes);
        for k in &mut self.unique_keys {
            remap(&mut k.columns, &mut k.prefix_lengths);
        }
        for k in &mut self.indexes {
            remap(&mut k.columns, &mut k.prefix_lengths);
        }
    }
}

/// `old position → new position` after removing the (sorted) positions in `removed`.
fn position_map_without(len: usize, removed: &[usize]) -> Vec<Option<usize>> {
    let mut next = 0;
    (0..len)
        .map(|i| {
            if removed.contains(&i) {
                None
            } else {
                next += 1;
                Some(next - 1)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, nullable: bool) -> Column {
        Column { nullable, ..Column::new(name, SqlType::Int) }
    }

    fn table(columns: Vec<Column>) -> TableSchema {
        TableSchema::new("d", "t", columns, vec![])
    }

    fn unique(name: &str, columns: Vec<usize>, long_hash: bool) -> UniqueKey {
        let prefix_lengths = vec![None; columns.len()];
        UniqueKey {
            name: name.into(),
            columns,
            prefix_lengths,
            long_hash,
        }
    }

    #[test]
    fn key_columns_prefers_primary_then_first_not_null_unique() {
        let mut t = table(vec![col("a", true), col("b", false), col("c", false)]);
        assert_eq!(t.key_columns(), None);
        t.unique_keys = vec![unique("a", vec![0], false), unique("b", vec![1, 2], false)];
        assert_eq!(t.key_columns(), Some(&[1usize, 2][..]));
        t.primary_key = vec![2];
        assert_eq!(t.key_columns(), Some(&[2usize][..]));
    }

    #[test]
    fn column_index_ignores_case() {
        let t = table(vec![col("Id", false), col("Ärger", true)]);
        assert_eq!(t.column_index("ID"), Some(0));
        assert_eq!(t.column_index("äRGER"), Some(1));
        assert_eq!(t.column_index("nope"), None);
    }

    #[test]
    fn hash_columns_follow_long_unique_keys() {
        let mut t = table(vec![col("a", true), col("b", false)]);
        t.unique_keys = vec![unique("b", vec![1], true), unique("a", vec![0], true)];
        t.sync_long_unique_hash_columns();
        let hidden: Vec<(&str, bool)> = t.columns[2..]
            .iter()
            .map(|c| (c.name.as_str(), c.nullable))
            .collect();
        assert_eq!(hidden, [("DB_ROW_HASH_1", false), ("DB_ROW_HASH_2", true)]);
        t.unique_keys.remove(0);
        t.sync_long_unique_hash_columns();
        assert_eq!(t.columns.len(), 3);
        assert_eq!(t.visible_columns().count(), 2);
        assert_eq!(t.unique_keys[0].columns, vec![0]);
    }
}
