//! The gate between the binlog stream and the snapshot's chunk reads (sans I/O).
//!
//! Each chunk is read inside a consistent snapshot whose binlog position `at` the server
//! reports: the chunk holds its rows exactly as every transaction ending at or before `at` left
//! them, and none after. The gate hands the chunk out at that very point of the stream — after
//! every binlog transaction that begins before `at`, before any that begins at or after it — so
//! a consumer that applies events in order (a chunk as "replace these rows") ends with what the
//! source has, with no gap and nothing twice, whatever the writers did to the rows meanwhile.
//!
//! How: a reader announces `at` as soon as its snapshot is open ([`Msg::Reserved`]); from then on
//! the gate holds back every transaction that begins at or after `at` until the chunk arrived
//! and was handed out. The stream therefore trails the source by about one chunk read while a
//! snapshot runs, and the gate never buffers more than the events read during one chunk read.
//! A chunk that arrives when a transaction at or after its `at` was already handed out (the
//! server published that transaction's binlog events before its commit became visible to new
//! snapshots) is *stale*: the gate brings its rows up to date with what those transactions did
//! to the same keys ([`recent`]), or, where it cannot (a table without a key, an incomplete row
//! image, a definition change, a log that no longer reaches back that far), drops it and reads its
//! exact key range again ([`Reread`]). A chunk never goes out inside a transaction handed out in
//! parts: it waits for the transaction's end (and is brought up to date with all of it).
//!
//! Before anything else the gate hands out the tables' definitions (`CREATE DATABASE/TABLE IF
//! NOT EXISTS`, as read when the snapshot started), so the binlog's changes of every table —
//! copied or not yet — can be applied from the start: a change to a row of a range not copied
//! yet is overwritten when that range's chunk goes out, and a delete after a chunk always comes
//! after it (nothing is dropped, so a restart cannot leave a deleted row behind).
//!
//! Invariants:
//! - a chunk is handed out only when every transaction beginning before its `at` was handed out
//!   and none beginning at or after it; progress marks and the positions of every event carry the
//!   progress as of their place ([`SnapshotProgress`]);
//! - a table's progress (`after`) moves only over chunks handed out without a hole before them,
//!   so resuming at any handed-out position re-reads every row not handed out before it;
//! - snapshot rows get [`ChangeId::snapshot`] ids at the stream point they were handed out at.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::change::portable::PortableValue;
use crate::change::{ChangeId, ChangeKind, Event, Row, RowChange, TxnChunk, TxnMeta};
use crate::error::{Error, Result};
use crate::mysql::chunk::KeyRange;
use crate::position::snapshot::{SnapshotProgress, TableProgress};
use crate::position::{BinlogCoord, Position};
use crate::schema::TableSchema;
use super::resync::Request;

#[derive(Debug)]
struct TableState {
    db: String,
    table: String,
    after: Option<Vec<PortableValue>>,
    rows: u64,
    done: bool,
    next: u64,
    /// A whole-table read given up as stale: its further pieces are dropped.
    abandoned: Option<BinlogCoord>,
    /// Handed-out chunks past a hole: index → (end key, last, rows).
    ahead: BTreeMap<u64, (Option<Vec<PortableValue>>, bool, u64)>,
    /// The re-sync request this copy serves (`None`: the initial snapshot).
    request: Option<Arc<Request>>,
    /// The server's estimate of its rows.
    estimate: u64,
    /// The end of this part of the table (`None`: the table's end).
    upto: Option<Vec<PortableValue>>,
}

