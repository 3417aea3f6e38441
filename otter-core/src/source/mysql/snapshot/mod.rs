//! The online snapshot: copies the included tables' existing rows while the binlog is read, and
//! hands each chunk out at the point of the stream its consistent snapshot belongs to ([`gate`]),
//! so the copy and the live changes form one ordered stream with no gap and nothing twice.
//!
//! Method (why not DBLog's watermarks): MariaDB reports, for a `START TRANSACTION WITH
//! CONSISTENT SNAPSHOT`, the binlog position that snapshot corresponds to
//! (`binlog_snapshot_file/position`), without any lock. Each chunk is read in its own short
//! snapshot, so the source keeps no long transaction open, and the chunk is placed at its exact
//! position in the stream: nothing is written to the source (DBLog needs a watermark table and
//! write access), no key is compared in Rust (the server orders and bounds the ranges), and a
//! chunk is applied as "replace these rows", which is idempotent — so a chunk handed out again
//! after a restart (read again at a newer snapshot) is harmless.
//!
//! Progress rides in every position handed out while the snapshot runs
//! ([`crate::position::snapshot`]); a sink that stores its position with its data (the MySQL
//! loader) stores the copy's progress in the same transaction as the rows, and a restart resumes
//! each table after the last chunk that position covers.
//!
//! Modes (`snapshot` in the source configuration): `when_needed` (default: on the first start
//! from the binlog's end, copy the included tables the target lacks), `never` (stream only),
//! `initial` (on the first start, with no stored position: copy every included table, then
//! stream), `initial_only` (copy, then stop).

pub mod copier;
pub mod gate;
pub mod resync;
pub mod split;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use self::copier::{ReadCtx, TableJob};
use self::gate::{Gate, Msg};
use self::resync::Request;
use crate::error::{Error, Result};
use crate::mysql::conn::{show_create_database, show_create_table, translate, ConnectOptions};
use crate::position::snapshot::{SnapshotProgress, TableProgress};
use crate::position::{BinlogCoord, Position};
use crate::schema::Settings;
use crate::table_filter::TableFilter;

/// When to copy the tables' existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Stream the binlog only.
    Never,
    /// Default: on the first start (no stored position) from the binlog's end (`from` unset or
    /// `latest`), create and copy the included tables the target lacks, then stream; with an
    /// explicit older `from`, or a sink without tables, copy nothing (the stream is what was
    /// asked for).
    #[default]
    WhenNeeded,
    /// On the first start (no stored position): copy every included table online, then stream.
    Initial,
    /// Copy every included table online, then stop.
    InitialOnly,
}

/// Every base table the filter includes, in name order, as unfinished tables with the server's
/// estimate of their rows (`information_schema`'s `TABLE_ROWS`, approximate for InnoDB).
pub async fn plan(conn: &mut Conn, filter: &TableFilter, own_schema: &str) -> Result<Vec<TableProgress>> {
    let rows: Vec<(String, String, Option<u64>)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
             ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| translate(e, "listing the tables to copy"))?;
    Ok(rows
        .into_iter()
        .filter(|(db, t, _)| filter.allows(db, t) && !db.eq_ignore_ascii_case(own_schema))
        .map(|(db, table, n)| TableProgress { estimate: n.unwrap_or(0), ..TableProgress::new(db, table) })
        .collect())
}

/// The definitions of `tables` now: per table `(db, table, SHOW CREATE DATABASE, SHOW CREATE
/// TABLE)` (`None` for what is gone), read in a session without `sql_mode` (backtick quoting).
pub async fn definitions(opts: &ConnectOptions, tables: &[TableProgress]) -> Result<Vec<(String, String, Option<String>, Option<String>)>> {
    let mut conn = opts.connect().await?;
    crate::mysql::chunk::prepare_session(&mut conn).await?;
    let mut out = Vec::with_capacity(tables.len());
    let mut seen = std::collections::HashSet::new();
    for t in tables.iter().filter(|t| seen.insert((t.db.as_str(), t.table.as_str()))) {
        let what = format!("reading the definition of {}.{}", t.db, t.table);
        let table = show_create_table(&mut conn, &t.db, &t.table).await.map_err(|e| translate(e, &what))?;
        let db = show_create_database(&mut conn, &t.db).await.map_err(|e| translate(e, &what))?;
        out.push((t.db.clone(), t.table.clone(), db, table));
    }
    Ok(out)
}

/// The base tables `config` captures (what a snapshot would copy), connecting to its source.
pub async fn included_tables(config: &super::MysqlSourceConfig, own_schema: &str) -> Result<Vec<(String, String)>> {
    // The source, or the promoted failover server when the source is gone.
    let (_, mut conn) = super::failover::connect(config, None).await?;
    let filter = TableFilter::new(&config.include, &config.exclude)?;
    let tables = plan(&mut conn, &filter, own_schema).await?;
    let _ = conn.disconnect().await;
    Ok(tables.into_iter().map(|t| (t.db, t.table)).collect())
}

