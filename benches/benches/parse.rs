//! Parser speed: otter against the published Rust binlog parsers, on the same bytes, in one run.
//!
//! What is measured, per iteration, single-threaded, over a binlog already in memory (loading it
//! is not timed): a **full decode of every row value** of the whole file, starting from a fresh
//! parser —
//!
//! - `otter`: [`otter_binlog::Parser::parse`] on every event (framing, CRC32 verification, table
//!   maps) and [`otter_binlog::Rows::next_into`] on every row, into two reused `Vec<Value>`;
//! - `mysql_cdc` 0.2.1: its `EventParser::parse_event` on every event (what its `BinlogReader`
//!   does, minus the file reads), which decodes each row into `Vec<Option<MySqlValue>>`;
//! - `mysql-binlog-connector-rust` 0.3.3: its `BinlogParser::next` over a `Cursor` on the buffer,
//!   which decodes each row into `Vec<ColumnValue>`;
//! - `mysql_common` 0.38 (`binlog`): `BinlogFile` over the buffer, `Event::read_data`, and for
//!   rows events `RowsEventData::rows(table_map)` into `BinlogRow`s of `BinlogValue`s;
//!
//! and two baselines for otter: `otter-framing+crc32` ([`Parser::parse`] of every event without
//! decoding rows) and `otter-framing` ([`Parser::frame_len`] only: event lengths, no checksum).
//! None of the peers verifies the CRC32 footers; otter always does.
//!
//! Each decoder counts events, rows (an UPDATE's before/after pair is one row) and non-NULL
//! values; before anything is timed the benchmark checks that all four agree on rows and values,
//! so a peer that skipped decoding could not pass for fast. Throughput is reported in bytes of
//! the file per second by criterion; a summary with MB/s, rows/s and otter's ratio to the
//! fastest peer of the same run is printed at the end, that ratio also measured in alternating
//! otter/peer passes (robust to a machine whose speed drifts during the run).
//!
//! The input is `$OTTER_BENCH_BINLOG`, by default `/tmp/perf-binlogs/binlog.000001`, made by
//! `benches/workload/gen-binlog.sh` (`scripts/bench-parse` makes it and runs this); `cargo bench`
//! refuses to measure without it. In criterion's test mode (`cargo test`: each routine once) the
//! routines run on the real binlogs of `otter-binlog/tests/data/mysql-testsuite/` that every
//! peer can decode, still checking that all four agree, when the big file is missing or when the
//! build is unoptimised and `OTTER_BENCH_BINLOG` is unset; `cargo bench -- --test` checks the
//! big file.
//!
//! [`Parser::parse`]: otter_binlog::Parser::parse
//! [`Parser::frame_len`]: otter_binlog::Parser::frame_len

use std::cell::RefCell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use otter_benches::Counts;

mod decoders;
use decoders::{DecodeFn, BASELINES, DECODERS};

/// Where `scripts/bench-parse` (and `benches/workload/gen-binlog.sh`) put the reference binlog.
const DEFAULT_BINLOG: &str = "/tmp/perf-binlogs/binlog.000001";

/// Real binlogs under `otter-binlog/tests/data/mysql-testsuite/` (MySQL 5.1–9.x, MariaDB 10.5; FULL
/// and MINIMAL row images, JSON, ENUM/SET, BIT, invisible and hidden columns) that all three
/// peers decode without error or panic and agree on: the fallback input when the big file is
/// missing. (Left out: files where a peer fails or panics — negative TIME, VECTOR, tagged GTIDs,
/// 5.1.23 — or skips PARTIAL_UPDATE_ROWS events, and files without rows.)
const SMALL_FILES: &[&str] = &[
    "write-full-row.binlog",
    "update-full-row.binlog",
    "write-partial-row.binlog",
    "update-partial-row.binlog",
    "mariadb-bin.000001",
    "binlog-invisible-columns.000001",
    "mysql-enum-string-set.000001",
    "mysql_type_bit.000001",
    "minimal_row_metadata.000001",
    "json-opaque.binlog",
    "ver_trunk_row_v2.001",
    "bug32407.001",
    "rpl_unfiltered_hidden_gcol.000001",
    "binlog_56_gtid_reserved_word.000001",
];

