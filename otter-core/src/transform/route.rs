//! `route`: rename schema and table — one to one (`shop.*` → `shop_copy.$1`) or many to one
//! (shards `shop.order_00`..`order_63` → `shop.orders`), like Otter's DataMediaPair.
//!
//! Rules apply in order and the first whose `from` matches decides; a table no rule matches
//! passes unchanged. Row changes get a renamed copy of their schema: one copy per source schema
//! object, cached, so shards share nothing but every row of a shard shares its copy (no per-row
//! allocation). DDL events get their `tables` list and their statement rewritten: see
//! [`super::ddl_rewrite`] for which names in the text are replaced (routed names are written
//! fully qualified; the event's default `schema` stays). DDL that names no routed table passes
//! unchanged. Note that merging shards also merges their DDL: every shard's `ALTER TABLE` arrives
//! as an `ALTER TABLE` of the merged table — add a `filter` dropping `ddl` if the target must not
//! see them.
//!
//! Invariants: events are never reordered, added or removed; positions, `seq` and every
//! `RowChange.id` are untouched; row images are not touched (only `table` is replaced).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cache::SchemaCache;
use super::ddl_rewrite;
use super::template::NameTemplate;
use crate::change::{DdlEvent, Event};
use crate::error::{Error, Result};
use crate::pattern::TablePattern;
use crate::schema::TableSchema;
use crate::traits::{Batch, Transform};

/// Configuration of one routing rule (`kind = "route"`).
///
/// ```toml
/// [[pipeline.transform]]
/// kind = "route"
/// from = "shop.order_*"      # wildcard (or a Canal regex such as 'shop\.order_\d+')
/// to = "shop.orders"         # db.table; $1, $2... are the regex groups / the `*` matches
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Pattern on `schema.table`: a Canal regex or a wildcard (see
    /// [`TablePattern`] for how one is told from the other).
    pub from: String,
    /// Target `db.table`; `$N` / `${N}` insert capture group `N` of `from`, `$$` a `$`.
    pub to: String,
    /// Force reading `from` as a wildcard (`true`) or a regex (`false`). Default: detected.
    #[serde(default)]
    pub wildcard: Option<bool>,
}

/// One compiled routing rule.
#[derive(Debug, Clone)]
pub struct RouteRule {
    from: TablePattern,
    to: NameTemplate,
}

impl RouteRule {
    /// Compiles a rule; fails on a bad pattern or a target referring to missing groups.
    pub fn new(cfg: &RouteConfig) -> Result<RouteRule> {
        let from = TablePattern::new(&cfg.from, cfg.wildcard)?;
        let to = NameTemplate::parse(&cfg.to, from.groups()).map_err(|e| e.context(format!("route from {:?}", cfg.from)))?;
        Ok(RouteRule { from, to })
    }

    /// The target of `db.table` when this rule matches it.
    pub fn target(&self, db: &str, table: &str) -> Option<(String, String)> {
        self.from.captures(db, table).map(|caps| self.to.expand(&caps))
    }
}

/// The `route` transform: an ordered list of rules, first match wins.
#[derive(Debug)]
pub struct Route {
    rules: Vec<RouteRule>,
    cache: SchemaCache<Option<Arc<TableSchema>>>,
}

impl Route {
    /// A router over `rules` (in priority order).
    pub fn new(rules: Vec<RouteRule>) -> Route {
        Route { rules, cache: SchemaCache::default() }
    }

    /// Compiles the rules of `configs` (in priority order).
    pub fn from_configs(configs: &[&RouteConfig]) -> Result<Route> {
        Ok(Route::new(configs.iter().map(|c| RouteRule::new(c)).collect::<Result<_>>()?))
    }

    /// Where `db.table` goes: `None` when no rule matches or the first matching rule keeps the
    /// name; an error when the rule yields an empty name.
    pub fn target(&self, db: &str, table: &str) -> Result<Option<(String, String)>> {
        target(&self.rules, db, table)
    }

    fn routed_schema(&mut self, table: &Arc<TableSchema>) -> Result<Option<Arc<TableSchema>>> {
        let Route { rules, cache } = self;
        let routed = cache.get_or_try_insert(table, |t| {
            Ok(target(rules, &t.db, &t.name)?.map(|(db, name)| Arc::new(TableSchema { db, name, ..t.clone() })))
        })?;
        Ok(routed.clone())
    }

