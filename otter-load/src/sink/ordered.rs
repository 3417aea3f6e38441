//! `consistency = "transaction"` in the engine: source transactions are applied whole, one after
//! the other, never folded into each other — each one's changes merged per key *within* it only —
//! and committed in source order ([`crate::order`]), independent ones in parallel as their
//! write-sets allow ([`crate::writeset`]).
//!
//! A run of consecutive source transactions may share one target transaction (a *group*): their
//! ops follow each other in source order, transaction by transaction (one table's ops of
//! successive transactions joined into longer statements where that keeps every key's order:
//! [`append`]), so the group's commit shows the state the source had after its last transaction. Groups are small (at most [`GROUP_ROWS`]
//! rows or [`GROUP_TXNS`] transactions, and never across a batch of the pipeline: a transaction
//! that arrives while the sink is idle is a group of its own); they save the commit-order hand-over
//! per transaction when a backlog exists.
//!
//! Invariants:
//! - a transaction is applied only once complete (its last chunk seen, or the next transaction
//!   begun when filters dropped its end); a batch that ends inside one is acknowledged only once
//!   that transaction committed, with a later batch;
//! - the position written with a group is the source position right after its last transaction,
//!   so every stored row is a resume point with nothing after it applied: a restart (in either
//!   mode) repeats nothing and skips nothing;
//! - transactions of different origins (two-way setups) never share a group (one origin mark per
//!   target transaction);
//! - rows applied outside the order (snapshot chunks) run after every ordered group, and the next
//!   group after them;
//! - a transaction too big to hold ([`PART_ROWS`], [`PART_BYTES`]) is applied in parts as it
//!   arrives, in one target transaction left open until its end, alone in the commit order
//!   ([`super::parts`]): memory stays bounded whatever its size.

use std::sync::Arc;

use otter_core::change::{RowChange, TxnChunk, TxnMeta};
use otter_core::position::Position;
use otter_core::{Error, ErrorKind, Result};
use tokio::sync::oneshot;

use super::{complete, newest, wait_all, ApplySink};
use crate::merge::Op;
use crate::order::{Sequencer, Turn};
use crate::target::Target;
use crate::worker::{Job, TableOps};
use crate::writeset::{Scheduler, WriteSet};

/// Most rows of a group (a bigger transaction is a group of its own).
pub const GROUP_ROWS: usize = 8192;
/// Most source transactions of a group.
pub const GROUP_TXNS: usize = 128;
/// Rows of an unfinished transaction at which it is applied in parts ([`super::parts`]).
pub const PART_ROWS: usize = GROUP_ROWS;
/// Approximate bytes of row data of an unfinished transaction at which it is applied in parts.
pub const PART_BYTES: usize = 2 << 20;

pub(super) type Done = oneshot::Receiver<Result<()>>;

/// The engine's state in transaction mode.
pub(super) struct Ordered {
    pub(super) seqr: Arc<Sequencer>,
    pub(super) sched: Scheduler,
    pub(super) open: Option<OpenTxn>,
    group: Group,
    pub(super) next_worker: usize,
    /// Jobs outside the order (snapshot rows) may be in flight.
    pub(super) outside: bool,
}

impl Ordered {
    pub(super) fn new() -> Ordered {
        Ordered { seqr: Sequencer::new(1), sched: Scheduler::new(1), open: None, group: Group::default(), next_worker: 0, outside: false }
    }

    /// True while a transaction is open (its end not seen yet) or complete ones wait in a group.
    pub(super) fn is_open(&self) -> bool {
        self.open.is_some() || self.group.txns > 0
    }

    /// True while a transaction's end has not been seen yet (the batches that ended inside it
    /// are acknowledged only once it committed, so the pipeline must send the rest of it).
    pub(super) fn inside_txn(&self) -> bool {
        self.open.is_some()
    }

    /// The writer holding the open transaction's parts, while one is applied in parts.
    pub(super) fn parts_worker(&self) -> Option<usize> {
        self.open.as_ref()?.parts.as_ref().map(super::parts::Parts::worker)
    }

    /// Takes `changes` (snapshot rows the source released inside the open transaction) into the
    /// open transaction applied in parts, in stream order: the source lets a chunk's rows out
    /// only without the keys changed after its read so far, so they go before the rest of it.
    pub(super) fn join_parts(&mut self, changes: Vec<otter_core::change::RowChange>) {
        if let Some(t) = self.open.as_mut() {
            t.bytes += changes.iter().map(otter_core::change::RowChange::approx_bytes).sum::<usize>();
            t.changes.extend(changes);
        }
    }
}