/// The bytes to decode: one or more whole binlog files, each decoded from a fresh parser.
struct Input {
    label: String,
    files: Vec<Vec<u8>>,
    /// True for the reference workload, false for the small fallback corpus.
    reference: bool,
}

impl Input {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len() as u64).sum()
    }

    fn decode(&self, f: DecodeFn) -> Result<Counts, String> {
        let mut total = Counts::default();
        for file in &self.files {
            total += f(file)?;
        }
        Ok(total)
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The input: the reference binlog, or in test mode the small corpus when the binlog is missing
/// — or when this is an unoptimised test build and `OTTER_BENCH_BINLOG` is not set (the peers,
/// unoptimised, take minutes on the big file).
fn load_input(bench_mode: bool) -> Input {
    let explicit = std::env::var_os("OTTER_BENCH_BINLOG");
    let path = explicit.as_ref().map_or_else(|| PathBuf::from(DEFAULT_BINLOG), PathBuf::from);
    let exists = path.is_file();
    if exists && (bench_mode || explicit.is_some() || !cfg!(debug_assertions)) {
        let file = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        return Input { label: path.display().to_string(), files: vec![file], reference: true };
    }
    let note = if exists {
        format!("unoptimised test build: not decoding {} (set OTTER_BENCH_BINLOG to force it)", path.display())
    } else {
        format!(
            "the benchmark binlog {} is missing: run `scripts/bench-parse` (generates it with \
             benches/workload/gen-binlog.sh, then benchmarks), or set OTTER_BENCH_BINLOG to a binlog file",
            path.display()
        )
    };
    if bench_mode {
        eprintln!("error: {note}");
        std::process::exit(2);
    }
    println!("note: {note}; checking the decoders on the small test-suite binlogs instead");
    let dir = workspace_root().join("otter-binlog/tests/data/mysql-testsuite");
    let files = SMALL_FILES
        .iter()
        .map(|name| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}")))
        .collect();
    Input { label: format!("{} small test-suite binlogs", SMALL_FILES.len()), files, reference: false }
}

/// Runs every decoder once and checks that they saw the same rows and non-NULL values.
fn check_agreement(input: &Input) -> Counts {
    let results: Vec<(&str, Counts)> = DECODERS
        .iter()
        .map(|&(name, f)| (name, input.decode(f).unwrap_or_else(|e| panic!("{name} failed on {}: {e}", input.label))))
        .collect();
    println!("decoded {} ({} bytes):", input.label, input.bytes());
    for (name, c) in &results {
        println!("  {name:<28} {:>10} events {:>10} rows {:>11} non-NULL values", c.events, c.rows, c.values);
    }
    let otter = results[0].1;
    assert!(otter.rows > 0, "no rows in {}", input.label);
    for (name, c) in &results[1..] {
        assert_eq!((c.rows, c.values), (otter.rows, otter.values), "{name} and otter disagree on rows/values");
    }
    otter
}

/// Samples per routine. In flat sampling mode criterion calls a routine's `iter_custom` closure
/// once per sample after its warm-up calls, so the last `SAMPLES` calls are the measured ones.
const SAMPLES: usize = 10;

/// Per routine, the wall time of every pass, grouped by `iter_custom` call (warm-up calls first).
type Timings = RefCell<Vec<(&'static str, Vec<Vec<Duration>>)>>;

fn parse(c: &mut Criterion) {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let list = args.iter().any(|a| a == "--list");
    let (input, counts) = if list {
        // Criterion only prints the routine names: nothing to load.
        (Input { label: String::new(), files: Vec::new(), reference: false }, Counts::default())
    } else {
        let input = load_input(bench_mode);
        let counts = check_agreement(&input);
        (input, counts)
    };
    let timings: Timings = RefCell::new(Vec::new());

    let mut group = c.benchmark_group("parse");
    group
        .throughput(Throughput::Bytes(input.bytes()))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if input.reference { 8 } else { 2 }));
    for &(name, f) in DECODERS.iter().take(1).chain(&BASELINES).chain(&DECODERS[1..]) {
        timings.borrow_mut().push((name, Vec::new()));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut passes = Vec::with_capacity(iters as usize);
                for _ in 0..iters {
                    let start = Instant::now();
                    let seen = input.decode(f).unwrap_or_else(|e| panic!("{name}: {e}"));
                    passes.push(start.elapsed());
                    black_box(seen);
                }
                let total = passes.iter().sum();
                if let Some((_, calls)) = timings.borrow_mut().last_mut() {
                    calls.push(passes);
                }
                total
            })
        });
    }
    group.finish();
    if bench_mode && !list {
        summary(&input, counts, &timings.borrow());
    }
}

