//! One apply transaction on the target: its steps (SQL statements and `LOAD DATA` runs) sent in
//! few round trips between `START TRANSACTION` and `COMMIT`.
//!
//! Invariants: every step of a job runs in one transaction that ends with the job's last step
//! (its checkpoint row) and `COMMIT`, so data and progress commit together or not at all; any
//! failure rolls the whole transaction back; `COMMIT` is sent alone, only after the results of
//! every statement and of the fencing check ([`crate::mysql::fence::Fence::check_sql`], read last) came
//! back and the epoch is still ours — so the server is never handed a transaction it could
//! finish after this process died or lost the pipeline; a `LOAD DATA` run that does not insert every row
//! without a warning is rolled back to its savepoint and replaced, in place, by the statements it
//! stands for (see [`crate::mysql::load_data`]); a skippable statement (`skip_errors`) that the target
//! refuses is rolled back to its own savepoint and reported, and the transaction goes on.

use futures_util::stream;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::mysql::conn::{codes, translate};
use otter_core::Result;

use crate::mysql::bulk::{BulkRun, TableGates, CLIENT_BINARY, CLIENT_RESTORE};
use crate::dialect::{SqlDialect, TargetTable};
use crate::mysql::fence::Fence;
use crate::mysql::load_data::{LoadRun, LoadState, DISABLED_CODES, SAVEPOINT};
use crate::mysql::row_events::{self, RowEventRun};
use crate::merge::Op;
use crate::worker::{target, TableOps};

/// Largest query text sent in one round trip.
const MAX_QUERY: usize = 4 << 20;

/// Bytes of `LOAD DATA` data per protocol packet.
const INFILE_CHUNK: usize = 1 << 20;

/// One step of an apply transaction.
#[derive(Debug, Clone)]
pub enum Step {
    /// An SQL statement.
    Sql(String),
    /// Rows sent as `LOAD DATA LOCAL INFILE`.
    Load(LoadRun),
    /// Rows sent as bulk executions of one prepared statement.
    Bulk(BulkRun),
    /// Updates sent as row events (`BINLOG` statements), replaced by the steps they stand for
    /// when the target refuses them.
    RowEvents(RowEventRun),
    /// A statement the target may refuse (`skip_errors`): then it alone is rolled back (to a
    /// savepoint set just before it) and reported as skipped.
    Skippable {
        /// The statement.
        sql: String,
        /// What it writes (table and key), for the report.
        what: String,
    },
}

/// A statement the target refused and the transaction went on without.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// What it would have written (table and key).
    pub what: String,
    /// The statement.
    pub sql: String,
    /// The target's error.
    pub error: String,
}

/// The savepoint set before each skippable statement.
const ROW_SAVEPOINT: &str = "otter_row";

/// Statements as steps.
pub fn sql_steps(stmts: impl IntoIterator<Item = String>) -> Vec<Step> {
    stmts.into_iter().map(Step::Sql).collect()
}

/// Multi-row statements for `ops` (upserts, or inserts, of one table), `per` rows each.
pub fn multi_row(d: &dyn SqlDialect, t: &TargetTable<'_>, ops: &[Op], per: usize, out: &mut Vec<String>) -> Result<()> {
    for chunk in ops.chunks(per.max(1)) {
        let rows: Vec<&[otter_binlog::Value<'static>]> = chunk
            .iter()
            .filter_map(|op| match op {
                Op::Upsert { after, .. } | Op::Insert { after, .. } => Some(after.as_slice()),
                _ => None,
            })
            .collect();
        let mut s = String::new();
        match chunk.first() {
            Some(Op::Insert { .. }) => d.insert(t, &rows, &mut s)?,
            _ => d.upsert(t, &rows, &mut s)?,
        }
        out.push(s);
    }
    Ok(())
}

/// What a transaction needs to replace a `LOAD DATA` or row-event run by statements.
pub struct Fallback<'a> {
    /// The dialect.
    pub dialect: &'a dyn SqlDialect,
    /// The job's tables (a run names its table by index).
    pub tables: &'a [TableOps],
    /// Rows per statement.
    pub per: usize,
    /// The sink's per-table gates for bulk and row-event runs; `None` for a job in the source's
    /// commit order, which does not take turns (see [`crate::mysql::bulk`]).
    pub gates: Option<&'a TableGates>,
}

