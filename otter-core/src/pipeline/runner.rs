//! The pipeline loop: read events, batch them (rows, bytes, linger), transform, send to the sink
//! with several batches in flight, and commit checkpoints in source order.
//!
//! Invariants:
//! - memory is bounded: at most `max_in_flight` batches are sent to the sink and not yet
//!   acknowledged, at most one more waits between the reader and the writer while the reader
//!   builds the next, and each is bounded by `max_rows`/`max_bytes` (plus one source chunk) —
//!   except that a sink applying source transactions whole gets batches past `max_in_flight`
//!   while the end of the transaction it holds has not arrived ([`Sink::awaits_more`]);
//! - a checkpoint is saved only for a position whose batch and all earlier batches the sink
//!   acknowledged ([`OrderedAcks`]);
//! - on shutdown the reader stops, every batch already read is written and acknowledged, and the
//!   final checkpoint is saved before `run` returns — unless that takes longer than the drain
//!   timeout (an unreachable target, a sink retrying): then the writer is dropped where it is and
//!   `run` returns `Ok`; nothing half-applied remains (sinks commit a batch whole or not at all)
//!   and the checkpoint stays at the last acknowledged batch, so the next run redoes the rest.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::acks::OrderedAcks;
use super::metrics::Metrics;
use crate::change::Event;
use crate::checkpoint::{unix_now, Checkpoint, CheckpointStore};
use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;
use crate::source::SourceStart;
use crate::traits::{Ack, Batch, Sink, Source, Transform};

/// How events are grouped into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Row changes per batch (default 20000; `max_bytes` bounds batches of large rows first).
    #[serde(default = "default_rows")]
    pub max_rows: usize,
    /// Approximate bytes per batch (default 4 MiB).
    #[serde(default = "default_bytes")]
    pub max_bytes: usize,
    /// How long a batch may wait for more events, milliseconds (default 100).
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
    /// Batches written but not yet acknowledged (default 4).
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
}

fn default_rows() -> usize {
    20000
}
fn default_bytes() -> usize {
    4 << 20
}
fn default_linger() -> u64 {
    100
}
fn default_in_flight() -> usize {
    4
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_rows: default_rows(), max_bytes: default_bytes(), linger_ms: default_linger(), max_in_flight: default_in_flight() }
    }
}

/// Where to resume: the sink's own stored position, else the checkpoint store's.
pub async fn resume_position(sink: &mut dyn Sink, store: Option<&dyn CheckpointStore>) -> Result<Option<Position>> {
    if let Some(p) = sink.stored_position().await? {
        return Ok(Some(p));
    }
    match store {
        Some(s) => Ok(s.load().await?.map(|c| c.position)),
        None => Ok(None),
    }
}

/// Where a pipeline would resume, as [`resume_position`] decides it (the sink's record first,
/// else the checkpoint store's), from what was read without taking or changing anything: the
/// sink's record (with where it is kept) and the store's. For `otter check`.
pub fn peek_resume(sink: Option<(Position, String)>, store: &crate::checkpoint::FileCheckpointStore) -> Result<Option<crate::source::mysql::preflight::StoredResume>> {
    use crate::source::mysql::preflight::StoredResume;
    let file = format!("the file {}", store.path().display());
    if let Some((position, kept)) = sink {
        return Ok(Some(StoredResume { position, kept: format!("{kept}, and {file}") }));
    }
    Ok(store.load_sync()?.map(|c| StoredResume { position: c.position, kept: file }))
}

/// The pipeline's source: running, or to be started at the resume point.
enum SourceSlot {
    Running(Box<dyn Source>),
    ToStart(Box<dyn SourceStart>),
}

/// A source, transforms and a sink wired together.
pub struct Pipeline {
    name: String,
    source: SourceSlot,
    transforms: Vec<Box<dyn Transform>>,
    sink: Box<dyn Sink>,
    store: Option<Arc<dyn CheckpointStore>>,
    batching: BatchConfig,
    metrics: Arc<Metrics>,
    checkpoint_every: Duration,
    status_file: Option<PathBuf>,
    drain_timeout: Duration,
}

