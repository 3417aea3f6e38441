//! `MysqlSink`: the loader as a pipeline [`Sink`]. For every batch it merges changes per table
//! and key, partitions the ops by key hash over the workers (order per key kept), and acknowledges
//! the batch once every partition committed its share together with its checkpoint row. DDL is
//! applied alone: after every earlier change everywhere (a barrier), before any later one.
//!
//! Invariants:
//! - partitioning is a fixed hash of (target table, key), so a key always lands on the same
//!   worker, and keyless tables go whole to one worker (their rows stay in order);
//! - on a restart, an op whose newest change is at or below its partition's stored watermark is
//!   dropped (it committed before the crash): nothing is applied twice;
//! - changes of different origins (two-way setups) never share an apply transaction, so each
//!   carries one origin mark; tables with a conflict rule are applied change by change with
//!   guarded statements, all in one partition (their order is kept, key changes included);
//! - the position written with a job is one every partition had fully applied when the job was
//!   created, so resuming there never skips a change.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::{ChangeId, Event, RowChange};
use otter_core::position::Position;
use otter_core::schema::TableSchema;
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::traits::{Ack, Batch, Sink};
use otter_core::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{CheckpointTable, Stored};
use crate::fence::{Lease, LeaseOptions};
use otter_core::mysql::quote::ident;
use crate::config::MysqlSinkConfig;
use crate::conflict::tombstone::Tombstones;
use crate::conflict::{CompiledRule, ConflictPolicy, Guarded};
use otter_core::two_way::TwoWayConfig;
use crate::dialect::mysql::MysqlDialect;
use crate::dialect::SqlDialect;
use crate::merge::{key_bytes_into, merge, Op};
use crate::target::TargetCache;
use crate::worker::{Job, TableOps, Worker};

/// Batches fully applied, in order.
#[derive(Debug, Default)]
struct Tracker {
    next: Option<u64>,
    done: BTreeMap<u64, Option<Position>>,
    through: Option<Position>,
}

impl Tracker {
    fn complete(&mut self, seq: u64, p: Option<Position>) {
        self.done.insert(seq, p);
        let mut next = self.next.unwrap_or(seq);
        while let Some(p) = self.done.remove(&next) {
            if p.is_some() {
                self.through = p;
            }
            next += 1;
        }
        self.next = Some(next);
    }
}

/// The MySQL/MariaDB loader.
pub struct MysqlSink {
    name: String,
    cfg: Arc<MysqlSinkConfig>,
    opts: ConnectOptions,
    ckpt: CheckpointTable,
    dialect: Option<Arc<dyn SqlDialect>>,
    workers: Vec<mpsc::Sender<Job>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    meta: Option<Conn>,
    targets: TargetCache,
    watermarks: Vec<Option<ChangeId>>,
    tracker: Arc<Mutex<Tracker>>,
    completions: Vec<tokio::task::JoinHandle<()>>,
    last_ddl: Option<Position>,
    replay_ddl: bool,
    last_write: Instant,
    two_way: Option<Arc<TwoWayConfig>>,
    rules: Vec<Arc<CompiledRule>>,
    /// Where this run started, when the source announced it before any change.
    start: Option<Position>,
    /// True once any change of this run was dispatched.
    dispatched: bool,
    /// The pipeline's lease on the target (none in a dry run).
    lease: Option<Lease>,
    /// Delete tombstones of the `last-writer-wins` tables on the target (none without such
    /// rules, and in a dry run).
    tombs: Option<Tombstones>,
}

