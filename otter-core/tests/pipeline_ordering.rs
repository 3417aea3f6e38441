//! Property test of the pipeline's ordering contract (in-process: no database involved).
//!
//! A scripted [`Source`] yields a generated stream — transactions of varied sizes split into
//! chunks (non-last chunks with or without the mid-transaction resume position the MySQL source
//! gives them), DDL statements and progress marks — with pauses that let the linger timer cut
//! batches. A [`Sink`] completes every batch on its own task after a generated number of
//! scheduler turns, so acknowledgements arrive out of order, and records which events it has
//! finished. A [`CheckpointStore`] wrapper checks, at the moment of every save, that the saved
//! position is one the source emitted at a transaction end (or a mid-transaction resume point)
//! and that the sink has finished every event up to it.
//!
//! Properties: every save is such a position, saves only move forward, the sink receives each
//! event once in source order with at most `max_in_flight` batches unacknowledged, the metrics
//! count exactly the rows and transactions read, and the final checkpoint is the position after
//! the last event read (the end of the last transaction when the source runs to its end).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use otter_core::change::{ChangeId, ChangeKind, DdlEvent, Event, Progress, RowChange, TxnChunk, TxnMeta};
use otter_core::checkpoint::{Checkpoint, CheckpointStore};
use otter_core::pipeline::{BatchConfig, Pipeline};
use otter_core::position::{BinlogCoord, Position};
use otter_core::schema::TableSchema;
use otter_core::traits::{Ack, Batch, Sink, Source};
use otter_core::Result;
use proptest::prelude::*;

const FILE: &str = "bin.000001";

/// One unit of the generated stream.
#[derive(Debug, Clone)]
enum Item {
    /// A transaction of `rows` changes, emitted in chunks of `chunk` rows.
    Txn { rows: usize, chunk: usize },
    /// A DDL statement.
    Ddl,
    /// A progress mark.
    Progress,
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        8 => (1usize..13, 1usize..5).prop_map(|(rows, chunk)| Item::Txn { rows, chunk }),
        1 => Just(Item::Ddl),
        1 => Just(Item::Progress),
    ]
}

/// What the test knows about each emitted event.
#[derive(Debug, Clone)]
struct Expect {
    /// The resume position after the event, if it has one.
    position: Option<Position>,
    /// True for last chunks, DDLs and progress marks.
    txn_end: bool,
    /// True for last chunks and DDLs (what the metrics count as transactions).
    counts_as_txn: bool,
    rows: usize,
}

/// Identifies an event inside a batch: `(begin offset, chunk index)`; DDL and progress marks use
/// chunk indexes no transaction reaches.
fn key(e: &Event) -> (u64, u32) {
    match e {
        Event::Rows(c) => (c.meta.begin.offset, c.index),
        Event::Ddl(d) => (d.meta.begin.offset, u32::MAX - 1),
        Event::Progress(p) => (p.position.coord.offset, u32::MAX),
    }
}

fn position(offset: u64, skip_rows: u64) -> Position {
    Position { coord: BinlogCoord::new(FILE, offset), gtid: None, skip_rows, snapshot: None, applied: None }
}

fn meta(begin: u64) -> TxnMeta {
    TxnMeta {
        gtid: None,
        server_id: 1,
        begin: BinlogCoord::new(FILE, begin),
        end: Some(BinlogCoord::new(FILE, begin + 100)),
        commit_ts: 1_700_000_000 + (begin / 100) as u32,
        commit_ts_micros: None,
        origin: None,
    }
}