impl Pipeline {
    /// A pipeline from `source` to `sink`.
    pub fn new(name: impl Into<String>, source: Box<dyn Source>, sink: Box<dyn Sink>) -> Pipeline {
        Pipeline::with_source(name.into(), SourceSlot::Running(source), sink)
    }

    /// A pipeline that finds its own start: when it runs, it takes the resume point from the
    /// sink's stored position (a sink that stores progress with its data takes the target then,
    /// fencing any previous holder), else from its checkpoint store, else the source's
    /// configured start — and starts `source` there. This is how `otter run` starts pipelines.
    pub fn starting(name: impl Into<String>, source: Box<dyn SourceStart>, sink: Box<dyn Sink>) -> Pipeline {
        Pipeline::with_source(name.into(), SourceSlot::ToStart(source), sink)
    }

    fn with_source(name: String, source: SourceSlot, sink: Box<dyn Sink>) -> Pipeline {
        Pipeline {
            metrics: Metrics::new(name.clone()),
            name,
            source,
            transforms: Vec::new(),
            sink,
            store: None,
            batching: BatchConfig::default(),
            checkpoint_every: Duration::from_millis(200),
            status_file: None,
            drain_timeout: Duration::from_secs(5),
        }
    }

    /// Adds a transform (applied in the order added).
    #[must_use]
    pub fn transform(mut self, t: Box<dyn Transform>) -> Pipeline {
        self.transforms.push(t);
        self
    }

    /// Where committed positions are saved.
    #[must_use]
    pub fn checkpoints(mut self, store: Arc<dyn CheckpointStore>) -> Pipeline {
        self.store = Some(store);
        self
    }

    /// Batching settings.
    #[must_use]
    pub fn batching(mut self, b: BatchConfig) -> Pipeline {
        self.batching = b;
        self
    }

    /// Shares metrics (e.g. with an HTTP endpoint).
    #[must_use]
    pub fn metrics(mut self, m: Arc<Metrics>) -> Pipeline {
        self.metrics = m;
        self
    }

    /// The least time between two checkpoint saves (default 200 ms; zero saves after every
    /// committed batch). The final checkpoint is saved on shutdown regardless.
    #[must_use]
    pub fn checkpoint_every(mut self, every: Duration) -> Pipeline {
        self.checkpoint_every = every;
        self
    }

    /// How long a stop waits for the batches in flight before it gives up on them (default 5 s;
    /// they are redone by the next run).
    #[must_use]
    pub fn drain_timeout(mut self, d: Duration) -> Pipeline {
        self.drain_timeout = d;
        self
    }

    /// Writes a JSON status snapshot to this file every second (read by `otter status`).
    #[must_use]
    pub fn status_file(mut self, path: PathBuf) -> Pipeline {
        self.status_file = Some(path);
        self
    }

