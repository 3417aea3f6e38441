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
//! snapshots) is *stale*: it is dropped and its exact key range read again ([`Reread`]).
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
use crate::change::{ChangeId, ChangeKind, DdlEvent, Event, Row, RowChange, TxnChunk, TxnMeta};
use crate::error::{Error, Result};
use crate::mysql::chunk::KeyRange;
use crate::position::snapshot::{SnapshotProgress, TableProgress};
use crate::position::{BinlogCoord, Position};
use crate::schema::TableSchema;

/// One chunk read by a reader.
#[derive(Debug)]
pub struct ChunkRead {
    /// The reader (one chunk in flight per reader).
    pub reader: usize,
    /// The table's place in the gate's table list.
    pub table: usize,
    /// The chunk's number within the table in this run (0, 1, 2…).
    pub index: u64,
    /// The binlog position of the snapshot it was read in.
    pub at: BinlogCoord,
    /// The key range it covers: `(after, upto]`, `upto` the last key read (or the bound of a
    /// re-read); `None` upper bound for the table's last chunk.
    pub range: KeyRange,
    /// The table's last chunk.
    pub last: bool,
    /// The table's definition at `at`, parsed.
    pub schema: TableSchema,
    /// `SHOW CREATE TABLE` at `at` (empty when the table was gone).
    pub create_table: String,
    /// The rows, in key order.
    pub rows: Vec<Row>,
    /// More pieces of the same snapshot follow (a table read whole): its reservation stays.
    pub more: bool,
    /// A piece of a table without a usable key, read whole: piece 0 empties the table on the
    /// target first (`TRUNCATE TABLE`), so a copy started again replaces what an earlier one left.
    pub keyless: bool,
    /// Released when the chunk is handed out (bounds what readers hold in memory).
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What readers tell the gate.
#[derive(Debug)]
pub enum Msg {
    /// A reader opened a snapshot at `at`: hold the stream there until its chunk arrives.
    Reserved {
        /// The reader.
        reader: usize,
        /// The snapshot's position.
        at: BinlogCoord,
    },
    /// A chunk was read (its reservation ends).
    Read(Box<ChunkRead>),
    /// A reader gave up its open snapshot (it retries with a new one).
    Cancelled {
        /// The reader.
        reader: usize,
    },
    /// A reader failed for good.
    Failed(Error),
}

/// A key range to read again (its chunk was stale).
#[derive(Debug, Clone, PartialEq)]
pub struct Reread {
    /// The table's place in the gate's table list.
    pub table: usize,
    /// The chunk's number.
    pub index: u64,
    /// The exact range.
    pub range: KeyRange,
    /// Whether it is the table's last chunk (open above).
    pub last: bool,
}

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
}

/// The gate's state.
#[derive(Debug)]
pub struct Gate {
    tables: Vec<TableState>,
    reserved: HashMap<usize, BinlogCoord>,
    pending: Vec<ChunkRead>,
    rereads: Vec<Reread>,
    progress: Option<Arc<SnapshotProgress>>,
    chunks: u64,
    last: Position,
    last_begin: Option<BinlogCoord>,
    seq_at: BinlogCoord,
    seq: u64,
    piece_rows: usize,
    rows_out: u64,
    /// The definitions to hand out first (taken once handed out).
    creates: Vec<Event>,
}

/// Where a stream event's transaction begins (`None` for progress marks, which carry no data).
pub fn begin(e: &Event) -> Option<&BinlogCoord> {
    match e {
        Event::Rows(c) => Some(&c.meta.begin),
        Event::Ddl(d) => Some(&d.meta.begin),
        Event::Progress(_) => None,
    }
}

fn position_mut(e: &mut Event) -> Option<&mut Position> {
    match e {
        Event::Rows(c) => c.position.as_mut(),
        Event::Ddl(d) => Some(&mut d.position),
        Event::Progress(p) => Some(&mut p.position),
    }
}

/// `CREATE TABLE x` → `CREATE TABLE IF NOT EXISTS x` (same for databases).
fn if_not_exists(stmt: &str, what: &str) -> String {
    let head = format!("CREATE {what} ");
    match stmt.strip_prefix(&head) {
        Some(rest) if !rest.starts_with("IF NOT EXISTS") => format!("{head}IF NOT EXISTS {rest}"),
        _ => stmt.to_owned(),
    }
}

