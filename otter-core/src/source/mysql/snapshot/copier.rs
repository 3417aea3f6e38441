//! The snapshot's readers: tasks that read tables in key-range chunks, each chunk in its own
//! short consistent snapshot, and send them to the gate.
//!
//! Per chunk: open a consistent snapshot and announce its position ([`Msg::Reserved`]), read the
//! table's definition, the rows of the range and the definition again (a DDL that slipped in
//! between makes the server refuse the read, or the two definitions differ: the snapshot is given
//! up and the chunk read again), close the snapshot, send the chunk ([`Msg::Read`]).
//!
//! Invariants: a reader holds at most [`PERMITS`] chunks that the consumer has not made durable
//! (with an acknowledging consumer: the gate keeps a handed-out chunk's permit until its position
//! is acknowledged; otherwise until it is handed out), so memory is bounded by readers × permits
//! × chunk size and a restart reads at most one chunk per reader again; a table without a key
//! (read whole, sent in pieces) is the exception, its pieces bounded by [`KEYLESS_PIECES`];
//! every reservation is followed by the chunk or a cancellation; nothing on the source is
//! locked or written.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Semaphore};

use super::gate::{ChunkRead, Msg, Reread};
use super::resync::{self, Request};
use crate::change::portable::PortableValue;
use crate::error::{Error, ErrorKind, Result};
use crate::mysql::chunk::{begin_snapshot, end_snapshot, prepare_session, ChunkReader, KeyRange};
use crate::mysql::conn::{show_create_table, translate, ConnectOptions};
use crate::schema::Settings;
use crate::source::mysql::tables::parse_create;

/// Chunks a reader may hold that are not durable yet (one: no read ahead, so a restart
/// reads at most one chunk per reader again; readers run side by side for throughput).
pub const PERMITS: usize = 1;

/// Pieces of a table read whole that may wait to be handed out (a restart reads such a table
/// again whole anyway).
pub const KEYLESS_PIECES: usize = 2;


/// What every reader shares.
pub struct ReadCtx {
    /// How to reach the source.
    pub opts: ConnectOptions,
    /// Catalog settings for parsing definitions.
    pub settings: Settings,
    /// Where chunks go.
    pub tx: mpsc::Sender<Msg>,
    /// The time one chunk read should take; chunk sizes adapt to it.
    pub target: Duration,
    /// Reader ids for re-reads (after the regular readers').
    pub next_id: AtomicUsize,
    /// Rows per second all readers together may read at most (0: no limit).
    pub rows_per_sec: u64,
    /// The moment up to which the readers' rows so far use up the rate (shared).
    pub paced_until: Mutex<Option<Instant>>,
}

/// One table to read: its place in the gate, name, and where to resume.
#[derive(Debug, Clone)]
pub struct TableJob {
    /// The table's place in the gate's list.
    pub table: usize,
    /// Database.
    pub db: String,
    /// Table.
    pub name: String,
    /// Resume after this key.
    pub after: Option<Vec<PortableValue>>,
    /// Stop at this key, inclusive (a part of a table; `None`: its end).
    pub upto: Option<Vec<PortableValue>>,
    /// The re-sync request it serves (`None`: the initial snapshot).
    pub request: Option<Arc<Request>>,
}

const MIN_ROWS: usize = 200;
const MAX_ROWS: usize = 100_000;
const START_ROWS: usize = 2_000;
const MAX_CHUNK_BYTES: usize = 32 << 20;

/// Runs one reader over the shared queue of tables until it is empty.
pub async fn run_reader(ctx: Arc<ReadCtx>, reader: usize, queue: Arc<Mutex<VecDeque<TableJob>>>) {
    if let Err(e) = reader_loop(&ctx, reader, &queue).await {
        let _ = ctx.tx.send(Msg::Failed(e)).await;
    }
}

