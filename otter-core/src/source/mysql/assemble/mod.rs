//! The capture state machine: binlog events in, [`Event`]s out — transactions (in chunks), DDL
//! statements and progress marks, each with the position to resume from.
//!
//! Event groups: MySQL writes `GTID, QUERY(BEGIN), TABLE_MAP.., ROWS.., XID|QUERY(COMMIT)`;
//! MariaDB writes `GTID, TABLE_MAP.., ROWS.., XID|QUERY(COMMIT)` (its GTID event replaces BEGIN);
//! DDL is `GTID, QUERY(ddl)` without BEGIN; servers without GTIDs omit the GTID event.
//!
//! Invariants:
//! - a transaction's chunks are emitted in order and the last carries the position after its
//!   commit; an earlier chunk carries the transaction's begin plus the rows emitted so far, so a
//!   resume never repeats or loses a row;
//! - when resuming inside a transaction (`skip`), exactly the first `skip_rows` captured rows of
//!   that transaction are dropped — the transaction that begins at the resume coordinate, or,
//!   after a start by GTID ([`Assembler::skip_in_first_transaction`]), the first one read;
//! - every DDL is applied to the schema history before anything after it is emitted;
//! - with a start time (`not_before`), a transaction committed before it is not emitted and a
//!   DDL run before it is applied to the schema history only; both count as passed over, and the
//!   first transaction or DDL at or after the start time ends the skipping;
//! - a progress mark's time is never later than a moment at which the source had nothing after
//!   its position: a heartbeat at the position already reached is stamped with the time it was
//!   received (the source was idle there), one that moves the position with 0 (unknown), and a
//!   mark for passed-over events with the time of the last of them;
//! - a transaction carrying an origin mark the [`MarkRules`] do not forward is dropped whole (the
//!   mark is its first row event) and passed over like a filtered one; rows of otter's own schema
//!   are never emitted, and passing only them does not count as progress worth recording;
//! - a DDL statement's mark is its leading comment, else the `ddl_mark` row its session wrote
//!   just before (matched by thread id, see [`super::ddl_marks`]); a DDL the rules do not forward
//!   is passed over; `CREATE/DROP TRIGGER otter_…` (otter's own triggers) is never emitted and,
//!   like DDL of otter's own schema, is no progress worth recording;
//! - data that cannot be captured correctly (statement-format DML of captured tables, INCIDENT
//!   events) stops the capture with an error rather than being skipped.

mod query;

use std::sync::Arc;
use std::time::{Duration, Instant};

use otter_binlog::{EventData, EventHeader, Parser, RowsEvent, RowsKind, TableMap};

use super::ddl_marks::PendingDdlMarks;
use super::tables::{convert, Binding, Tables};
use crate::change::{ChangeId, ChangeKind, Event, Progress, RowChange, TxnChunk, TxnMeta};
use crate::checkpoint::unix_now;
use crate::error::{Error, ErrorKind, Result};
use crate::position::{BinlogCoord, GtidState, MysqlGtid, Position, Tsid};
use crate::two_way::{Mark, MarkRules};

/// Limits on the size of one emitted chunk.
#[derive(Debug, Clone, Copy)]
pub struct ChunkLimits {
    /// Row changes per chunk.
    pub rows: usize,
    /// Approximate bytes per chunk.
    pub bytes: usize,
}

/// A transaction being read.
struct OpenTxn {
    meta: TxnMeta,
    gtid: Option<GtidValue>,
    chunk: u32,
    changes: Vec<RowChange>,
    bytes: usize,
    row_no: u64,
    skip_rows: u64,
    emitted: u64,
    /// Dropped by its origin mark: nothing of it is emitted.
    dropped: bool,
    /// Touched a table outside otter's own schema (filtered or not).
    foreign: bool,
}

/// A GTID of either family, to fold into the executed state at commit.
#[derive(Debug, Clone)]
enum GtidValue {
    Mysql(MysqlGtid),
    Mariadb(otter_binlog::event::mariadb_gtid::MariadbGtid),
}

