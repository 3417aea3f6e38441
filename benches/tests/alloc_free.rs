//! "No heap allocation per event on the hot path for fixed-width columns", checked with a counting
//! global allocator.
//!
//! A real MariaDB primary (CRC32 checksums, FULL row images, annotated rows) writes 2,000
//! single-row INSERT transactions, 500 single-row UPDATEs and 500 single-row DELETEs into a table
//! of fixed-width columns only (integers of every width, FLOAT, DOUBLE, DECIMAL, DATE, TIME,
//! DATETIME(0/6), TIMESTAMP(3), YEAR, BIT, ENUM, SET; some NULLs). The closed binlog is read into
//! memory and decoded with the benchmark's own loop ([`OtterDecoder`]: `Parser::parse` with CRC32
//! verification, then `Rows::next_into` for every row into reused buffers):
//!
//! - the steady-state part of the file (every event from the second transaction to the last
//!   commit: GTID, ANNOTATE_ROWS, TABLE_MAP, rows and XID events) is decoded once to warm up
//!   (table map cached, row buffers grown) and then again while counting: **0 allocations**;
//! - the whole file is decoded a second time with the same parser and decoder: only a small
//!   per-file constant (format description, GTID list, the table map again after the closing
//!   ROTATE), independent of the number of events.
//!
//! Only allocations made by the test's own thread while counting is switched on are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use otter_benches::{events_of, Counts, OtterDecoder};
use otter_binlog::{EventData, Parser, Status, MAGIC};
use otter_testkit::{MariaDb, ServerConfig};

/// Counts `alloc`, `alloc_zeroed` and `realloc` calls of threads that switched counting on.
struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Const-initialised and without a destructor: usable inside the allocator.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: `ptr` was allocated by `System` (through this wrapper) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this wrapper) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the number of allocations this thread made meanwhile.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let start = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.load(Ordering::Relaxed) - start)
}

const INSERTS: usize = 2000;
const UPDATES: usize = 500;
const DELETES: usize = 500;

/// The workload: one statement (= one transaction, autocommit) per line.
fn workload() -> String {
    let mut sql = String::from(
        "CREATE DATABASE alloc;
         CREATE TABLE alloc.fixed (
           id     INT NOT NULL PRIMARY KEY,
           t      TINYINT NOT NULL,
           s      SMALLINT UNSIGNED,
           m      MEDIUMINT,
           b      BIGINT UNSIGNED NOT NULL,
           f      FLOAT,
           d      DOUBLE NOT NULL,
           amount DECIMAL(12,2) NOT NULL,
           big    DECIMAL(30,10),
           day    DATE,
           tm     TIME,
           dt     DATETIME NOT NULL,
           dt6    DATETIME(6),
           ts     TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
           y      YEAR,
           bits   BIT(12),
           e      ENUM('new','paid','shipped') NOT NULL,
           st     SET('a','b','c')
         ) ENGINE=InnoDB;\n",
    );
    for i in 0..INSERTS {
        let null_or = |v: String| if i % 7 == 0 { "NULL".to_owned() } else { v };
        sql.push_str(&format!(
            "INSERT INTO alloc.fixed VALUES ({i}, {}, {}, {}, {}, {}, {}.5, {}.25, {}, {}, {}, \
             '2024-01-01 00:00:00' + INTERVAL {i} MINUTE, {}, DEFAULT, {}, {}, {}, {});\n",
            i % 128,
            null_or((i * 7 % 65536).to_string()),
            null_or(format!("-{}", i * 31)),
            (i as u64) * 1_000_003_u64 + (1 << 40),
            null_or(format!("{i}.125")),
            i * 3,
            i * 11,
            null_or(format!("{i}.0123456789")),
            null_or(format!("'2020-01-01' + INTERVAL {i} DAY")),
            null_or(format!("'{}:{:02}:{:02}'", i % 800, i % 60, i % 59)),
            null_or(format!("'2023-06-01 12:00:00.123456' + INTERVAL {i} SECOND")),
            null_or((1901 + i % 250).to_string()),
            null_or(format!("b'{:b}'", i % 4096)),
            1 + i % 3,
            null_or(format!("{}", 1 + i % 7)),
        ));
    }
    for i in 0..UPDATES {
        sql.push_str(&format!("UPDATE alloc.fixed SET d = d + 1, amount = amount + 0.01 WHERE id = {};\n", i * 2));
    }
    for i in 0..DELETES {
        sql.push_str(&format!("DELETE FROM alloc.fixed WHERE id = {};\n", i * 2 + 1));
    }
    sql.push_str("FLUSH BINARY LOGS;\n");
    sql
}

