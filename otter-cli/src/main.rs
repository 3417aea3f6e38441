//! `otter`: MySQL/MariaDB change data capture and replication from the command line.
//!
//! Exit codes: 0 success (including a stop by SIGINT/SIGTERM); 1 runtime failure (lost server
//! that does not come back, apply error, the pipeline taken over by another instance); 2 bad
//! input — an unreadable or corrupt binlog, a wrong config, a failed preflight check, a purged
//! start position, the pipeline already running elsewhere.

mod alloc;
mod check;
mod cluster;
mod config;
mod dump;
mod metrics_http;
mod progress;
mod resync;
mod run;
mod signals;
mod status;
mod tail;
mod verify;

use clap::{Parser, Subcommand};
use otter_core::ErrorKind;

/// Change data capture and database-to-database replication for MySQL and MariaDB.
#[derive(Debug, Parser)]
#[command(name = "otter", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log level filter (also RUST_LOG), e.g. info, debug, otter_core=debug.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode binlog or relay-log files: one JSON object per event (or per file with --stats).
    ///
    /// Each event prints `offset`, `type_code`, `type`, `timestamp`, `server_id`, `next_pos`; rows
    /// events add `table` and `rows` ([{"before": [..]|null, "after": [..]|null}]); events from a
    /// TRANSACTION_PAYLOAD add `"in_payload": true`. Exit 0 when every file parsed to its end,
    /// 2 when any file stopped on a parse error (after printing what parsed).
    Dump(dump::DumpArgs),
    /// Stream a live server's transactions as JSON lines until interrupted.
    ///
    /// One object per transaction: `gtid`, `server_id`, `begin`, `end`, `commit_ts`, `position`
    /// (where to resume after it) and `changes` (each with `table`, `kind`, `key`, `before`,
    /// `after`, `changed`); DDL statements print `ddl`, `schema` and `tables`. A transaction
    /// larger than one chunk prints one object per chunk with `chunk` and `last`.
    Tail(tail::TailArgs),
    /// Run the pipelines of a config file until SIGINT/SIGTERM (then drain, checkpoint, exit 0).
    ///
    /// Each pipeline is a source, optional transforms and a sink (`mysql` applies to a target
    /// exactly once; `jsonl` writes JSON lines). One pipeline failing is reported; the others go on.
    /// Exit 1 when a pipeline failed at run time, 2 for a bad config or a failed preflight check.
    Run(run::RunArgs),
    /// Run every preflight check of every pipeline's source and target and print a pass/fail table.
    Check(check::CheckArgs),
    /// Show each pipeline's committed position, lag and rows/s (from its state directory), and who holds it and who stands by (from its MySQL target).
    Status(status::StatusArgs),
    /// Copy a table again (whole, the rows of --where, or --keys) through a running pipeline.
    ///
    /// Writes a request into `otter.resync_request` on the pipeline's source (the pipeline meets
    /// it in the binlog, in order with live changes), then waits until the copy is applied: rows
    /// the source has replace the target's, rows of a re-copied range that the source no longer
    /// has are deleted on the target. Exit 0 when applied (or written, with --no-wait), 2 for a
    /// wrong request (nothing written).
    Resync(resync::ResyncArgs),
    /// Compare each pipeline's source and target while replication runs, and name every key that differs.
    ///
    /// Per table, in key-range chunks: row counts and 128-bit row hashes on both servers, rechecked
    /// after the target applied up to the source's read (changes in flight are never reported),
    /// differing chunks narrowed to keys: missing on the target, extra on it, different (with the
    /// columns). --report writes every key as JSON; --repair re-syncs them through the pipeline
    /// and verifies them again; --print-sql prints fix statements instead. Exit 0 equal, 1
    /// differences found, 2 bad input (unknown pipeline, unreachable server). --continuous keeps
    /// comparing a --sample share of chunks per pass (plus every range that differed) and serves
    /// otter_verify_differences on --metrics-addr.
    Verify(verify::VerifyArgs),
}

/// Exit code for an error: 2 for bad input or configuration, 1 for runtime failures.
fn exit_code(e: &otter_core::Error) -> i32 {
    match e.kind() {
        ErrorKind::Config | ErrorKind::Preflight | ErrorKind::Privilege | ErrorKind::Auth | ErrorKind::Tls
        | ErrorKind::PositionPurged | ErrorKind::ServerIdConflict | ErrorKind::AlreadyRunning | ErrorKind::SourceBehind => 2,
        _ => 1,
    }
}

fn init_logging(level: &str) {
    init_logging_above(level, None);
}

/// Logging to stderr; with `bars`, each line prints above the progress bars.
fn init_logging_above(level: &str, bars: Option<indicatif::MultiProgress>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(progress::LogWriter(bars)).with_target(false).with_ansi(ansi).init();
}

fn main() {
    alloc::tune();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Dump(args) => dump::run(&args).unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                0
            } else {
                eprintln!("otter dump: {e}");
                1
            }
        }),
        Command::Tail(args) => {
            init_logging(&cli.log);
            run_async(tail::run(args), "otter tail")
        }
        Command::Run(args) => {
            let bars = progress::terminal();
            init_logging_above(&cli.log, bars.clone());
            run_async(run::run(args, bars), "otter run")
        }
        Command::Check(args) => {
            init_logging("warn");
            run_async(check::run(args), "otter check")
        }
        Command::Verify(args) => {
            init_logging(if args.continuous { "info" } else { "warn" });
            match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => match rt.block_on(verify::run(args)) {
                    Ok(true) => 0,
                    Ok(false) => 1,
                    Err(e) => {
                        eprintln!("otter verify: {e}");
                        exit_code(&e)
                    }
                },
                Err(e) => {
                    eprintln!("otter verify: cannot start the runtime: {e}");
                    1
                }
            }
        }
        Command::Resync(args) => {
            init_logging("warn");
            run_async(resync::run(args), "otter resync")
        }
        Command::Status(args) => {
            init_logging("warn");
            run_async(status::run(args), "otter status")
        }
    };
    std::process::exit(code);
}

/// Runs an async command on a multi-threaded runtime and maps its result to an exit code.
fn run_async(fut: impl std::future::Future<Output = otter_core::Result<()>>, what: &str) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{what}: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{what}: {e}");
            exit_code(&e)
        }
    }
}
