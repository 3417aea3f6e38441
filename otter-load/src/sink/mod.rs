//! [`ApplySink`]: the apply engine as a pipeline [`Sink`], over any [`Target`]. For every batch
//! it merges changes per table and key, partitions the ops by key over the writers (order per
//! key kept), and acknowledges the batch once every partition committed its share together with
//! its progress. DDL is applied alone: after every earlier change everywhere (a barrier), before
//! any later one. [`MysqlSink`] is the engine over the MySQL/MariaDB target. With
//! `consistency = "transaction"` every source transaction is a job of its own instead, committed
//! in source order (`sink::ordered`).
//!
//! Invariants:
//! - partitioning is a fixed function of (target table, key) — the key's hash, or for a key of
//!   one integer column its block of 1,024 consecutive values ([`Spread`]), the same for a
//!   whole run and kept from the stored rows until a clean stop — so a key always lands on the
//!   same worker, and keyless tables go whole to one worker (their rows stay in order); so do tables
//!   with a unique key besides the one rows are matched on, unmerged and in source order (a
//!   unique value may move from one row to another);
//! - on a restart, an op whose newest change is at or below its partition's stored watermark is
//!   dropped (it committed before the crash): nothing is applied twice. Snapshot rows are never
//!   replayed (a restart reads them again at a newer snapshot), so they are never dropped and
//!   never become a watermark: a job of snapshot rows only keeps the stored watermark;
//! - changes of different origins (two-way setups) never share an apply transaction, so each
//!   carries one origin mark; tables with a conflict rule are applied change by change with
//!   guarded statements, all in one partition (their order is kept, key changes included);
//! - the position written with a job is one every partition had fully applied when the job was
//!   created, so resuming there never skips a change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use otter_core::change::{ChangeId, Event, RowChange};
use otter_core::position::{GtidState, Position};
use otter_core::schema::TableSchema;
use otter_core::traits::{Ack, Batch, Sink};
use otter_core::two_way::TwoWayConfig;
use otter_core::{Error, ErrorKind, Result};
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};

use crate::config::{Consistency, MysqlSinkConfig};
use crate::conflict::CompiledRule;
use crate::merge::{ApplyMode, Op};
use crate::mysql::MysqlTarget;
use crate::target::{PipelineContext, Spread, Target, TargetInfo};
use crate::writeset::TablePlan;
use crate::worker::{Job, TableOps};

/// What the engine itself is told (the target has its own configuration).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `row` (whole after images) or `column` (changed columns) merging.
    pub mode: ApplyMode,
    /// Apply DDL statements.
    pub apply_ddl: bool,
    /// Conflict rules per target table.
    pub rules: Vec<Arc<CompiledRule>>,
    /// Merged apply, or source transactions whole in source order.
    pub consistency: Consistency,
}

mod build;
mod ordered;
mod parts;

/// A write-set plan with the schema and target description it was made for.
type PlanFor = (Arc<TableSchema>, Arc<TargetInfo>, Arc<TablePlan>);

/// The MySQL/MariaDB loader: the engine over [`MysqlTarget`].
pub type MysqlSink = ApplySink<MysqlTarget>;

/// The apply engine over a target `T`.
pub struct ApplySink<T: Target> {
    name: String,
    cfg: EngineConfig,
    target: T,
    workers: Vec<mpsc::Sender<Job>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    watermarks: Vec<Option<ChangeId>>,
    /// How keys are spread over the partitions (from [`Target::open`]).
    spread: Spread,
    /// A position every partition had applied everything before: from the pipeline's
    /// acknowledged batches, the target's stored resume point, or the last DDL.
    through: Option<Position>,
    completions: Vec<tokio::task::JoinHandle<()>>,
    last_ddl: Option<Position>,
    replay_ddl: bool,
    last_write: Instant,
    two_way: Option<Arc<TwoWayConfig>>,
    /// Where this run started, when the source announced it before any change.
    start: Option<Position>,
    /// True once any change of this run was dispatched.
    dispatched: bool,
    /// The position after the newest batch taken: durable once every job is done.
    newest: Option<Position>,
    /// The GTID of the transaction the newest rows belong to (it may be open at the batch end).
    open_gtid: Option<String>,
    /// The position after the newest batch with rows, until a checkpoint covering it is written:
    /// jobs carry the position acknowledged before them, so once the stream goes idle the last
    /// rows' own position is written by itself (never for idle stretches alone: two sites would
    /// echo each other's checkpoint writes for ever).
    unrecorded: Option<Position>,
    /// Snapshot chunks (`SnapshotProgress::chunks`) whose acknowledged progress was recorded.
    recorded_chunks: u64,
    /// Set when a batch failed: `newest` is then not durable.
    failed: Arc<std::sync::atomic::AtomicBool>,
    /// Transaction mode's state (`consistency = "transaction"`).
    ordered: Option<ordered::Ordered>,
    /// Write-set plans by schema address (holding the schema keeps its address unique).
    plans: FxHashMap<usize, PlanFor>,
}