/// How a snapshot reads (from the source configuration).
#[derive(Debug, Clone)]
pub struct SnapshotConfig {
    /// How to reach the source.
    pub opts: ConnectOptions,
    /// Catalog settings for parsing definitions.
    pub settings: Settings,
    /// Tables read in parallel.
    pub readers: usize,
    /// Most snapshot rows per handed-out transaction.
    pub piece_rows: usize,
    /// The time one chunk read should take.
    pub chunk_time: Duration,
    /// Most rows per second over all readers (0: no limit).
    pub max_rows_per_sec: u64,
    /// The consumer acknowledges what it made durable (see [`Gate::bound_by_acks`]).
    pub bounded: bool,
}

/// A running snapshot (the initial copy, re-syncs, or both): the gate and its readers.
/// Dropping it stops the readers.
pub struct Snapshot {
    gate: Gate,
    rx: mpsc::Receiver<Msg>,
    ctx: Arc<ReadCtx>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
    reported: Instant,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Snapshot {
    /// Starts `cfg.readers` readers over `progress`'s tables (unfinished, with where to resume
    /// each; those of re-syncs with their request in `requests`), for a stream starting at
    /// `start`.
    pub fn start(
        cfg: &SnapshotConfig,
        definitions: Vec<(String, String, Option<String>, Option<String>)>,
        progress: SnapshotProgress,
        requests: &HashMap<u64, Arc<Request>>,
        start: Position,
    ) -> Snapshot {
        let readers = cfg.readers.max(1);
        let (tx, rx) = mpsc::channel(readers * (copier::PERMITS + 2) + 4);
        let ctx = Arc::new(ReadCtx {
            opts: cfg.opts.clone(),
            settings: cfg.settings.clone(),
            tx,
            target: cfg.chunk_time,
            next_id: AtomicUsize::new(readers),
            rows_per_sec: cfg.max_rows_per_sec,
            paced_until: Mutex::new(None),
        });
        let mut gate = Gate::new(progress, requests, start, cfg.piece_rows);
        gate.bound_by_acks(cfg.bounded);
        gate.set_definitions(definitions);
        let queue: VecDeque<TableJob> = (0..gate.tables().count()).filter_map(|i| job(&gate, i)).collect();
        if !queue.is_empty() {
            tracing::info!(tables = queue.len(), readers, "Online snapshot starting (no locks; chunks placed at their snapshot's binlog position).");
        }
        let queue = Arc::new(Mutex::new(queue));
        let tasks = (0..readers).map(|r| tokio::spawn(copier::run_reader(Arc::clone(&ctx), r, Arc::clone(&queue)))).collect();
        Snapshot { gate, rx, ctx, tasks, started: Instant::now(), reported: Instant::now() }
    }

    /// Copies again what `request` asks for, signalled by a row written at `signal`, through
    /// its own reader (a request already under way is not started twice).
    pub fn resync(&mut self, request: Arc<Request>, signal: BinlogCoord) {
        let Some(i) = self.gate.add_resync(request, signal) else { return };
        if let Some(job) = job(&self.gate, i) {
            let reader = self.ctx.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let queue = Arc::new(Mutex::new(VecDeque::from([job])));
            self.tasks.push(tokio::spawn(copier::run_reader(Arc::clone(&self.ctx), reader, queue)));
        }
    }

    /// Logs the copy's progress (rows, rows/s, tables left, ETA) at most every `every`.
    pub fn report(&mut self, every: Duration) {
        if self.reported.elapsed() < every {
            return;
        }
        self.reported = Instant::now();
        let rows = self.gate.rows_out();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = rows as f64 / secs;
        let (left, copied, estimate) = self.gate.progress().map_or((0, 0, 0), |p| (p.tables.len(), p.copied(), p.estimate));
        let eta = if rate > 0.0 && estimate > copied { format!("{:.0}s", (estimate - copied) as f64 / rate) } else { "-".into() };
        tracing::info!(rows = copied, rows_per_sec = rate as u64, estimated_rows = estimate, tables_left = left, eta = %eta, "Snapshot progress.");
    }

    /// The gate.
    pub fn gate(&mut self) -> &mut Gate {
        &mut self.gate
    }

    /// The next message of a reader (pending forever when none can come).
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    /// Takes every reader message already waiting (so a reservation is known before the events
    /// it must hold are handed out).
    pub fn drain(&mut self) -> Result<()> {
        while let Ok(m) = self.rx.try_recv() {
            self.on_msg(m)?;
        }
        Ok(())
    }

    /// Takes a reader's message; starts re-reads the gate asks for.
    pub fn on_msg(&mut self, msg: Msg) -> Result<()> {
        self.gate.on_msg(msg)?;
        for (r, permit) in self.gate.take_rereads() {
            let job = job(&self.gate, r.table).map(|j| TableJob { after: None, ..j }).ok_or_else(|| Error::internal("re-read of an unknown table"))?;
            self.tasks.push(tokio::spawn(copier::reread(Arc::clone(&self.ctx), job, r, permit)));
        }
        Ok(())
    }
}

/// The reader's job for the table at `i` of `gate` (resuming where it stands).
fn job(gate: &Gate, i: usize) -> Option<TableJob> {
    let (_, db, t, after) = gate.tables().nth(i)?;
    Some(TableJob { table: i, db: db.to_owned(), name: t.to_owned(), after: after.cloned(), upto: gate.upto(i).cloned(), request: gate.request(i).cloned() })
}