impl MysqlSink {
    /// A loader for pipeline `name` (the key of its checkpoint rows). Connects on first use.
    pub fn new(name: &str, cfg: MysqlSinkConfig) -> Result<MysqlSink> {
        cfg.validate()?;
        let opts = ConnectOptions::new(&cfg.url, &cfg.tls)?;
        let rules = crate::conflict::compile(&cfg.conflicts)?.into_iter().map(Arc::new).collect();
        Ok(MysqlSink {
            name: name.to_owned(),
            ckpt: CheckpointTable::new(&cfg.checkpoint_schema, name),
            cfg: Arc::new(cfg),
            opts,
            dialect: None,
            workers: Vec::new(),
            handles: Vec::new(),
            meta: None,
            targets: TargetCache::default(),
            watermarks: Vec::new(),
            tracker: Arc::new(Mutex::new(Tracker::default())),
            completions: Vec::new(),
            last_ddl: None,
            replay_ddl: false,
            last_write: Instant::now(),
            two_way: None,
            rules,
            start: None,
            dispatched: false,
            lease: None,
            tombs: None,
        })
    }

    /// Makes this loader one direction of a two-way (or multi-site) setup: every transaction and
    /// DDL it applies carries an origin mark, and conflict rules decide between sites.
    pub fn with_two_way(mut self, two_way: TwoWayConfig) -> Result<MysqlSink> {
        two_way.validate()?;
        self.two_way = Some(Arc::new(two_way));
        Ok(self)
    }