impl ApplySink<MysqlTarget> {
    /// A loader for pipeline `name` (the key of its checkpoint rows). Connects on first use.
    pub fn new(name: &str, cfg: MysqlSinkConfig) -> Result<MysqlSink> {
        let engine = EngineConfig {
            mode: cfg.mode,
            apply_ddl: cfg.apply_ddl,
            rules: crate::conflict::compile(&cfg.conflicts)?.into_iter().map(Arc::new).collect(),
            consistency: cfg.consistency,
        };
        Ok(ApplySink::with_target(name, MysqlTarget::new(name, cfg)?, engine))
    }
}

impl<T: Target> ApplySink<T> {
    /// The engine for pipeline `name` over `target`.
    pub fn with_target(name: &str, target: T, cfg: EngineConfig) -> ApplySink<T> {
        ApplySink {
            name: name.to_owned(),
            cfg,
            target,
            workers: Vec::new(),
            handles: Vec::new(),
            watermarks: Vec::new(),
            spread: Spread::default(),
            through: None,
            completions: Vec::new(),
            last_ddl: None,
            replay_ddl: false,
            last_write: Instant::now(),
            unrecorded: None,
            recorded_chunks: 0,
            two_way: None,
            start: None,
            dispatched: false,
            newest: None,
            open_gtid: None,
            failed: Arc::default(),
            ordered: None,
            plans: FxHashMap::default(),
        }
    }