impl Fallback<'_> {
    /// Appends to the pending text the statements that stand for the writes `range` of the job's
    /// table `table`.
    async fn push(&self, conn: &mut Conn, cur: &mut String, table: usize, range: std::ops::Range<usize>) -> Result<()> {
        for s in self.statements(table, range)? {
            push(conn, cur, &s).await?;
        }
        Ok(())
    }

    /// Multi-row statements for the writes `range` of the job's table `table` (what a `LOAD DATA`
    /// or row-event run stands for).
    fn statements(&self, table: usize, range: std::ops::Range<usize>) -> Result<Vec<String>> {
        let t = self.tables.get(table).ok_or_else(|| crate::error::internal("a run of an unknown table"))?;
        let ops = t.writes.get(range).ok_or_else(|| crate::error::internal("a run outside its table"))?;
        let mut out = Vec::new();
        multi_row(self.dialect, &target(t), ops, self.per, &mut out)?;
        Ok(out)
    }
}

/// Appends `s` to the pending query text, sending the text first when it would grow too large.
async fn push(conn: &mut Conn, cur: &mut String, s: &str) -> Result<()> {
    if cur.len() + s.len() > MAX_QUERY && !cur.is_empty() {
        send(conn, std::mem::take(cur)).await?;
    }
    if !cur.is_empty() {
        cur.push_str(";\n");
    }
    cur.push_str(s);
    Ok(())
}

async fn send(conn: &mut Conn, q: String) -> Result<()> {
    if let Err(e) = conn.query_drop(q).await {
        return Err(fail(conn, e).await);
    }
    Ok(())
}

/// Rolls the transaction back after `e` and turns `e` into an otter error.
async fn fail(conn: &mut Conn, e: mysql_async::Error) -> otter_core::Error {
    let transient = is_transient(&e);
    // A second try when the first only surfaced an error the driver still held.
    if conn.query_drop("ROLLBACK").await.is_err() {
        let _ = conn.query_drop("ROLLBACK").await;
    }
    let err = translate(e, "applying changes on the target");
    if transient {
        err.transient(true)
    } else {
        err
    }
}

/// What one attempt needs besides its steps.
pub struct Attempt<'a> {
    /// `LOAD DATA` availability, updated by the attempt.
    pub load: &'a mut LoadState,
    /// Row-event availability, updated by the attempt.
    pub row_events: &'a mut LoadState,
    /// How to replace `LOAD DATA` and row-event runs by statements.
    pub fallback: &'a Fallback<'a>,
    /// The statements refused among the skippable steps (only meaningful once it succeeded).
    pub skipped: &'a mut Vec<Skipped>,
    /// The epoch check that must pass before `COMMIT` (none in a dry run).
    pub fence: Option<&'a Fence>,
    /// Set once `COMMIT` was sent: a failure after that leaves the outcome unknown.
    pub commit_sent: bool,
    /// Transaction mode: `COMMIT` waits for this turn ([`crate::mysql::turn`]).
    pub turn: Option<&'a crate::order::Turn>,
    /// Begin the transaction (`false`: continue the one a part left open).
    pub begin: bool,
    /// End it: the fencing check and `COMMIT` (`false`: a part, left open).
    pub end: bool,
}