/// One event of the file: its offset in the events slice, length and type code.
struct EventSpan {
    pos: usize,
    len: usize,
    type_code: u8,
    rows: bool,
}

fn scan(events: &[u8]) -> Vec<EventSpan> {
    let mut parser = Parser::new();
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < events.len() {
        let Status::Complete((event, len)) = parser.parse(&events[pos..]).expect("parse") else {
            panic!("file ends inside an event at {pos}");
        };
        let rows = matches!(event.data, EventData::Rows(_));
        spans.push(EventSpan { pos, len, type_code: event.header.type_code, rows });
        pos += len;
    }
    spans
}

#[test]
fn decoding_fixed_width_rows_allocates_nothing_per_event() {
    // The counter works: one vector, one allocation.
    let (v, n) = count_allocations(|| std::hint::black_box(Vec::<u64>::with_capacity(16)));
    drop(v);
    assert_eq!(n, 1, "the counting allocator counts");

    let db = MariaDb::start(ServerConfig::new(1)).expect("start MariaDB");
    db.sql(&workload()).expect("workload");
    let path = db.binlog_files().expect("binlog index").into_iter().next().expect("a binlog file");
    let file = std::fs::read(&path).expect("read binlog");
    let events = events_of(&file).expect("binlog magic");
    let spans = scan(events);

    // The steady state: from the event after the first transaction's commit up to the last rows
    // event's commit (the file's closing ROTATE clears the table-map cache).
    const XID: u8 = 16;
    let first_rows = spans.iter().position(|s| s.rows).expect("rows events");
    let first_commit = first_rows + spans[first_rows..].iter().position(|s| s.type_code == XID).expect("commit");
    let last_rows = spans.iter().rposition(|s| s.rows).expect("rows events");
    let last_commit = last_rows + spans[last_rows..].iter().position(|s| s.type_code == XID).expect("commit");
    let body_start = spans[first_commit + 1].pos;
    let body_end = spans[last_commit].pos + spans[last_commit].len;
    let (prefix, body) = (&events[..body_start], &events[body_start..body_end]);
    let body_offset = MAGIC.len() + body_start;

    let mut parser = Parser::new();
    let mut decoder = OtterDecoder::new();
    let head = decoder.decode_events(&mut parser, prefix, MAGIC.len()).expect("decode prefix");
    let warm = decoder.decode_events(&mut parser, body, body_offset).expect("warm-up pass");
    let (counted, steady_allocs) = count_allocations(|| decoder.decode_events(&mut parser, body, body_offset));
    let counted = counted.expect("counted pass");
    assert_eq!(counted, warm);
    let total_rows = (INSERTS + UPDATES + DELETES) as u64;
    assert_eq!(head.rows + counted.rows, total_rows, "every row change decoded");
    assert!(counted.values > 10 * counted.rows, "the rows carry values: {counted:?}");

    // The whole file again, same parser and decoder: a per-file constant only.
    let (whole, file_allocs) = count_allocations(|| decoder.decode_events(&mut parser, events, MAGIC.len()));
    let whole: Counts = whole.expect("second whole-file pass");
    assert_eq!(whole.rows, total_rows);
    println!(
        "binlog {} bytes, {} events; steady state: {} events, {} rows, {} values, {steady_allocs} allocations; \
         whole file (second pass): {} events, {file_allocs} allocations",
        file.len(),
        spans.len(),
        counted.events,
        counted.rows,
        counted.values,
        whole.events
    );

    if steady_allocs != 0 {
        // Find which events allocate, for the report.
        let mut culprits = Vec::new();
        for s in spans.iter().filter(|s| s.pos >= body_start && s.pos + s.len <= body_end) {
            let one = &events[s.pos..s.pos + s.len];
            let (r, n) = count_allocations(|| decoder.decode_events(&mut parser, one, MAGIC.len() + s.pos));
            r.expect("decode one event");
            if n > 0 && culprits.len() < 10 {
                culprits.push(format!("event type {} at offset {}: {n} allocations", s.type_code, MAGIC.len() + s.pos));
            }
        }
        panic!(
            "{steady_allocs} allocations while decoding {} steady-state events:\n{}",
            counted.events,
            culprits.join("\n")
        );
    }
    assert!(file_allocs <= 32, "a second whole-file pass made {file_allocs} allocations (per-file constant expected)");
}