/// The gate's state.
#[derive(Debug)]
pub struct Gate {
    /// The handed-out row changes of copied tables, lately (brings stale chunks up to date).
    recent: Recent,
    /// The begin of a transaction handed out in part (its next chunk has not gone out yet).
    open: Option<BinlogCoord>,
    tables: Vec<TableState>,
    reserved: HashMap<usize, BinlogCoord>,
    pending: Vec<ChunkRead>,
    /// Ranges to read again, each with the permit of the stale chunk (its reader reads on only
    /// once the range read again is durable).
    rereads: Vec<(Reread, Option<tokio::sync::OwnedSemaphorePermit>)>,
    progress: Option<Arc<SnapshotProgress>>,
    chunks: u64,
    last: Position,
    /// Per copied table: the newest begin of a transaction handed out that changed it (a chunk
    /// whose snapshot is not after it is stale); `all` for statements without tables.
    touched: HashMap<(String, String), BinlogCoord>,
    touched_all: Option<BinlogCoord>,
    /// The tables being copied (not yet completely), for that lookup and the log.
    copied: std::collections::HashSet<(String, String)>,
    seq_at: BinlogCoord,
    seq: u64,
    piece_rows: usize,
    rows_out: u64,
    /// Rows of tables finished in earlier runs, and the estimate of the whole copy.
    done_rows: u64,
    estimate: u64,
    /// The definitions to hand out first (taken once handed out).
    creates: Vec<Event>,
    /// Hand a reader's chunk out only once its previous one was acknowledged.
    bounded: bool,
    /// Per reader: the chunk count (progress `chunks`) once its last chunk handed out, and that
    /// chunk's permit; both dropped when a position at least that far is acknowledged (the
    /// reader reads its next chunk only then).
    unacked: HashMap<usize, (u64, Option<tokio::sync::OwnedSemaphorePermit>)>,
}

impl Gate {
    /// A gate for `progress` (the unfinished tables, in copy order — those of re-sync requests
    /// with the request in `requests`, else they are left out — and what earlier runs did), over
    /// a stream that starts at `start`; snapshot rows go out in transactions of at most
    /// `piece_rows` rows.
    pub fn new(progress: SnapshotProgress, requests: &HashMap<u64, Arc<Request>>, start: Position, piece_rows: usize) -> Gate {
        let SnapshotProgress { tables, chunks, done_rows, estimate } = progress;
        let tables: Vec<TableState> = tables
            .into_iter()
            .filter_map(|t| {
                let request = match t.request {
                    Some(id) => Some(Arc::clone(requests.get(&id)?)),
                    None => None,
                };
                Some(TableState {
                    db: t.db,
                    table: t.table,
                    after: t.after,
                    upto: t.upto,
                    rows: t.rows,
                    estimate: t.estimate,
                    done: false,
                    next: 0,
                    abandoned: None,
                    ahead: BTreeMap::new(),
                    request,
                })
            })
            .collect();
        let seq_at = start.coord.clone();
        let mut g = Gate {
            recent: Recent::default(),
            open: None,
            tables,
            reserved: HashMap::new(),
            pending: Vec::new(),
            rereads: Vec::new(),
            progress: None,
            chunks,
            last: start,
            touched: HashMap::new(),
            touched_all: None,
            copied: std::collections::HashSet::new(),
            seq_at,
            seq: 0,
            piece_rows: piece_rows.max(1),
            rows_out: 0,
            done_rows,
            estimate,
            creates: Vec::new(),
            bounded: false,
            unacked: HashMap::new(),
        };
        g.copied = g.tables.iter().map(|t| (t.db.clone(), t.table.clone())).collect();
        g.rebuild();
        g.last.snapshot = g.progress.clone();
        g
    }

    /// The definitions to hand out before anything else: per table, `SHOW CREATE DATABASE` and
    /// `SHOW CREATE TABLE` as read at the start (`None` for a table gone by then).
    pub fn set_definitions(&mut self, defs: Vec<(String, String, Option<String>, Option<String>)>) {
        let meta = self.meta(&self.last.coord.clone());
        let mut seen_db = std::collections::HashSet::new();
        for (db, table, create_db, create_table) in defs {
            let ddl = |statement: String, tables: Vec<(String, String)>| statement_event(&meta, &db, statement, tables, &self.last);
            if let Some(c) = create_db {
                if seen_db.insert(db.clone()) {
                    self.creates.push(ddl(if_not_exists(&c, "DATABASE"), Vec::new()));
                }
            }
            if let Some(c) = create_table {
                self.creates.push(ddl(if_not_exists(&c, "TABLE"), vec![(db.clone(), table.clone())]));
            }
        }
    }

