//! Decodes a binlog file with one of the parse benchmark's decoders, `PASSES` times, and prints
//! what each pass saw and how long it took: a single-decoder process for whole-process timing
//! (`/usr/bin/time -v`, A/B runs) and for profilers (`perf record`, `valgrind --tool=callgrind`).
//!
//! ```text
//! cargo build --profile bench -p otter-benches --example decode
//! target/release/examples/decode otter /tmp/perf-binlogs/binlog.000001 3
//! ```
//!
//! Decoders: `otter`, `otter-framing+crc32`, `otter-framing`, `mysql_cdc`,
//! `mysql-binlog-connector-rust`, `mysql_common` (see `benches/parse.rs`). `FILE` defaults to
//! `$OTTER_BENCH_BINLOG` or `/tmp/perf-binlogs/binlog.000001`; `PASSES` to 1. Loading the file is
//! not part of the printed pass times.

#[path = "../benches/decoders/mod.rs"]
mod decoders;

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = || decoders::DECODERS.iter().chain(&decoders::BASELINES);
    let Some(&(name, decode)) = args.first().and_then(|want| all().find(|(n, _)| n == want)) else {
        let names: Vec<&str> = all().map(|(n, _)| *n).collect();
        eprintln!("usage: decode <{}> [FILE] [PASSES]", names.join("|"));
        return ExitCode::from(2);
    };
    let path = args.get(1).cloned().or_else(|| std::env::var("OTTER_BENCH_BINLOG").ok());
    let path = path.unwrap_or_else(|| "/tmp/perf-binlogs/binlog.000001".into());
    let passes: u32 = match args.get(2).map(|p| p.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("PASSES: {e}");
            return ExitCode::from(2);
        }
    };
    let file = match std::fs::read(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for pass in 1..=passes {
        let start = Instant::now();
        let counts = match decode(&file) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name} failed on {path}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name} pass {pass}: {} events, {} rows, {} non-NULL values in {secs:.3} s ({:.1} MB/s, {:.0} rows/s)",
            counts.events,
            counts.rows,
            counts.values,
            file.len() as f64 / 1e6 / secs,
            counts.rows as f64 / secs
        );
    }
    ExitCode::SUCCESS
}
