//! The MySQL/MariaDB writer of one partition ([`PartitionWriter`]): one connection applying the
//! partition's jobs in order, each job one target transaction — the partition's share of a batch
//! plus its checkpoint row — so data and progress commit together.
//!
//! Invariants:
//! - transient errors (lost connection, server restart, deadlock, lock wait timeout) roll back and
//!   retry the whole job on a fresh connection with exponential backoff; a `COMMIT` that got no
//!   answer is resolved from the stored watermark before anything is retried;
//! - every transaction commits only while the pipeline's fence holds ([`super::fence`]);
//! - a DDL statement runs as it ran in its source session (see `ddl`);
//! - in a two-way pipeline every apply transaction starts with its origin mark, and every DDL
//!   with its mark comment and `ddl_mark` row, so the target's capture can tell otter's writes
//!   from the application's;
//! - runs of whole-row writes of a table go as bulk executions of one prepared statement on
//!   MariaDB ([`super::bulk`]), elsewhere long runs of inserts as `LOAD DATA LOCAL INFILE`,
//!   checked and replaced by the usual statements when not exactly theirs
//!   ([`super::load_data`]), all inside the job's transaction (`steps`, [`super::txn`]); diagnosis and `skip_errors` use statements only;
//! - a part of a source transaction applied in parts ([`ApplyJob::part`]) runs in a
//!   transaction left open (begun by the first part, with the origin mark); the next whole job
//!   ends it with its checkpoint row and commits it. Nothing of it is retried here (its earlier
//!   parts are gone from memory): a failure rolls it all back and is reported as
//!   [`ErrorKind::Replay`] when transient (the pipeline reads the transaction again from its
//!   checkpoint), as itself otherwise;
//! - a statement error is reported with its table, key and (shortened) statement; with
//!   `skip_errors`, the job is re-applied one row at a time in one transaction, and only the rows
//!   the target refuses are rolled back (each to its own savepoint) and logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::change::{ChangeId, DdlEvent};
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::position::Position;
use otter_core::two_way::TwoWayConfig;
use otter_core::{Error, ErrorKind, Result};

use super::bulk::TableGates;
use super::checkpoint_table::CheckpointTable;
use super::fence::Fence;
use super::load_data::LoadState;
use super::txn::{self, sql_steps, Attempt, Fallback, Skipped, Step};
use crate::order::Turn;
use crate::config::MysqlSinkConfig;
use crate::dialect::SqlDialect;
use crate::report::shorten;
use crate::target::{ApplyJob, PartitionWriter, Spread};
use crate::worker::TableOps;

mod ddl;
mod steps;

/// The MySQL/MariaDB writer of one partition: one connection, one transaction per job.
pub struct MysqlWriter {
    /// Partition number.
    pub part: usize,
    /// Partition count.
    pub parts: usize,
    /// How the sink spreads keys over the partitions (stored with the checkpoint rows).
    pub spread: Spread,
    /// Target connection options.
    pub opts: ConnectOptions,
    /// SQL dialect.
    pub dialect: Arc<dyn SqlDialect>,
    /// Checkpoint rows.
    pub ckpt: CheckpointTable,
    /// Loader configuration.
    pub cfg: Arc<MysqlSinkConfig>,
    /// The pipeline's sites, when it is one direction of a two-way setup.
    pub two_way: Option<Arc<TwoWayConfig>>,
    /// Pipeline name (mark rows, conflict log).
    pub pipeline: String,
    /// Per-table gates for bulk runs, shared with the sink's other workers.
    pub gates: Arc<TableGates>,
    /// The pipeline's fence on the target: every transaction commits only while it holds
    /// (`None` in a dry run, which writes nothing).
    pub fence: Option<Arc<Fence>>,
    conn: Option<Conn>,
    /// The target's `max_allowed_packet` as last read (0 before the first connection): bulk
    /// runs need room for a whole execution in one packet.
    max_packet: u64,
    /// The target's `server_id` when it is MariaDB (row events carry it), read on connecting.
    row_event_server: Option<u32>,
    load: LoadState,
    row_events: LoadState,
    /// Statements refused (and skipped) by the last transaction attempt.
    skipped: Vec<Skipped>,
    /// A transaction begun by parts ([`ApplyJob::part`]) is open on `conn`.
    streaming: bool,
}

impl MysqlWriter {
    /// A writer for partition `part` of `parts`.
    pub fn new(part: usize, parts: usize, opts: ConnectOptions, dialect: Arc<dyn SqlDialect>, ckpt: CheckpointTable, cfg: Arc<MysqlSinkConfig>) -> MysqlWriter {
        let load = LoadState::new(cfg.load_data_min_rows);
        let row_events = LoadState::with_refusal(cfg.row_events_min_rows, &super::row_events::REFUSED);
        MysqlWriter {
            part,
            parts,
            spread: Spread::default(),
            opts,
            dialect,
            ckpt,
            cfg,
            two_way: None,
            pipeline: String::new(),
            gates: Arc::default(),
            fence: None,
            conn: None,
            max_packet: 0,
            row_event_server: None,
            load,
            row_events,
            skipped: Vec::new(),
            streaming: false,
        }
    }