    /// Adds the copy of re-sync `request`, signalled by a row written at `signal` (a chunk read
    /// at or before it is stale); returns the table's place. A request already under way is not
    /// added again (`None`).
    pub fn add_resync(&mut self, request: Arc<Request>, signal: BinlogCoord) -> Option<usize> {
        if self.tables.iter().any(|t| !t.done && t.request.as_ref().is_some_and(|r| r.id == request.id)) {
            return None;
        }
        let key = (request.db.clone(), request.table.clone());
        let newest = match self.touched.get(&key) {
            Some(b) if *b > signal => b.clone(),
            _ => signal,
        };
        self.recent.barrier(&key, &newest);
        self.touched.insert(key.clone(), newest);
        self.copied.insert(key);
        self.tables.push(TableState {
            db: request.db.clone(),
            table: request.table.clone(),
            after: None,
            upto: None,
            rows: 0,
            estimate: 0,
            done: false,
            next: 0,
            abandoned: None,
            ahead: BTreeMap::new(),
            request: Some(request),
        });
        self.rebuild();
        Some(self.tables.len() - 1)
    }

    /// The end of the part of the table at `index` (`None`: the table's end).
    pub fn upto(&self, index: usize) -> Option<&Vec<PortableValue>> {
        self.tables.get(index).and_then(|t| t.upto.as_ref())
    }

    /// The re-sync request the table at `index` serves.
    pub fn request(&self, index: usize) -> Option<&Arc<Request>> {
        self.tables.get(index).and_then(|t| t.request.as_ref())
    }

    /// True when the initial snapshot (not only re-syncs) has tables in this gate.
    pub fn has_initial(&self) -> bool {
        self.tables.iter().any(|t| t.request.is_none())
    }

    /// With `on`, a reader's chunk goes out only after its previous one was acknowledged
    /// ([`Gate::acknowledged`]), and a handed-out chunk keeps its reader's permit until then (a
    /// reader holding one permit reads its next chunk only once the last one is durable): a
    /// restart then reads at most one chunk per reader again.
    pub fn bound_by_acks(&mut self, on: bool) {
        self.bounded = on;
        if !on {
            self.unacked.clear();
        }
    }

    /// The consumer made everything up to `p` durable.
    pub fn acknowledged(&mut self, p: &Position) {
        if let Some(s) = &p.snapshot {
            self.unacked.retain(|_, (n, _)| *n > s.chunks);
        }
    }

    /// Whether `c` must wait for its reader's previous chunk to be acknowledged.
    fn waits_for_ack(&self, c: &ChunkRead) -> bool {
        self.bounded && !c.keyless && self.unacked.contains_key(&c.reader)
    }

    /// The tables to copy: `(db, table, after)` by their place.
    pub fn tables(&self) -> impl Iterator<Item = (usize, &str, &str, Option<&Vec<PortableValue>>)> {
        self.tables.iter().enumerate().map(|(i, t)| (i, t.db.as_str(), t.table.as_str(), t.after.as_ref()))
    }

    /// True when every table was copied completely and handed out.
    pub fn finished(&self) -> bool {
        self.tables.iter().all(|t| t.done)
    }

    /// The progress stamped on positions now (`None` once finished).
    pub fn progress(&self) -> Option<&Arc<SnapshotProgress>> {
        self.progress.as_ref()
    }

    /// Chunks handed out whose progress was stored (earlier runs) or handed out in this run.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Snapshot rows handed out in this run.
    pub fn rows_out(&self) -> u64 {
        self.rows_out
    }

    /// Ranges to read again (stale chunks), taken, each with the stale chunk's permit (to travel
    /// with the chunk read again).
    pub fn take_rereads(&mut self) -> Vec<(Reread, Option<tokio::sync::OwnedSemaphorePermit>)> {
        std::mem::take(&mut self.rereads)
    }

    fn rebuild(&mut self) {
        let open: Vec<TableProgress> = self
            .tables
            .iter()
            .filter(|t| !t.done)
            .map(|t| TableProgress {
                db: t.db.clone(),
                table: t.table.clone(),
                after: t.after.clone(),
                upto: t.upto.clone(),
                rows: t.rows,
                request: t.request.as_ref().map(|r| r.id),
                estimate: t.estimate,
            })
            .collect();
        let done_rows = self.done_rows + self.tables.iter().filter(|t| t.done).map(|t| t.rows).sum::<u64>();
        self.progress =
            if open.is_empty() { None } else { Some(Arc::new(SnapshotProgress { tables: open, chunks: self.chunks, done_rows, estimate: self.estimate })) };
    }