/// Builds the events of `items`, and what is known about each.
fn script(items: &[Item], mid_positions: bool) -> (Vec<Event>, Vec<Expect>) {
    let table = Arc::new(TableSchema::new("d", "t", Vec::new(), Vec::new()));
    let (mut events, mut expect) = (Vec::new(), Vec::new());
    for (n, item) in items.iter().enumerate() {
        let begin = 4 + 100 * n as u64;
        let end = position(begin + 100, 0);
        match *item {
            Item::Txn { rows, chunk } => {
                let m = Arc::new(meta(begin));
                let chunks: Vec<Vec<RowChange>> = (0..rows as u64)
                    .map(|row| RowChange {
                        table: Arc::clone(&table),
                        kind: ChangeKind::Insert,
                        before: None,
                        after: Some(Vec::new()),
                        id: ChangeId { txn: m.begin.clone(), row },
                    })
                    .collect::<Vec<_>>()
                    .chunks(chunk)
                    .map(<[RowChange]>::to_vec)
                    .collect();
                let count = chunks.len();
                let mut emitted = 0;
                for (i, changes) in chunks.into_iter().enumerate() {
                    let last = i + 1 == count;
                    emitted += changes.len() as u64;
                    let pos = if last {
                        Some(end.clone())
                    } else {
                        mid_positions.then(|| position(begin, emitted))
                    };
                    expect.push(Expect { position: pos.clone(), txn_end: last, counts_as_txn: last, rows: changes.len() });
                    events.push(Event::Rows(TxnChunk { meta: Arc::clone(&m), index: i as u32, last, changes, position: pos }));
                }
            }
            Item::Ddl => {
                expect.push(Expect { position: Some(end.clone()), txn_end: true, counts_as_txn: true, rows: 0 });
                events.push(Event::Ddl(DdlEvent {
                    meta: meta(begin),
                    schema: "d".into(),
                    statement: "ALTER TABLE t ADD c INT".into(),
                    sql_mode: Default::default(),
                    collation_server: None,
                    time_zone: None,
                    tables: vec![("d".into(), "t".into())],
                    position: end,
                    snapshot: false,
                }));
            }
            Item::Progress => {
                expect.push(Expect { position: Some(end.clone()), txn_end: true, counts_as_txn: false, rows: 0 });
                events.push(Event::Progress(Progress { position: end, timestamp: 1_700_000_000, passed_over: true }));
            }
        }
    }
    (events, expect)
}

/// What the sink and the store observed, shared with the test.
#[derive(Debug, Default)]
struct Observed {
    /// Per event index: the sink finished (made durable) the batch holding it.
    finished: Vec<bool>,
    /// Event indexes in the order the sink received them.
    received: Vec<usize>,
    /// Batch sequence numbers in the order received.
    seqs: Vec<u64>,
    /// Batches received and not yet finished, now and at most.
    outstanding: usize,
    max_outstanding: usize,
    /// Batch sequence numbers in the order the sink finished them.
    finish_order: Vec<u64>,
    /// Event index of each saved checkpoint, in save order.
    saves: Vec<usize>,
    /// Broken rules, described.
    violations: Vec<String>,
}

