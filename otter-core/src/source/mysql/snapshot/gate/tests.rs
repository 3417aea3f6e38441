//! The gate, fed by hand: placement, idle release, stale chunks, whole-table reads.
use super::*;
use crate::schema::{Column, SqlType};

fn coord(o: u64) -> BinlogCoord {
    BinlogCoord::new("bin.000001", o)
}

fn pos(o: u64) -> Position {
    Position { coord: coord(o), gtid: None, skip_rows: 0, snapshot: None, applied: None }
}

fn schema() -> TableSchema {
    TableSchema::new("d", "t", vec![Column::new("id", SqlType::Int)], vec![0])
}

fn gate() -> Gate {
    let tables = vec![TableProgress::new("d", "t")];
    let mut g = Gate::new(SnapshotProgress::of(tables), &HashMap::new(), pos(100), 2);
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

/// A binlog transaction that inserts a row into the copied table.
fn txn(begin: u64, end: u64) -> Event {
    let meta = Arc::new(TxnMeta { gtid: None, server_id: 1, begin: coord(begin), end: Some(coord(end)), commit_ts: 1, commit_ts_micros: None, origin: None });
    let change = RowChange {
        table: Arc::new(schema()),
        kind: ChangeKind::Insert,
        before: None,
        after: Some(vec![Value::Int(99)]),
        id: ChangeId { txn: coord(begin), row: 0 },
    };
    Event::Rows(TxnChunk { meta, index: 0, last: true, changes: vec![change], position: Some(pos(end)) })
}

/// The same, in another table (not copied).
fn other_txn(begin: u64, end: u64) -> Event {
    let Event::Rows(mut c) = txn(begin, end) else { unreachable!() };
    let other = Arc::new(TableSchema::new("d", "other", vec![Column::new("id", SqlType::Int)], vec![0]));
    for ch in &mut c.changes {
        ch.table = Arc::clone(&other);
    }
    Event::Rows(c)
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
    // Arrived, not handed out yet: still held; handed out right before it, it passes.
    assert!(g.holds(&txn(300, 400)));
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert!(!g.holds(&txn(300, 400)));
    g.pass(txn(300, 400), &mut resolve(), &mut out).unwrap();
    assert_eq!(labels(&out), ["CREATE DATABASE", "CREATE TABLE", "txn@200", "snap2", "snap1", "txn@300"]);
    // Snapshot rows sit between the two transactions' ids, and only the chunk's last piece
    // carries the new progress.
    let ids: Vec<&ChangeId> = out
        .iter()
        .filter_map(|e| if let Event::Rows(c) = e { c.changes.first().map(|c| &c.id) } else { None })
        .filter(|id| id.is_snapshot())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.txn < coord(300) && id.txn > coord(200)), "{ids:?}");
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
    assert!(g.copied.is_empty(), "a table copied completely is no longer watched");
    assert!(g.progress().is_none());
    let last = out.last().unwrap().position().unwrap();
    assert!(last.snapshot.is_none(), "a finished snapshot leaves no progress behind");
    assert_eq!(g.rows_out(), 1);
}

/// A definition change of the copied table.
fn alter(begin: u64, end: u64) -> Event {
    let meta = TxnMeta { gtid: None, server_id: 1, begin: coord(begin), end: Some(coord(end)), commit_ts: 1, commit_ts_micros: None, origin: None };
    statement_event(&meta, "d", "ALTER TABLE t ADD COLUMN x int".into(), vec![("d".into(), "t".into())], &pos(end))
}

#[test]
fn a_stale_chunk_is_read_again_and_progress_waits_for_the_hole() {
    let mut g = gate();
    let mut out = Vec::new();
    // A transaction of another table after the snapshot's position does not make it stale.
    g.pass(other_txn(300, 350), &mut resolve(), &mut out).unwrap();
    g.on_msg(Msg::Read(Box::new(chunk(0, 300, &[1, 2], Some(2), false)))).unwrap();
    assert!(g.take_rereads().is_empty());
    let mut g = gate();
    // A definition change at 300 went out before a chunk whose snapshot is at 300 arrived: its
    // rows cannot be brought up to date, the range is read again.
    g.pass(alter(300, 400), &mut resolve(), &mut out).unwrap();
    g.on_msg(Msg::Read(Box::new(chunk(0, 300, &[1, 2], Some(2), false)))).unwrap();
    let rereads = g.take_rereads();
    assert_eq!(rereads.into_iter().map(|(r, _)| r).collect::<Vec<_>>(), vec![Reread { table: 0, index: 0, range: KeyRange { after: None, upto: Some(vec![PortableValue::Int(2)]) }, last: false }]);
    // Chunk 1 arrives first: it goes out, but the progress cannot skip chunk 0.
    g.on_msg(Msg::Read(Box::new(chunk(1, 500, &[3], Some(3), false)))).unwrap();
    g.release(&coord(500), &mut resolve(), &mut out).unwrap();
    assert_eq!(g.progress().unwrap().tables[0].after, None);
    g.on_msg(Msg::Read(Box::new(chunk(0, 600, &[1, 2], Some(2), false)))).unwrap();
    g.release(&coord(600), &mut resolve(), &mut out).unwrap();
    assert_eq!(g.progress().unwrap().tables[0].after, Some(vec![PortableValue::Int(3)]));
    assert_eq!(g.progress().unwrap().tables[0].rows, 3);
}