    /// Takes a reader's message.
    pub fn on_msg(&mut self, msg: Msg) -> Result<()> {
        match msg {
            Msg::Reserved { reader, at } => {
                self.reserved.insert(reader, at);
            }
            Msg::Cancelled { reader } => {
                self.reserved.remove(&reader);
            }
            Msg::Read(c) => {
                if !c.more {
                    self.reserved.remove(&c.reader);
                }
                let t = self.tables.get(c.table).ok_or_else(|| Error::internal("snapshot chunk of an unknown table"))?;
                if c.keyless && t.abandoned.as_ref() == Some(&c.at) {
                    return Ok(());
                }
                let key = (t.db.clone(), t.table.clone());
                // Stale already and beyond repair: read again at once (the rest is settled when
                // the chunk is due, see `settle`).
                if self.stale(&key, &c.at) && (c.keyless || !self.patchable(&key, &c.at)) {
                    self.read_again(*c);
                } else {
                    self.pending.push(*c);
                    self.pending.sort_by(|a, b| a.at.cmp(&b.at));
                }
            }
            Msg::Failed(e) => return Err(e),
        }
        Ok(())
    }

    /// True when `e` must wait: a read is under way whose snapshot it is not part of. The rest
    /// of a transaction handed out in part never waits (chunks wait for its end instead).
    pub fn holds(&self, e: &Event) -> bool {
        match begin(e) {
            Some(b) if self.open.as_ref() == Some(b) => false,
            Some(b) => self.reserved.values().any(|at| at <= b) || self.pending.iter().any(|c| c.at <= *b),
            None => false,
        }
    }

    /// Whether a transaction changing `table` (or every table) at or after `at` went out.
    fn stale(&self, table: &(String, String), at: &BinlogCoord) -> bool {
        self.touched.get(table).into_iter().chain(self.touched_all.as_ref()).any(|b| at <= b)
    }

    /// Whether a keyed chunk of `table` read at `at` can still be brought up to date.
    fn patchable(&self, table: &(String, String), at: &BinlogCoord) -> bool {
        self.touched_all.as_ref().is_none_or(|b| b < at) && self.recent.can_patch(table, at)
    }

    /// Drops `c` and asks for its range (a whole table: all of it) to be read again.
    fn read_again(&mut self, mut c: ChunkRead) {
        let name = format!("{}.{}", c.schema.db, c.schema.name);
        if c.keyless {
            tracing::debug!(table = %name, at = %c.at, "A whole-table read went stale; reading the table again.");
            // A table read whole cannot be read again in part: read it all again.
            if let Some(t) = self.tables.get_mut(c.table) {
                t.abandoned = Some(c.at.clone());
            }
            self.rereads.push((Reread { table: c.table, index: 0, range: KeyRange::default(), last: true }, c.permit.take()));
        } else {
            tracing::debug!(table = %name, at = %c.at, "A chunk read went stale; reading its range again.");
            // A last chunk's range is open above (or ends with its part).
            self.rereads.push((Reread { table: c.table, index: c.index, range: c.range.clone(), last: c.last }, c.permit.take()));
        }
    }

    /// A due chunk as it goes out: as read, brought up to date (with the keys the stream left
    /// present since its snapshot), or `None` (dropped: read again, or a piece of an abandoned
    /// whole read).
    fn settle(&mut self, mut c: ChunkRead) -> Option<(ChunkRead, Vec<Key>)> {
        let t = self.tables.get(c.table)?;
        if c.keyless && t.abandoned.as_ref() == Some(&c.at) {
            return None;
        }
        let key = (t.db.clone(), t.table.clone());
        if !self.stale(&key, &c.at) {
            return Some((c, Vec::new()));
        }
        if !c.keyless && self.patchable(&key, &c.at) {
            let cols = c.schema.key_columns().map(<[usize]>::to_vec).unwrap_or_default();
            if !cols.is_empty() {
                if let Some(kept) = self.recent.bring_up_to_date(&key, &c.schema, &cols, &c.at, &mut c.rows) {
                    tracing::debug!(table = %format!("{}.{}", c.schema.db, c.schema.name), at = %c.at, "A chunk read went stale; brought up to date with the stream.");
                    return Some((c, kept));
                }
            }
        }
        self.read_again(c);
        None
    }

