//! `filter`: drop (or keep only) changes by kind — insert, update, delete, DDL — optionally only
//! for tables matching a pattern (changes of other tables always pass).
//!
//! Invariants: the positions survive everything that is dropped. A transaction chunk is never
//! removed, even when all its changes are dropped: its `changes` become empty but its `meta`,
//! `index`, `last` and `position` stay, so transaction boundaries and checkpoints are intact. A
//! dropped DDL event becomes an [`Event::Progress`] carrying its position and commit time. Events
//! are never reordered; the remaining changes keep their order and `RowChange.id`s. A DDL event
//! matches a `table` pattern when one of its `tables` does (database-level DDL has none, so with
//! a `table` pattern it always passes).

use serde::{Deserialize, Serialize};

use super::cache::SchemaCache;
use crate::change::{ChangeKind, Event, Progress};
use crate::error::{Error, Result};
use crate::pattern::TablePattern;
use crate::traits::{Batch, Transform};

/// A kind of change a filter selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Row inserts.
    Insert,
    /// Row updates.
    Update,
    /// Row deletes.
    Delete,
    /// Rows an online snapshot read.
    Snapshot,
    /// DDL statements.
    Ddl,
}

impl EventKind {
    fn of(kind: ChangeKind) -> EventKind {
        match kind {
            ChangeKind::Insert => EventKind::Insert,
            ChangeKind::Update => EventKind::Update,
            ChangeKind::Delete => EventKind::Delete,
            ChangeKind::Snapshot => EventKind::Snapshot,
        }
    }
}

/// Configuration of the `filter` transform: exactly one of `drop` and `keep`.
///
/// ```toml
/// [[pipeline.transform]]
/// kind = "filter"
/// drop = ["delete", "ddl"]
/// table = "shop.*"           # optional; default: every table
/// wildcard = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Kinds to drop.
    #[serde(default)]
    pub drop: Option<Vec<EventKind>>,
    /// Kinds to keep (everything else is dropped).
    #[serde(default)]
    pub keep: Option<Vec<EventKind>>,
    /// Only filter tables matching this pattern (regex or wildcard, as `route.from`). Default:
    /// every table.
    #[serde(default)]
    pub table: Option<String>,
    /// Force reading `table` as a wildcard or a regex. Default: detected.
    #[serde(default)]
    pub wildcard: Option<bool>,
}

/// The `filter` transform.
#[derive(Debug)]
pub struct KindFilter {
    /// Dropped kinds, indexed by [`EventKind`] order.
    dropped: [bool; 5],
    table: Option<TablePattern>,
    matches: SchemaCache<bool>,
}

fn index(k: EventKind) -> usize {
    match k {
        EventKind::Insert => 0,
        EventKind::Update => 1,
        EventKind::Delete => 2,
        EventKind::Ddl => 3,
        EventKind::Snapshot => 4,
    }
}

impl KindFilter {
    /// Builds the filter; fails unless exactly one of `drop` and `keep` is given.
    pub fn new(cfg: &FilterConfig) -> Result<KindFilter> {
        let dropped = match (&cfg.drop, &cfg.keep) {
            (Some(drop), None) => {
                let mut d = [false; 5];
                for k in drop {
                    if let Some(x) = d.get_mut(index(*k)) {
                        *x = true;
                    }
                }
                d
            }
            (None, Some(keep)) => {
                let mut d = [true; 5];
                for k in keep {
                    if let Some(x) = d.get_mut(index(*k)) {
                        *x = false;
                    }
                }
                d
            }
            _ => return Err(Error::config("filter transform: set exactly one of drop = [...] and keep = [...] (kinds: insert, update, delete, ddl)")),
        };
        let table = cfg.table.as_deref().map(|p| TablePattern::new(p, cfg.wildcard)).transpose()?;
        Ok(KindFilter { dropped, table, matches: SchemaCache::default() })
    }
}

