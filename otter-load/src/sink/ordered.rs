//! `consistency = "transaction"` in the engine: every source transaction becomes one job of its
//! own — its changes merged per key *within* it only — placed in the commit order by its
//! write-set ([`crate::writeset`]) and handed to the writers in turn ([`crate::order`]).
//!
//! Invariants:
//! - a transaction is dispatched only once complete (its last chunk seen, or the next
//!   transaction begun when filters dropped its end); a batch that ends inside one is
//!   acknowledged only once the transaction committed with a later batch;
//! - the position written with a transaction is the source position right after it, so every
//!   stored row is a resume point with nothing after it applied: a restart (in either mode)
//!   repeats nothing and skips nothing;
//! - rows applied outside the order (snapshot chunks) run after every ordered transaction, and
//!   the next ordered transaction after them.

use std::sync::Arc;

use otter_core::change::{ChangeId, RowChange, TxnChunk, TxnMeta};
use otter_core::position::Position;
use otter_core::{Error, ErrorKind, Result};
use tokio::sync::oneshot;

use super::{wait_all, ApplySink};
use crate::merge::Op;
use crate::order::{Sequencer, Turn};
use crate::target::Target;
use crate::worker::Job;
use crate::writeset::{Scheduler, WriteSet};

/// The engine's state in transaction mode.
pub(super) struct Ordered {
    seqr: Arc<Sequencer>,
    sched: Scheduler,
    open: Option<OpenTxn>,
    next_worker: usize,
    /// Jobs outside the order (snapshot rows) may be in flight.
    pub(super) outside: bool,
}

impl Ordered {
    pub(super) fn new() -> Ordered {
        Ordered {
            seqr: Sequencer::new(1),
            sched: Scheduler::new(1),
            open: None,
            next_worker: 0,
            outside: false,
        }
    }

    /// True while a transaction is open (its end not seen yet).
    pub(super) fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

/// A transaction whose chunks are still arriving.
struct OpenTxn {
    meta: Arc<TxnMeta>,
    changes: Vec<RowChange>,
    /// The newest chunk's resume position.
    position: Option<Position>,
    /// Acknowledgements of batches that ended inside the transaction.
    waiters: Vec<oneshot::Sender<Result<()>>>,
}

impl<T: Target> ApplySink<T> {
    /// Takes one chunk of a source transaction; returns the completion of the transaction it
    /// completed, if any.
    pub(super) async fn ordered_chunk(
        &mut self,
        chunk: TxnChunk,
    ) -> Result<Vec<oneshot::Receiver<Result<()>>>> {
        let mut rxs = Vec::new();
        let Some(o) = &mut self.ordered else {
            return Ok(rxs);
        };
        // A new transaction while one is open: filters dropped the open one's end.
        if o.open
            .as_ref()
            .is_some_and(|t| t.meta.begin != chunk.meta.begin)
        {
            if let Some(t) = o.open.take() {
                rxs.extend(self.dispatch_txn(t).await?);
            }
        }
        let Some(o) = &mut self.ordered else {
            return Ok(rxs);
        };
        let t = o.open.get_or_insert_with(|| OpenTxn {
            meta: Arc::clone(&chunk.meta),
            changes: Vec::new(),
            position: None,
            waiters: Vec::new(),
        });
        t.changes.extend(chunk.changes);
        if chunk.position.is_some() {
            t.position = chunk.position;
        }
        if chunk.last {
            if let Some(t) = o.open.take() {
                rxs.extend(self.dispatch_txn(t).await?);
            }
        }
        Ok(rxs)
    }

    /// Dispatches the open transaction, if any (something that cannot be inside one follows).
    pub(super) async fn ordered_close(&mut self) -> Result<Option<oneshot::Receiver<Result<()>>>> {
        match self.ordered.as_mut().and_then(|o| o.open.take()) {
            Some(t) => self.dispatch_txn(t).await,
            None => Ok(None),
        }
    }