/// A transaction whose chunks are still arriving.
pub(super) struct OpenTxn {
    pub(super) meta: Arc<TxnMeta>,
    /// Its changes not applied yet (all of them unless it is applied in parts).
    pub(super) changes: Vec<RowChange>,
    /// Approximate bytes of `changes`.
    pub(super) bytes: usize,
    /// One past the highest row number of its binlog changes seen.
    pub(super) next_row: u64,
    /// The newest chunk's resume position.
    pub(super) position: Option<Position>,
    /// Acknowledgements of batches that ended inside the transaction.
    pub(super) waiters: Vec<oneshot::Sender<Result<()>>>,
    /// Set once it is applied in parts.
    pub(super) parts: Option<super::parts::Parts>,
}

impl OpenTxn {
    /// Where the source resumes after this transaction: its commit, or (its end filtered away)
    /// after its last row seen.
    pub(super) fn end(&mut self) -> Position {
        self.position.take().unwrap_or_else(|| Position { coord: self.meta.begin.clone(), gtid: None, skip_rows: self.next_row, snapshot: None, applied: None })
    }

    /// Its origin (the local site's name when the change carries none).
    pub(super) fn origin(&self, local: &str) -> Arc<str> {
        Arc::from(self.meta.origin.as_deref().unwrap_or(local))
    }
}

/// Complete transactions waiting to be sent as one target transaction.
#[derive(Default)]
struct Group {
    tables: Vec<TableOps>,
    ws: WriteSet,
    end: Option<Position>,
    origin: Option<Arc<str>>,
    txns: usize,
    rows: usize,
    waiters: Vec<oneshot::Sender<Result<()>>>,
}

impl<T: Target> ApplySink<T> {
    /// Takes one chunk of a source transaction; returns the completion of a group it filled.
    pub(super) async fn ordered_chunk(&mut self, chunk: TxnChunk) -> Result<Vec<Done>> {
        let mut rxs = Vec::new();
        let Some(o) = &mut self.ordered else { return Ok(rxs) };
        // A new transaction while one is open: filters dropped the open one's end.
        if o.open.as_ref().is_some_and(|t| t.meta.begin != chunk.meta.begin) {
            if let Some(t) = o.open.take() {
                rxs.extend(self.finish(t).await?);
            }
        }
        let streams = self.target.streams();
        let Some(o) = &mut self.ordered else { return Ok(rxs) };
        let t = o.open.get_or_insert_with(|| OpenTxn {
            meta: Arc::clone(&chunk.meta),
            changes: Vec::new(),
            bytes: 0,
            next_row: 0,
            position: None,
            waiters: Vec::new(),
            parts: None,
        });
        for c in chunk.changes {
            if !c.id.is_snapshot() {
                t.next_row = t.next_row.max(c.id.row + 1);
            }
            t.bytes += c.approx_bytes();
            t.changes.push(c);
        }
        if chunk.position.is_some() {
            t.position = chunk.position;
        }
        let big = t.changes.len() >= PART_ROWS || t.bytes >= PART_BYTES;
        if chunk.last {
            if let Some(t) = o.open.take() {
                rxs.extend(self.finish(t).await?);
            }
        } else if big && streams {
            rxs.extend(self.send_part().await?);
        }
        Ok(rxs)
    }

    /// A transaction whose end arrived: the end of its parts, or into the group.
    async fn finish(&mut self, t: OpenTxn) -> Result<Vec<Done>> {
        if t.parts.is_some() {
            return self.end_parts(t).await;
        }
        self.add_to_group(t).await
    }

    /// Sends what is complete (something that cannot share a group follows, or the batch ends).
    pub(super) async fn ordered_flush(&mut self) -> Result<Option<Done>> {
        self.send_group().await
    }

    /// Ends the open transaction, if any, and sends the group (a DDL follows).
    pub(super) async fn ordered_close(&mut self) -> Result<Vec<Done>> {
        let mut rxs = Vec::new();
        if let Some(t) = self.ordered.as_mut().and_then(|o| o.open.take()) {
            rxs.extend(self.finish(t).await?);
        }
        rxs.extend(self.send_group().await?);
        Ok(rxs)
    }

    /// At a stop: the open transaction is not applied (its parts sent so far are rolled back);
    /// the batches that ended inside it fail (so their positions are never recorded) and the
    /// restart reads it again.
    pub(super) async fn ordered_abandon(&mut self) {
        if let Some(t) = self.ordered.as_mut().and_then(|o| o.open.take()) {
            for w in t.waiters {
                let _ = w.send(Err(Error::new(ErrorKind::Sink, "stopped inside a source transaction; it is applied after the restart").transient(true)));
            }
            if let Some(p) = t.parts {
                self.abandon_parts(p).await;
            }
        }
    }