    /// Hands out the chunks due before `e` (those with `at` at or before its begin), then `e`
    /// with the current progress on its position. `resolve` gives the schema rows are handed
    /// out with (see [`crate::source::mysql::tables::Tables::snapshot_schema`]).
    pub fn pass(&mut self, mut e: Event, resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
        if let Some(b) = begin(&e).cloned() {
            if self.open.as_ref() != Some(&b) {
                // Another transaction: the one handed out in part ended (or never will).
                self.open = None;
            }
            self.release(&b, resolve, out)?;
            self.note_touched(&e, b);
            let oldest = self.reserved.values().chain(self.pending.iter().map(|c| &c.at)).min().cloned();
            self.recent.prune(oldest.as_ref());
        }
        match &e {
            Event::Rows(c) if !c.last => self.open = Some(c.meta.begin.clone()),
            Event::Rows(_) | Event::Ddl(_) => self.open = None,
            Event::Progress(_) => {}
        }
        out.append(&mut self.creates);
        if let Some(p) = position_mut(&mut e) {
            p.snapshot = self.progress.clone();
            if !matches!(&e, Event::Rows(c) if !c.last) {
                if let Some(p) = e.position() {
                    self.last = p.clone();
                }
            }
        }
        out.push(e);
        Ok(())
    }

    /// Records that `e` (beginning at `b`) changed its tables.
    fn note_touched(&mut self, e: &Event, b: BinlogCoord) {
        match e {
            Event::Rows(c) => {
                // Changes of one table come in runs sharing one schema: look each run up once.
                let mut rest = c.changes.as_slice();
                while let Some(first) = rest.first() {
                    let n = rest.iter().take_while(|ch| Arc::ptr_eq(&ch.table, &first.table)).count();
                    let (run, tail) = rest.split_at(n);
                    rest = tail;
                    let key = (first.table.db.clone(), first.table.name.clone());
                    if self.copied.contains(&key) {
                        self.recent.note(&key, &b, run);
                        self.touched.insert(key, b.clone());
                    }
                }
            }
            Event::Ddl(d) if d.tables.is_empty() => self.touched_all = Some(b),
            Event::Ddl(d) => {
                for key in &d.tables {
                    if self.copied.contains(key) {
                        self.recent.barrier(key, &b);
                        self.touched.insert(key.clone(), b.clone());
                    }
                }
            }
            Event::Progress(_) => {}
        }
    }

    /// Hands out every arrived chunk whose `at` is at or before `point` (the stream is idle there,
    /// or the next transaction begins there).
    pub fn release(&mut self, point: &BinlogCoord, resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
        out.append(&mut self.creates);
        if self.open.is_some() {
            // Inside a transaction handed out in part: chunks wait for its end.
            return Ok(());
        }
        // In `at` order; a chunk waiting for its reader's acknowledgement stays (and holds the
        // stream after it, see `holds`), others due here go.
        let mut i = 0;
        while let Some(c) = self.pending.get(i) {
            if c.at > *point {
                break;
            }
            if self.waits_for_ack(c) {
                i += 1;
                continue;
            }
            let c = self.pending.remove(i);
            if let Some((c, kept)) = self.settle(c) {
                self.emit(c, &kept, resolve, out)?;
            }
        }
        Ok(())
    }

    fn meta(&self, at: &BinlogCoord) -> Arc<TxnMeta> {
        let begin = ChangeId::snapshot(at, 0).txn;
        Arc::new(TxnMeta {
            gtid: None,
            server_id: 0,
            begin,
            end: Some(at.clone()),
            commit_ts: crate::checkpoint::unix_now() as u32,
            commit_ts_micros: None,
            origin: None,
        })
    }

