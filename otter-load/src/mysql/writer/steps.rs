//! The steps of a job: which statements, `LOAD DATA` runs and bulk runs each table's ops become
//! (the engine's choice of path; the dialect spells each statement).
//!
//! Invariants: a table's deletes come before its other writes, and its writes keep their order
//! (a run is a stretch of consecutive ops of one kind); a bulk or `LOAD DATA` run only replaces
//! statements that would have given the same result ([`crate::mysql::bulk`], [`crate::mysql::load_data`]).

use otter_binlog::Value;

use super::MysqlWriter;
use crate::worker::{target, TableOps};
use crate::mysql::bulk::{self, BulkRun};
use crate::conflict::{guarded_statements, Sites};
use crate::dialect::TargetTable;
use crate::mysql::load_data;
use crate::mysql::row_events::{self, RowEventRun};
use crate::merge::Op;
use crate::report::describe;
use crate::mysql::txn::{self, sql_steps, Step};
use otter_core::Result;

impl MysqlWriter {
    /// Sites of a decision; in one-way pipelines (fan-in) the origin is the pipeline's name and
    /// the target is called `target`.
    pub(super) fn sites<'a>(&'a self, origin: &'a str) -> Sites<'a> {
        Sites {
            origin: if origin.is_empty() { &self.pipeline } else { origin },
            target: self.two_way.as_ref().map_or("target", |t| t.target_site.as_str()),
            pipeline: &self.pipeline,
            schema: self.two_way.as_ref().map_or(self.cfg.checkpoint_schema.as_str(), |t| t.marks_schema.as_str()),
        }
    }

    /// Statements of the guarded (conflict-checked) changes of `t`.
    pub(super) fn guarded(&self, t: &TableOps, origin: &str, out: &mut Vec<Step>) -> Result<()> {
        if let Some(rule) = &t.rule {
            let target = target(t);
            for g in &t.guarded {
                out.extend(sql_steps(guarded_statements(&*self.dialect, &target, rule, self.sites(origin), g)?));
            }
        }
        Ok(())
    }