    /// At a stop: the open transaction is not applied; the batches that ended inside it fail
    /// (so their positions are never recorded) and the restart reads it again.
    pub(super) fn ordered_abandon(&mut self) {
        if let Some(t) = self.ordered.as_mut().and_then(|o| o.open.take()) {
            for w in t.waiters {
                let _ = w.send(Err(Error::new(
                    ErrorKind::Sink,
                    "stopped inside a source transaction; it is applied after the restart",
                )
                .transient(true)));
            }
        }
    }

    /// At a batch's end: a completion that comes once the open transaction committed.
    pub(super) fn ordered_tail(&mut self) -> Option<oneshot::Receiver<Result<()>>> {
        let t = self.ordered.as_mut()?.open.as_mut()?;
        let (tx, rx) = oneshot::channel();
        t.waiters.push(tx);
        Some(rx)
    }

    /// Sends a complete transaction to the next writer in turn.
    async fn dispatch_txn(
        &mut self,
        txn: OpenTxn,
    ) -> Result<Option<oneshot::Receiver<Result<()>>>> {
        let OpenTxn {
            meta,
            changes,
            position,
            waiters,
        } = txn;
        if self.ordered.as_ref().is_some_and(|o| o.outside) {
            self.barrier().await?;
            if let Some(o) = &mut self.ordered {
                o.outside = false;
                o.sched.barrier();
            }
        }
        // Where the source resumes after this transaction: its commit, or (its end filtered
        // away) after its last row seen.
        let end = position.unwrap_or_else(|| {
            let rows = changes
                .iter()
                .filter(|c| !c.id.is_snapshot())
                .map(|c| c.id.row + 1)
                .max()
                .unwrap_or(0);
            Position {
                coord: meta.begin.clone(),
                gtid: None,
                skip_rows: rows,
                snapshot: None,
                applied: None,
            }
        });
        let mut ws = WriteSet::default();
        let tables = self
            .build(changes, true, Some(&mut ws))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        self.dispatched = true;
        let watermark: Option<ChangeId> = tables
            .iter()
            .flat_map(|t| {
                t.deletes
                    .iter()
                    .chain(&t.writes)
                    .map(Op::id)
                    .chain(t.guarded.iter().map(|g| &g.id))
            })
            .filter(|id| !id.is_snapshot())
            .max()
            .cloned();
        if tables.is_empty() {
            // Everything was applied before a restart (or filtered): nothing to order.
            for w in waiters {
                let _ = w.send(Ok(()));
            }
            return Ok(None);
        }
        let local = self
            .two_way
            .as_ref()
            .map_or(String::new(), |t| t.source_site.clone());
        let origin: Arc<str> = Arc::from(meta.origin.as_deref().unwrap_or(&local));
        let o = self
            .ordered
            .as_mut()
            .ok_or_else(|| crate::error::internal("transaction mode without its state"))?;
        let (seq, after) = o.sched.place(&ws, o.seqr.committed());
        let turn = Turn::new(&o.seqr, seq, after);
        let worker = o.next_worker % self.workers.len().max(1);
        o.next_worker = o.next_worker.wrapping_add(1);
        let (done, rx) = oneshot::channel();
        let tx = self
            .workers
            .get(worker)
            .ok_or_else(|| crate::error::internal("no worker"))?;
        let applied = end.gtid.clone();
        tx.send(Job::Apply {
            tables,
            watermark,
            position: Some(end),
            origin,
            applied,
            turn: Some(turn),
            done,
        })
        .await
        .map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))?;
        self.last_write = std::time::Instant::now();
        if waiters.is_empty() {
            return Ok(Some(rx));
        }
        // Batches that ended inside this transaction complete with it.
        let (done, forwarded) = oneshot::channel();
        tokio::spawn(async move {
            let r = wait_all(vec![rx]).await;
            for w in waiters {
                let _ =
                    w.send(r.as_ref().map(|_| ()).map_err(|e| {
                        Error::new(e.kind(), e.to_string()).transient(e.is_transient())
                    }));
            }
            let _ = done.send(r);
        });
        Ok(Some(forwarded))
    }
}
