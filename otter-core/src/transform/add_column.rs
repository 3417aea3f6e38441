//! `add_column`: append a column with a constant value to matching tables — e.g. the source's
//! name, so that rows merged from several sources stay distinguishable.
//!
//! The column is appended after the table's last column (`NOT NULL`, `DEFAULT` the value) in a
//! copy of the schema made once per source schema object and cached; the value is appended to
//! every before and after image. Types: text (`char`, `varchar`, `tinytext`/`text`/
//! `mediumtext`/`longtext`; utf8mb4), integers (`tinyint`..`bigint`, optionally `unsigned`),
//! `float`, `double` and `year`; the value must fit the type (checked when the transform is
//! built). A table that already has a column of that name (case-insensitive) is an error,
//! reported at its first change.
//!
//! Invariants: every row image keeps one value per schema column; events are never reordered,
//! added or removed; positions and `RowChange.id`s are untouched; DDL events pass unchanged.

use std::sync::Arc;

use otter_binlog::Value;
use serde::{Deserialize, Serialize};

use super::cache::SchemaCache;
use crate::change::Event;
use crate::error::{Error, Result};
use crate::pattern::TablePattern;
use crate::schema::{Column, SqlType, TableSchema};
use crate::traits::{Batch, Transform};

/// Configuration of the `add_column` transform.
///
/// ```toml
/// [[pipeline.transform]]
/// kind = "add_column"
/// name = "source"
/// value = "eu-1"
/// sql_type = "varchar(32)"   # default varchar(255)
/// table = "shop.*"           # default: every table
/// wildcard = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddColumnConfig {
    /// Tables it applies to (regex or wildcard, as `route.from`). Default: every table.
    #[serde(default)]
    pub table: Option<String>,
    /// Force reading `table` as a wildcard or a regex. Default: detected.
    #[serde(default)]
    pub wildcard: Option<bool>,
    /// The new column's name.
    pub name: String,
    /// Its value, as text (parsed according to `sql_type`).
    pub value: String,
    /// Its type, as `information_schema` writes it (default `varchar(255)`).
    #[serde(default)]
    pub sql_type: Option<String>,
}

/// The `add_column` transform.
#[derive(Debug)]
pub struct AddColumn {
    table: Option<TablePattern>,
    column: Column,
    value: Value<'static>,
    cache: SchemaCache<Option<Arc<TableSchema>>>,
}

impl AddColumn {
    /// Builds the transform; fails on a bad pattern, an unsupported type or a value that does
    /// not fit it.
    pub fn new(cfg: &AddColumnConfig) -> Result<AddColumn> {
        let name = cfg.name.trim();
        if name.is_empty() {
            return Err(Error::config("add_column transform: empty column name"));
        }
        let type_text = cfg.sql_type.as_deref().unwrap_or("varchar(255)");
        let bad = |why: String| Error::config(format!("add_column transform for column {name}: {why}"));
        let parsed = SqlType::parse(type_text).map_err(|e| bad(format!("invalid sql_type {type_text:?}: {e}")))?;
        let (value, default) = constant(&parsed.sql_type, parsed.unsigned, &cfg.value).map_err(bad)?;
        let text = parsed.sql_type.is_text();
        let column = Column {
            name: name.to_owned(),
            sql_type: parsed.sql_type,
            nullable: false,
            unsigned: parsed.unsigned,
            charset: text.then(|| "utf8mb4".to_owned()),
            collation: text.then(|| "utf8mb4_general_ci".to_owned()),
            generated: None,
            invisible: false,
            auto_increment: false,
            default: Some(default),
        };
        let table = cfg.table.as_deref().map(|p| TablePattern::new(p, cfg.wildcard)).transpose()?;
        Ok(AddColumn { table, column, value, cache: SchemaCache::default() })
    }
}