    fn emit(&mut self, mut c: ChunkRead, kept: &[Key], resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
        let point = self.last.coord.clone();
        if self.seq_at != point {
            self.seq_at = point.clone();
            self.seq = 0;
        }
        // A table gone at `at` has no definition: nothing to create, no rows.
        let gone = c.create_table.is_empty();
        let schema = if gone { Arc::new(c.schema.clone()) } else { resolve(&c.schema, &point)? };
        let meta = self.meta(&point);
        let t = self.tables.get_mut(c.table).ok_or_else(|| Error::internal("snapshot chunk of an unknown table"))?;
        let tables = || vec![(c.schema.db.clone(), c.schema.name.clone())];
        if c.keyless && c.index == 0 {
            // A (new) whole copy: empty the table on the target at this point first (a re-sync:
            // what its request covers).
            t.next = 0;
            t.rows = 0;
            t.ahead.clear();
            let statement = match &t.request {
                Some(r) => r.purge(&c.schema, 0, &KeyRange::default(), &[], &[])?,
                None => format!("TRUNCATE TABLE {}", crate::mysql::quote::ident(&c.schema.name)),
            };
            out.push(statement_event(&meta, &c.schema.db, statement, tables(), &self.last));
        } else if let (Some(r), false, false) = (&t.request, c.keyless, gone) {
            // A re-sync chunk: first the target's rows of its range that the source lacks.
            let statement = r.purge(&c.schema, c.index, &c.range, &c.rows, kept)?;
            out.push(statement_event(&meta, &c.schema.db, statement, tables(), &self.last));
        }
        // The frontier moves over this chunk once every earlier one of the table is out.
        let n = c.rows.len() as u64;
        let end = if c.last { None } else { c.range.upto.clone() };
        t.ahead.insert(c.index, (end, c.last, n));
        while let Some((end, last, rows)) = t.ahead.remove(&t.next) {
            t.next += 1;
            t.rows += rows;
            if last {
                t.done = true;
                if let Some(r) = &t.request {
                    tracing::info!(request = r.id, table = %r.name(), rows = t.rows, "Re-sync copied completely (applied when the sink acknowledges it).");
                }
            } else {
                t.after = end;
            }
        }
        if t.done {
            // Copied completely (every part): its changes need no staleness check nor the log.
            let key = (t.db.clone(), t.table.clone());
            if !self.tables.iter().any(|o| !o.done && o.db == key.0 && o.table == key.1) {
                self.copied.remove(&key);
            }
        }
        self.chunks += 1;
        self.rows_out += n;
        let before = self.last.clone();
        self.rebuild();
        let after = Position { snapshot: self.progress.clone(), ..before.clone() };
        let rows = std::mem::take(&mut c.rows);
        let mut pieces: Vec<Vec<Row>> = Vec::new();
        let mut it = rows.into_iter().peekable();
        while it.peek().is_some() {
            pieces.push(it.by_ref().take(self.piece_rows).collect());
        }
        let count = pieces.len();
        for (k, piece) in pieces.into_iter().enumerate() {
            let changes: Vec<RowChange> = piece
                .into_iter()
                .map(|row| {
                    let id = ChangeId::snapshot(&point, self.seq);
                    self.seq += 1;
                    RowChange { table: Arc::clone(&schema), kind: ChangeKind::Snapshot, before: None, after: Some(row), id }
                })
                .collect();
            // Only the last piece moves the progress: resuming after an earlier one reads the
            // whole chunk again.
            let position = if k + 1 == count { after.clone() } else { before.clone() };
            out.push(Event::Rows(TxnChunk { meta: Arc::clone(&meta), index: 0, last: true, changes, position: Some(position) }));
        }
        if count == 0 {
            // An empty chunk (an empty table): its progress still goes out.
            out.push(Event::Progress(crate::change::Progress { position: after.clone(), timestamp: 0, passed_over: true }));
        }
        self.last = after;
        if self.bounded && !c.keyless {
            self.unacked.insert(c.reader, (self.chunks, c.permit.take()));
        }
        drop(c.permit.take());
        Ok(())
    }
}

mod events;
mod msg;
pub mod recent;
pub use self::msg::{ChunkRead, Msg, Reread};
pub use self::events::begin;
use self::recent::{Key, Recent};
use self::events::{if_not_exists, position_mut, statement_event};

#[cfg(test)]
mod tests;
