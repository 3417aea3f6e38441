//! How a batch's changes become the writers' work: merged per table and key into ops, and each
//! op given its partition (the writer that applies it).
//!
//! Invariants: the partition of an op is a fixed function of (target table, key) for a whole run
//! (the parent module's first invariant); ops a partition committed before a restart are left
//! out here, never sent.

use std::sync::Arc;

use otter_core::change::{ChangeId, ChangeKind, RowChange};
use otter_core::schema::TableSchema;
use otter_core::{Error, Result};
use rustc_hash::FxHashMap;

use super::ApplySink;
use crate::conflict::Guarded;
use crate::merge::{key_block, key_bytes_into, merge, Op};
use crate::target::{Spread, Target, TargetInfo};
use crate::writeset::TablePlan;
use crate::worker::TableOps;

impl<T: Target> ApplySink<T> {
    /// The partition of `op` (of the whole table without a key); `buf` is scratch space.
    pub(super) fn partition(&self, schema: &TableSchema, key: Option<&[usize]>, op: Option<&Op>, buf: &mut Vec<u8>) -> usize {
        let n = self.workers.len().max(1);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |b: &[u8]| {
            for &x in b {
                h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(schema.db.as_bytes());
        feed(&[0]);
        feed(schema.name.as_bytes());
        if let (Some(k), Some(op)) = (key, op) {
            let image = op.key_image();
            if let Some(block) = key_block(k, image).filter(|_| self.spread == Spread::IntBlocks) {
                // Neighbouring blocks of a table on neighbouring partitions.
                return (h.wrapping_add(block) % n as u64) as usize;
            }
            key_bytes_into(schema, k, image, buf);
            feed(buf);
        }
        (h % n as u64) as usize
    }

    /// True when partition `p` committed change `id` before a restart (its stored watermark
    /// covers it); snapshot rows are never replayed, so never covered.
    pub(super) fn applied_before(&self, p: usize, id: &ChangeId) -> bool {
        !id.is_snapshot() && self.watermarks.get(p).and_then(Option::as_ref).is_some_and(|w| id <= w)
    }

    /// The write-set plan of `schema`'s rows on the target described by `info` (cached).
    pub(super) fn plan(&mut self, schema: &Arc<TableSchema>, info: &Arc<TargetInfo>) -> Arc<TablePlan> {
        let k = Arc::as_ptr(schema) as usize;
        if let Some((s, i, p)) = self.plans.get(&k) {
            if Arc::ptr_eq(s, schema) && Arc::ptr_eq(i, info) {
                return Arc::clone(p);
            }
        }
        let p = Arc::new(TablePlan::new(schema, info));
        if self.plans.len() >= 1024 {
            self.plans.clear();
        }
        self.plans.insert(k, (Arc::clone(schema), Arc::clone(info), Arc::clone(&p)));
        p
    }

    /// Merges `changes` per table and key into ops: one list per partition, or a single list
    /// (`single`, a source transaction applied whole). Changes a partition committed before a
    /// restart are left out. `ws` collects the changes' write-set.
    pub(super) async fn build(&mut self, changes: Vec<RowChange>, single: bool, mut ws: Option<&mut crate::writeset::WriteSet>) -> Result<Vec<Vec<TableOps>>> {
        let mut groups: Vec<(Arc<TableSchema>, Vec<RowChange>)> = Vec::new();
        // By schema address: every change holds its schema, so no two live schemas share one.
        let mut index: FxHashMap<usize, usize> = FxHashMap::default();
        for c in changes {
            let k = Arc::as_ptr(&c.table) as usize;
            let i = *index.entry(k).or_insert_with(|| {
                groups.push((Arc::clone(&c.table), Vec::new()));
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                g.1.push(c);
            }
        }
        let n = self.workers.len();
        let bucket = |p: usize| if single { 0 } else { p };
        let mut per: Vec<Vec<TableOps>> = (0..if single { 1 } else { n }).map(|_| Vec::new()).collect();
        let (mut keybuf, mut wsbuf) = (Vec::new(), Vec::new());
        for (schema, changes) in groups {
            let info = self.target.describe(&schema).await?;
            if let Some(ws) = ws.as_deref_mut() {
                let plan = self.plan(&schema, &info);
                for c in &changes {
                    ws.add(&plan, c, &mut wsbuf);
                }
            }
            let key = if info.keyless { None } else { Some(info.key.as_slice()) };
            if let Some(rule) = self.cfg.rules.iter().find(|r| r.matches(&schema.db, &schema.name)).cloned() {
                if info.keyless {
                    return Err(Error::config(format!(
                        "{}.{} has a conflict rule but no primary or unique key on the target; conflicts need a key",
                        schema.db, schema.name
                    )));
                }
                self.target.guard(&schema, &info, &rule).await?;
                // Change by change, one partition per table: order (and key changes) kept.
                let p = self.partition(&schema, None, None, &mut keybuf);
                let mut guarded = Vec::new();
                for c in changes {
                    if self.applied_before(p, &c.id) {
                        continue;
                    }
                    // A snapshot row meets the rule as an insert of the row it read.
                    let kind = if c.kind == ChangeKind::Snapshot { ChangeKind::Insert } else { c.kind };
                    guarded.push(Guarded { kind, before: c.before, after: c.after, id: c.id });
                }
                if guarded.is_empty() {
                    continue;
                }
                if let Some(v) = per.get_mut(bucket(p)) {
                    v.push(TableOps { schema: Arc::clone(&schema), info: Arc::clone(&info), deletes: Vec::new(), writes: Vec::new(), guarded, rule: Some(rule) });
                }
                continue;
            }
            if moves_unique_values(&schema, &info) {
                // A unique key besides the one rows are matched on: a value can move from one
                // row to another, which merged (reordered) ops would get wrong — an upsert
                // matching the wrong row, or a duplicate. The table's changes go unmerged, in
                // source order, through one partition.
                let p = self.partition(&schema, None, None, &mut keybuf);
                let mut t = TableOps { schema: Arc::clone(&schema), info: Arc::clone(&info), deletes: Vec::new(), writes: Vec::new(), guarded: Vec::new(), rule: None };
                for c in changes {
                    if self.applied_before(p, &c.id) {
                        continue;
                    }
                    let one = merge(&schema, key, self.cfg.mode, vec![c]);
                    t.writes.extend(one.deletes.into_iter().chain(one.writes));
                }
                if let (false, Some(v)) = (t.writes.is_empty(), per.get_mut(bucket(p))) {
                    v.push(t);
                }
                continue;
            }
            let merged = merge(&schema, key, self.cfg.mode, changes);
            for a in &merged.anomalies {
                tracing::warn!(table = %format!("{}.{}", schema.db, schema.name), "{a}");
            }
            let mut buckets: Vec<Option<TableOps>> = (0..n).map(|_| None).collect();
            for (is_delete, op) in merged.deletes.into_iter().map(|o| (true, o)).chain(merged.writes.into_iter().map(|o| (false, o))) {
                let p = self.partition(&schema, key, Some(&op), &mut keybuf);
                if self.applied_before(p, op.id()) {
                    continue; // committed before a restart (snapshot rows are never replayed)
                }
                let t = buckets.get_mut(bucket(p)).ok_or_else(|| crate::error::internal("partition out of range"))?.get_or_insert_with(|| TableOps {
                    schema: Arc::clone(&schema),
                    info: Arc::clone(&info),
                    deletes: Vec::new(),
                    writes: Vec::new(),
                    guarded: Vec::new(),
                    rule: None,
                });
                if is_delete && !info.keyless {
                    t.deletes.push(op);
                } else {
                    t.writes.push(op);
                }
            }
            for (p, b) in buckets.into_iter().enumerate() {
                if let (Some(b), Some(v)) = (b, per.get_mut(bucket(p))) {
                    v.push(b);
                }
            }
        }
        Ok(per)
    }
}

/// True when `schema` has a unique key other than the one its target rows are matched on
/// (`info.key`): a unique value may then move between rows within a batch.
fn moves_unique_values(schema: &TableSchema, info: &TargetInfo) -> bool {
    !info.keyless && (schema.unique_keys.iter().any(|u| u.columns != info.key) || (!schema.primary_key.is_empty() && schema.primary_key != info.key))
}