/// The copied table with a value column: `(id, v)`, keyed by `id`.
fn schema2() -> Arc<TableSchema> {
    Arc::new(TableSchema::new("d", "t", vec![Column::new("id", SqlType::Int), Column::new("v", SqlType::Int)], vec![0]))
}

fn r(id: i64, v: i64) -> Row {
    vec![Value::Int(id), Value::Int(v)]
}

/// A transaction of the two-column table; `last = false` leaves it open (more chunks follow).
fn txn2(begin: u64, index: u32, last: bool, changes: Vec<(ChangeKind, Option<Row>, Option<Row>)>) -> Event {
    let meta = Arc::new(TxnMeta { gtid: None, server_id: 1, begin: coord(begin), end: Some(coord(begin + 50)), commit_ts: 1, commit_ts_micros: None, origin: None });
    let changes = changes
        .into_iter()
        .enumerate()
        .map(|(i, (kind, before, after))| RowChange { table: schema2(), kind, before, after, id: ChangeId { txn: coord(begin), row: i as u64 } })
        .collect();
    Event::Rows(TxnChunk { meta, index, last, changes, position: Some(pos(begin + 50)) })
}

fn chunk2(at: u64, rows: Vec<Row>) -> ChunkRead {
    ChunkRead { schema: (*schema2()).clone(), rows, ..chunk(0, at, &[], Some(9), false) }
}

/// The snapshot rows that went out, as `(id, v)`.
fn snapshot_rows(out: &[Event]) -> Vec<(i64, i64)> {
    let int = |v: &Value<'_>| if let Value::Int(i) = v { *i } else { -1 };
    out.iter()
        .filter_map(|e| if let Event::Rows(c) = e { Some(c) } else { None })
        .flat_map(|c| &c.changes)
        .filter(|ch| ch.kind == ChangeKind::Snapshot)
        .filter_map(|ch| ch.after.as_ref().map(|a| (int(&a[0]), int(&a[1]))))
        .collect()
}

#[test]
fn a_stale_chunk_is_brought_up_to_date_with_what_the_stream_did_to_its_keys() {
    use ChangeKind::*;
    let mut g = gate();
    let mut out = Vec::new();
    // Before the chunk read at 300 arrives, transactions at and after 300 went out: one updates
    // 2, deletes 3, moves 4 to 14 and inserts 99; a later one updates 5 twice and 6 is deleted
    // and inserted again.
    g.pass(txn2(300, 0, true, vec![(Update, Some(r(2, 0)), Some(r(2, 20))), (Delete, Some(r(3, 0)), None), (Update, Some(r(4, 0)), Some(r(14, 40))), (Insert, None, Some(r(99, 9)))]), &mut resolve(), &mut out).unwrap();
    g.pass(txn2(400, 0, true, vec![(Update, Some(r(5, 0)), Some(r(5, 1))), (Update, Some(r(5, 1)), Some(r(5, 2))), (Delete, Some(r(6, 0)), None), (Insert, None, Some(r(6, 60)))]), &mut resolve(), &mut out).unwrap();
    let before = out.len();
    g.on_msg(Msg::Read(Box::new(chunk2(300, vec![r(1, 0), r(2, 0), r(3, 0), r(4, 0), r(5, 0), r(6, 0), r(7, 0)])))).unwrap();
    g.release(&coord(500), &mut resolve(), &mut out).unwrap();
    assert!(g.take_rereads().is_empty(), "not read again");
    assert_eq!(snapshot_rows(&out[before..]), [(1, 0), (2, 20), (5, 2), (6, 60), (7, 0)]);
    // The progress moves over the whole range.
    assert_eq!(g.progress().unwrap().tables[0].after, Some(vec![PortableValue::Int(9)]));
    // A change with an incomplete image (MINIMAL) cannot be replayed: read again.
    let mut g = gate();
    g.pass(txn2(300, 0, true, vec![(Update, Some(r(2, 0)), Some(vec![Value::Int(2), Value::Absent]))]), &mut resolve(), &mut out).unwrap();
    g.on_msg(Msg::Read(Box::new(chunk2(300, vec![r(1, 0), r(2, 0)])))).unwrap();
    assert_eq!(g.take_rereads().len(), 1);
}