/// The value of `text` as a `sql_type` column and its SQL literal.
fn constant(sql_type: &SqlType, unsigned: bool, text: &str) -> std::result::Result<(Value<'static>, String), String> {
    let number = |v: Value<'static>| Ok((v, text.trim().to_owned()));
    let range = |bits: u32| -> std::result::Result<Value<'static>, String> {
        let t = text.trim();
        let out_of_range = || format!("value {t:?} is not a {}{bits}-bit integer", if unsigned { "unsigned " } else { "" });
        if unsigned {
            let v: u64 = t.parse().map_err(|_| out_of_range())?;
            (bits == 64 || v < (1u64 << bits)).then_some(Value::UInt(v)).ok_or_else(out_of_range)
        } else {
            let v: i64 = t.parse().map_err(|_| out_of_range())?;
            let fits = bits == 64 || (-(1i64 << (bits - 1))..(1i64 << (bits - 1))).contains(&v);
            fits.then_some(Value::Int(v)).ok_or_else(out_of_range)
        }
    };
    match sql_type {
        SqlType::Char(n) | SqlType::VarChar(n) if text.chars().count() > *n as usize => Err(format!("value {text:?} is longer than {n} characters")),
        SqlType::Char(_) | SqlType::VarChar(_) | SqlType::TinyText | SqlType::Text | SqlType::MediumText | SqlType::LongText => {
            let literal = crate::mysql::quote::text(text);
            Ok((Value::Bytes(text.as_bytes().to_vec().into()), literal))
        }
        SqlType::TinyInt => number(range(8)?),
        SqlType::SmallInt => number(range(16)?),
        SqlType::MediumInt => number(range(24)?),
        SqlType::Int => number(range(32)?),
        SqlType::BigInt => number(range(64)?),
        SqlType::Float => number(Value::Float(text.trim().parse().map_err(|_| format!("value {text:?} is not a number"))?)),
        SqlType::Double => number(Value::Double(text.trim().parse().map_err(|_| format!("value {text:?} is not a number"))?)),
        SqlType::Year => {
            let y: u16 = text.trim().parse().map_err(|_| format!("value {text:?} is not a year"))?;
            if y == 0 || (1901..=2155).contains(&y) {
                number(Value::Year(y))
            } else {
                Err(format!("value {text:?} is not a year (1901-2155 or 0)"))
            }
        }
        other => Err(format!("type {other:?} is not supported; use a text, integer, float, double or year type")),
    }
}

impl Transform for AddColumn {
    fn name(&self) -> &str {
        "add_column"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        let AddColumn { table, column, value, cache } = self;
        for event in &mut batch.events {
            let Event::Rows(chunk) = event else { continue };
            for change in &mut chunk.changes {
                let widened = cache.get_or_try_insert(&change.table, |t| {
                    if !table.as_ref().is_none_or(|p| p.is_match(&t.db, &t.name)) {
                        return Ok(None);
                    }
                    if t.column_index(&column.name).is_some() {
                        return Err(Error::config(format!("add_column transform: {}.{} already has a column named {}", t.db, t.name, column.name)));
                    }
                    let mut schema = t.clone();
                    schema.columns.push(column.clone());
                    Ok(Some(Arc::new(schema)))
                })?;
                let Some(widened) = widened.clone() else { continue };
                for image in [&mut change.before, &mut change.after].into_iter().flatten() {
                    image.push(value.clone());
                }
                change.table = widened;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind::*;
    use crate::json::change_json;
    use crate::transform::test_util::*;

    fn add(name: &str, value: &str, sql_type: Option<&str>, table: Option<&str>) -> Result<AddColumn> {
        AddColumn::new(&AddColumnConfig { table: table.map(Into::into), wildcard: None, name: name.into(), value: value.into(), sql_type: sql_type.map(Into::into) })
    }

    #[test]
    fn appends_the_constant_to_every_image() {
        let (a, b) = (table("shop", "a"), table("crm", "b"));
        let mut batch = batch(vec![txn(100, vec![change(&a, Update, 1, 100, 0), change(&b, Insert, 2, 100, 1), change(&a, Delete, 3, 100, 2)])]);
        add("source", "eu-1", None, Some("shop.*")).map(|mut t| t.apply(&mut batch)).unwrap().unwrap();
        let c = changes(&batch);
        assert_eq!(c[0].table.columns.len(), 4);
        assert_eq!(c[0].table.columns[3].sql_type, SqlType::VarChar(255));
        assert_eq!(c[0].table.columns[3].default.as_deref(), Some("'eu-1'"));
        let j = change_json(c[0]);
        assert_eq!(j["before"]["source"], "eu-1");
        assert_eq!(j["after"]["source"], "eu-1");
        assert_eq!(change_json(c[2])["before"]["source"], "eu-1");
        assert_eq!(c[1].table.columns.len(), 3, "crm.b does not match");
        assert!(Arc::ptr_eq(&c[0].table, &c[2].table));
    }

    #[test]
    fn typed_values_and_errors() {
        let t = add("n", "42", Some("int unsigned"), None).unwrap();
        assert_eq!(t.value, Value::UInt(42));
        assert!(t.column.unsigned);
        assert!(add("n", "300", Some("tinyint"), None).is_err());
        assert!(add("n", "-1", Some("int unsigned"), None).is_err());
        assert!(add("n", "toolong", Some("varchar(3)"), None).is_err());
        assert!(add("n", "x", Some("blob"), None).is_err());
        assert!(add("n", "x", Some("nonsense("), None).is_err());
        assert_eq!(add("n", "-7", Some("bigint"), None).unwrap().value, Value::Int(-7));
        let mut dup = add("EMAIL", "x", None, None).unwrap();
        let a = table("shop", "a");
        let err = dup.apply(&mut batch(vec![txn(100, vec![change(&a, Insert, 1, 100, 0)])])).unwrap_err();
        assert!(err.to_string().contains("shop.a") && err.to_string().contains("EMAIL"), "{err}");
    }
}