/// Yields the script; fires `stop` when it hands out event `stop_after`.
struct ScriptSource {
    events: std::vec::IntoIter<Event>,
    pauses: Vec<u8>,
    n: usize,
    stop_after: Option<usize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[async_trait]
impl Source for ScriptSource {
    async fn next(&mut self) -> Result<Option<Event>> {
        match self.pauses[self.n % self.pauses.len()] {
            0 => tokio::time::sleep(Duration::from_millis(1)).await,
            p if p < 8 => tokio::task::yield_now().await,
            _ => {}
        }
        let e = self.events.next();
        if e.is_some() && Some(self.n) == self.stop_after {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
        }
        self.n += 1;
        Ok(e)
    }
}

/// Completes each batch after a generated number of scheduler turns, on its own task.
struct ShufflingSink {
    observed: Arc<Mutex<Observed>>,
    index: Arc<HashMap<(u64, u32), usize>>,
    turns: Vec<u8>,
    sent: usize,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[async_trait]
impl Sink for ShufflingSink {
    fn name(&self) -> &str {
        "shuffling"
    }

    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
        let events: Vec<usize> = batch.events.iter().map(|e| self.index[&key(e)]).collect();
        {
            let mut o = self.observed.lock().unwrap();
            o.received.extend(&events);
            o.seqs.push(batch.seq);
            o.outstanding += 1;
            o.max_outstanding = o.max_outstanding.max(o.outstanding);
        }
        let turns = self.turns[self.sent % self.turns.len()];
        self.sent += 1;
        let observed = Arc::clone(&self.observed);
        let seq = batch.seq;
        let finish = move || {
            let mut o = observed.lock().unwrap();
            o.finish_order.push(seq);
            for i in events {
                o.finished[i] = true;
            }
            o.outstanding -= 1;
            drop(o);
            ack.done();
        };
        if turns == 0 {
            finish();
        } else {
            self.tasks.push(tokio::spawn(async move {
                for _ in 0..turns {
                    tokio::task::yield_now().await;
                }
                finish();
            }));
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        for t in self.tasks.drain(..) {
            t.await.expect("sink task");
        }
        Ok(())
    }
}

/// Checks every save against what the sink finished at that moment.
struct CheckingStore {
    observed: Arc<Mutex<Observed>>,
    expect: Arc<Vec<Expect>>,
    mid_positions: bool,
    last: Mutex<Option<Checkpoint>>,
}

#[async_trait]
impl CheckpointStore for CheckingStore {
    async fn load(&self) -> Result<Option<Checkpoint>> {
        Ok(self.last.lock().unwrap().clone())
    }