/// One attempt: `START TRANSACTION; steps...; <fence check>`, then `COMMIT` on its own — or,
/// for a part of a transaction applied in parts, without the beginning ([`Attempt::begin`]) or
/// without the end ([`Attempt::end`]).
pub async fn run(conn: &mut Conn, steps: &[Step], a: &mut Attempt<'_>) -> Result<()> {
    let (load, fallback) = (&mut *a.load, a.fallback);
    let mut cur = if a.begin { String::from("START TRANSACTION") } else { String::new() };
    for step in steps {
        match step {
            Step::Sql(s) => push(conn, &mut cur, s).await?,
            Step::Skippable { sql, what } => {
                // Everything before it on its own, so an error here is this statement's.
                if !cur.is_empty() {
                    send(conn, std::mem::take(&mut cur)).await?;
                }
                if let Some(error) = skippable(conn, sql).await? {
                    a.skipped.push(Skipped { what: what.clone(), sql: sql.clone(), error });
                }
            }
            Step::Bulk(b) => {
                bulk_run(conn, &mut cur, b, fallback.gates).await?;
                cur = String::from(CLIENT_RESTORE);
            }
            Step::RowEvents(r) if !a.row_events.enabled() => {
                fallback.push(conn, &mut cur, r.table, r.range.clone()).await?;
            }
            Step::RowEvents(r) => {
                // The savepoint, and the mode that decides whether row events keep the upserts'
                // result, in one round trip.
                push(conn, &mut cur, &format!("SAVEPOINT {}", row_events::SAVEPOINT)).await?;
                push(conn, &mut cur, row_events::MODE_QUERY).await?;
                let mode: Option<String> = last_row(conn, std::mem::take(&mut cur)).await?;
                if !row_events::strict(mode.as_deref()) {
                    row_events::IDEMPOTENT.warn_once(&format!("slave_exec_mode = {}", mode.as_deref().unwrap_or("unknown")));
                    fallback.push(conn, &mut cur, r.table, r.range.clone()).await?;
                    continue;
                }
                match row_event_run(conn, r, fallback.gates).await? {
                    None => a.row_events.succeeded(&r.name),
                    Some((code, message)) => {
                        if row_events::DISABLED_CODES.contains(&code) {
                            a.row_events.disable(&message);
                        } else {
                            tracing::info!(table = %r.name, rows = r.rows, code, error = %message, "The target refused a run of row events; applying it with upserts.");
                            a.row_events.fell_back(&r.name);
                        }
                        cur = format!("ROLLBACK TO SAVEPOINT {}", row_events::SAVEPOINT);
                        fallback.push(conn, &mut cur, r.table, r.range.clone()).await?;
                    }
                }
            }
            Step::Load(r) if !load.enabled() => {
                fallback.push(conn, &mut cur, r.table, r.range.clone()).await?;
            }
            Step::Load(r) => {
                push(conn, &mut cur, &format!("SAVEPOINT {SAVEPOINT}")).await?;
                send(conn, std::mem::take(&mut cur)).await?;
                if load_run(conn, r, load).await? {
                    load.succeeded(&r.name);
                } else {
                    load.fell_back(&r.name);
                    cur = format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}");
                    fallback.push(conn, &mut cur, r.table, r.range.clone()).await?;
                }
            }
        }
    }
    if !a.end {
        if !cur.is_empty() {
            send(conn, cur).await?;
        }
        return Ok(());
    }
    match a.fence {
        Some(fence) => {
            push(conn, &mut cur, &fence.check_sql()).await?;
            let read = last_row(conn, cur).await?;
            if let Err(e) = fence.verify(read) {
                let _ = conn.query_drop("ROLLBACK").await;
                return Err(e);
            }
        }
        None => send(conn, cur).await?,
    }
    if let Some(turn) = a.turn {
        crate::mysql::turn::wait(conn, turn).await?;
    }
    a.commit_sent = true;
    send(conn, "COMMIT".into()).await
}

/// Sends `q` (statements of which only the last returns rows: the fencing check, a setting) and
/// returns that statement's last row, `None` when there is none or it does not convert.
async fn last_row<T: mysql_async::prelude::FromRow + Send + 'static>(conn: &mut Conn, q: String) -> Result<Option<T>> {
    let mut read = None;
    let outcome = async {
        let mut result = conn.query_iter(q).await?;
        loop {
            match result.next().await? {
                // Only the last statement returns rows; a row that does not convert reads as none
                // (for the fencing check: rejected).
                Some(row) => read = mysql_async::from_row_opt::<T>(row).ok(),
                None if result.is_empty() => break,
                None => {}
            }
        }
        // The driver keeps the error of a statement after a finished result set for the next
        // read: surface it here, or the failed transaction would look complete.
        result.next().await?;
        Ok::<_, mysql_async::Error>(())
    };
    if let Err(e) = outcome.await {
        return Err(fail(conn, e).await);
    }
    Ok(read)
}

/// Sends a run's `BINLOG` statements; `Ok(Some((code, message)))` when the target refused them
/// (the caller rolls back to the run's savepoint); `Err` (transaction rolled back) for transient
/// errors.
async fn row_event_run(conn: &mut Conn, r: &RowEventRun, gates: Option<&TableGates>) -> Result<Option<(u16, String)>> {
    for q in &r.queries {
        // Each statement takes its turn with the other workers' writes of the table.
        let _gate = match gates {
            Some(g) => g.enter(&r.name).await,
            None => None,
        };
        match conn.query_drop(q.as_str()).await {
            Ok(()) => {}
            Err(e) if is_transient(&e) => return Err(fail(conn, e).await),
            Err(mysql_async::Error::Server(s)) => return Ok(Some((s.code, s.message))),
            Err(e) => return Err(fail(conn, e).await),
        }
    }
    Ok(None)
}

