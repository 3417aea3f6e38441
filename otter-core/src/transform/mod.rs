//! Built-in transforms (Otter's DataMediaPair / ColumnPair / EventProcessor roles), configured as
//! `[[pipeline.transform]]` tables with a `kind`:
//!
//! | `kind`       | does                                                                  |
//! |--------------|-----------------------------------------------------------------------|
//! | `route`      | renames schema/table (one-to-one or shards into one), DDL included   |
//! | `columns`    | includes / excludes / renames columns                                 |
//! | `filter`     | drops (or keeps only) inserts, updates, deletes or DDL               |
//! | `add_column` | appends a constant column (e.g. the source's name)                   |
//!
//! ```toml
//! [[pipeline.transform]]
//! kind = "route"
//! from = "shop.order_*"
//! to = "shop.orders"
//!
//! [[pipeline.transform]]
//! kind = "columns"
//! table = "shop.users"
//! exclude = ["password_hash"]
//! rename = { email = "email_address" }
//!
//! [[pipeline.transform]]
//! kind = "filter"
//! drop = ["ddl"]
//!
//! [[pipeline.transform]]
//! kind = "add_column"
//! name = "source"
//! value = "eu-1"
//! ```
//!
//! Table patterns (`from`, `table`) are Canal regexes or wildcards: see [`TablePattern`].
//! Transforms run in the order configured, each seeing the previous one's output (a `columns`
//! after a `route` matches the *routed* names). Consecutive `route` entries form one routing
//! table in which the first matching rule wins ([`build_all`]).
//!
//! A custom transform is any type implementing [`Transform`]: see `examples/custom_transform.rs`.
//!
//! Invariants of every built-in transform: events are never reordered (and never removed: a
//! filtered transaction keeps its chunks, a filtered DDL becomes a progress mark); `Batch::seq`,
//! `Batch::position`, event positions and every `RowChange::id` are untouched; each row image
//! keeps one value per column of its (possibly new) schema; derived schemas are computed once per
//! source schema object, never per row.

mod add_column;
mod cache;
mod columns;
mod ddl_rewrite;
mod kind_filter;
mod route;
mod template;
#[cfg(test)]
pub(crate) mod test_util;

use serde::{Deserialize, Serialize};

pub use self::add_column::{AddColumn, AddColumnConfig};
pub use self::columns::{Columns, ColumnsConfig};
pub use self::kind_filter::{EventKind, FilterConfig, KindFilter};
pub use self::template::NameTemplate;
pub use crate::pattern::TablePattern;
pub use self::route::{Route, RouteConfig, RouteRule};

/// Rewrites the table names a DDL statement mentions (in `CREATE`/`ALTER`/`DROP`/`RENAME`/
/// `TRUNCATE TABLE`, `LIKE`, `REFERENCES`, index DDL; never inside strings, comments or
/// `SELECT` parts): `route` maps `(db, table)` — unqualified names resolved in `default_db` — to
/// a new name, written qualified and backquoted. `None` when nothing changed.
pub fn rewrite_ddl_tables(sql: &str, default_db: &str, route: impl FnMut(&str, &str) -> Option<(String, String)>) -> Option<String> {
    self::ddl_rewrite::rewrite(sql, default_db, route)
}
use crate::error::Result;
use crate::traits::{Batch, Transform};

/// The name `db.table` has on the target after the `route` transforms of `configs`.
pub fn target_name(configs: &[TransformConfig], db: &str, table: &str) -> Result<(String, String)> {
    let routes: Vec<&RouteConfig> = configs
        .iter()
        .filter_map(|c| match c {
            TransformConfig::Route(r) => Some(r),
            _ => None,
        })
        .collect();
    if routes.is_empty() {
        return Ok((db.to_owned(), table.to_owned()));
    }
    Ok(Route::from_configs(&routes)?.target(db, table)?.unwrap_or_else(|| (db.to_owned(), table.to_owned())))
}

/// The `columns` transforms of `configs` that rename or leave out columns of `db.table` (their
/// `table` patterns): statements written in the source's column names (a re-sync's purge) do
/// not fit such a target table.
pub fn column_changes(configs: &[TransformConfig], db: &str, table: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in configs {
        if let TransformConfig::Columns(cc) = c {
            if TablePattern::new(&cc.table, cc.wildcard)?.is_match(db, table) {
                out.push(cc.table.clone());
            }
        }
    }
    Ok(out)
}

/// One `[[pipeline.transform]]` table, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransformConfig {
    /// Rename schema/table: [`RouteConfig`].
    Route(RouteConfig),
    /// Include/exclude/rename columns: [`ColumnsConfig`].
    Columns(ColumnsConfig),
    /// Drop or keep changes by kind: [`FilterConfig`].
    Filter(FilterConfig),
    /// Append a constant column: [`AddColumnConfig`].
    AddColumn(AddColumnConfig),
}