    /// The metrics handle.
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Runs until the source ends, an error occurs, or `shutdown` resolves (then drains and
    /// returns `Ok`).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let Pipeline { name, source, mut transforms, mut sink, store, batching, metrics, checkpoint_every, status_file, drain_timeout } = self;
        tokio::pin!(shutdown);
        let mut source = match source {
            SourceSlot::Running(s) => s,
            SourceSlot::ToStart(start) => {
                // Finding the resume point may wait (taking the target, an unreachable one): a
                // stop request ends the wait.
                let resume = tokio::select! {
                    r = resume_position(&mut *sink, store.as_deref()) => r?,
                    _ = &mut shutdown => return Ok(()),
                };
                metrics.set_position(resume.clone());
                let position = resume.as_ref().map_or_else(|| "the source's configured start".to_owned(), ToString::to_string);
                tracing::info!(pipeline = %name, position = %position, "Starting pipeline.");
                start.start(resume).await?
            }
        };
        metrics.set_state("running");
        // One batch waits for the writer while the reader builds the next: a longer queue only
        // holds rows in memory when the sink is the bottleneck (measured: no faster).
        let (tx, rx) = mpsc::channel::<Batch>(1);
        // The reader watches the stop request itself (it must not read past it); the drain timer
        // learns of it through the watch.
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let stop = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        // What the sink acknowledged, in order, back to the source.
        let (acked_tx, acked_rx) = tokio::sync::watch::channel::<Option<Position>>(None);
        // The sequence number of the newest acknowledged batch: the reader flushes at once while
        // everything it sent is acknowledged (the sink is idle).
        let (done_tx, done_rx) = tokio::sync::watch::channel::<u64>(0);
        let reader = read_loop(&mut *source, &mut transforms, batching, tx, stop, acked_rx, done_rx);
        let writer = write_loop(&name, &mut *sink, store.as_deref(), batching, rx, &metrics, checkpoint_every, status_file.as_ref(), acked_tx, done_tx);
        let work = async { tokio::try_join!(reader, writer).map(|_| ()) };
        tokio::pin!(work);
        let (mut stopping, mut reader_done) = (false, false);
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                changed = stop_rx.changed(), if !stopping && !reader_done => match changed {
                    Ok(()) => stopping = true,
                    Err(_) => reader_done = true,
                },
                _ = tokio::time::sleep(drain_timeout), if stopping => {
                    tracing::warn!(pipeline = %name, timeout_secs = drain_timeout.as_secs(), "Stop: the batches in flight did not finish in time; leaving them to the next run.");
                    break Ok(());
                }
            }
        };
        match &result {
            Ok(()) => metrics.set_state("stopped"),
            Err(e) => {
                metrics.error(&e.to_string());
                metrics.set_state("failed");
            }
        }
        if let Some(path) = &status_file {
            write_status(path, &metrics);
        }
        result
    }
}