    /// The fencing epoch written with the checkpoint rows (0 in a dry run).
    fn epoch(&self) -> u64 {
        self.fence.as_ref().map_or(0, |f| f.epoch())
    }

    async fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            let mut c = self.opts.connect().await?;
            for s in self.dialect.session_setup() {
                c.query_drop(s).await.map_err(|e| translate(e, "setting up the target session"))?;
            }
            if let Some(f) = &self.fence {
                c.query_drop(f.register_sql()).await.map_err(|e| translate(e, "registering the apply connection"))?;
            }
            let server: Option<(u64, u32, String)> =
                c.query_first("SELECT @@max_allowed_packet, @@server_id, VERSION()").await.map_err(|e| translate(e, "target"))?;
            let (packet, server_id, version) = server.unwrap_or_default();
            self.max_packet = packet;
            self.row_event_server = version.contains("MariaDB").then_some(server_id);
            self.conn = Some(c);
        }
        self.conn.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))
    }

    /// Runs `steps` as one transaction, retrying transient failures; `tables` are the job's
    /// (for `LOAD DATA` runs that must be replaced by statements). `watermark` is the one the
    /// steps write: when a `COMMIT` got no answer, the stored watermark tells whether it
    /// committed before anything is retried (jobs without one are idempotent).
    ///
    /// In transaction mode (`turn`), an attempt made while earlier transactions were still in
    /// flight that fails — a lock it had to give way for, or an error an earlier transaction's
    /// commit may cure (a duplicate key, a missing parent row) — runs again at once when every
    /// earlier transaction committed; only an error of an attempt made alone is final.
    async fn with_retry(&mut self, steps: &[Step], tables: &[TableOps], watermark: Option<&ChangeId>, turn: Option<&Turn>) -> Result<()> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let max = Duration::from_secs(self.cfg.max_retry_backoff_secs.max(1));
        let mut unknown = false;
        loop {
            let alone = turn.is_none_or(Turn::is_next);
            let attempt = match (unknown, watermark) {
                (true, Some(w)) => match self.committed(w).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {
                        unknown = false;
                        continue;
                    }
                    Err(e) => Err(e),
                },
                _ => {
                    let mut commit_sent = false;
                    let r = self.transaction(steps, tables, &mut commit_sent, turn).await;
                    unknown = commit_sent && r.is_err();
                    r
                }
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if !alone && !unknown && e.kind() != ErrorKind::Fenced => {
                    let Some(t) = turn else { return Err(e) };
                    t.rolled_back();
                    if e.kind() == ErrorKind::Connection {
                        self.conn = None;
                    }
                    tracing::debug!(partition = self.part, seq = t.seq, error = %e, "A transaction ran before its turn and failed; running it again after the earlier ones.");
                    t.my_turn().await?;
                }
                Err(e) if e.is_transient() => {
                    self.conn = None;
                    if self.cfg.max_retry_secs > 0 && started.elapsed() > Duration::from_secs(self.cfg.max_retry_secs) {
                        return Err(e.context(format!("gave up after retrying for {}s", self.cfg.max_retry_secs)));
                    }
                    tracing::warn!(partition = self.part, error = %e, retry_in_ms = backoff.as_millis() as u64, "Target write failed; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One attempt: `START TRANSACTION; steps...; fence check`, then `COMMIT`, in few round
    /// trips; `commit_sent` tells whether the `COMMIT` left (then a failure is ambiguous).
    async fn transaction(&mut self, steps: &[Step], tables: &[TableOps], commit_sent: &mut bool, turn: Option<&Turn>) -> Result<()> {
        self.attempt(steps, tables, commit_sent, turn, (true, true)).await
    }

    /// One attempt of `steps`, beginning and ending the transaction as `(begin, end)` say (a
    /// transaction applied in parts begins with its first part and ends with its last job).
    async fn attempt(&mut self, steps: &[Step], tables: &[TableOps], commit_sent: &mut bool, turn: Option<&Turn>, (begin, end): (bool, bool)) -> Result<()> {
        let id = self.conn().await?.id();
        if let Some(t) = turn {
            t.running_on(u64::from(id));
        }
        // Jobs in the source's commit order do not take turns at the table gates (`bulk`).
        let gates = turn.is_none().then_some(&*self.gates);
        let fallback = Fallback { dialect: &*self.dialect, tables, per: self.cfg.rows_per_statement, gates };
        let conn = self.conn.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no target connection"))?;
        self.skipped.clear();
        let mut attempt = Attempt {
            load: &mut self.load,
            row_events: &mut self.row_events,
            fallback: &fallback,
            skipped: &mut self.skipped,
            fence: self.fence.as_deref(),
            commit_sent: false,
            turn,
            begin,
            end,
        };
        let r = txn::run(conn, steps, &mut attempt).await;
        *commit_sent = attempt.commit_sent;
        r
    }

    /// Whether the job that writes `watermark` committed (read on a fresh connection).
    async fn committed(&mut self, watermark: &ChangeId) -> Result<bool> {
        self.conn = None;
        let ckpt = self.ckpt.clone();
        let part = self.part;
        let stored = ckpt.watermark(self.conn().await?, part).await?;
        let done = stored.as_ref() == Some(watermark);
        tracing::info!(partition = part, committed = done, "A COMMIT got no answer; the stored watermark tells whether it committed.");
        Ok(done)
    }

    /// `steps` preceded by the origin mark, in a two-way pipeline.
    fn marked(&self, origin: &str, steps: Vec<Step>) -> Vec<Step> {
        match &self.two_way {
            Some(tw) => {
                let mut out = sql_steps(crate::conflict::mark_sql(&tw.marks_schema, &self.pipeline, self.part, origin, &tw.source_site));
                out.extend(steps);
                out
            }
            None => steps,
        }
    }

    async fn apply(&mut self, job: ApplyJob<'_>) -> Result<()> {
        let ApplyJob { tables, watermark, position, origin, applied, turn, part } = job;
        let ckpt = self.ckpt.write_sql(self.part, self.parts, self.spread, self.epoch(), position, watermark, applied)?;
        // Connected first when possible: which statements suit the target depends on it
        // (`max_packet`), for a dry run too; a failure here is retried with the transaction below.
        let _ = self.conn().await;
        if self.cfg.dry_run {
            for s in self.statements(tables, origin)? {
                match s {
                    Step::Sql(s) => tracing::info!(partition = self.part, statement = %s, "dry run"),
                    Step::Load(r) => tracing::info!(partition = self.part, statement = %r.sql, rows = r.rows, "dry run"),
                    Step::Bulk(b) => tracing::info!(partition = self.part, statement = %b.sql, rows = b.rows(), "dry run (bulk execution)"),
                    Step::RowEvents(r) => tracing::info!(partition = self.part, table = %r.name, rows = r.rows, "dry run (row events)"),
                    Step::Skippable { sql, .. } => tracing::info!(partition = self.part, statement = %sql, "dry run"),
                }
            }
            return Ok(());
        }
        if part {
            return self.apply_part(tables, origin, turn).await;
        }
        if self.streaming {
            return self.end_parts(tables, origin, &ckpt, watermark, turn).await;
        }
        let mut steps = self.statements(tables, origin)?;
        steps.push(Step::Sql(ckpt.clone()));
        let steps = self.marked(origin, steps);
        match self.with_retry(&steps, tables, watermark, turn).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_transient() || e.kind() == ErrorKind::Fenced => Err(e),
            Err(e) => {
                // A refusal after a takeover (e.g. a duplicate key: the new holder applied these
                // rows) is the takeover's doing: say so, and count the rejected transaction.
                if let Some(fenced) = self.fenced_now().await {
                    return Err(fenced);
                }
                // Find the statement (row) that fails, and skip it if allowed.
                let singles = self.single_statements(tables, origin)?;
                if self.cfg.skip_errors {
                    return self.apply_row_by_row(&singles, &ckpt, watermark, origin, turn).await;
                }
                for (sql, what) in &singles {
                    let probe = vec![sql.clone(), "ROLLBACK".into()];
                    if let Err(single) = self.probe(&probe).await {
                        return Err(Error::new(
                            ErrorKind::Sink,
                            format!("{what}: {single}; statement: {}", shorten(sql, 400)),
                        ));
                    }
                }
                Err(e)
            }
        }
    }

    /// A part of a transaction applied in parts: its statements in the open transaction (begun
    /// here, with the origin mark, by the first part), not committed.
    async fn apply_part(&mut self, tables: &[TableOps], origin: &str, turn: Option<&Turn>) -> Result<()> {
        let mut steps = self.statements(tables, origin)?;
        let begin = !self.streaming;
        if begin {
            steps = self.marked(origin, steps);
            // Connected before the transaction begins.
            self.conn().await.map_err(replay)?;
        }
        self.streaming = true;
        let mut commit_sent = false;
        if let Err(e) = self.attempt(&steps, tables, &mut commit_sent, turn, (begin, false)).await {
            self.streaming = false;
            self.conn = None;
            return Err(replay(e));
        }
        Ok(())
    }

    /// The last job of a transaction applied in parts: its statements and checkpoint row in the
    /// open transaction, then the fencing check and `COMMIT`. One attempt only; a `COMMIT` that
    /// got no answer is resolved from the stored watermark.
    async fn end_parts(&mut self, tables: &[TableOps], origin: &str, ckpt: &str, watermark: Option<&ChangeId>, turn: Option<&Turn>) -> Result<()> {
        let mut steps = self.statements(tables, origin)?;
        steps.push(Step::Sql(ckpt.to_owned()));
        let mut commit_sent = false;
        let r = self.attempt(&steps, tables, &mut commit_sent, turn, (false, true)).await;
        self.streaming = false;
        match (r, commit_sent, watermark) {
            (Ok(()), _, _) => Ok(()),
            (Err(e), true, Some(w)) => match self.committed(w).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(replay(e)),
                Err(check) => Err(replay(check)),
            },
            (Err(e), _, _) => {
                self.conn = None;
                Err(replay(e))
            }
        }
    }

    /// The fenced error when another instance holds the pipeline now (read afresh).
    async fn fenced_now(&mut self) -> Option<Error> {
        let fence = self.fence.clone()?;
        let conn = self.conn().await.ok()?;
        let read: Option<(u64, String)> = conn.query_first(fence.read_sql()).await.ok()?;
        match read {
            Some((epoch, _)) if epoch == fence.epoch() => None,
            other => fence.verify(other).err(),
        }
    }

    /// Runs statements without a COMMIT (the caller ends them with ROLLBACK), to diagnose.
    async fn probe(&mut self, stmts: &[String]) -> Result<()> {
        let conn = self.conn().await?;
        conn.query_drop("START TRANSACTION").await.map_err(|e| translate(e, "target"))?;
        for s in stmts {
            if let Err(e) = conn.query_drop(s.as_str()).await {
                let _ = conn.query_drop("ROLLBACK").await;
                return Err(translate(e, "target"));
            }
        }
        Ok(())
    }

    /// `skip_errors`: the job again, one statement per row, in one transaction with its checkpoint
    /// row; a row the target refuses is rolled back alone and logged once the rest committed, so
    /// a retry or a crash never applies a row twice (keyless tables included).
    async fn apply_row_by_row(&mut self, singles: &[(String, String)], ckpt: &str, watermark: Option<&ChangeId>, origin: &str, turn: Option<&Turn>) -> Result<()> {
        let mut steps: Vec<Step> = singles.iter().map(|(sql, what)| Step::Skippable { sql: sql.clone(), what: what.clone() }).collect();
        steps.push(Step::Sql(ckpt.to_owned()));
        let steps = self.marked(origin, steps);
        self.with_retry(&steps, &[], watermark, turn).await?;
        for s in self.skipped.drain(..) {
            tracing::error!(partition = self.part, row = %s.what, error = %s.error, statement = %shorten(&s.sql, 400), "Skipped a row the target refused (skip_errors).");
        }
        Ok(())
    }

}