async fn reader_loop(ctx: &ReadCtx, reader: usize, queue: &Mutex<VecDeque<TableJob>>) -> Result<()> {
    let sem = Arc::new(Semaphore::new(PERMITS));
    let mut conn: Option<Conn> = None;
    loop {
        let job = queue.lock().pop_front();
        let Some(job) = job else { return Ok(()) };
        // A key list is read in batches of keys from the start; everything else in key ranges.
        let batches = job.request.as_ref().and_then(|r| r.batches());
        let mut after = if batches.is_some() { None } else { job.after.clone() };
        let max_rows = if job.request.is_some() { resync::MAX_ROWS } else { MAX_ROWS };
        let mut limit = START_ROWS.min(max_rows);
        let mut index = 0u64;
        loop {
            let waited = Instant::now();
            let permit = Arc::clone(&sem).acquire_owned().await.map_err(|_| Error::internal("snapshot semaphore closed"))?;
            let waited = waited.elapsed();
            let range = KeyRange { after: after.clone(), upto: job.upto.clone() };
            let started = Instant::now();
            let mut c = read_chunk(ctx, &mut conn, reader, &job, index, range, batches.is_none().then_some(limit)).await?;
            let elapsed = started.elapsed();
            let n = c.rows.len();
            // Where a copy's time goes: reading, or waiting for the last chunk to be durable.
            tracing::debug!(table = %format_args!("{}.{}", job.db, job.name), reader, rows = n, read_ms = elapsed.as_millis() as u64, waited_for_target_ms = waited.as_millis() as u64, "Chunk read.");
            c.last = c.keyless || batches.map_or(n < limit, |b| index + 1 >= b);
            let last_key = c.range.upto.clone();
            if c.last {
                c.range.upto = job.upto.clone();
            }
            c.permit = Some(permit);
            let bytes: usize = c.rows.iter().map(crate::mysql::chunk::row_bytes).sum::<usize>().max(1);
            let done = c.last;
            if ctx.tx.send(Msg::Read(Box::new(c))).await.is_err() {
                return Ok(());
            }
            // A rate limit shared by all readers: these rows use rows / rate seconds of the
            // budget. Waited for after the chunk went to the gate (its reservation must not hold
            // the stream meanwhile), before the next read.
            if ctx.rows_per_sec > 0 {
                let share = Duration::from_secs_f64(n as f64 / ctx.rows_per_sec as f64);
                let until = {
                    let mut t = ctx.paced_until.lock();
                    let now = Instant::now();
                    let next = t.map_or(now, |t| t.max(now)) + share;
                    *t = Some(next);
                    next
                };
                tokio::time::sleep_until(until.into()).await;
            }
            if done {
                break;
            }
            after = last_key;
            index += 1;
            // Aim at the target time per chunk, within bounds and a memory cap.
            let ms = elapsed.as_millis().max(1) as f64;
            let scaled = (limit as f64 * ctx.target.as_millis() as f64 / ms).clamp(limit as f64 / 2.0, limit as f64 * 2.0);
            let by_bytes = MAX_CHUNK_BYTES / (bytes / n.max(1)).max(1);
            limit = (scaled as usize).min(by_bytes).clamp(MIN_ROWS, max_rows);
        }
    }
}

/// Reads a stale chunk's exact range again, as its own reader, holding the stale chunk's permit
/// (`permit`) until the chunk read again is durable — its first reader reads on only then.
pub async fn reread(ctx: Arc<ReadCtx>, job: TableJob, r: Reread, permit: Option<tokio::sync::OwnedSemaphorePermit>) {
    let reader = ctx.next_id.fetch_add(1, Ordering::Relaxed);
    let mut conn = None;
    let res = read_chunk(&ctx, &mut conn, reader, &job, r.index, r.range.clone(), None).await;
    let msg = match res {
        Ok(mut c) => {
            c.last = r.last;
            c.range = r.range;
            c.permit = permit;
            Msg::Read(Box::new(c))
        }
        Err(e) => Msg::Failed(e),
    };
    let _ = ctx.tx.send(msg).await;
}

async fn connect(ctx: &ReadCtx) -> Result<Conn> {
    let mut c = ctx.opts.connect().await?;
    prepare_session(&mut c).await?;
    Ok(c)
}