    /// The job as multi-row statements, with long runs of whole-row writes as bulk executions or
    /// `LOAD DATA`, and runs of inserts or updates as row events.
    pub(super) fn statements(&mut self, tables: &[TableOps], origin: &str) -> Result<Vec<Step>> {
        let dialect = std::sync::Arc::clone(&self.dialect);
        let d = &*dialect;
        let per = self.cfg.rows_per_statement.max(1);
        let mut out = Vec::new();
        let mut sql = Vec::new();
        for (ti, t) in tables.iter().enumerate() {
            self.guarded(t, origin, &mut out)?;
            let target = target(t);
            if !t.info.keyless {
                let keys: Vec<&[Value<'static>]> = t.deletes.iter().filter_map(|op| match op {
                    Op::Delete { before, .. } => Some(before.as_slice()),
                    _ => None,
                }).collect();
                for chunk in keys.chunks(per) {
                    let mut s = String::new();
                    d.delete(&target, chunk, &mut s)?;
                    out.push(Step::Sql(s));
                }
            } else {
                for op in &t.deletes {
                    out.extend(sql_steps(self.one(&target, op)?));
                }
            }
            let mut i = 0;
            while i < t.writes.len() {
                if let Some(run) = self.row_event_run(t, &target, ti, i) {
                    i += run.rows;
                    out.push(Step::RowEvents(run));
                    continue;
                }
                if t.info.load_data && self.cfg.bulk_min_rows > 0 && self.max_packet >= 2 * bulk::MAX_PACKET as u64 {
                    let (n, end) = run_of(&t.writes, i, usize::MAX);
                    if n >= self.cfg.bulk_min_rows {
                        if let Some(run) = BulkRun::build(d, &target, t.writes.get(i..end).unwrap_or(&[])) {
                            out.push(Step::Bulk(run));
                            i = end;
                            continue;
                        }
                    }
                }
                let loadable = if t.info.load_data { run_len(&t.writes, i, usize::MAX, load_data::loadable) } else { 0 };
                if loadable > 1 {
                    let end = i + loadable;
                    let name = format!("{}.{}", t.schema.db, t.schema.name);
                    let ops = t.writes.get(i..end).unwrap_or(&[]);
                    if self.load.wants(&name, loadable) {
                        if let Some(run) = load_data::build(d, &target, ops, ti, i..end) {
                            out.push(Step::Load(run));
                            i = end;
                            continue;
                        }
                    }
                }
                let (batchable, end) = run_of(&t.writes, i, per);
                if batchable > 1 {
                    txn::multi_row(d, &target, t.writes.get(i..end).unwrap_or(&[]), per, &mut sql)?;
                    out.extend(sql_steps(sql.drain(..)));
                    i = end;
                } else {
                    if let Some(op) = t.writes.get(i) {
                        out.extend(sql_steps(self.one(&target, op)?));
                    }
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    /// The run of inserts, or of updates of existing rows, starting at `t.writes[i]` (`t` the
    /// job's table `ti`) as row events, when the target, the table and the run allow it
    /// ([`crate::mysql::row_events`]).
    fn row_event_run(&mut self, t: &TableOps, target: &TargetTable<'_>, ti: usize, i: usize) -> Option<RowEventRun> {
        let (Some(layout), Some(server_id)) = (&t.info.row_layout, self.row_event_server) else { return None };
        if self.max_packet < 2 * bulk::MAX_PACKET as u64 {
            return None;
        }
        let mut n = run_len(&t.writes, i, usize::MAX, row_events::updatable);
        if n == 0 {
            n = run_len(&t.writes, i, usize::MAX, row_events::insertable);
        }
        if n == 0 || !self.row_events.wants(&format!("{}.{}", target.db, target.name), n) {
            return None;
        }
        let ops = t.writes.get(i..i + n)?;
        RowEventRun::build(server_id, (target.db, target.name), layout, ops, ti, i..i + n)
    }

    /// One statement per op, each with a description of its table and key.
    pub(super) fn single_statements(&self, tables: &[TableOps], origin: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for t in tables {
            if let Some(rule) = &t.rule {
                for g in &t.guarded {
                    let stmts = guarded_statements(&*self.dialect, &target(t), rule, self.sites(origin), g)?;
                    // One transaction per change: its statements joined.
                    out.push((stmts.join(";\n"), format!("{}.{} change {:?}", t.schema.db, t.schema.name, g.id)));
                }
            }
            let target = target(t);
            for op in t.deletes.iter().chain(&t.writes) {
                for s in self.one(&target, op)? {
                    out.push((s, describe(t, op)));
                }
            }
        }
        Ok(out)
    }

    pub(super) fn one(&self, t: &TargetTable<'_>, op: &Op) -> Result<Vec<String>> {
        let d = &*self.dialect;
        let mut s = String::new();
        match op {
            Op::Upsert { after, .. } => d.upsert(t, &[after.as_slice()], &mut s)?,
            Op::Insert { after, .. } => d.insert(t, &[after.as_slice()], &mut s)?,
            Op::Delete { before, .. } => d.delete(t, &[before.as_slice()], &mut s)?,
            Op::Update { key_image, after, set, .. } => {
                let set: Vec<usize> = set.iter().copied().filter(|i| t.columns.contains(i)).collect();
                if set.is_empty() {
                    return Ok(Vec::new());
                }
                d.update(t, key_image, after, &set, &mut s)?;
            }
        }
        Ok(vec![s])
    }
}

/// Length of a run of batchable ops (upserts, or inserts) starting at `i`, and its end.
fn run_of(ops: &[Op], i: usize, per: usize) -> (usize, usize) {
    let kind = |op: &Op| match op {
        Op::Upsert { .. } => 1,
        Op::Insert { .. } => 2,
        _ => 0,
    };
    let Some(k) = ops.get(i).map(kind).filter(|&k| k != 0) else { return (0, i + 1) };
    let n = run_len(ops, i, per, |op| kind(op) == k);
    (n, i + n)
}

/// How many ops from `i` on (at most `max`) satisfy `ok`.
fn run_len(ops: &[Op], i: usize, max: usize, ok: impl Fn(&Op) -> bool) -> usize {
    ops.get(i..).unwrap_or(&[]).iter().take(max).take_while(|op| ok(op)).count()
}