#[test]
fn a_chunk_waits_for_the_end_of_a_transaction_handed_out_in_part() {
    use ChangeKind::*;
    let mut g = gate();
    let mut out = Vec::new();
    // A reader reserved at 300; the transaction at 300 already went out in part.
    g.pass(txn2(300, 0, false, vec![(Update, Some(r(1, 0)), Some(r(1, 10)))]), &mut resolve(), &mut out).unwrap();
    g.on_msg(Msg::Reserved { reader: 0, at: coord(300) }).unwrap();
    let rest = txn2(300, 1, true, vec![(Update, Some(r(2, 0)), Some(r(2, 20)))]);
    assert!(!g.holds(&rest), "the rest of an open transaction is not held");
    g.on_msg(Msg::Read(Box::new(chunk2(300, vec![r(1, 0), r(2, 0), r(3, 0)])))).unwrap();
    assert!(!g.holds(&rest));
    let n = out.len();
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert!(snapshot_rows(&out[n..]).is_empty(), "nothing inside the open transaction");
    g.pass(rest, &mut resolve(), &mut out).unwrap();
    assert!(snapshot_rows(&out[n..]).is_empty());
    // Once it ended, the chunk goes out, brought up to date with all of it.
    assert!(g.holds(&txn2(400, 0, true, vec![])));
    g.release(&coord(400), &mut resolve(), &mut out).unwrap();
    assert_eq!(snapshot_rows(&out[n..]), [(1, 10), (2, 20), (3, 0)]);
    assert_eq!(labels(&out[n..]).first().map(String::as_str), Some("txn@300"));
}

#[test]
fn the_log_gives_up_on_reads_older_than_what_it_dropped() {
    let table = ("d".to_owned(), "t".to_owned());
    let mut recent = recent::Recent::default();
    let big = vec![Value::Int(1), Value::Bytes(vec![0; recent::MAX_BYTES + 1].into())];
    let schema = Arc::new(TableSchema::new("d", "t", vec![Column::new("id", SqlType::Int), Column::new("b", SqlType::Blob)], vec![0]));
    let change = RowChange { table: Arc::clone(&schema), kind: ChangeKind::Insert, before: None, after: Some(big), id: ChangeId { txn: coord(300), row: 0 } };
    recent.note(&table, &coord(300), &[change]);
    assert!(recent.can_patch(&table, &coord(300)));
    recent.prune(None);
    assert!(!recent.can_patch(&table, &coord(300)), "the entry at 300 was dropped");
    assert!(recent.can_patch(&table, &coord(301)), "reads after it need nothing dropped");
    let mut rows = vec![vec![Value::Int(1), Value::Null]];
    assert!(recent.bring_up_to_date(&table, &schema, &[0], &coord(200), &mut rows).is_none());
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

#[test]
fn bound_by_acks_a_readers_next_chunk_waits_for_the_previous_ones_acknowledgement() {
    let mut g = gate();
    g.bound_by_acks(true);
    let mut out = Vec::new();
    g.on_msg(Msg::Read(Box::new(chunk(0, 200, &[1], Some(1), false)))).unwrap();
    g.release(&coord(200), &mut resolve(), &mut out).unwrap();
    let first = out.iter().rev().find_map(|e| e.position().cloned()).unwrap();
    // The same reader's next chunk is due but waits, and holds the stream behind it.
    g.on_msg(Msg::Read(Box::new(chunk(1, 300, &[2], Some(2), false)))).unwrap();
    let before = out.len();
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert_eq!(out.len(), before, "not handed out before the acknowledgement");
    assert!(g.holds(&txn(300, 400)));
    assert!(!g.holds(&txn(250, 300)), "earlier transactions still pass");
    // Another reader's chunk is not held up by it.
    g.on_msg(Msg::Read(Box::new(ChunkRead { reader: 1, ..chunk(0, 300, &[], None, true) }))).unwrap();
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert!(out.len() > before);
    // An acknowledgement of a position before the first chunk changes nothing; of the first
    // chunk's position, releases the second.
    g.acknowledged(&pos(150));
    let n = out.len();
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert_eq!(out.len(), n);
    g.acknowledged(&first);
    g.release(&coord(300), &mut resolve(), &mut out).unwrap();
    assert!(labels(&out[n..]).iter().any(|l| l == "snap1"), "{:?}", labels(&out[n..]));
    assert!(!g.holds(&txn(300, 400)));
}

#[test]
fn the_log_replays_only_what_followed_the_snapshot() {
    use ChangeKind::*;
    let change = |begin: u64, id: i64, v: i64| RowChange { table: schema2(), kind: Update, before: Some(r(id, 0)), after: Some(r(id, v)), id: ChangeId { txn: coord(begin), row: 0 } };
    let mut log = recent::Recent::default();
    let key = ("d".to_owned(), "t".to_owned());
    // Many transactions before the snapshot at 5,000 (their effect is in the chunk's rows), two after.
    for begin in 0..5_000 {
        log.note(&key, &coord(begin), &[change(begin, 1 + (begin as i64 % 3), 100 + begin as i64)]);
    }
    log.note(&key, &coord(5_000), &[change(5_000, 2, 20)]);
    log.note(&key, &coord(6_000), &[change(6_000, 3, 30)]);
    let mut rows = vec![r(1, 7), r(2, 7), r(3, 7)];
    let kept = log.bring_up_to_date(&key, &schema2(), &[0], &coord(5_000), &mut rows).unwrap();
    assert_eq!(rows, [r(1, 7), r(2, 20), r(3, 30)]);
    assert_eq!(kept.len(), 2);
}
