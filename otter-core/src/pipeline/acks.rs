//! Ordered acknowledgement: batches complete in any order, the checkpoint advances in source order.
//!
//! Invariant: [`OrderedAcks::next_committed`] returns a batch's position only after that batch and
//! every batch before it completed successfully; the first failure is returned as an error and
//! nothing after it ever commits.

use std::collections::VecDeque;

use tokio::sync::oneshot;

use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;

/// A batch waiting for its acknowledgement.
#[derive(Debug)]
pub struct Pending {
    /// Batch sequence number.
    pub seq: u64,
    /// Position to commit once done.
    pub position: Option<Position>,
    /// Source time of the batch.
    pub source_time: u32,
    /// Rows in the batch.
    pub rows: usize,
    /// Transactions completed by the batch.
    pub txns: usize,
    rx: oneshot::Receiver<Result<()>>,
}

/// A committed batch.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Batch sequence number.
    pub seq: u64,
    /// The position to checkpoint, if the batch ended at one.
    pub position: Option<Position>,
    /// Source time of the batch.
    pub source_time: u32,
    /// Rows in the batch.
    pub rows: usize,
    /// Transactions completed by the batch.
    pub txns: usize,
}

/// Batches in flight, oldest first.
#[derive(Debug, Default)]
pub struct OrderedAcks {
    queue: VecDeque<Pending>,
}

impl OrderedAcks {
    /// An empty queue.
    pub fn new() -> OrderedAcks {
        OrderedAcks::default()
    }

    /// Number of batches in flight.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Registers a sent batch (in send order).
    pub fn push(&mut self, seq: u64, position: Option<Position>, source_time: u32, rows: usize, txns: usize, rx: oneshot::Receiver<Result<()>>) {
        self.queue.push_back(Pending { seq, position, source_time, rows, txns, rx });
    }

    /// Waits for the oldest batch in flight; `Ok(None)` when nothing is in flight.
    pub async fn next_committed(&mut self) -> Result<Option<Committed>> {
        let Some(front) = self.queue.front_mut() else { return Ok(None) };
        let outcome = (&mut front.rx).await;
        let p = self.queue.pop_front().ok_or_else(|| Error::new(ErrorKind::Other, "ack queue emptied"))?;
        match outcome {
            Ok(Ok(())) => Ok(Some(Committed { seq: p.seq, position: p.position, source_time: p.source_time, rows: p.rows, txns: p.txns })),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::new(ErrorKind::Sink, format!("batch {} was dropped without an acknowledgement", p.seq))),
        }
    }
}