    /// Makes this loader one direction of a two-way (or multi-site) setup: every transaction and
    /// DDL it applies carries an origin mark, and conflict rules decide between sites.
    pub fn with_two_way(mut self, two_way: TwoWayConfig) -> Result<ApplySink<T>> {
        two_way.validate()?;
        self.two_way = Some(Arc::new(two_way));
        Ok(self)
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Opens the target (takes the pipeline, reads what it stored) and starts the workers (once).
    async fn start(&mut self) -> Result<Option<Position>> {
        if !self.workers.is_empty() {
            return Ok(self.through.clone());
        }
        let ctx = PipelineContext { name: self.name.clone(), two_way: self.two_way.clone(), rules: self.cfg.rules.clone() };
        let opened = self.target.open(&ctx).await?;
        let (stored, parts) = (opened.stored, opened.parts.max(1));
        self.spread = opened.spread;
        self.watermarks = (0..parts).map(|p| stored.watermarks.get(&p).cloned()).collect();
        self.last_ddl = stored.last_ddl.clone();
        self.replay_ddl = stored.position.is_some();
        self.through = stored.position.clone();
        if self.cfg.consistency == Consistency::Transaction {
            self.ordered = Some(ordered::Ordered::new());
        }
        for part in 0..parts {
            let (tx, rx) = mpsc::channel(4);
            let writer = self.target.writer(part, parts)?;
            self.handles.push(tokio::spawn(crate::worker::run(part, writer, rx)));
            self.workers.push(tx);
        }
        let position = stored.position.as_ref().map_or_else(|| "none (first run)".to_owned(), ToString::to_string);
        tracing::info!(pipeline = %self.name, partitions = parts, position = %position, "Loader ready.");
        Ok(stored.position)
    }

    /// Merges and partitions `changes`, sends the jobs, returns their completions.
    async fn dispatch(&mut self, changes: Vec<RowChange>, origin: &str) -> Result<Vec<oneshot::Receiver<Result<()>>>> {
        let mut rxs = Vec::new();
        if self.ordered.is_some() {
            // Rows outside the commit order (snapshot chunks) go after every ordered transaction.
            rxs.extend(self.ordered_flush().await?);
            if let Some(o) = &mut self.ordered {
                o.outside = true;
            }
            self.barrier().await?;
        }
        let per = self.build(changes, false, None).await?;
        // The resume point written with these jobs: everything before it is applied. Before the
        // first batch of this run is acknowledged that is the run's start, when the source
        // announced it; otherwise the rows carry their watermark only (checkpoint::UNKNOWN).
        self.dispatched = true;
        let position = self.through.clone().or_else(|| self.start.clone());
        // What the target may hold once these jobs commit: everything up to the batch's end,
        // and the transaction open there.
        let open = self.open_gtid.as_deref().and_then(|g| g.parse::<GtidState>().ok());
        let applied = GtidState::merged(self.newest.as_ref().and_then(|p| p.gtid.as_ref()), open.as_ref());
        // Each partition's watermark: the newest binlog change among its ops (one clone per job).
        let marks: Vec<Option<ChangeId>> = per.iter().map(|tables| newest(tables)).collect();
        for (p, (tables, watermark)) in per.into_iter().zip(marks).enumerate() {
            if tables.is_empty() {
                continue;
            }
            let (done, rx) = oneshot::channel();
            self.send_to(p, Job::Apply { tables, watermark, position: position.clone(), origin: Arc::from(origin), applied: applied.clone(), turn: None, part: false, done }).await?;
            rxs.push(rx);
        }
        if !rxs.is_empty() {
            self.last_write = Instant::now();
        }
        Ok(rxs)
    }

    /// Sends a progress-only job (the checkpoint at `position`, nothing else) to the first worker;
    /// `None` when no worker takes it.
    async fn record(&mut self, position: Position) -> Option<oneshot::Receiver<Result<()>>> {
        let tx = self.workers.first()?;
        let (done, rx) = oneshot::channel();
        tx.send(Job::Progress { position, done }).await.ok()?;
        self.last_write = Instant::now();
        Some(rx)
    }

    /// The acknowledged position when it carries snapshot chunks not recorded yet (and marks them
    /// recorded).
    fn snapshot_to_record(&mut self) -> Option<Position> {
        // Not while a transaction applied in parts holds a writer: recorded after it.
        if self.ordered.as_ref().and_then(ordered::Ordered::parts_worker).is_some() {
            return None;
        }
        let through = self.through.as_ref()?;
        let chunks = through.snapshot.as_ref()?.chunks;
        if chunks <= self.recorded_chunks || !self.dispatched {
            return None;
        }
        self.recorded_chunks = chunks;
        Some(through.clone())
    }

    /// Moves the resume point forward to `p` (never back; at the same binlog place, a later
    /// position may carry a snapshot's newer progress).
    fn advance(&mut self, p: &Position) {
        if self.through.as_ref().is_none_or(|t| (&p.coord, p.skip_rows) >= (&t.coord, t.skip_rows)) {
            self.through = Some(p.clone());
        }
    }

    /// Sends `job` to writer `worker`.
    async fn send_to(&self, worker: usize, job: Job) -> Result<()> {
        let tx = self.workers.get(worker).ok_or_else(|| crate::error::internal("no worker"))?;
        tx.send(job).await.map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))
    }

    /// Waits until every worker finished every job sent so far.
    async fn barrier(&self) -> Result<()> {
        let mut rxs = Vec::new();
        for tx in &self.workers {
            let (done, rx) = oneshot::channel();
            tx.send(Job::Barrier { done }).await.map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))?;
            rxs.push(rx);
        }
        wait_all(rxs).await
    }

    async fn apply_ddl(&mut self, ddl: &otter_core::change::DdlEvent) -> Result<()> {
        let replayed = std::mem::take(&mut self.replay_ddl);
        if !ddl.snapshot && self.last_ddl.as_ref().is_some_and(|l| (&ddl.position.coord, ddl.position.skip_rows) <= (&l.coord, l.skip_rows)) {
            tracing::info!(statement = %ddl.statement, "DDL already applied before the restart; skipping.");
            return Ok(());
        }
        // A re-sync's purge is a row change (the target's rows a re-copied range no longer has).
        let purge = ddl.snapshot && otter_core::source::mysql::snapshot::resync::is_purge(&ddl.statement);
        if !self.cfg.apply_ddl && !purge {
            tracing::info!(statement = %ddl.statement, "Not applying DDL (apply_ddl = false).");
            return Ok(());
        }
        self.barrier().await?;
        let (done, rx) = oneshot::channel();
        self.send_to(0, Job::Ddl { ddl: ddl.clone(), replayed, done }).await?;
        wait_all(vec![rx]).await?;
        if purge {
            self.advance(&ddl.position);
            return Ok(());
        }
        self.target.forget();
        self.last_ddl = Some(ddl.position.clone());
        // Everything before the DDL is applied everywhere: it is a safe resume point.
        self.advance(&ddl.position);
        Ok(())
    }
}