    /// At a batch's end: a completion that comes once the open transaction committed (or, for
    /// one applied in parts, failed).
    pub(super) fn ordered_tail(&mut self) -> Option<Done> {
        let t = self.ordered.as_mut()?.open.as_mut()?;
        let (tx, rx) = oneshot::channel();
        match &t.parts {
            Some(p) => p.settle(vec![tx]),
            None => t.waiters.push(tx),
        }
        Some(rx)
    }

    /// Adds a complete transaction to the group, sending the group first when the transaction
    /// has another origin, and after when the group is full.
    async fn add_to_group(&mut self, mut txn: OpenTxn) -> Result<Vec<Done>> {
        let mut rxs = Vec::new();
        let origin = txn.origin(&self.local_site());
        if self.ordered.as_ref().and_then(|o| o.group.origin.as_ref()).is_some_and(|g| *g != origin) {
            rxs.extend(self.send_group().await?);
        }
        let end = txn.end();
        let OpenTxn { changes, waiters, .. } = txn;
        let rows = changes.len();
        let mut ws = std::mem::take(&mut self.ordered.as_mut().ok_or_else(no_state)?.group.ws);
        let built = self.build(changes, true, Some(&mut ws)).await;
        let g = &mut self.ordered.as_mut().ok_or_else(no_state)?.group;
        g.ws = ws;
        for t in built?.into_iter().next().unwrap_or_default() {
            append(&mut g.tables, t);
        }
        g.end = Some(end);
        g.origin = Some(origin);
        g.txns += 1;
        g.rows += rows;
        g.waiters.extend(waiters);
        if g.rows >= GROUP_ROWS || g.txns >= GROUP_TXNS {
            rxs.extend(self.send_group().await?);
        }
        Ok(rxs)
    }

    /// The name of the site the source is (two-way setups; empty otherwise).
    pub(super) fn local_site(&self) -> String {
        self.two_way.as_ref().map_or(String::new(), |t| t.source_site.clone())
    }

    /// The next place in the commit order for a job of write-set `ws` (after the rows applied
    /// outside the order, if any are in flight), and the writer it goes to.
    pub(super) async fn place(&mut self, ws: &WriteSet) -> Result<(Turn, usize)> {
        if self.ordered.as_ref().is_some_and(|o| o.outside) {
            self.barrier().await?;
            if let Some(o) = &mut self.ordered {
                o.outside = false;
                o.sched.barrier();
            }
        }
        let o = self.ordered.as_mut().ok_or_else(no_state)?;
        let (seq, after) = o.sched.place(ws, o.seqr.committed());
        let worker = o.next_worker % self.workers.len().max(1);
        o.next_worker = o.next_worker.wrapping_add(1);
        Ok((Turn::new(&o.seqr, seq, after), worker))
    }

    /// Sends the group to the next writer in turn.
    pub(super) async fn send_group(&mut self) -> Result<Option<Done>> {
        let Some(o) = &mut self.ordered else { return Ok(None) };
        if o.group.txns == 0 {
            return Ok(None);
        }
        let Group { tables, ws, end, origin, waiters, .. } = std::mem::take(&mut o.group);
        self.dispatched = true;
        if tables.is_empty() {
            // Everything was applied before a restart (or filtered): nothing to order.
            for w in waiters {
                let _ = w.send(Ok(()));
            }
            return Ok(None);
        }
        let watermark = newest(&tables);
        let (turn, worker) = self.place(&ws).await?;
        let (done, rx) = oneshot::channel();
        let applied = end.as_ref().and_then(|e| e.gtid.clone());
        let origin = origin.unwrap_or_else(|| Arc::from(""));
        self.send_to(worker, Job::Apply { tables, watermark, position: end, origin, applied, turn: Some(turn), part: false, done }).await?;
        self.last_write = std::time::Instant::now();
        Ok(Some(forward(rx, waiters)))
    }
}

/// `rx`, also completing `waiters` (batches that ended inside the job's last transaction) with
/// its outcome.
pub(super) fn forward(rx: Done, waiters: Vec<oneshot::Sender<Result<()>>>) -> Done {
    if waiters.is_empty() {
        return rx;
    }
    let (done, forwarded) = oneshot::channel();
    tokio::spawn(async move {
        let r = wait_all(vec![rx]).await;
        complete(waiters, &r);
        let _ = done.send(r);
    });
    forwarded
}