async fn read_loop(
    source: &mut dyn Source,
    transforms: &mut [Box<dyn Transform>],
    cfg: BatchConfig,
    tx: mpsc::Sender<Batch>,
    shutdown: impl Future<Output = ()> + Send,
    mut acked: tokio::sync::watch::Receiver<Option<Position>>,
    mut done: tokio::sync::watch::Receiver<u64>,
) -> Result<()> {
    tokio::pin!(shutdown);
    let mut done_open = true;
    let mut acks_open = true;
    let linger = Duration::from_millis(cfg.linger_ms);
    let mut seq = 0u64;
    let mut batch = Batch::default();
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let flush = tokio::select! {
            biased;
            _ = &mut shutdown => {
                send(&mut batch, &mut seq, transforms, &tx).await?;
                return Ok(());
            }
            _ = sleep_until(deadline), if deadline.is_some() => true,
            changed = acked.changed(), if acks_open => {
                match changed {
                    Ok(()) => {
                        let p = acked.borrow_and_update().clone();
                        if let Some(p) = p {
                            source.acknowledged(&p);
                        }
                    }
                    Err(_) => acks_open = false,
                }
                false
            }
            // The sink finished everything sent: what waits goes now, whatever its size.
            changed = done.changed(), if done_open => match changed {
                Ok(()) => !batch.events.is_empty() && *done.borrow_and_update() >= seq,
                Err(_) => {
                    done_open = false;
                    false
                }
            },
            ev = source.next() => match ev? {
                None => {
                    send(&mut batch, &mut seq, transforms, &tx).await?;
                    return Ok(());
                }
                Some(e) => {
                    if batch.events.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + linger);
                    }
                    rows += e.row_count();
                    bytes += event_bytes(&e);
                    if let Some(p) = e.position() {
                        batch.position = Some(p.clone());
                    }
                    batch.source_time = batch.source_time.max(e.source_time());
                    // A transaction (or DDL, or progress mark) complete while the sink is idle
                    // goes at once: batches grow only while the sink is busy, so latency follows
                    // the load instead of the linger.
                    let complete = matches!(&e, Event::Rows(c) if c.last) || !matches!(&e, Event::Rows(_));
                    batch.events.push(e);
                    rows >= cfg.max_rows || bytes >= cfg.max_bytes || (complete && *done.borrow() >= seq)
                }
            },
        };
        if flush {
            send(&mut batch, &mut seq, transforms, &tx).await?;
            rows = 0;
            bytes = 0;
            deadline = None;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn event_bytes(e: &Event) -> usize {
    match e {
        Event::Rows(c) => c.changes.iter().map(|c| c.approx_bytes()).sum(),
        Event::Ddl(d) => d.statement.len() + 128,
        Event::Progress(_) => 64,
    }
}

async fn send(batch: &mut Batch, seq: &mut u64, transforms: &mut [Box<dyn Transform>], tx: &mpsc::Sender<Batch>) -> Result<()> {
    if batch.events.is_empty() {
        return Ok(());
    }
    *seq += 1;
    let mut b = std::mem::take(batch);
    b.seq = *seq;
    for t in transforms.iter_mut() {
        t.apply(&mut b).map_err(|e| e.context(format!("transform {}", t.name())))?;
    }
    tx.send(b).await.map_err(|_| Error::new(ErrorKind::Shutdown, "the pipeline writer stopped"))
}

#[allow(clippy::too_many_arguments)]
async fn write_loop(
    name: &str,
    sink: &mut dyn Sink,
    store: Option<&dyn CheckpointStore>,
    cfg: BatchConfig,
    mut rx: mpsc::Receiver<Batch>,
    metrics: &Metrics,
    checkpoint_every: Duration,
    status_file: Option<&PathBuf>,
    acked: tokio::sync::watch::Sender<Option<Position>>,
    done: tokio::sync::watch::Sender<u64>,
) -> Result<()> {
    let mut acks = OrderedAcks::new();
    let mut pending: Option<Checkpoint> = None;
    // The newest position every acknowledged batch covers (handed to the sink with each batch).
    let mut committed: Option<Position> = None;
    let mut last_save = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_status = Instant::now();
    let mut last_log = Instant::now();
    let mut input_open = true;
    loop {
        if !input_open && acks.is_empty() {
            break;
        }
        // A sink holding an unfinished source transaction needs the batches that finish it.
        let can_send = input_open && (acks.len() < cfg.max_in_flight.max(1) || sink.awaits_more());
        tokio::select! {
            b = rx.recv(), if can_send => match b {
                Some(mut batch) => {
                    batch.committed = committed.clone();
                    let (ack, ack_rx) = Ack::new(batch.seq);
                    acks.push(batch.seq, batch.position.clone(), batch.source_time, batch.row_count(), batch.txn_count(), ack_rx);
                    sink.send(Arc::new(batch), ack).await?;
                    metrics.set_in_flight(acks.len());
                }
                None => input_open = false,
            },
            c = acks.next_committed(), if !acks.is_empty() => {
                if let Some(c) = c? {
                    done.send_replace(c.seq);
                    metrics.committed(c.rows, c.txns, c.source_time, c.position.as_ref());
                    metrics.set_in_flight(acks.len());
                    if let Some(position) = c.position {
                        acked.send_replace(Some(position.clone()));
                        committed = Some(position.clone());
                        pending = Some(Checkpoint { position, source_time: c.source_time, saved_at: 0 });
                    }
                }
            },
            _ = tick.tick() => {}
        }
        if last_save.elapsed() >= checkpoint_every {
            save(store, &mut pending).await?;
            last_save = Instant::now();
        }
        if let Some(path) = status_file {
            if last_status.elapsed() >= Duration::from_secs(1) {
                write_status(path, metrics);
                last_status = Instant::now();
            }
        }
        if last_log.elapsed() >= Duration::from_secs(10) {
            let s = metrics.snapshot();
            tracing::info!(pipeline = name, rows = s.rows, rows_per_sec = format!("{:.0}", s.rows_per_sec).as_str(), lag_secs = s.lag_secs.map_or_else(|| "unknown".to_owned(), |l| l.to_string()).as_str(), position = s.position.as_deref().unwrap_or("none yet"), "Pipeline progress.");
            last_log = Instant::now();
        }
    }
    sink.flush().await?;
    save(store, &mut pending).await
}

async fn save(store: Option<&dyn CheckpointStore>, pending: &mut Option<Checkpoint>) -> Result<()> {
    if let (Some(store), Some(mut c)) = (store, pending.take()) {
        c.saved_at = unix_now();
        store.save(&c).await?;
    }
    Ok(())
}

fn write_status(path: &PathBuf, metrics: &Metrics) {
    let snap = metrics.snapshot();
    if let Ok(bytes) = serde_json::to_vec_pretty(&snap) {
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}