impl Gate {
    /// A gate for `tables` (the unfinished tables, in copy order), `chunks` handed out before,
    /// over a stream that starts at `start`; snapshot rows go out in transactions of at most
    /// `piece_rows` rows.
    pub fn new(tables: Vec<TableProgress>, chunks: u64, start: Position, piece_rows: usize) -> Gate {
        let tables: Vec<TableState> = tables
            .into_iter()
            .map(|t| TableState { db: t.db, table: t.table, after: t.after, rows: t.rows, done: false, next: 0, abandoned: None, ahead: BTreeMap::new() })
            .collect();
        let seq_at = start.coord.clone();
        let mut g = Gate {
            tables,
            reserved: HashMap::new(),
            pending: Vec::new(),
            rereads: Vec::new(),
            progress: None,
            chunks,
            last: start,
            last_begin: None,
            seq_at,
            seq: 0,
            piece_rows: piece_rows.max(1),
            rows_out: 0,
            creates: Vec::new(),
        };
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
            let ddl = |statement: String, tables: Vec<(String, String)>| {
                Event::Ddl(DdlEvent {
                    meta: (*meta).clone(),
                    schema: db.clone(),
                    statement,
                    sql_mode: Default::default(),
                    collation_server: None,
                    time_zone: None,
                    tables,
                    position: self.last.clone(),
                    snapshot: true,
                })
            };
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

    /// Snapshot rows handed out in this run.
    pub fn rows_out(&self) -> u64 {
        self.rows_out
    }

    /// Ranges to read again (stale chunks), taken.
    pub fn take_rereads(&mut self) -> Vec<Reread> {
        std::mem::take(&mut self.rereads)
    }

    fn rebuild(&mut self) {
        let open: Vec<TableProgress> = self
            .tables
            .iter()
            .filter(|t| !t.done)
            .map(|t| TableProgress { db: t.db.clone(), table: t.table.clone(), after: t.after.clone(), rows: t.rows })
            .collect();
        self.progress = if open.is_empty() { None } else { Some(Arc::new(SnapshotProgress { tables: open, chunks: self.chunks })) };
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
                let t = self.tables.get_mut(c.table).ok_or_else(|| Error::internal("snapshot chunk of an unknown table"))?;
                if c.keyless && t.abandoned.as_ref() == Some(&c.at) {
                    return Ok(());
                }
                if c.keyless && self.last_begin.as_ref().is_some_and(|b| c.at <= *b) {
                    // A table read whole cannot be read again in part: read it all again.
                    t.abandoned = Some(c.at.clone());
                    self.rereads.push(Reread { table: c.table, index: 0, range: KeyRange::default(), last: true });
                    return Ok(());
                }
                if self.last_begin.as_ref().is_some_and(|b| c.at <= *b) {
                    tracing::debug!(table = %format!("{}.{}", c.schema.db, c.schema.name), at = %c.at, "A chunk read went stale; reading its range again.");
                    let upto = if c.last { None } else { c.range.upto.clone() };
                    self.rereads.push(Reread { table: c.table, index: c.index, range: KeyRange { after: c.range.after.clone(), upto }, last: c.last });
                } else {
                    self.pending.push(*c);
                    self.pending.sort_by(|a, b| a.at.cmp(&b.at));
                }
            }
            Msg::Failed(e) => return Err(e),
        }
        Ok(())
    }

    /// True when `e` must wait: a read is under way whose snapshot it is not part of.
    pub fn holds(&self, e: &Event) -> bool {
        match begin(e) {
            Some(b) => self.reserved.values().any(|at| at <= b),
            None => false,
        }
    }

    /// Hands out the chunks due before `e` (those with `at` at or before its begin), then `e`
    /// with the current progress on its position. `resolve` gives the schema rows are handed
    /// out with (see [`crate::source::mysql::tables::Tables::snapshot_schema`]).
    pub fn pass(&mut self, mut e: Event, resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
        if let Some(b) = begin(&e).cloned() {
            self.release(&b, resolve, out)?;
            if self.last_begin.as_ref().is_none_or(|l| b > *l) {
                self.last_begin = Some(b);
            }
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

    /// Hands out every arrived chunk whose `at` is at or before `point` (the stream is idle there,
    /// or the next transaction begins there).
    pub fn release(&mut self, point: &BinlogCoord, resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
        out.append(&mut self.creates);
        while self.pending.first().is_some_and(|c| c.at <= *point) {
            let c = self.pending.remove(0);
            self.emit(c, resolve, out)?;
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

    fn emit(&mut self, mut c: ChunkRead, resolve: &mut dyn FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>>, out: &mut Vec<Event>) -> Result<()> {
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
        if c.keyless && c.index == 0 {
            // A (new) whole copy: empty the table on the target at this point first.
            t.next = 0;
            t.rows = 0;
            t.ahead.clear();
            out.push(Event::Ddl(DdlEvent {
                meta: (*meta).clone(),
                schema: c.schema.db.clone(),
                statement: format!("TRUNCATE TABLE {}", crate::mysql::quote::ident(&c.schema.name)),
                sql_mode: Default::default(),
                collation_server: None,
                time_zone: None,
                tables: vec![(c.schema.db.clone(), c.schema.name.clone())],
                position: self.last.clone(),
                snapshot: true,
            }));
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
            } else {
                t.after = end;
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
        drop(c.permit.take());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, SqlType};

    fn coord(o: u64) -> BinlogCoord {
        BinlogCoord::new("bin.000001", o)
    }

    fn pos(o: u64) -> Position {
        Position { coord: coord(o), gtid: None, skip_rows: 0, snapshot: None }
    }

    fn schema() -> TableSchema {
        TableSchema::new("d", "t", vec![Column::new("id", SqlType::Int)], vec![0])
    }

    fn gate() -> Gate {
        let tables = vec![TableProgress { db: "d".into(), table: "t".into(), after: None, rows: 0 }];
        let mut g = Gate::new(tables, 0, pos(100), 2);
        g.set_definitions(vec![("d".into(), "t".into(), Some("CREATE DATABASE `d`".into()), Some("CREATE TABLE `t` (id int)".into()))]);
        g
    }

    fn chunk(index: u64, at: u64, ids: &[i64], upto: Option<i64>, last: bool) -> ChunkRead {
        ChunkRead {
            reader: 0,
            table: 0,
            index,
            at: coord(at),
            range: KeyRange { after: None, upto: upto.map(|u| vec![PortableValue::Int(u)]) },
            last,
            schema: schema(),
            create_table: "CREATE TABLE `t` (id int)".into(),
            rows: ids.iter().map(|&i| vec![Value::Int(i)]).collect(),
            more: false,
            keyless: false,
            permit: None,
        }
    }

    fn txn(begin: u64, end: u64) -> Event {
        let meta = Arc::new(TxnMeta { gtid: None, server_id: 1, begin: coord(begin), end: Some(coord(end)), commit_ts: 1, commit_ts_micros: None, origin: None });
        Event::Rows(TxnChunk { meta, index: 0, last: true, changes: Vec::new(), position: Some(pos(end)) })
    }

    fn resolve() -> impl FnMut(&TableSchema, &BinlogCoord) -> Result<Arc<TableSchema>> {
        |s: &TableSchema, _: &BinlogCoord| Ok(Arc::new(s.clone()))
    }

    use otter_binlog::Value;

    /// What went out, as short labels.
    fn labels(out: &[Event]) -> Vec<String> {
        out.iter()
            .map(|e| match e {
                Event::Ddl(d) => d.statement.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
                Event::Rows(c) if c.changes.first().is_some_and(|ch| ch.kind == ChangeKind::Snapshot) => format!("snap{}", c.changes.len()),
                Event::Rows(c) => format!("txn@{}", c.meta.begin.offset),
                Event::Progress(p) => format!("progress@{}", p.position.coord.offset),
            })
            .collect()
    }

    #[test]
    fn a_chunk_goes_out_between_the_transactions_around_its_snapshot() {
        let mut g = gate();
        let mut out = Vec::new();
        g.on_msg(Msg::Reserved { reader: 0, at: coord(300) }).unwrap();
        // Before the snapshot's position: passes; at or after it: held until the chunk is in.
        assert!(!g.holds(&txn(200, 300)));
        g.pass(txn(200, 300), &mut resolve(), &mut out).unwrap();
        assert!(g.holds(&txn(300, 400)));
        g.on_msg(Msg::Read(Box::new(chunk(0, 300, &[1, 2, 3], Some(3), false)))).unwrap();
        assert!(!g.holds(&txn(300, 400)));
        g.pass(txn(300, 400), &mut resolve(), &mut out).unwrap();
        assert_eq!(labels(&out), ["CREATE DATABASE", "CREATE TABLE", "txn@200", "snap2", "snap1", "txn@300"]);
        // Snapshot rows sit between the two transactions' ids, and only the chunk's last piece
        // carries the new progress.
        let ids: Vec<&ChangeId> = out.iter().filter_map(|e| if let Event::Rows(c) = e { c.changes.first().map(|c| &c.id) } else { None }).collect();
        assert!(ids.iter().all(|id| id.is_snapshot() && id.txn < coord(300) && id.txn > coord(200)), "{ids:?}");
        let after = |e: &Event| e.position().and_then(|p| p.snapshot.clone()).and_then(|s| s.tables.first().and_then(|t| t.after.clone()));
        assert_eq!(after(&out[3]), None);
        assert_eq!(after(&out[4]), Some(vec![PortableValue::Int(3)]));
        assert_eq!(after(&out[5]), Some(vec![PortableValue::Int(3)]), "later events carry the progress");
    }

    #[test]
    fn an_idle_stream_releases_a_chunk_at_its_position_and_the_last_one_finishes() {
        let mut g = gate();
        let mut out = Vec::new();
        g.on_msg(Msg::Reserved { reader: 0, at: coord(100) }).unwrap();
        g.on_msg(Msg::Read(Box::new(chunk(0, 100, &[1], None, true)))).unwrap();
        g.release(&coord(99), &mut resolve(), &mut out).unwrap();
        assert!(labels(&out).iter().all(|l| !l.starts_with("snap")), "not before its position");
        g.release(&coord(100), &mut resolve(), &mut out).unwrap();
        assert!(g.finished());
        assert!(g.progress().is_none());
        let last = out.last().unwrap().position().unwrap();
        assert!(last.snapshot.is_none(), "a finished snapshot leaves no progress behind");
        assert_eq!(g.rows_out(), 1);
    }

    #[test]
    fn a_stale_chunk_is_read_again_and_progress_waits_for_the_hole() {
        let mut g = gate();
        let mut out = Vec::new();
        // A transaction at 300 went out before a chunk whose snapshot is at 300 arrived.
        g.pass(txn(300, 400), &mut resolve(), &mut out).unwrap();
        g.on_msg(Msg::Read(Box::new(chunk(0, 300, &[1, 2], Some(2), false)))).unwrap();
        let rereads = g.take_rereads();
        assert_eq!(rereads, vec![Reread { table: 0, index: 0, range: KeyRange { after: None, upto: Some(vec![PortableValue::Int(2)]) }, last: false }]);
        // Chunk 1 arrives first: it goes out, but the progress cannot skip chunk 0.
        g.on_msg(Msg::Read(Box::new(chunk(1, 500, &[3], Some(3), false)))).unwrap();
        g.release(&coord(500), &mut resolve(), &mut out).unwrap();
        assert_eq!(g.progress().unwrap().tables[0].after, None);
        g.on_msg(Msg::Read(Box::new(chunk(0, 600, &[1, 2], Some(2), false)))).unwrap();
        g.release(&coord(600), &mut resolve(), &mut out).unwrap();
        assert_eq!(g.progress().unwrap().tables[0].after, Some(vec![PortableValue::Int(3)]));
        assert_eq!(g.progress().unwrap().tables[0].rows, 3);
    }

    #[test]
    fn a_table_read_whole_is_emptied_first_and_a_stale_read_starts_over() {
        let mut g = gate();
        let mut out = Vec::new();
        let piece = |index, at, more| ChunkRead { keyless: true, more, last: !more, range: KeyRange::default(), ..chunk(index, at, &[7], None, !more) };
        g.on_msg(Msg::Reserved { reader: 0, at: coord(200) }).unwrap();
        g.on_msg(Msg::Read(Box::new(piece(0, 200, true)))).unwrap();
        assert!(g.holds(&txn(200, 300)), "the reservation stays while pieces follow");
        g.release(&coord(200), &mut resolve(), &mut out).unwrap();
        assert_eq!(labels(&out), ["CREATE DATABASE", "CREATE TABLE", "TRUNCATE TABLE", "snap1"]);
        g.on_msg(Msg::Read(Box::new(piece(1, 200, false)))).unwrap();
        g.pass(txn(200, 300), &mut resolve(), &mut out).unwrap();
        assert!(g.finished());
        // A stale whole read: every piece of it is dropped, one full re-read is asked for.
        let mut g = gate();
        g.pass(txn(300, 400), &mut resolve(), &mut Vec::new()).unwrap();
        g.on_msg(Msg::Read(Box::new(piece(0, 250, true)))).unwrap();
        g.on_msg(Msg::Read(Box::new(piece(1, 250, false)))).unwrap();
        assert_eq!(g.take_rereads().len(), 1);
        assert!(!g.finished());
    }

    #[test]
    fn definitions_become_idempotent_statements() {
        assert_eq!(if_not_exists("CREATE TABLE `t` (a int)", "TABLE"), "CREATE TABLE IF NOT EXISTS `t` (a int)");
        assert_eq!(if_not_exists("CREATE DATABASE `d` /*!40100 x */", "DATABASE"), "CREATE DATABASE IF NOT EXISTS `d` /*!40100 x */");
        assert_eq!(if_not_exists("CREATE TABLE IF NOT EXISTS `t` (a int)", "TABLE"), "CREATE TABLE IF NOT EXISTS `t` (a int)");
    }
}