/// A failure inside a transaction applied in parts: when retrying may help, the pipeline reads
/// the transaction again from its checkpoint ([`ErrorKind::Replay`]); otherwise it is final.
fn replay(e: Error) -> Error {
    if !e.is_transient() {
        return e;
    }
    Error::new(ErrorKind::Replay, format!("{}; a source transaction applied in parts was rolled back and is read again from the checkpoint", e.message()))
}

#[async_trait]
impl PartitionWriter for MysqlWriter {
    async fn apply(&mut self, job: ApplyJob<'_>) -> Result<()> {
        MysqlWriter::apply(self, job).await
    }

    async fn progress(&mut self, position: &Position) -> Result<()> {
        if self.streaming {
            return Err(crate::error::internal("progress recorded inside a transaction applied in parts"));
        }
        let sql = self.ckpt.write_sql(self.part, self.parts, self.spread, self.epoch(), Some(position), None, None)?;
        if self.cfg.dry_run {
            tracing::info!(partition = self.part, statement = %sql, "dry run");
            return Ok(());
        }
        self.with_retry(&[Step::Sql(sql)], &[], None, None).await
    }

    async fn ddl(&mut self, ddl: &DdlEvent, replayed: bool) -> Result<()> {
        if self.streaming {
            return Err(crate::error::internal("DDL inside a transaction applied in parts"));
        }
        MysqlWriter::ddl(self, ddl, replayed).await
    }

    async fn abandon(&mut self) {
        if std::mem::take(&mut self.streaming) {
            if let Some(c) = self.conn.as_mut() {
                if c.query_drop("ROLLBACK").await.is_err() {
                    self.conn = None;
                }
            }
        }
    }

    async fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.disconnect().await;
        }
    }
}