    fn route_ddl(&self, d: &mut DdlEvent) -> Result<()> {
        let mut failure = None;
        let rewritten = ddl_rewrite::rewrite(&d.statement, &d.schema, |db, t| match self.target(db, t) {
            Ok(target) => target,
            Err(e) => {
                failure.get_or_insert(e);
                None
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(statement) = rewritten {
            d.statement = statement;
        }
        let mut tables: Vec<(String, String)> = Vec::with_capacity(d.tables.len());
        for (db, t) in &d.tables {
            let name = self.target(db, t)?.unwrap_or_else(|| (db.clone(), t.clone()));
            if !tables.contains(&name) {
                tables.push(name);
            }
        }
        d.tables = tables;
        Ok(())
    }
}

fn target(rules: &[RouteRule], db: &str, table: &str) -> Result<Option<(String, String)>> {
    let Some((rule, (to_db, to_table))) = rules.iter().find_map(|r| r.target(db, table).map(|t| (r, t))) else {
        return Ok(None);
    };
    if to_db.is_empty() || to_table.is_empty() {
        return Err(Error::config(format!(
            "route from {:?} to {:?} maps {db}.{table} to the empty name {to_db:?}.{to_table:?}",
            rule.from.as_str(),
            rule.to.as_str()
        )));
    }
    Ok((to_db != db || to_table != table).then_some((to_db, to_table)))
}

impl Transform for Route {
    fn name(&self) -> &str {
        "route"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        for event in &mut batch.events {
            match event {
                Event::Rows(chunk) => {
                    for change in &mut chunk.changes {
                        if let Some(routed) = self.routed_schema(&change.table)? {
                            change.table = routed;
                        }
                    }
                }
                Event::Ddl(d) => self.route_ddl(d)?,
                Event::Progress(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind;
    use crate::transform::test_util::*;

    fn route(rules: &[(&str, &str)]) -> Route {
        let cfgs: Vec<RouteConfig> = rules.iter().map(|(f, t)| RouteConfig { from: (*f).into(), to: (*t).into(), wildcard: None }).collect();
        Route::from_configs(&cfgs.iter().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn shards_merge_and_share_one_schema_per_source() {
        let (o0, o1, users) = (table("shop", "order_00"), table("shop", "order_01"), table("shop", "users"));
        let mut b = batch(vec![
            txn(100, vec![change(&o0, ChangeKind::Insert, 1, 100, 0), change(&o0, ChangeKind::Update, 1, 100, 1), change(&o1, ChangeKind::Delete, 2, 100, 2)]),
            txn(300, vec![change(&users, ChangeKind::Insert, 3, 300, 0)]),
        ]);
        let before = b.clone();
        let mut r = route(&[("shop.order_*", "dw.orders"), ("shop\\.(order_.*)", "never.$1")]);
        r.apply(&mut b).unwrap();
        let c = changes(&b);
        let names: Vec<String> = c.iter().map(|c| format!("{}.{}", c.table.db, c.table.name)).collect();
        assert_eq!(names, ["dw.orders", "dw.orders", "dw.orders", "shop.users"], "first match wins");
        assert!(Arc::ptr_eq(&c[0].table, &c[1].table), "rows of one source schema share one routed copy");
        assert!(!Arc::ptr_eq(&c[0].table, &c[2].table), "each source schema gets its own copy");
        assert!(Arc::ptr_eq(&c[3].table, &users), "unmatched tables keep their schema object");
        assert_eq!(c[0].table.columns, o0.columns);
        let ids: Vec<_> = c.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids, changes(&before).iter().map(|c| c.id.clone()).collect::<Vec<_>>());
        assert_eq!(b.position, before.position);
        assert_eq!(c[1].after, changes(&before)[1].after);
        // A second batch reuses the cached copies.
        let mut b2 = batch(vec![txn(500, vec![change(&o0, ChangeKind::Insert, 9, 500, 0)])]);
        r.apply(&mut b2).unwrap();
        assert!(Arc::ptr_eq(&changes(&b2)[0].table, &c[0].table));
        assert_eq!(r.cache.len(), 3);
    }

    #[test]
    fn groups_and_regexes() {
        let r = route(&[("(shop|crm)\\.t_(\\d+)", "$1_all.t"), ("*.log_*", "$1.logs_$2")]);
        assert_eq!(r.target("crm", "t_5").unwrap(), Some(("crm_all".into(), "t".into())));
        assert_eq!(r.target("a", "log_x").unwrap(), Some(("a".into(), "logs_x".into())));
        assert_eq!(r.target("a", "b").unwrap(), None);
        let same = route(&[("*.*", "$1.$2")]);
        assert_eq!(same.target("a", "b").unwrap(), None, "identity is no route");
        let empty = route(&[("x\\.(.*)", "$1.t")]);
        assert!(empty.target("x", "").is_err());
        let bad = RouteConfig { from: "shop.*".into(), to: "$2.t".into(), wildcard: Some(true) };
        assert!(RouteRule::new(&bad).is_err());
    }

    #[test]
    fn ddl_text_and_tables_are_routed() {
        let mut b = batch(vec![
            ddl(100, "shop", "ALTER TABLE order_03 ADD COLUMN note2 VARCHAR(10) DEFAULT 'order_03'", &[("shop", "order_03")]),
            ddl(300, "shop", "RENAME TABLE order_01 TO order_99, users TO people", &[("shop", "order_01"), ("shop", "order_99"), ("shop", "users"), ("shop", "people")]),
            ddl(500, "shop", "CREATE TABLE audit (id INT)", &[("shop", "audit")]),
        ]);
        let before = b.clone();
        route(&[("shop.order_*", "dw.orders")]).apply(&mut b).unwrap();
        let Event::Ddl(d0) = &b.events[0] else { panic!() };
        assert_eq!(d0.statement, "ALTER TABLE `dw`.`orders` ADD COLUMN note2 VARCHAR(10) DEFAULT 'order_03'");
        assert_eq!(d0.tables, [("dw".to_owned(), "orders".to_owned())]);
        assert_eq!(d0.schema, "shop");
        let Event::Ddl(d1) = &b.events[1] else { panic!() };
        assert_eq!(d1.statement, "RENAME TABLE `dw`.`orders` TO `dw`.`orders`, users TO people");
        assert_eq!(d1.tables.len(), 3, "duplicates collapse");
        let (Event::Ddl(d2), Event::Ddl(o2)) = (&b.events[2], &before.events[2]) else { panic!() };
        assert_eq!((&d2.statement, &d2.tables), (&o2.statement, &o2.tables), "unrouted DDL passes unchanged");
        assert_eq!(d2.position, o2.position);
    }
}