/// Turns events into captured transactions.
pub struct Assembler {
    tables: Tables,
    file: String,
    next: BinlogCoord,
    gtid: Option<GtidState>,
    pending_gtid: Option<(GtidValue, BinlogCoord)>,
    txn: Option<OpenTxn>,
    /// Rows to drop of the transaction beginning at this coordinate (`None`: the first one read).
    skip: Option<(Option<BinlogCoord>, u64)>,
    not_before: Option<i64>,
    limits: ChunkLimits,
    last_progress: Instant,
    progress_due: bool,
    marks: MarkRules,
    ddl_marks: PendingDdlMarks,
    signals: Vec<(u64, BinlogCoord)>,
}

impl Assembler {
    /// An assembler starting at `position`.
    pub fn new(tables: Tables, position: &Position, not_before: Option<i64>, limits: ChunkLimits) -> Assembler {
        Assembler {
            tables,
            file: position.coord.file.clone(),
            next: position.coord.clone(),
            gtid: position.gtid.clone(),
            pending_gtid: None,
            txn: None,
            skip: (position.skip_rows > 0).then(|| (Some(position.coord.clone()), position.skip_rows)),
            not_before,
            limits,
            last_progress: Instant::now(),
            progress_due: false,
            marks: MarkRules::default(),
            ddl_marks: PendingDdlMarks::default(),
            signals: Vec::new(),
        }
    }

    /// Re-sync requests met in the stream since the last call: the id of each row inserted into
    /// the signal table (see [`super::snapshot::resync`]) and where it was written.
    pub fn take_signals(&mut self) -> Vec<(u64, BinlogCoord)> {
        std::mem::take(&mut self.signals)
    }

    /// Sets which marked transactions are forwarded (default: one-way rules).
    pub fn with_marks(mut self, marks: MarkRules) -> Assembler {
        self.marks = marks;
        self
    }

    /// The position to resume from if the stream broke now: the last complete transaction, or
    /// the open transaction's begin plus the rows already emitted.
    pub fn resume_position(&self) -> Position {
        match &self.txn {
            Some(t) => Position { coord: t.meta.begin.clone(), gtid: self.gtid.clone(), skip_rows: t.skip_rows.max(t.emitted), snapshot: None, applied: None },
            None => Position { coord: self.next.clone(), gtid: self.gtid.clone(), skip_rows: 0, snapshot: None, applied: None },
        }
    }

    /// Prepares for a new connection that restarts at [`Assembler::resume_position`].
    pub fn restart(&mut self) {
        let p = self.resume_position();
        if p.skip_rows > 0 {
            self.skip = Some((Some(p.coord.clone()), p.skip_rows));
        }
        self.txn = None;
        self.pending_gtid = None;
        self.next = p.coord;
        self.tables.reset_bindings();
    }

    /// The stream starts by GTID, right before the transaction a mid-transaction resume point
    /// names (on this server its coordinate may differ): the rows to skip belong to the first
    /// transaction read.
    pub fn skip_in_first_transaction(&mut self) {
        if let Some((at, _)) = &mut self.skip {
            *at = None;
        }
    }

    /// Tables stopped by schema errors.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The table resolution, to record schemas met outside the binlog (snapshot reads).
    pub fn tables_mut(&mut self) -> &mut Tables {
        &mut self.tables
    }

    /// True while a transaction is open (begun, not yet complete).
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    fn coord(&self, offset: u64) -> BinlogCoord {
        BinlogCoord::new(self.file.clone(), offset)
    }

    /// Where an event starts (from its end position and length), or the current position.
    fn event_start(&self, h: &EventHeader) -> BinlogCoord {
        if h.log_pos >= h.event_len && h.log_pos != 0 {
            self.coord(u64::from(h.log_pos - h.event_len))
        } else {
            self.next.clone()
        }
    }

    fn position(&self) -> Position {
        Position { coord: self.next.clone(), gtid: self.gtid.clone(), skip_rows: 0, snapshot: None, applied: None }
    }

