//! The SQL dialect seam: everything the apply engine needs to say to a target, as text. The engine
//! decides *what* to do (merge, partition, order, retry, checkpoint); a dialect decides *how it is
//! spelled*. MySQL/MariaDB is implemented and used live; [`oracle::OracleDialect`] shows the same
//! operations as Oracle `MERGE ... USING DUAL` statements.
//!
//! Invariant: statements embed values as literals produced by [`SqlDialect::literal`], which never
//! loses data: anything that is not clean text in a known character set is written as a hex
//! literal of its exact bytes.

pub mod mysql;
pub mod oracle;

use otter_binlog::Value;
use otter_core::schema::{Column, TableSchema};

use otter_core::Error;

use crate::error::internal;

/// A target table as the engine addresses it: qualified name and the columns to write.
#[derive(Debug, Clone)]
pub struct TargetTable<'a> {
    /// Target database.
    pub db: &'a str,
    /// Target table.
    pub name: &'a str,
    /// The (source) schema of the rows.
    pub schema: &'a TableSchema,
    /// Indexes (into the row) of the columns written; generated and missing columns are left out.
    pub columns: &'a [usize],
    /// Indexes of the columns that identify a row (key, or every column for keyless tables).
    pub key: &'a [usize],
    /// True when `key` is every column because the table has no primary or unique key.
    pub keyless: bool,
}

/// How statements for a target are spelled.
pub trait SqlDialect: Send + Sync {
    /// A quoted identifier.
    fn ident(&self, name: &str, out: &mut String);

    /// A value as a literal of `column`'s type.
    fn literal(&self, v: &Value<'_>, column: &Column, out: &mut String) -> Result<(), Error>;

    /// Statements run once on every new connection (session settings).
    fn session_setup(&self) -> Vec<String>;

    /// For a source DDL statement: the statements that make the target session run it as the
    /// source session did (how its text reads: `sql_mode`; what `CURRENT_TIMESTAMP` is: the
    /// statement's time and time zone; a new database's default: `collation_server`, given by
    /// name as the target calls it) — the first one required, the others best effort — and the
    /// one that restores [`SqlDialect::session_setup`]'s settings afterwards. `None`: run it as is.
    fn ddl_session(&self, ddl: &otter_core::change::DdlEvent, collation_server: Option<&str>) -> Option<(Vec<String>, String)> {
        let _ = (ddl, collation_server);
        None
    }

    /// Insert-or-replace of full rows (row mode).
    fn upsert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error>;

    /// Plain insert (keyless tables: no key to upsert on).
    fn insert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error>;

    /// The single-row statement, with one `?` per written column, that [`SqlDialect::upsert`]
    /// (`upsert`) or [`SqlDialect::insert`] would send for each row, for the target's bulk
    /// execution of many rows at once ([`crate::mysql::bulk`]); `None` when the target has none
    /// (the default).
    fn bulk_statement(&self, t: &TargetTable<'_>, upsert: bool) -> Result<Option<String>, Error> {
        let _ = (t, upsert);
        Ok(None)
    }

    /// Delete rows identified by the key values of `keys` (before images).
    fn delete(&self, t: &TargetTable<'_>, keys: &[&[Value<'static>]], out: &mut String) -> Result<(), Error>;

    /// Update the `set` columns of one row identified by `key_image`'s key values.
    fn update(
        &self,
        t: &TargetTable<'_>,
        key_image: &[Value<'static>],
        after: &[Value<'static>],
        set: &[usize],
        out: &mut String,
    ) -> Result<(), Error>;

    /// A fully qualified table name.
    fn table(&self, db: &str, name: &str, out: &mut String) {
        self.ident(db, out);
        out.push('.');
        self.ident(name, out);
    }
}

/// `a = 1 AND b = 'x'` for the key columns of `image` (null-safe for keyless tables).
pub(crate) fn key_predicate(
    d: &dyn SqlDialect,
    t: &TargetTable<'_>,
    image: &[Value<'static>],
    null_safe: &str,
    out: &mut String,
) -> Result<(), Error> {
    for (n, &i) in t.key.iter().enumerate() {
        if n > 0 {
            out.push_str(" AND ");
        }
        let col = column(t, i)?;
        d.ident(&col.name, out);
        let v = value(image, i)?;
        if matches!(v, Value::Null) && t.keyless {
            out.push_str(null_safe);
            out.push_str("NULL");
        } else {
            out.push_str(" = ");
            d.literal(v, col, out)?;
        }
    }
    Ok(())
}

/// `a, b`: the names of columns `cols` (indexes into the row), each written after `prefix` (e.g.
/// `s.`).
pub(crate) fn column_list(d: &dyn SqlDialect, t: &TargetTable<'_>, cols: &[usize], prefix: &str, out: &mut String) -> Result<(), Error> {
    for (n, &i) in cols.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(prefix);
        d.ident(&column(t, i)?.name, out);
    }
    Ok(())
}

/// `1, 'x'`: the literals of columns `cols` of `image`.
pub(crate) fn value_list(d: &dyn SqlDialect, t: &TargetTable<'_>, image: &[Value<'static>], cols: &[usize], out: &mut String) -> Result<(), Error> {
    for (n, &i) in cols.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        d.literal(value(image, i)?, column(t, i)?, out)?;
    }
    Ok(())
}

/// `a = 1, b = 'x'`: an `UPDATE`'s SET list, columns `set` from `image`.
pub(crate) fn set_list(d: &dyn SqlDialect, t: &TargetTable<'_>, image: &[Value<'static>], set: &[usize], out: &mut String) -> Result<(), Error> {
    for (n, &i) in set.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let col = column(t, i)?;
        d.ident(&col.name, out);
        out.push_str(" = ");
        d.literal(value(image, i)?, col, out)?;
    }
    Ok(())
}

/// `(a, b) IN ((1, 'x'), (2, 'y'))`: the rows of `keys` by their key columns; `tuples`: each row's
/// values in parentheses even when the key has one column (`(a) IN ((1), (2))`). One row of a
/// key of several columns is written `(a = 1 AND b = 'x')`: MariaDB (10.11) runs a `DELETE` or
/// `UPDATE` whose condition is a one-row `(a, b) IN ((1, 'x'))` as a scan of the whole table.
pub(crate) fn key_in_list(d: &dyn SqlDialect, t: &TargetTable<'_>, keys: &[&[Value<'static>]], tuples: bool, out: &mut String) -> Result<(), Error> {
    if let [image] = keys {
        if t.key.len() > 1 && !t.keyless {
            out.push('(');
            key_predicate(d, t, image, " = ", out)?;
            out.push(')');
            return Ok(());
        }
    }
    out.push('(');
    column_list(d, t, t.key, "", out)?;
    out.push_str(") IN (");
    for (r, image) in keys.iter().enumerate() {
        if r > 0 {
            out.push_str(", ");
        }
        if tuples {
            out.push('(');
        }
        value_list(d, t, image, t.key, out)?;
        if tuples {
            out.push(')');
        }
    }
    out.push(')');
    Ok(())
}

/// The schema column `i` of a target table.
pub(crate) fn column<'a>(t: &TargetTable<'a>, i: usize) -> Result<&'a Column, Error> {
    t.schema.columns.get(i).ok_or_else(|| internal(format!("column {i} outside {}.{}", t.db, t.name)))
}

/// Value `i` of a row image.
pub(crate) fn value<'r>(image: &'r [Value<'static>], i: usize) -> Result<&'r Value<'static>, Error> {
    image.get(i).ok_or_else(|| internal(format!("row image has no column {i}")))
}