/// Reads `range` of the job's table at a fresh snapshot, retrying what can be retried. The
/// chunk's `range.upto` is the last key read (or the range's own bound when nothing was read).
#[allow(clippy::too_many_arguments)]
async fn read_chunk(
    ctx: &ReadCtx,
    conn: &mut Option<Conn>,
    reader: usize,
    job: &TableJob,
    index: u64,
    range: KeyRange,
    limit: Option<usize>,
) -> Result<ChunkRead> {
    let mut backoff = Duration::from_millis(100);
    loop {
        if conn.is_none() {
            match connect(ctx).await {
                Ok(c) => *conn = Some(c),
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "Snapshot reader cannot reach the source; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let c = conn.as_mut().ok_or_else(|| Error::internal("no snapshot connection"))?;
        let mut reserved = false;
        match attempt(ctx, c, reader, job, index, &range, limit, &mut reserved).await {
            Ok(Some(chunk)) => return Ok(chunk),
            Ok(None) => {
                // The definition changed under the read: give the snapshot up and read again.
                let _ = c.query_drop("ROLLBACK").await;
                if reserved && ctx.tx.send(Msg::Cancelled { reader }).await.is_err() {
                    return Err(Error::new(ErrorKind::Other, "the capture stopped"));
                }
            }
            Err(e) => {
                *conn = None;
                if reserved && ctx.tx.send(Msg::Cancelled { reader }).await.is_err() {
                    return Err(Error::new(ErrorKind::Other, "the capture stopped"));
                }
                if !e.is_transient() {
                    return Err(e);
                }
                tracing::warn!(table = %format!("{}.{}", job.db, job.name), error = %e, "Snapshot read failed; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One try; `Ok(None)` when the table's definition changed during it.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    ctx: &ReadCtx,
    conn: &mut Conn,
    reader: usize,
    job: &TableJob,
    index: u64,
    range: &KeyRange,
    limit: Option<usize>,
    reserved: &mut bool,
) -> Result<Option<ChunkRead>> {
    let what = format!("snapshot of {}.{}", job.db, job.name);
    // The definition before the snapshot opens and again after the rows were read (the read's
    // metadata lock then keeps any DDL from finishing): equal, no DDL finished in between, so
    // the rows and this definition both belong to the snapshot's position. (DDL is not
    // versioned: an instant ALTER finished after the snapshot opened would otherwise show its
    // new columns in the old snapshot's rows.)
    let create = show_create_table(conn, &job.db, &job.name).await.map_err(|e| translate(e, &what))?;
    let at = begin_snapshot(conn).await?;
    if ctx.tx.send(Msg::Reserved { reader, at: at.clone() }).await.is_err() {
        return Err(Error::new(ErrorKind::Other, "the capture stopped"));
    }
    *reserved = true;
    let Some(create) = create else {
        // Gone at this point of the stream: nothing to copy (its DROP is in the binlog).
        end_snapshot(conn).await?;
        return Ok(Some(gone(reader, job, index, at, range)));
    };
    let defaults: Option<(String, String)> = conn
        .exec_first("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (job.db.as_str(),))
        .await
        .map_err(|e| translate(e, &what))?;
    let schema = parse_create(&ctx.settings, defaults, &job.db, &job.name, &create)?
        .ok_or_else(|| Error::new(ErrorKind::Ddl, format!("{what}: the definition does not define the table:\n{create}")))?;
    if schema.key_columns().is_none() {
        return keyless(ctx, conn, reader, job, at, schema, create).await;
    }
    let mut reader_of = ChunkReader::new(Arc::new(schema.clone()))?;
    if let Some((cond, params)) = job.request.as_ref().map(|r| r.read_filter(&schema, index)).transpose()?.flatten() {
        reader_of = reader_of.with_filter(cond, params);
    }
    let rows = reader_of.read(conn, range, limit).await?;
    let again = show_create_table(conn, &job.db, &job.name).await.map_err(|e| translate(e, &what))?;
    if again.as_deref() != Some(create.as_str()) {
        return Ok(None);
    }
    end_snapshot(conn).await?;
    // A batch of a key list covers its keys, not a range: read again, it is read whole.
    let by_keys = job.request.as_ref().is_some_and(|r| r.keys.is_some());
    let upto = if by_keys { None } else { rows.last_key.clone().or_else(|| range.upto.clone()) };
    Ok(Some(ChunkRead {
        reader,
        table: job.table,
        index,
        at,
        range: KeyRange { after: range.after.clone(), upto },
        last: false,
        schema,
        create_table: create,
        rows: rows.rows,
        more: false,
        keyless: false,
        permit: None,
    }))
}

/// Rows per piece of a table read whole.
const PIECE_ROWS: usize = 5_000;

/// A table without a usable key, read whole in this one snapshot and sent in pieces (each
/// waiting for a permit); the last piece is returned. `Ok(None)` when its definition changed
/// during the read (the pieces sent are then superseded: a new read starts again at piece 0,
/// which empties the table on the target first).
#[allow(clippy::too_many_arguments)]
async fn keyless(
    ctx: &ReadCtx,
    conn: &mut Conn,
    reader: usize,
    job: &TableJob,
    at: crate::position::BinlogCoord,
    schema: crate::schema::TableSchema,
    create: String,
) -> Result<Option<ChunkRead>> {
    let what = format!("snapshot of {}.{}", job.db, job.name);
    let table = format!("{}.{}", job.db, job.name);
    if job.request.is_some() {
        tracing::warn!(table = %table, "No primary key and no unique key of NOT NULL columns: the re-sync reads what it covers in one consistent snapshot, after deleting that on the target.");
    } else {
        tracing::warn!(
            table = %table,
            "No primary key and no unique key of NOT NULL columns: the table is copied whole in one consistent snapshot, \
             and emptied on the target first (a restart copies it again from the start)."
        );
    }
    let mut whole = ChunkReader::whole(Arc::new(schema.clone()));
    if let Some((cond, params)) = job.request.as_ref().map(|r| r.read_filter(&schema, 0)).transpose()?.flatten() {
        whole = whole.with_filter(cond, params);
    }
    let (sql, _) = whole.statement(&KeyRange::default(), None)?;
    let piece = |index: u64, rows: Vec<crate::change::Row>, more: bool, permit| ChunkRead {
        reader,
        table: job.table,
        index,
        at: at.clone(),
        range: KeyRange::default(),
        last: !more,
        schema: schema.clone(),
        create_table: create.clone(),
        rows,
        more,
        keyless: true,
        permit,
    };
    // Its own permits: the reader's one is held by this read until its last piece.
    let sem = Arc::new(Semaphore::new(KEYLESS_PIECES));
    let mut rows = Vec::new();
    let mut bytes = 0;
    let mut index = 0;
    {
        let mut result = conn.exec_iter(sql, ()).await.map_err(|e| translate(e, &what))?;
        while let Some(w) = result.next().await.map_err(|e| translate(e, &what))? {
            let row = whole.decode_row(w)?;
            bytes += crate::mysql::chunk::row_bytes(&row);
            rows.push(row);
            if rows.len() >= PIECE_ROWS || bytes >= MAX_CHUNK_BYTES / 2 {
                let permit = Arc::clone(&sem).acquire_owned().await.map_err(|_| Error::internal("snapshot semaphore closed"))?;
                if ctx.tx.send(Msg::Read(Box::new(piece(index, std::mem::take(&mut rows), true, Some(permit))))).await.is_err() {
                    return Err(Error::new(ErrorKind::Other, "the capture stopped"));
                }
                index += 1;
                bytes = 0;
            }
        }
    }
    let again = show_create_table(conn, &job.db, &job.name).await.map_err(|e| translate(e, &what))?;
    if again.as_deref() != Some(create.as_str()) {
        return Ok(None);
    }
    end_snapshot(conn).await?;
    Ok(Some(piece(index, rows, false, None)))
}

fn gone(reader: usize, job: &TableJob, index: u64, at: crate::position::BinlogCoord, range: &KeyRange) -> ChunkRead {
    ChunkRead {
        reader,
        table: job.table,
        index,
        at,
        range: range.clone(),
        last: true,
        schema: crate::schema::TableSchema::new(job.db.clone(), job.name.clone(), Vec::new(), Vec::new()),
        create_table: String::new(),
        rows: Vec::new(),
        more: false,
        keyless: false,
        permit: None,
    }
}