    async fn meta(&mut self) -> Result<&mut Conn> {
        if self.meta.is_none() {
            let c = self.retry_connect().await?;
            self.meta = Some(c);
        }
        self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))
    }

    async fn retry_connect(&self) -> Result<Conn> {
        let mut backoff = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            match self.opts.connect().await {
                Ok(c) => return Ok(c),
                Err(e) if e.is_transient() && (self.cfg.max_retry_secs == 0 || started.elapsed() < Duration::from_secs(self.cfg.max_retry_secs)) => {
                    tracing::warn!(target = %self.opts.display_url(), error = %e, "Cannot reach the target; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(self.cfg.max_retry_backoff_secs.max(1)));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Connects, takes the pipeline on the target (its lease and fencing epoch), reads the
    /// stored checkpoint and starts the workers (once).
    async fn start(&mut self) -> Result<Option<Position>> {
        if !self.workers.is_empty() {
            return Ok(self.tracker.lock().through.clone());
        }
        let ckpt = self.ckpt.clone();
        let cfg = Arc::clone(&self.cfg);
        let rules = self.rules.clone();
        let site = self.two_way.as_ref().map_or_else(|| "target".to_owned(), |t| t.target_site.clone());
        let marks_schema = self.two_way.as_ref().map_or(cfg.checkpoint_schema.clone(), |t| t.marks_schema.clone());
        let conn = self.meta().await?;
        let (version,): (String,) = conn.query_first("SELECT @@version").await.map_err(|e| translate(e, "target"))?.unwrap_or_default();
        let dialect: Arc<dyn SqlDialect> = Arc::new(MysqlDialect::for_version(&version));
        let mut parts = match cfg.workers {
            Some(w) => w,
            None => default_workers(conn, &version).await,
        };
        if !cfg.dry_run {
            ckpt.ensure(conn).await?;
            conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", ident(&marks_schema))).await.map_err(|e| translate(e, "target"))?;
            let tables = crate::conflict::ensure_sql(&marks_schema).into_iter().chain(crate::fence::ensure_sql(ckpt.schema()));
            for s in tables {
                conn.query_drop(s).await.map_err(|e| translate(e, "creating otter's tables on the target"))?;
            }
            crate::conflict::upgrade(conn, &marks_schema).await?;
            // Take the pipeline (waiting for the old holder's last transactions), then read where
            // it stopped: nothing of the old holder commits after this read.
            let options = LeaseOptions { ttl: Duration::from_secs(cfg.lease_secs), ..LeaseOptions::default() };
            self.lease = Some(crate::fence::acquire(&self.opts, ckpt.schema(), &self.name, &options).await?);
            if rules.iter().any(|r| r.rule.policy == ConflictPolicy::LastWriterWins) {
                let mut tombs = Tombstones::new(&marks_schema, &site);
                let conn = self.meta().await?;
                tombs.ensure_existing(conn, &rules).await?;
                // Expired tombstones go before anything of this run is applied.
                for sql in tombs.gc_due().unwrap_or_default() {
                    conn.query_drop(sql).await.map_err(|e| translate(e, "removing old tombstones"))?;
                }
                self.tombs = Some(tombs);
            }
        }
        let fence = self.lease.as_ref().map(|l| Arc::clone(l.fence()));
        let conn = self.meta().await?;
        let stored = if fence.is_some() { ckpt.load(conn).await? } else { Stored::default() };
        if let Some(old) = stored.parts {
            if old != parts {
                if stored.clean() {
                    conn.query_drop(ckpt.prune_sql(parts)).await.map_err(|e| translate(e, "target"))?;
                } else {
                    tracing::warn!(stored = old, configured = parts, "The last run did not stop cleanly; keeping its partition count until a clean stop.");
                    parts = old;
                }
            }
        }
        self.watermarks = (0..parts).map(|p| stored.watermarks.get(&p).cloned()).collect();
        self.last_ddl = stored.last_ddl.clone();
        self.replay_ddl = stored.position.is_some();
        self.tracker.lock().through = stored.position.clone();
        let gates = Arc::new(crate::bulk::TableGates::default());
        for part in 0..parts {
            let (tx, rx) = mpsc::channel(4);
            let mut w = Worker::new(part, parts, self.opts.clone(), Arc::clone(&dialect), self.ckpt.clone(), Arc::clone(&self.cfg));
            w.two_way = self.two_way.clone();
            w.pipeline = self.name.clone();
            w.gates = Arc::clone(&gates);
            w.fence = fence.clone();
            self.handles.push(tokio::spawn(w.run(rx)));
            self.workers.push(tx);
        }
        self.dialect = Some(dialect);
        tracing::info!(pipeline = %self.name, partitions = parts, position = ?stored.position, "Loader ready.");
        Ok(stored.position)
    }

    /// The partition of `op` (of the whole table without a key); `buf` is scratch space.
    fn partition(&self, schema: &TableSchema, key: Option<&[usize]>, op: Option<&Op>, buf: &mut Vec<u8>) -> usize {
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
            let image = match op {
                Op::Upsert { after, .. } | Op::Insert { after, .. } => after,
                Op::Delete { before, .. } => before,
                Op::Update { key_image, .. } => key_image,
            };
            key_bytes_into(schema, k, image, buf);
            feed(buf);
        }
        (h % n as u64) as usize
    }

    /// Merges and partitions `changes`, sends the jobs, returns their completions.
    async fn dispatch(&mut self, changes: Vec<RowChange>, origin: &str) -> Result<Vec<oneshot::Receiver<Result<()>>>> {
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
        let mut per: Vec<Vec<TableOps>> = (0..n).map(|_| Vec::new()).collect();
        let ignore = self.cfg.ignore_missing_columns;
        let mut keybuf = Vec::new();
        for (schema, changes) in groups {
            let info = {
                self.meta().await?;
                let conn = self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))?;
                let r = self.targets.get(conn, &schema, ignore).await;
                if r.as_ref().is_err_and(|e| e.is_transient()) {
                    self.meta = None;
                }
                r?
            };
            let key = if info.keyless { None } else { Some(info.key.as_slice()) };
            if let Some(rule) = self.rules.iter().find(|r| r.matches(&schema.db, &schema.name)).cloned() {
                if info.keyless {
                    return Err(Error::config(format!(
                        "{}.{} has a conflict rule but no primary or unique key on the target; conflicts need a key",
                        schema.db, schema.name
                    )));
                }
                if let Some(tombs) = self.tombs.as_mut().filter(|_| rule.rule.policy == ConflictPolicy::LastWriterWins) {
                    let key: Vec<&str> = info.key.iter().filter_map(|&i| schema.columns.get(i).map(|c| c.name.as_str())).collect();
                    let conn = self.meta.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))?;
                    tombs.ensure(conn, &schema.db, &schema.name, key, &rule.rule).await?;
                }
                // Change by change, one partition per table: order (and key changes) kept.
                let p = self.partition(&schema, None, None, &mut keybuf);
                let mut guarded = Vec::new();
                for c in changes {
                    if self.watermarks.get(p).and_then(Option::as_ref).is_some_and(|w| c.id <= *w) {
                        continue;
                    }
                    guarded.push(Guarded { kind: c.kind, before: c.before, after: c.after, id: c.id });
                }
                if guarded.is_empty() {
                    continue;
                }
                if let Some(v) = per.get_mut(p) {
                    v.push(TableOps { schema: Arc::clone(&schema), info: Arc::clone(&info), deletes: Vec::new(), writes: Vec::new(), guarded, rule: Some(rule) });
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
                if self.watermarks.get(p).and_then(Option::as_ref).is_some_and(|w| op.id() <= w) {
                    continue; // committed before a restart
                }
                let t = buckets.get_mut(p).ok_or_else(|| crate::error::internal("partition out of range"))?.get_or_insert_with(|| TableOps {
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
                if let (Some(b), Some(v)) = (b, per.get_mut(p)) {
                    v.push(b);
                }
            }
        }
        // The resume point written with these jobs: everything before it is applied. Before the
        // first batch of this run is acknowledged that is the run's start, when the source
        // announced it; otherwise the rows carry their watermark only (checkpoint::UNKNOWN).
        self.dispatched = true;
        let position = self.tracker.lock().through.clone().or_else(|| self.start.clone());
        // Each partition's watermark: the newest change among its ops (one clone per job).
        let marks: Vec<Option<ChangeId>> = per
            .iter()
            .map(|tables| {
                tables
                    .iter()
                    .flat_map(|t| t.deletes.iter().chain(&t.writes).map(Op::id).chain(t.guarded.iter().map(|g| &g.id)))
                    .max()
                    .cloned()
            })
            .collect();
        let mut rxs = Vec::new();
        for (p, (tables, mark)) in per.into_iter().zip(marks).enumerate() {
            let (Some(watermark), false) = (mark, tables.is_empty()) else { continue };
            let (done, rx) = oneshot::channel();
            let tx = self.workers.get(p).ok_or_else(|| crate::error::internal("no worker"))?;
            tx.send(Job::Apply { tables, watermark, position: position.clone(), origin: Arc::from(origin), done })
                .await
                .map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))?;
            rxs.push(rx);
        }
        if !rxs.is_empty() {
            self.last_write = Instant::now();
        }
        Ok(rxs)
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
        if self.last_ddl.as_ref().is_some_and(|l| (&ddl.position.coord, ddl.position.skip_rows) <= (&l.coord, l.skip_rows)) {
            tracing::info!(statement = %ddl.statement, "DDL already applied before the restart; skipping.");
            return Ok(());
        }
        if !self.cfg.apply_ddl {
            tracing::info!(statement = %ddl.statement, "Not applying DDL (apply_ddl = false).");
            return Ok(());
        }
        self.barrier().await?;
        let (done, rx) = oneshot::channel();
        let tx = self.workers.first().ok_or_else(|| crate::error::internal("no worker"))?;
        tx.send(Job::Ddl { ddl: ddl.clone(), replayed, done })
            .await
            .map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))?;
        wait_all(vec![rx]).await?;
        self.targets.clear();
        if let Some(t) = self.tombs.as_mut() {
            t.forget();
        }
        self.last_ddl = Some(ddl.position.clone());
        // Everything before the DDL is applied everywhere: it is a safe resume point.
        self.tracker.lock().through = Some(ddl.position.clone());
        Ok(())
    }
}