    /// Feeds one decoded event; completed output goes to `out`.
    pub async fn feed(&mut self, ev: &otter_binlog::Event<'_>, parser: &Parser, out: &mut Vec<Event>) -> Result<()> {
        let h = ev.header;
        let start = self.event_start(&h);
        match &ev.data {
            EventData::Rotate(r) => {
                let name = String::from_utf8_lossy(r.next_file).into_owned();
                self.file = name.clone();
                self.next = BinlogCoord::new(name, r.position);
                return Ok(());
            }
            EventData::MariadbGtid(g) => {
                self.close_if_open(&h, out)?;
                let gtid = otter_binlog::event::mariadb_gtid::MariadbGtid { domain_id: g.domain_id, server_id: h.server_id, seq_no: g.seq_no };
                self.pending_gtid = Some((GtidValue::Mariadb(gtid), start.clone()));
                if !g.is_standalone() {
                    self.open(&h, start);
                }
            }
            EventData::Gtid(g) if !g.is_anonymous() => {
                self.close_if_open(&h, out)?;
                let tag = g.tag.map(|t| String::from_utf8_lossy(t).to_ascii_lowercase()).unwrap_or_default();
                let gtid = MysqlGtid { tsid: Tsid { uuid: g.uuid, tag }, gno: g.gno };
                self.pending_gtid = Some((GtidValue::Mysql(gtid), start.clone()));
            }
            EventData::Gtid(_) => {
                self.close_if_open(&h, out)?;
                self.pending_gtid = None;
            }
            EventData::Query(q) => self.on_query(&h, q, start, out).await?,
            // The server stopped, or this binlog began at its start (an FDE re-sent at a reconnect
            // carries 0): session (thread) ids start again, pending DDL marks are void.
            EventData::Stop => self.ddl_marks.clear(),
            EventData::FormatDescription(f) if f.create_timestamp != 0 => self.ddl_marks.clear(),
            EventData::TableMap(tm) => {
                self.tables.bind(tm, &start).await?;
            }
            EventData::Rows(rows) => self.on_rows(&h, rows, parser, start, out)?,
            EventData::Xid(_) => self.commit(&h, out)?,
            EventData::XaPrepare(_) => self.commit(&h, out)?,
            EventData::Incident(i) => {
                return Err(Error::new(
                    ErrorKind::Parse,
                    format!(
                        "INCIDENT event at {start}: {} — the source lost changes (e.g. a binlog write failed); \
                         resync the tables before trusting the copy",
                        String::from_utf8_lossy(i.message)
                    ),
                ))
            }
            EventData::Heartbeat(_) => {
                if h.log_pos != 0 && self.txn.is_none() {
                    let at = self.coord(u64::from(h.log_pos));
                    // Servers write 0 as a heartbeat's time. One at the position already reached
                    // says that, when it arrived, the source had nothing after it: stamped with that
                    // moment, it makes lag read about 0 once applied. One that moves the position
                    // (events the server skipped without sending) says nothing about time.
                    let timestamp = if at == self.next { u32::try_from(unix_now()).unwrap_or(u32::MAX) } else { 0 };
                    self.next = at;
                    out.push(Event::Progress(Progress { position: self.position(), timestamp, passed_over: self.progress_due }));
                    self.progress_due = false;
                    self.last_progress = Instant::now();
                }
                return Ok(());
            }
            _ => {}
        }
        if h.log_pos != 0 && !h.is_artificial() {
            self.next = self.coord(u64::from(h.log_pos));
        }
        if self.txn.is_none() && self.progress_due && self.last_progress.elapsed() >= Duration::from_millis(500) {
            out.push(Event::Progress(Progress { position: self.position(), timestamp: h.timestamp, passed_over: true }));
            self.progress_due = false;
            self.last_progress = Instant::now();
        }
        Ok(())
    }

    fn open(&mut self, h: &EventHeader, begin: BinlogCoord) {
        let (gtid_value, begin) = match self.pending_gtid.take() {
            Some((g, at)) => (Some(g), at),
            None => (None, begin),
        };
        let skip_rows = match &self.skip {
            Some((None, n)) => *n,
            Some((Some(at), n)) if *at == begin => *n,
            _ => 0,
        };
        self.skip = None;
        self.txn = Some(OpenTxn {
            meta: TxnMeta {
                gtid: gtid_value.as_ref().map(gtid_text),
                server_id: h.server_id,
                begin,
                end: None,
                commit_ts: h.timestamp,
                commit_ts_micros: None,
                origin: None,
            },
            gtid: gtid_value,
            chunk: 0,
            changes: Vec::new(),
            bytes: 0,
            row_no: 0,
            skip_rows,
            emitted: 0,
            dropped: false,
            foreign: false,
        });
    }

