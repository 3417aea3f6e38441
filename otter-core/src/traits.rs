//! The three roles of a pipeline: a [`Source`] yields events, [`Transform`]s edit batches in
//! place, a [`Sink`] writes batches and reports, per batch, when it is durable.
//!
//! Contract with sinks: batches arrive in source order with increasing `seq`; a sink may keep
//! several in flight and complete their [`Ack`]s in any order — the pipeline advances the
//! checkpoint only in source order, to the end of the last batch whose every predecessor is
//! acknowledged. A sink must complete every ack it receives (Ok once the batch is durable, Err on
//! failure); dropping an [`Ack`] without completing it counts as a failure.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::oneshot;

pub use crate::source::Source;
pub use crate::change::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;

/// Edits a batch in place (route, rename, filter, add columns...). Runs on the pipeline's task:
/// keep it cheap and synchronous. It may drop changes or whole events, but must not reorder
/// events or change positions.
pub trait Transform: Send {
    /// A short name for logs.
    fn name(&self) -> &str;
    /// Edits the batch.
    fn apply(&mut self, batch: &mut Batch) -> Result<()>;
}

/// The completion handle of one batch.
#[derive(Debug)]
pub struct Ack {
    seq: u64,
    tx: Option<oneshot::Sender<Result<()>>>,
}

impl Ack {
    /// A handle and the receiver the pipeline waits on.
    pub fn new(seq: u64) -> (Ack, oneshot::Receiver<Result<()>>) {
        let (tx, rx) = oneshot::channel();
        (Ack { seq, tx: Some(tx) }, rx)
    }

    /// The batch this acknowledges.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Reports the batch durably written.
    pub fn done(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Ok(()));
        }
    }

    /// Reports the batch failed.
    pub fn fail(mut self, e: Error) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(e));
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(Error::new(ErrorKind::Sink, format!("batch {} was dropped without an acknowledgement", self.seq))));
        }
    }
}

/// Writes batches somewhere durable.
#[async_trait]
pub trait Sink: Send {
    /// A short name for logs and metrics.
    fn name(&self) -> &str;

    /// Takes a batch. May return before it is written; must complete `ack` eventually. An error
    /// returned here fails the pipeline.
    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()>;

    /// Waits until every batch sent so far is acknowledged.
    async fn flush(&mut self) -> Result<()>;

    /// For sinks that store progress with the data: where to resume. `None` to use the
    /// pipeline's checkpoint store.
    async fn stored_position(&mut self) -> Result<Option<Position>> {
        Ok(None)
    }

    /// True while the sink cannot acknowledge the batches it holds before more arrive (it
    /// applies each source transaction whole, and the end of the one it holds has not come
    /// yet). The pipeline then sends the next batch even with `max_in_flight` batches
    /// unacknowledged — a transaction longer than that many batches would otherwise wait for
    /// ever. Default: false.
    fn awaits_more(&self) -> bool {
        false
    }
}