/// Appends a transaction's ops of one table to a group's, in the same `TableOps` as the
/// table's earlier ops where that keeps the order of every key: a `TableOps` runs its deletes
/// before its writes, so new deletes join only when none of their keys is among the earlier
/// writes (compared by a hash of the key: a collision only keeps them apart). Different tables'
/// statements may run in any order within the target transaction (the final state is the same;
/// the apply sessions check no foreign keys). Joined ops go as longer multi-row statements.
fn append(tables: &mut Vec<TableOps>, t: TableOps) {
    let same = tables.iter_mut().rev().find(|x| Arc::ptr_eq(&x.schema, &t.schema));
    match same {
        Some(x) if x.rule.is_none() && t.rule.is_none() && (t.deletes.is_empty() || x.writes.is_empty() || disjoint(x, &t)) => {
            x.deletes.extend(t.deletes);
            x.writes.extend(t.writes);
        }
        _ => tables.push(t),
    }
}

/// True when no key `t` deletes is written by `x` (both whole-row ops of one keyed table).
fn disjoint(x: &TableOps, t: &TableOps) -> bool {
    if x.info.keyless {
        return false;
    }
    let mut buf = Vec::new();
    let mut key = |op: &Op| -> Option<u64> {
        let image = match op {
            Op::Upsert { after, .. } | Op::Insert { after, .. } => after,
            Op::Delete { before, .. } => before,
            Op::Update { .. } => return None,
        };
        crate::merge::key_bytes_into(&x.schema, &x.info.key, image, &mut buf);
        let mut h = rustc_hash::FxHasher::default();
        std::hash::Hasher::write(&mut h, &buf);
        Some(std::hash::Hasher::finish(&h))
    };
    let mut written = rustc_hash::FxHashSet::default();
    for op in &x.writes {
        match key(op) {
            Some(h) => written.insert(h),
            None => return false,
        };
    }
    t.deletes.iter().all(|op| key(op).is_some_and(|h| !written.contains(&h)))
}

pub(super) fn no_state() -> Error {
    crate::error::internal("transaction mode without its state")
}

#[cfg(test)]
mod tests {
    use otter_binlog::Value;
    use otter_core::change::ChangeId;
    use otter_core::position::BinlogCoord;
    use otter_core::schema::{Column, SqlType, TableSchema};

    use super::*;
    use crate::target::TargetInfo;

    fn ops(schema: &Arc<TableSchema>, deletes: &[i64], writes: &[i64]) -> TableOps {
        let id = ChangeId { txn: BinlogCoord::new("b.1", 4), row: 0 };
        TableOps {
            schema: Arc::clone(schema),
            info: Arc::new(TargetInfo { columns: vec![0], key: vec![0], keyless: false, load_data: false, parents: Vec::new(), row_layout: None }),
            deletes: deletes.iter().map(|&k| Op::Delete { before: vec![Value::Int(k)], id: id.clone() }).collect(),
            writes: writes.iter().map(|&k| Op::Upsert { after: vec![Value::Int(k)], id: id.clone(), fresh: false }).collect(),
            guarded: Vec::new(),
            rule: None,
        }
    }

    /// A `TableOps`'s table, delete keys and write keys.
    type Seen = (String, (Vec<String>, Vec<String>));

    fn keys(t: &TableOps) -> (Vec<String>, Vec<String>) {
        let k = |op: &Op| match op {
            Op::Delete { before, .. } => format!("{:?}", before[0]),
            Op::Upsert { after, .. } => format!("{:?}", after[0]),
            _ => unreachable!(),
        };
        (t.deletes.iter().map(k).collect(), t.writes.iter().map(k).collect())
    }

    #[test]
    fn successive_transactions_join_only_where_every_key_keeps_its_order() {
        let t = Arc::new(TableSchema::new("d", "t", vec![Column::new("id", SqlType::Int)], vec![0]));
        let u = Arc::new(TableSchema::new("d", "u", vec![Column::new("id", SqlType::Int)], vec![0]));
        let mut group = Vec::new();
        append(&mut group, ops(&t, &[], &[1]));
        append(&mut group, ops(&u, &[7], &[]));
        // Writes only: joins the first transaction's writes of t.
        append(&mut group, ops(&t, &[], &[2]));
        // A delete of a key written before would run before that write inside one TableOps: a
        // new one. A delete of another key joins.
        append(&mut group, ops(&t, &[5], &[]));
        append(&mut group, ops(&t, &[1], &[3]));
        // Deletes join deletes of u (no writes there yet).
        append(&mut group, ops(&u, &[8], &[9]));
        append(&mut group, ops(&t, &[], &[4]));
        let seen: Vec<Seen> = group.iter().map(|x| (x.schema.name.clone(), keys(x))).collect();
        let s = |v: &[&str]| v.iter().map(|x| format!("Int({x})")).collect::<Vec<_>>();
        assert_eq!(
            seen,
            vec![
                ("t".to_owned(), (s(&["5"]), s(&["1", "2"]))),
                ("u".to_owned(), (s(&["7", "8"]), s(&["9"]))),
                ("t".to_owned(), (s(&["1"]), s(&["3", "4"]))),
            ]
        );
    }
}