/// The newest binlog change among `tables`' ops (a job's watermark).
fn newest(tables: &[TableOps]) -> Option<ChangeId> {
    tables.iter().flat_map(|t| t.deletes.iter().chain(&t.writes).map(Op::id).chain(t.guarded.iter().map(|g| &g.id))).filter(|id| !id.is_snapshot()).max().cloned()
}

/// Completes every one of `waiters` with `r` (each its own copy).
fn complete(waiters: Vec<oneshot::Sender<Result<()>>>, r: &Result<()>) {
    for w in waiters {
        let _ = w.send(r.as_ref().map(|_| ()).map_err(|e| Error::new(e.kind(), e.to_string()).transient(e.is_transient())));
    }
}

async fn wait_all(rxs: Vec<oneshot::Receiver<Result<()>>>) -> Result<()> {
    for rx in rxs {
        rx.await.map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))??;
    }
    Ok(())
}

#[async_trait]
impl<T: Target> Sink for ApplySink<T> {
    fn name(&self) -> &str {
        "apply"
    }

    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
        self.start().await?;
        if let Some(e) = self.target.lost() {
            return Err(e);
        }
        let mut rxs = Vec::new();
        let mut pending: Vec<RowChange> = Vec::new();
        let local = self.two_way.as_ref().map_or(String::new(), |t| t.source_site.clone());
        let mut origin = local.clone();
        let mut passed_over = false;
        if let Some(committed) = &batch.committed {
            self.advance(committed);
        }
        // Acknowledged snapshot chunks are recorded at once, ahead of the next chunk's rows (a
        // small transaction on the first worker): otherwise their progress would reach the target
        // only with the next chunk's commit, and a kill in between would read them again.
        if let Some(progress) = self.snapshot_to_record() {
            rxs.extend(self.record(progress).await);
        }
        if batch.position.is_some() {
            self.newest = batch.position.clone();
        }
        // The pipeline hands over its only reference: move the rows out instead of cloning each.
        let events = match Arc::try_unwrap(batch) {
            Ok(b) => b.events,
            Err(shared) => shared.events.clone(),
        };
        for e in events {
            match e {
                Event::Rows(c) => {
                    if c.meta.gtid.is_some() {
                        self.open_gtid.clone_from(&c.meta.gtid);
                    }
                    let snapshot = c.changes.first().is_some_and(|x| x.id.is_snapshot());
                    // Snapshot rows released inside a transaction applied in parts join it (its
                    // writer holds its target transaction open). A guard for other sources: the
                    // MySQL source's gate never hands a chunk out inside a transaction it hands
                    // out in parts (it waits for the end).
                    if snapshot && self.ordered.as_ref().and_then(ordered::Ordered::parts_worker).is_some() {
                        if let Some(o) = self.ordered.as_mut() {
                            o.join_parts(c.changes);
                        }
                        continue;
                    }
                    // Transaction mode: binlog transactions go whole, in order (snapshot rows
                    // are merged as usual, after them).
                    if self.ordered.is_some() && !snapshot {
                        if !pending.is_empty() {
                            rxs.extend(self.dispatch(std::mem::take(&mut pending), &origin).await?);
                        }
                        rxs.extend(self.ordered_chunk(c).await?);
                        continue;
                    }
                    let o = c.meta.origin.as_deref().unwrap_or(&local);
                    if o != origin {
                        if !pending.is_empty() {
                            rxs.extend(self.dispatch(std::mem::take(&mut pending), &origin).await?);
                        }
                        origin = o.to_owned();
                    }
                    pending.extend(c.changes);
                }
                Event::Ddl(d) => {
                    if !pending.is_empty() {
                        rxs.extend(self.dispatch(std::mem::take(&mut pending), &origin).await?);
                    }
                    rxs.extend(self.ordered_close().await?);
                    self.apply_ddl(&d).await?;
                }
                Event::Progress(p) => {
                    passed_over |= p.passed_over;
                    // A progress mark ahead of every change of the run is where the run starts
                    // (the source announces it first): a safe resume point for the first jobs.
                    if !self.dispatched && pending.is_empty() && self.start.is_none() && !self.ordered.as_ref().is_some_and(ordered::Ordered::is_open) {
                        self.start = Some(p.position.clone());
                    }
                }
            }
        }
        if !pending.is_empty() {
            rxs.extend(self.dispatch(pending, &origin).await?);
        }
        rxs.extend(self.ordered_flush().await?);
        rxs.extend(self.ordered_tail());
        if !rxs.is_empty() {
            self.unrecorded = self.newest.clone();
        }
        // Idle after rows: once the pipeline acknowledged them, write their own position.
        let covered = match (&self.unrecorded, &self.through) {
            (Some(u), Some(t)) => (&t.coord, t.skip_rows) >= (&u.coord, u.skip_rows),
            _ => false,
        };
        if rxs.is_empty() && covered && self.last_write.elapsed() > Duration::from_millis(500) {
            if let Some(position) = self.through.clone() {
                if let Some(rx) = self.record(position).await {
                    rxs.push(rx);
                    self.unrecorded = None;
                }
            }
        }
        // Idle progress is recorded only when it passed over changes a restart would re-read:
        // recording the mere passing of otter's own writes would make two sites echo forever.
        if rxs.is_empty() && passed_over && self.last_write.elapsed() > Duration::from_secs(2) {
            // Idle or filtered stretch: persist the position so a restart need not re-read it.
            if let Some(position) = self.through.clone() {
                rxs.extend(self.record(position).await);
            }
        }
        self.target.upkeep();
        self.completions.retain(|h| !h.is_finished());
        let failed = Arc::clone(&self.failed);
        self.completions.push(tokio::spawn(async move {
            match wait_all(rxs).await {
                Ok(()) => ack.done(),
                Err(e) => {
                    failed.store(true, std::sync::atomic::Ordering::SeqCst);
                    ack.fail(e)
                }
            }
        }));
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.workers.is_empty() {
            return Ok(());
        }
        if let Some(rx) = self.ordered_flush().await? {
            wait_all(vec![rx]).await?;
        }
        self.ordered_abandon().await;
        self.barrier().await?;
        for h in self.completions.drain(..) {
            let _ = h.await;
        }
        // Everything taken is applied: record where that ends (a clean stop then resumes there,
        // not at the resume point the last jobs carried — which matters to a snapshot's progress).
        let newest = self.newest.clone().filter(|_| !self.failed.load(std::sync::atomic::Ordering::SeqCst));
        if let (Some(p), None) = (newest, self.target.lost()) {
            if self.through.as_ref() != Some(&p) {
                self.advance(&p);
                if let Some(position) = self.through.clone() {
                    if let Some(rx) = self.record(position).await {
                        wait_all(vec![rx]).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn stored_position(&mut self) -> Result<Option<Position>> {
        self.start().await
    }

    fn awaits_more(&self) -> bool {
        self.ordered.as_ref().is_some_and(ordered::Ordered::inside_txn)
    }
}

impl<T: Target> Drop for ApplySink<T> {
    /// Stops the workers at once: a transaction they have open is rolled back by the target
    /// (its `COMMIT` was not sent) or committed with its checkpoint row — never half of it.
    fn drop(&mut self) {
        self.workers.clear();
        for h in self.completions.iter().chain(&self.handles) {
            h.abort();
        }
    }
}