    /// A GTID event arrived while a transaction was open: the previous group ended without a
    /// commit event (non-transactional statements); treat what was read as committed.
    fn close_if_open(&mut self, h: &EventHeader, out: &mut Vec<Event>) -> Result<()> {
        if self.txn.is_some() {
            self.commit(h, out)?;
        }
        Ok(())
    }

    fn on_rows(&mut self, h: &EventHeader, rows: &RowsEvent<'_>, parser: &Parser, start: BinlogCoord, out: &mut Vec<Event>) -> Result<()> {
        let table: &TableMap = parser.table_for(rows)?;
        let (db, name) = (String::from_utf8_lossy(&table.schema), String::from_utf8_lossy(&table.table));
        if db.eq_ignore_ascii_case(&self.marks.schema) {
            if self.marks.is_mark_table(&db, &name) && rows.kind == RowsKind::Write {
                let mut cursor = rows.rows(table).map_err(|e| Error::from(e.at(start.offset)))?;
                let (mut before, mut after) = (Vec::new(), Vec::new());
                if cursor.next_into(&mut before, &mut after).map_err(|e| Error::from(e.at(start.offset)))? {
                    let text = |i: usize| match after.get(i) {
                        Some(otter_binlog::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    };
                    let mark = Mark { origin: text(2), via: text(3), drop: false };
                    if !mark.is_nosync() {
                        self.set_mark(h, start, mark);
                    }
                }
            } else if self.marks.is_nosync_table(&db, &name) {
                self.set_mark(h, start, Mark::nosync());
            } else if self.marks.is_ddl_mark_table(&db, &name) && rows.kind == RowsKind::Write {
                // The mark of the session's next DDL statement (see `super::ddl_marks`).
                let mut cursor = rows.rows(table).map_err(|e| Error::from(e.at(start.offset)))?;
                let (mut before, mut after) = (Vec::new(), Vec::new());
                while cursor.next_into(&mut before, &mut after).map_err(|e| Error::from(e.at(start.offset)))? {
                    self.ddl_marks.remember(&after, h.timestamp);
                }
            } else if name.eq_ignore_ascii_case(super::snapshot::resync::SIGNAL_TABLE) && rows.kind == RowsKind::Write {
                let mut cursor = rows.rows(table).map_err(|e| Error::from(e.at(start.offset)))?;
                let (mut before, mut after) = (Vec::new(), Vec::new());
                while cursor.next_into(&mut before, &mut after).map_err(|e| Error::from(e.at(start.offset)))? {
                    match after.first() {
                        Some(otter_binlog::Value::UInt(id)) => self.signals.push((*id, start.clone())),
                        Some(otter_binlog::Value::Int(id)) => self.signals.push((*id as u64, start.clone())),
                        _ => tracing::warn!(at = %start, "A row of the re-sync signal table without a numeric id first; ignored."),
                    }
                }
            }
            return Ok(()); // otter's own tables are never emitted
        }
        if self.txn.as_ref().is_some_and(|t| t.dropped) {
            return Ok(());
        }
        let bound = match self.tables.binding(rows.table_id) {
            Some(Binding::Bound(b)) => Arc::clone(b),
            Some(Binding::Skip) => {
                if let Some(t) = self.txn.as_mut() {
                    t.foreign = true;
                } else {
                    self.progress_due = true;
                }
                return Ok(());
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Parse,
                    format!("rows event at {start} for table id {} without a TABLE_MAP", rows.table_id),
                ))
            }
        };
        if self.txn.is_none() {
            self.open(h, start.clone());
        }
        let kind = match rows.kind {
            RowsKind::Write => ChangeKind::Insert,
            RowsKind::Update => ChangeKind::Update,
            RowsKind::Delete => ChangeKind::Delete,
        };
        let mut cursor = rows.rows(table).map_err(|e| Error::from(e.at(start.offset)))?;
        loop {
            let (mut before, mut after) = (Vec::new(), Vec::new());
            if !cursor.next_into(&mut before, &mut after).map_err(|e| Error::from(e.at(start.offset)))? {
                break;
            }
            let Some(txn) = self.txn.as_mut() else { break };
            let row = txn.row_no;
            txn.row_no += 1;
            if row < txn.skip_rows {
                continue;
            }
            let change = RowChange {
                table: Arc::clone(&bound.schema),
                kind,
                before: (kind != ChangeKind::Insert).then(|| convert(&bound, before)),
                after: (kind != ChangeKind::Delete).then(|| convert(&bound, after)),
                id: ChangeId { txn: txn.meta.begin.clone(), row },
            };
            txn.bytes += change.approx_bytes();
            txn.changes.push(change);
            let full = txn.changes.len() >= self.limits.rows || txn.bytes >= self.limits.bytes;
            if full && self.not_before.is_none() {
                self.flush_chunk(false, out);
            }
        }
        Ok(())
    }

    /// Applies an origin mark to the open transaction (opening it if needed).
    fn set_mark(&mut self, h: &EventHeader, start: BinlogCoord, mark: Mark) {
        if self.txn.is_none() {
            self.open(h, start);
        }
        let forward = self.marks.forwards(Some(&mark));
        let Some(txn) = self.txn.as_mut() else { return };
        if !mark.is_nosync() {
            txn.meta.origin = Some(mark.origin.clone());
        }
        if !forward && !txn.dropped {
            if txn.chunk > 0 {
                tracing::warn!(at = %txn.meta.begin, origin = %mark.origin, "A transaction's mark came after part of it was sent; \
                    the rest is dropped. Write the mark (or the nosync row) first in the transaction.");
            }
            txn.dropped = true;
            txn.changes.clear();
            txn.bytes = 0;
        }
    }

    /// Emits the open transaction's buffered changes as a chunk.
    fn flush_chunk(&mut self, last: bool, out: &mut Vec<Event>) {
        let Some(txn) = self.txn.as_mut() else { return };
        let changes = std::mem::take(&mut txn.changes);
        txn.bytes = 0;
        txn.emitted = txn.skip_rows.max(txn.emitted) + changes.len() as u64;
        let position = if last {
            None
        } else {
            Some(Position { coord: txn.meta.begin.clone(), gtid: self.gtid.clone(), skip_rows: txn.emitted, snapshot: None, applied: None })
        };
        out.push(Event::Rows(TxnChunk { meta: Arc::new(txn.meta.clone()), index: txn.chunk, last, changes, position }));
        txn.chunk += 1;
    }

    fn commit(&mut self, h: &EventHeader, out: &mut Vec<Event>) -> Result<()> {
        let Some(mut txn) = self.txn.take() else { return Ok(()) };
        if h.log_pos != 0 {
            self.next = self.coord(u64::from(h.log_pos));
        }
        txn.meta.end = Some(self.next.clone());
        txn.meta.commit_ts = h.timestamp;
        self.fold_gtid(txn.gtid.as_ref());
        if let Some(t) = self.not_before {
            if i64::from(h.timestamp) < t {
                // Committed before the requested start time: not emitted, but passed over.
                self.progress_due = true;
                return Ok(());
            }
            self.not_before = None;
        }
        let emitted_any = txn.chunk > 0;
        if txn.changes.is_empty() && !emitted_any {
            if txn.foreign || txn.dropped {
                self.progress_due = true;
            }
            return Ok(());
        }
        let position = self.position();
        let changes = std::mem::take(&mut txn.changes);
        out.push(Event::Rows(TxnChunk {
            meta: Arc::new(txn.meta.clone()),
            index: txn.chunk,
            last: true,
            changes,
            position: Some(position),
        }));
        self.last_progress = Instant::now();
        self.progress_due = false;
        Ok(())
    }

    fn fold_gtid(&mut self, g: Option<&GtidValue>) {
        match (g, &mut self.gtid) {
            (Some(GtidValue::Mariadb(g)), Some(GtidState::Mariadb(pos))) => pos.update(*g),
            (Some(GtidValue::Mariadb(g)), state @ None) => {
                let mut pos = crate::position::MariadbGtidPos::new();
                pos.update(*g);
                *state = Some(GtidState::Mariadb(pos));
            }
            (Some(GtidValue::Mysql(g)), Some(GtidState::Mysql(set))) => set.add(g),
            _ => {}
        }
    }
}

/// The GTID's text form (`0-1-17`, `uuid:17`).
fn gtid_text(g: &GtidValue) -> String {
    match g {
        GtidValue::Mysql(g) => g.to_string(),
        GtidValue::Mariadb(g) => g.to_string(),
    }
}