/// Sends the pending text, then `b`'s executions with the session's client character set
/// `binary`; after a failure the transaction is rolled back and the character set restored.
async fn bulk_run(conn: &mut Conn, cur: &mut String, b: &BulkRun, gates: Option<&TableGates>) -> Result<()> {
    // Prepared (or found in the connection's statement cache) under the usual character set,
    // as the text statements are.
    let stmt = match conn.prep(b.sql.as_str()).await {
        Ok(s) => s,
        Err(e) => return Err(fail(conn, e).await),
    };
    push(conn, cur, CLIENT_BINARY).await?;
    send(conn, std::mem::take(cur)).await?;
    for rows in b.executions() {
        // Built before waiting at the gate, so the gate is held only while the target works.
        let rows: Vec<Vec<mysql_async::Value>> = rows.collect();
        let _gate = match gates {
            Some(g) if b.turns => g.enter(&b.name).await,
            _ => None,
        };
        if let Err(e) = conn.exec_batch(&stmt, rows).await {
            let err = fail(conn, e).await;
            // A connection that cannot take this is dropped by the caller's retry anyway.
            let _ = conn.query_drop(CLIENT_RESTORE).await;
            return Err(err.context(format!("bulk execution on {}", b.name)));
        }
    }
    Ok(())
}

/// Runs `sql` after a savepoint; `Ok(Some(error))` when the target refused it and it was rolled
/// back to the savepoint (the transaction goes on); `Err` (transaction rolled back) for transient
/// errors, and when the target ended the whole transaction (skipping the row would then lose the
/// job's other rows).
async fn skippable(conn: &mut Conn, sql: &str) -> Result<Option<String>> {
    let e = match conn.query_drop(format!("SAVEPOINT {ROW_SAVEPOINT};\n{sql}")).await {
        Ok(()) => return Ok(None),
        Err(e) if is_transient(&e) => return Err(fail(conn, e).await),
        Err(mysql_async::Error::Server(s)) => s,
        Err(e) => return Err(fail(conn, e).await),
    };
    if let Err(undo) = conn.query_drop(format!("ROLLBACK TO SAVEPOINT {ROW_SAVEPOINT}")).await {
        let err = fail(conn, undo).await;
        return Err(err.context(format!("the target ended the transaction after refusing a row ({}); the row cannot be skipped alone", e.message)));
    }
    Ok(Some(format!("ERROR {} ({}): {}", e.code, e.state, e.message)))
}

/// Sends one run; `Ok(false)` when it must be replaced by statements (rows skipped or values
/// adjusted, or the target refused it); `Err` (transaction rolled back) for errors that stop the
/// job or are retried.
async fn load_run(conn: &mut Conn, r: &LoadRun, load: &mut LoadState) -> Result<bool> {
    let data = r.data.clone();
    let chunks: Vec<std::io::Result<bytes::Bytes>> =
        (0..data.len()).step_by(INFILE_CHUNK).map(|at| Ok(data.slice(at..(at + INFILE_CHUNK).min(data.len())))).collect();
    conn.set_infile_handler(async move { Ok(Box::pin(stream::iter(chunks)) as mysql_async::InfileData) });
    match conn.query_drop(r.sql.as_str()).await {
        Ok(()) => {
            let (affected, warnings) = (conn.affected_rows(), conn.get_warnings());
            if affected == r.rows && warnings == 0 {
                return Ok(true);
            }
            tracing::info!(table = %r.name, rows = r.rows, affected, warnings, "LOAD DATA did not insert every row cleanly (rows already there?); applying the run with statements.");
            Ok(false)
        }
        Err(e) if is_transient(&e) => Err(fail(conn, e).await),
        Err(mysql_async::Error::Server(s)) if DISABLED_CODES.contains(&s.code) => {
            load.disable(&s.message);
            Ok(false)
        }
        Err(mysql_async::Error::Server(s)) => {
            // The statements give the same error, with the usual diagnosis.
            tracing::info!(table = %r.name, code = s.code, error = %s.message, "LOAD DATA failed; applying the run with statements.");
            Ok(false)
        }
        Err(e) => Err(fail(conn, e).await),
    }
}

/// Errors that retrying may cure.
pub fn is_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => matches!(
            s.code,
            codes::DEADLOCK | codes::LOCK_WAIT_TIMEOUT | codes::SERVER_SHUTDOWN | codes::CONNECTION_KILLED | codes::QUERY_INTERRUPTED | 1040
        ),
        _ => false,
    }
}