impl Transform for KindFilter {
    fn name(&self) -> &str {
        "filter"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        let KindFilter { dropped, table, matches } = self;
        let drops = |k: EventKind| dropped.get(index(k)).copied().unwrap_or(false);
        for event in &mut batch.events {
            match event {
                Event::Rows(chunk) => {
                    if !(drops(EventKind::Insert) || drops(EventKind::Update) || drops(EventKind::Delete)) {
                        continue;
                    }
                    let mut failure = None;
                    chunk.changes.retain(|c| {
                        if !drops(EventKind::of(c.kind)) {
                            return true;
                        }
                        let Some(p) = table else { return false };
                        match matches.get_or_try_insert(&c.table, |t| Ok(p.is_match(&t.db, &t.name))) {
                            Ok(m) => !*m,
                            Err(e) => {
                                failure.get_or_insert(e);
                                true
                            }
                        }
                    });
                    if let Some(e) = failure {
                        return Err(e);
                    }
                }
                Event::Ddl(d) => {
                    let matched = table.as_ref().is_none_or(|p| d.tables.iter().any(|(db, t)| p.is_match(db, t)));
                    if drops(EventKind::Ddl) && matched {
                        *event = Event::Progress(Progress { position: d.position.clone(), timestamp: d.meta.commit_ts, passed_over: true });
                    }
                }
                Event::Progress(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind::*;
    use crate::transform::test_util::*;

    fn filter(drop: Option<&[EventKind]>, keep: Option<&[EventKind]>, table: Option<&str>) -> KindFilter {
        KindFilter::new(&FilterConfig { drop: drop.map(<[_]>::to_vec), keep: keep.map(<[_]>::to_vec), table: table.map(Into::into), wildcard: None }).unwrap()
    }

    fn sample() -> crate::traits::Batch {
        let (a, b) = (table("shop", "a"), table("crm", "b"));
        batch(vec![
            txn(100, vec![change(&a, Insert, 1, 100, 0), change(&a, Delete, 2, 100, 1), change(&b, Delete, 3, 100, 2)]),
            txn(300, vec![change(&a, Delete, 4, 300, 0)]),
            ddl(500, "shop", "ALTER TABLE a ADD x INT", &[("shop", "a")]),
            ddl(700, "crm", "ALTER TABLE b ADD x INT", &[("crm", "b")]),
        ])
    }

    #[test]
    fn drops_kinds_and_keeps_positions() {
        let mut b = sample();
        let before = b.clone();
        filter(Some(&[EventKind::Delete, EventKind::Ddl]), None, None).apply(&mut b).unwrap();
        assert_eq!(b.events.len(), before.events.len(), "no event is removed");
        let rows: Vec<_> = changes(&b).iter().map(|c| (c.kind, c.id.row)).collect();
        assert_eq!(rows, [(Insert, 0)]);
        let Event::Rows(emptied) = &b.events[1] else { panic!() };
        assert!(emptied.changes.is_empty() && emptied.last);
        for (e, o) in b.events.iter().zip(&before.events) {
            assert_eq!(e.position(), o.position());
        }
        assert!(matches!(b.events[2], Event::Progress(_)) && matches!(b.events[3], Event::Progress(_)));
        assert_eq!(b.position, before.position);
    }

    #[test]
    fn keep_and_table_pattern() {
        let mut b = sample();
        filter(None, Some(&[EventKind::Insert]), Some("shop.*")).apply(&mut b).unwrap();
        let rows: Vec<_> = changes(&b).iter().map(|c| (c.kind, c.id.row, c.table.db.clone())).collect();
        assert_eq!(rows, [(Insert, 0, "shop".into()), (Delete, 2, "crm".into())], "crm.b is not filtered");
        assert!(matches!(b.events[2], Event::Progress(_)));
        assert!(matches!(b.events[3], Event::Ddl(_)));
        assert!(KindFilter::new(&FilterConfig { drop: None, keep: None, table: None, wildcard: None }).is_err());
        assert!(KindFilter::new(&FilterConfig { drop: Some(vec![]), keep: Some(vec![]), table: None, wildcard: None }).is_err());
    }
}
