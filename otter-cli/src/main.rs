//! `otter`: MySQL/MariaDB change data capture and replication from the command line.
//!
//! Exit codes: 0 success; 1 runtime failure (lost server, apply error); 2 bad input — an
//! unreadable or corrupt binlog, a wrong config, a failed preflight check.

mod dump;

use clap::{Parser, Subcommand};

/// Change data capture and database-to-database replication for MySQL and MariaDB.
#[derive(Debug, Parser)]
#[command(name = "otter", version, about, long_about = None, propagate_version = true)]
struct Cli {
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
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Dump(args) => dump::run(args).unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                0
            } else {
                eprintln!("otter dump: {e}");
                1
            }
        }),
    };
    std::process::exit(code);
}