/// `min(4, the target's CPUs)`: MariaDB's `thread_pool_size` defaults to the CPU count; 4 when
/// the target does not tell.
async fn default_workers(conn: &mut Conn, version: &str) -> usize {
    let max = crate::config::MAX_DEFAULT_WORKERS;
    if !version.to_ascii_lowercase().contains("mariadb") {
        return max;
    }
    match conn.query_first::<u64, _>("SELECT @@thread_pool_size").await {
        Ok(Some(cpus)) if cpus > 0 => {
            let w = usize::try_from(cpus).unwrap_or(max).min(max);
            tracing::info!(workers = w, target_cpus = cpus, "Apply workers chosen from the target's CPU count (set workers to override).");
            w
        }
        _ => max,
    }
}

async fn wait_all(rxs: Vec<oneshot::Receiver<Result<()>>>) -> Result<()> {
    for rx in rxs {
        rx.await.map_err(|_| Error::new(ErrorKind::Sink, "a loader worker stopped"))??;
    }
    Ok(())
}

#[async_trait]
impl Sink for MysqlSink {
    fn name(&self) -> &str {
        "mysql"
    }

    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
        self.start().await?;
        if let Some(fence) = self.lease.as_ref().map(Lease::fence).filter(|f| f.lost().is_some()) {
            return Err(fence.fenced_error());
        }
        let mut rxs = Vec::new();
        let mut pending: Vec<RowChange> = Vec::new();
        let local = self.two_way.as_ref().map_or(String::new(), |t| t.source_site.clone());
        let mut origin = local.clone();
        let mut passed_over = false;
        let (seq, position) = (batch.seq, batch.position.clone());
        // The pipeline hands over its only reference: move the rows out instead of cloning each.
        let events = match Arc::try_unwrap(batch) {
            Ok(b) => b.events,
            Err(shared) => shared.events.clone(),
        };
        for e in events {
            match e {
                Event::Rows(c) => {
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
                    self.apply_ddl(&d).await?;
                }
                Event::Progress(p) => {
                    passed_over |= p.passed_over;
                    // A progress mark ahead of every change of the run is where the run starts
                    // (the source announces it first): a safe resume point for the first jobs.
                    if !self.dispatched && pending.is_empty() && self.start.is_none() {
                        self.start = Some(p.position.clone());
                    }
                }
            }
        }
        if !pending.is_empty() {
            rxs.extend(self.dispatch(pending, &origin).await?);
        }
        // Idle progress is recorded only when it passed over changes a restart would re-read:
        // recording the mere passing of otter's own writes would make two sites echo forever.
        if rxs.is_empty() && passed_over && self.last_write.elapsed() > Duration::from_secs(2) {
            // Idle or filtered stretch: persist the position so a restart need not re-read it.
            let through = self.tracker.lock().through.clone();
            if let (Some(position), Some(tx)) = (through, self.workers.first()) {
                let (done, rx) = oneshot::channel();
                if tx.send(Job::Progress { position, done }).await.is_ok() {
                    rxs.push(rx);
                    self.last_write = Instant::now();
                }
            }
        }
        if let Some(gc) = self.tombs.as_mut().and_then(Tombstones::gc_due) {
            let opts = self.opts.clone();
            tokio::spawn(async move {
                let run = async {
                    let mut conn = opts.connect().await?;
                    for sql in gc {
                        conn.query_drop(sql).await.map_err(|e| translate(e, "removing old tombstones"))?;
                    }
                    Ok::<_, Error>(())
                };
                if let Err(e) = run.await {
                    tracing::warn!(error = %e, "Could not remove old tombstones; trying again later.");
                }
            });
        }
        let tracker = Arc::clone(&self.tracker);
        self.completions.retain(|h| !h.is_finished());
        self.completions.push(tokio::spawn(async move {
            match wait_all(rxs).await {
                Ok(()) => {
                    tracker.lock().complete(seq, position);
                    ack.done();
                }
                Err(e) => ack.fail(e),
            }
        }));
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.workers.is_empty() {
            return Ok(());
        }
        self.barrier().await?;
        for h in self.completions.drain(..) {
            let _ = h.await;
        }
        Ok(())
    }

    async fn stored_position(&mut self) -> Result<Option<Position>> {
        self.start().await
    }
}

impl Drop for MysqlSink {
    /// Stops the workers at once: a transaction they have open is rolled back by the target
    /// (its `COMMIT` was not sent) or committed with its checkpoint row — never half of it.
    fn drop(&mut self) {
        self.workers.clear();
        for h in self.completions.iter().chain(&self.handles) {
            h.abort();
        }
    }
}