/// Builds one transform (a `route` on its own is a one-rule routing table).
pub fn build(cfg: &TransformConfig) -> Result<Box<dyn Transform>> {
    Ok(match cfg {
        TransformConfig::Route(r) => Box::new(Route::from_configs(&[r])?),
        TransformConfig::Columns(c) => Box::new(Columns::new(c)?),
        TransformConfig::Filter(f) => Box::new(KindFilter::new(f)?),
        TransformConfig::AddColumn(a) => Box::new(AddColumn::new(a)?),
    })
}

/// Builds the transforms of a pipeline, in order. Consecutive `route` entries are merged into
/// one [`Route`] whose first matching rule wins (instead of each routing the previous one's
/// output).
pub fn build_all(configs: &[TransformConfig]) -> Result<Chain> {
    let mut transforms: Vec<Box<dyn Transform>> = Vec::new();
    let mut routes: Vec<&RouteConfig> = Vec::new();
    for cfg in configs {
        if let TransformConfig::Route(r) = cfg {
            routes.push(r);
            continue;
        }
        if !routes.is_empty() {
            transforms.push(Box::new(Route::from_configs(&routes)?));
            routes.clear();
        }
        transforms.push(build(cfg)?);
    }
    if !routes.is_empty() {
        transforms.push(Box::new(Route::from_configs(&routes)?));
    }
    Ok(Chain::new(transforms))
}

/// Several transforms applied in order, as one.
#[derive(Default)]
pub struct Chain {
    transforms: Vec<Box<dyn Transform>>,
}

impl Chain {
    /// A chain of `transforms` (applied first to last).
    pub fn new(transforms: Vec<Box<dyn Transform>>) -> Chain {
        Chain { transforms }
    }

    /// Number of transforms.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    /// True when the chain does nothing.
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }

    /// The transforms, e.g. to add them to a pipeline one by one.
    pub fn into_inner(self) -> Vec<Box<dyn Transform>> {
        self.transforms
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.transforms.iter().map(|t| t.name())).finish()
    }
}

impl Transform for Chain {
    fn name(&self) -> &str {
        "chain"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        for t in &mut self.transforms {
            t.apply(batch).map_err(|e| e.context(format!("transform {}", t.name())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind::*;
    use crate::transform::test_util::*;

    /// The configuration shapes (the CLI reads the same structures from TOML; JSON here because
    /// otter-core does not depend on a TOML parser).
    #[test]
    fn configs_build_a_chain() {
        let configs: Vec<TransformConfig> = serde_json::from_value(serde_json::json!([
            {"kind": "route", "from": "shop\\.order_(\\d+)", "to": "shop.orders"},
            {"kind": "route", "from": "shop.*", "to": "copy.$1", "wildcard": true},
            {"kind": "columns", "table": "copy.users", "exclude": ["note"], "rename": {"email": "mail"}},
            {"kind": "filter", "drop": ["delete"]},
            {"kind": "add_column", "name": "source", "value": "eu-1"},
        ]))
        .unwrap();
        let mut chain = build_all(&configs).unwrap();
        assert_eq!(chain.len(), 4, "the two routes form one table");
        let (o, u) = (table("shop", "order_01"), table("shop", "users"));
        let mut b = batch(vec![txn(100, vec![change(&o, Insert, 1, 100, 0), change(&u, Update, 2, 100, 1), change(&u, Delete, 3, 100, 2)])]);
        chain.apply(&mut b).unwrap();
        let c = changes(&b);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].table.db.as_str(), c[0].table.name.as_str()), ("shop", "orders"), "first route wins");
        assert_eq!((c[1].table.db.as_str(), c[1].table.name.as_str()), ("copy", "users"));
        let names: Vec<&str> = c[1].table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "mail", "source"]);
        assert_eq!(c[1].after.as_ref().map(Vec::len), Some(3));
        assert_eq!(c[0].table.columns.len(), 4, "add_column applies to every table by default");
    }

    #[test]
    fn configs_reject_unknown_fields_and_kinds() {
        let parse = |v: serde_json::Value| serde_json::from_value::<TransformConfig>(v);
        assert!(parse(serde_json::json!({"kind": "filter", "drop": ["insert"], "bogus": 1})).is_err());
        assert!(parse(serde_json::json!({"kind": "nope"})).is_err());
        assert!(parse(serde_json::json!({"kind": "filter", "drop": ["upsert"]})).is_err());
        assert!(parse(serde_json::json!({"kind": "route", "from": "a.*"})).is_err(), "to is required");
        let ok = parse(serde_json::json!({"kind": "filter", "keep": ["insert", "ddl"]})).unwrap();
        assert!(build(&ok).is_ok());
    }
}