    async fn save(&self, c: &Checkpoint) -> Result<()> {
        let mut o = self.observed.lock().unwrap();
        match self.expect.iter().position(|e| e.position.as_ref() == Some(&c.position)) {
            None => o.violations.push(format!("saved {} which the source never emitted", c.position)),
            Some(k) => {
                if !self.expect[k].txn_end && !self.mid_positions {
                    o.violations.push(format!("saved {} inside a transaction", c.position));
                }
                if let Some(u) = (0..=k).find(|&i| !o.finished[i]) {
                    o.violations.push(format!("saved {} (after event {k}) while event {u} was not finished", c.position));
                }
                if o.saves.last().is_some_and(|&prev| prev >= k) {
                    o.violations.push(format!("saved {} after a later or equal position", c.position));
                }
                o.saves.push(k);
            }
        }
        *self.last.lock().unwrap() = Some(c.clone());
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Case {
    items: Vec<Item>,
    mid_positions: bool,
    batching: BatchConfig,
    turns: Vec<u8>,
    pauses: Vec<u8>,
    stop_after: Option<usize>,
    multi_thread: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(item(), 1..40),
        any::<bool>(),
        (1usize..9, 0u64..3, 1usize..6),
        prop::collection::vec(0u8..24, 1..16),
        prop::collection::vec(0u8..40, 1..16),
        prop::option::weighted(0.3, 0usize..120),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(items, mid_positions, (max_rows, linger_ms, max_in_flight), turns, pauses, stop_after, multi_thread)| Case {
            items,
            mid_positions,
            batching: BatchConfig { max_rows, max_bytes: 8 << 20, linger_ms, max_in_flight },
            turns,
            pauses,
            stop_after,
            multi_thread,
        })
}

/// Runs one case; returns what was observed, the number of events read, the final checkpoint,
/// the metrics and what is known about every scripted event.
fn run_case(case: &Case) -> (Observed, usize, Option<Checkpoint>, otter_core::pipeline::Snapshot, Vec<Expect>) {
    let (events, expect) = script(&case.items, case.mid_positions);
    let read = case.stop_after.map_or(events.len(), |s| events.len().min(s + 1));
    let index: HashMap<(u64, u32), usize> = events.iter().enumerate().map(|(i, e)| (key(e), i)).collect();
    assert_eq!(index.len(), events.len(), "event keys are unique");
    let observed = Arc::new(Mutex::new(Observed { finished: vec![false; events.len()], ..Observed::default() }));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let source = ScriptSource { events: events.into_iter(), pauses: case.pauses.clone(), n: 0, stop_after: case.stop_after, stop: Some(stop_tx) };
    let sink = ShufflingSink { observed: Arc::clone(&observed), index: Arc::new(index), turns: case.turns.clone(), sent: 0, tasks: Vec::new() };
    let expect = Arc::new(expect);
    let store = Arc::new(CheckingStore { observed: Arc::clone(&observed), expect: Arc::clone(&expect), mid_positions: case.mid_positions, last: Mutex::new(None) });
    let pipeline = Pipeline::new("ordering", Box::new(source), Box::new(sink))
        .batching(case.batching)
        .checkpoints(Arc::clone(&store) as Arc<dyn CheckpointStore>)
        .checkpoint_every(Duration::ZERO);
    let metrics = pipeline.metrics_handle();
    let shutdown = async move {
        // A source that ends without firing drops the sender: that is not a stop request.
        if stop_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let rt = if case.multi_thread {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
    .unwrap();
    rt.block_on(pipeline.run(shutdown)).expect("pipeline run");
    drop(rt);
    let last = store.last.lock().unwrap().clone();
    let observed = std::mem::take(&mut *observed.lock().unwrap());
    (observed, read, last, metrics.snapshot(), expect.to_vec())
}

/// Runs `case` and checks every property; returns the order in which the sink finished batches.
fn check(case: &Case) -> std::result::Result<Vec<u64>, TestCaseError> {
    let (o, read, last, snap, expect) = run_case(case);
    prop_assert!(o.violations.is_empty(), "{:#?}", o.violations);
    // Every event read reached the sink once, in source order, in increasing batches.
    prop_assert_eq!(&o.received, &(0..read).collect::<Vec<_>>());
    prop_assert_eq!(&o.seqs, &(1..=o.seqs.len() as u64).collect::<Vec<_>>());
    prop_assert!(o.finished[..read].iter().all(|&f| f), "every batch finished before run returned");
    prop_assert!(o.max_outstanding <= case.batching.max_in_flight, "{} batches in flight, max {}", o.max_outstanding, case.batching.max_in_flight);
    // The final checkpoint is the position after the last event read that has one: the end of
    // the last transaction when the source ran to its end.
    let want = expect[..read].iter().rev().find_map(|e| e.position.clone());
    prop_assert_eq!(last.as_ref().map(|c| c.position.clone()), want.clone());
    if read == expect.len() {
        prop_assert!(expect.last().is_some_and(|e| e.txn_end));
        prop_assert_eq!(want, expect.last().and_then(|e| e.position.clone()));
    }
    // Metrics count what was committed: everything read (transactions: last chunks and DDLs).
    let rows: usize = expect[..read].iter().map(|e| e.rows).sum();
    let txns = expect[..read].iter().filter(|e| e.counts_as_txn).count();
    prop_assert_eq!((snap.rows, snap.txns), (rows as u64, txns as u64));
    prop_assert_eq!(snap.state.as_str(), "stopped");
    Ok(o.finish_order)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn checkpoints_follow_the_sink_in_source_order(case in case()) {
        check(&case)?;
    }
}

/// A fixed case showing that the sink really completes batches out of order (so the property
/// above is exercised), with big transactions spread over many batches.
#[test]
fn batches_complete_out_of_order() {
    let case = Case {
        items: (0..30).map(|i| if i % 7 == 3 { Item::Ddl } else { Item::Txn { rows: 1 + i % 9, chunk: 2 } }).collect(),
        mid_positions: false,
        batching: BatchConfig { max_rows: 3, max_bytes: 8 << 20, linger_ms: 1, max_in_flight: 4 },
        turns: vec![9, 0, 3, 17, 1, 6],
        pauses: vec![5, 30, 30, 0, 30],
        stop_after: None,
        multi_thread: false,
    };
    let order = check(&case).unwrap_or_else(|e| panic!("{e}"));
    assert!(order.windows(2).any(|w| w[0] > w[1]), "completion order {order:?}");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=order.len() as u64).collect::<Vec<_>>(), "each batch finished once");
}
