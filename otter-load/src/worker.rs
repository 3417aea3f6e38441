//! Apply workers of the engine: one per key partition, each driving its [`PartitionWriter`] over
//! the partition's jobs in order.
//!
//! Invariants: jobs of a worker complete in the order they were sent, each before the next
//! starts; after a job fails for good, every later job of that worker fails too (nothing is
//! applied out of order); a barrier completes once every earlier job did.

use std::sync::Arc;

use otter_core::change::{ChangeId, DdlEvent};
use otter_core::position::{GtidState, Position};
use otter_core::schema::TableSchema;
use otter_core::{Error, ErrorKind, Result};
use tokio::sync::{mpsc, oneshot};

use crate::conflict::{CompiledRule, Guarded};
use crate::dialect::TargetTable;
use crate::merge::Op;
use crate::order::Turn;
use crate::target::{ApplyJob, PartitionWriter, TargetInfo};

/// One table's ops for one partition.
#[derive(Debug)]
pub struct TableOps {
    /// Source schema (db/name are the target's).
    pub schema: Arc<TableSchema>,
    /// Target mapping.
    pub info: Arc<TargetInfo>,
    /// Deletes, applied first.
    pub deletes: Vec<Op>,
    /// Other writes, in order.
    pub writes: Vec<Op>,
    /// Changes applied one by one with conflict checks (tables with a conflict rule).
    pub(crate) guarded: Vec<Guarded>,
    /// The table's conflict rule.
    pub(crate) rule: Option<Arc<CompiledRule>>,
}

/// Work for a worker.
#[derive(Debug)]
pub enum Job {
    /// Apply ops and record progress.
    Apply {
        /// Ops by table.
        tables: Vec<TableOps>,
        /// Newest change in the job.
        watermark: Option<ChangeId>,
        /// Position every partition has applied everything before (`None` while no resume
        /// point is known yet: the first jobs of a first run).
        position: Option<Position>,
        /// Site where the changes were first written (two-way marks, conflict decisions).
        origin: Arc<str>,
        /// GTIDs the target may hold once the job commits (see [`crate::target::ApplyJob`]).
        applied: Option<GtidState>,
        /// The job's place in the commit order (transaction mode): it starts when the
        /// transaction it depends on committed and commits right after the one before it.
        turn: Option<Turn>,
        /// A part of a source transaction applied in parts ([`crate::target::ApplyJob::part`]):
        /// left open for the next job of this worker; its turn commits with the last one.
        part: bool,
        /// Completion.
        done: oneshot::Sender<Result<()>>,
    },
    /// Record progress only.
    Progress {
        /// Position every partition has applied everything before.
        position: Position,
        /// Completion.
        done: oneshot::Sender<Result<()>>,
    },
    /// Apply a DDL statement (worker 0, after a barrier).
    Ddl {
        /// The statement.
        ddl: DdlEvent,
        /// Tolerate "already applied" errors (first DDL after a restart).
        replayed: bool,
        /// Completion.
        done: oneshot::Sender<Result<()>>,
    },
    /// Rolls back a transaction left open by parts (the pipeline stops inside it).
    Abandon {
        /// Completion.
        done: oneshot::Sender<Result<()>>,
    },
    /// Completes once every earlier job of this worker is done.
    Barrier {
        /// Completion.
        done: oneshot::Sender<Result<()>>,
    },
}

/// Runs partition `part`'s jobs on `writer` until the sender is dropped.
pub async fn run(part: usize, mut writer: Box<dyn PartitionWriter>, mut rx: mpsc::Receiver<Job>) {
    // The first error: its message, kind and whether retrying may help (later jobs fail alike).
    let mut failed: Option<(String, ErrorKind, bool)> = None;
    let check = |failed: &Option<(String, ErrorKind, bool)>| match failed {
        Some((m, kind, transient)) => Err(Error::new(*kind, format!("partition {part} stopped after an earlier error: {m}")).transient(*transient)),
        None => Ok(()),
    };
    let mut idle_since = std::time::Instant::now();
    while let Some(job) = rx.recv().await {
        let started = std::time::Instant::now();
        let waited = started - idle_since;
        let (r, done) = match job {
            Job::Barrier { done } => {
                let _ = done.send(check(&failed));
                continue;
            }
            Job::Abandon { done } => {
                writer.abandon().await;
                let _ = done.send(Ok(()));
                continue;
            }
            Job::Apply { tables, watermark, position, origin, applied, turn, part, done } => {
                let r = match check(&failed) {
                    Err(e) => Err(e),
                    Ok(()) => match &turn {
                        Some(t) => t.start().await,
                        None => Ok(()),
                    },
                };
                let r = match r {
                    Err(e) => Err(e),
                    Ok(()) => writer.apply(ApplyJob { tables: &tables, watermark: watermark.as_ref(), position: position.as_ref(), origin: &origin, applied: applied.as_ref(), turn: turn.as_ref(), part }).await,
                };
                tracing::debug!(
                    partition = part,
                    rows = tables.iter().map(|t| t.deletes.len() + t.writes.len() + t.guarded.len()).sum::<usize>(),
                    waited_for_job_ms = waited.as_millis() as u64,
                    apply_ms = started.elapsed().as_millis() as u64,
                    "Job applied."
                );
                if let Some(t) = &turn {
                    match &r {
                        Ok(()) if part => {}
                        Ok(()) => t.committed(),
                        Err(e) => t.fail(e),
                    }
                }
                (r, done)
            }
            Job::Progress { position, done } => {
                let r = match check(&failed) {
                    Err(e) => Err(e),
                    Ok(()) => writer.progress(&position).await,
                };
                (r, done)
            }
            Job::Ddl { ddl, replayed, done } => {
                let r = match check(&failed) {
                    Err(e) => Err(e),
                    Ok(()) => writer.ddl(&ddl, replayed).await,
                };
                (r, done)
            }
        };
        if let (Err(e), None) = (&r, &failed) {
            failed = Some((e.to_string(), e.kind(), e.is_transient()));
        }
        let _ = done.send(r);
        idle_since = std::time::Instant::now();
    }
    writer.close().await;
}

/// The target table of `t` as the dialect addresses it.
pub(crate) fn target(t: &TableOps) -> TargetTable<'_> {
    TargetTable {
        db: &t.schema.db,
        name: &t.schema.name,
        schema: &t.schema,
        columns: &t.info.columns,
        key: &t.info.key,
        keyless: t.info.keyless,
    }
}

