//! Transaction mode's huge source transactions: applied in parts as they arrive, in one target
//! transaction, instead of held whole in memory until their end.
//!
//! Once an unfinished transaction holds [`super::ordered::PART_ROWS`] rows or
//! [`super::ordered::PART_BYTES`] of row data, what it holds goes to one writer as a *part*
//! (merged per key within the part, as a group is), and so does every such stretch after it; its
//! end goes to the same writer as the job that commits the whole with the position after it.
//!
//! Invariants:
//! - the transaction is a barrier in the commit order: its first part starts only once every
//!   earlier transaction committed, and every later one starts only once it committed — so it
//!   never waits for another of the pipeline's transactions, nor one for it, and is never rolled
//!   back to make way (its parts could not be run again: they are gone from memory);
//! - nothing of it is visible on the target before its commit, and a failure, a stop or a
//!   `kill -9` in the middle rolls all of it back: the batches that ended inside it are
//!   acknowledged only with that commit, so the checkpoint stays before it and a restart reads it
//!   again from its beginning;
//! - nothing else reaches its writer before its end: snapshot rows the source releases inside it
//!   join it (in stream order, committed with it), and progress-only jobs wait until it ended;
//! - memory: a part is at most the thresholds above (plus one source chunk), and at most the
//!   writer's queue of parts (four) waits — whatever the transaction's size.

use std::sync::Arc;

use otter_core::change::ChangeId;
use otter_core::{Error, ErrorKind, Result};
use tokio::sync::oneshot;

use super::ordered::{forward, no_state, Done, OpenTxn};
use super::{complete, newest, ApplySink};
use crate::order::Turn;
use crate::target::Target;
use crate::worker::Job;
use crate::writeset::WriteSet;

/// Where a transaction applied in parts goes.
pub(super) struct Parts {
    /// Its writer (the one holding its target transaction open).
    worker: usize,
    /// Its place in the commit order (a barrier).
    turn: Turn,
    /// Where it was first written.
    origin: Arc<str>,
    /// The newest binlog change sent in a part.
    watermark: Option<ChangeId>,
}

impl Parts {
    /// Its writer.
    pub(super) fn worker(&self) -> usize {
        self.worker
    }

    /// Completes `waiters` once the transaction committed, or with the first failure in the
    /// commit order (a part's included).
    pub(super) fn settle(&self, waiters: Vec<oneshot::Sender<Result<()>>>) {
        if waiters.is_empty() {
            return;
        }
        let (seqr, seq) = (Arc::clone(self.turn.sequencer()), self.turn.seq);
        tokio::spawn(async move {
            complete(waiters, &seqr.wait_committed(seq).await);
        });
    }
}

impl<T: Target> ApplySink<T> {
    /// Sends what the open transaction holds as a part (the first one places it in the commit
    /// order, after the group of complete transactions before it).
    pub(super) async fn send_part(&mut self) -> Result<Vec<Done>> {
        let mut rxs = Vec::new();
        let Some(mut t) = self.ordered.as_mut().and_then(|o| o.open.take()) else { return Ok(rxs) };
        if t.parts.is_none() {
            rxs.extend(self.send_group().await?);
            let (turn, worker) = self.place(&WriteSet { hashes: Vec::new(), barrier: true }).await?;
            tracing::info!(
                rows = t.changes.len(),
                bytes = t.bytes,
                transaction = %t.meta.begin,
                "A source transaction too big to hold: applying it in parts in one target transaction, alone in the commit order."
            );
            let origin = t.origin(&self.local_site());
            let p = Parts { worker, turn, origin, watermark: None };
            // The batches that ended inside it so far complete with its commit, or at once with
            // the first failure of any part (nothing waits for the rest of it to be read).
            p.settle(std::mem::take(&mut t.waiters));
            t.parts = Some(p);
        }
        let changes = std::mem::take(&mut t.changes);
        t.bytes = 0;
        let tables = self.build(changes, true, None).await?.into_iter().next().unwrap_or_default();
        let p = t.parts.as_mut().ok_or_else(no_state)?;
        p.watermark = p.watermark.take().max(newest(&tables));
        if !tables.is_empty() {
            let (done, rx) = oneshot::channel();
            let job = Job::Apply { tables, watermark: None, position: None, origin: Arc::clone(&p.origin), applied: None, turn: Some(p.turn.clone()), part: true, done };
            self.send_to(p.worker, job).await?;
            self.dispatched = true;
            rxs.push(rx);
        }
        if let Some(o) = self.ordered.as_mut() {
            o.open = Some(t);
        }
        Ok(rxs)
    }

    /// The end of a transaction applied in parts: its last changes, its position and `COMMIT`.
    pub(super) async fn end_parts(&mut self, mut t: OpenTxn) -> Result<Vec<Done>> {
        let end = t.end();
        let Some(p) = t.parts.take() else { return Err(no_state()) };
        let changes = std::mem::take(&mut t.changes);
        let tables = self.build(changes, true, None).await?.into_iter().next().unwrap_or_default();
        let watermark = p.watermark.max(newest(&tables));
        let applied = end.gtid.clone();
        let (done, rx) = oneshot::channel();
        let job = Job::Apply { tables, watermark, position: Some(end), origin: p.origin, applied, turn: Some(p.turn), part: false, done };
        self.send_to(p.worker, job).await?;
        self.dispatched = true;
        self.last_write = std::time::Instant::now();
        Ok(vec![forward(rx, t.waiters)])
    }

    /// Rolls back the parts sent (the pipeline stops inside the transaction); the batches that
    /// ended inside it fail, so their positions are never recorded.
    pub(super) async fn abandon_parts(&mut self, p: Parts) {
        p.turn.fail(&Error::new(ErrorKind::Sink, "stopped inside a source transaction applied in parts; it is applied after the restart").transient(true));
        let (done, rx) = oneshot::channel();
        if self.send_to(p.worker, Job::Abandon { done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}