/// Prints MB/s and rows/s per routine (median pass of its measured samples, warm-up left out)
/// and otter's ratio to the fastest peer.
fn summary(input: &Input, counts: Counts, timings: &[(&'static str, Vec<Vec<Duration>>)]) {
    let median = |calls: &[Vec<Duration>]| {
        let mut v: Vec<Duration> = calls[calls.len().saturating_sub(SAMPLES)..].concat();
        v.sort();
        (v.get(v.len() / 2).copied().unwrap_or_default(), v.len())
    };
    let mb = input.bytes() as f64 / 1e6;
    println!(
        "\nsummary: {} — {:.1} MB, {} events, {} rows, {} non-NULL values; one thread, median per full pass",
        input.label, mb, counts.events, counts.rows, counts.values
    );
    println!("  {:<28} {:>10} {:>10} {:>14} {:>8}", "decoder", "s/pass", "MB/s", "rows/s", "passes");
    let mut fastest_peer: Option<(&str, f64)> = None;
    let mut otter_secs = None;
    for (name, calls) in timings {
        let (median, passes) = median(calls);
        let s = median.as_secs_f64();
        let full = DECODERS.iter().any(|(n, _)| n == name);
        let rows = if full { format!("{:.0}", counts.rows as f64 / s) } else { "-".into() };
        println!("  {name:<28} {s:>10.3} {:>10.1} {rows:>14} {passes:>8}", mb / s);
        if *name == "otter" {
            otter_secs = Some(s);
        } else if full && fastest_peer.is_none_or(|(_, best)| s < best) {
            fastest_peer = Some((name, s));
        }
    }
    if let (Some(o), Some((peer, p))) = (otter_secs, fastest_peer) {
        let ratio = p / o;
        println!(
            "  otter / fastest peer ({peer}), from the medians above: {ratio:.2}x in rows/s (target >= 2x: {})",
            if ratio >= 2.0 { "met" } else { "NOT met" }
        );
        paired_ratio(input, peer);
    }
}

/// Rounds of the paired comparison.
const PAIRS: usize = 10;

/// otter against one peer in alternating passes (otter, peer, peer, otter, ...), the ratio taken
/// pair by pair: on a machine whose speed drifts (shared cores, noisy neighbours) this keeps the
/// ratio meaningful where medians of routines measured minutes apart may not be.
fn paired_ratio(input: &Input, peer: &str) {
    let find = |name: &str| DECODERS.iter().find(|(n, _)| *n == name).map(|&(_, f)| f);
    let (Some(otter), Some(other)) = (find("otter"), find(peer)) else { return };
    let time = |f: DecodeFn| {
        let start = Instant::now();
        black_box(input.decode(f).unwrap_or_else(|e| panic!("{e}")));
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..PAIRS)
        .map(|round| {
            let (o, p) = if round % 2 == 0 {
                let o = time(otter);
                (o, time(other))
            } else {
                let p = time(other);
                (time(otter), p)
            };
            p / o
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = (ratios[PAIRS / 2 - 1] + ratios[PAIRS / 2]) / 2.0;
    println!(
        "  otter / {peer}, {PAIRS} alternating pairs: median {median:.2}x (min {:.2}x, max {:.2}x; target >= 2x: {})",
        ratios[0],
        ratios[PAIRS - 1],
        if median >= 2.0 { "met" } else { "NOT met" }
    );
}

criterion_group!(benches, parse);
criterion_main!(benches);
