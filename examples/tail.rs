//! Stream a MySQL/MariaDB server's transactions from Rust, like `otter tail`.
//!
//! ```text
//! cargo run -p otter-examples --example tail -- mysql://repl:secret@127.0.0.1:3306 'shop\..*'
//! ```
//! The account needs REPLICATION SLAVE, BINLOG MONITOR (MariaDB 10.5+) and SELECT.

use otter_core::change::Event;
use otter_core::source::mysql::{MysqlSource, MysqlSourceConfig, SourceOptions};
use otter_core::source::Source;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: tail URL [INCLUDE_REGEX]")?;
    let mut config = MysqlSourceConfig::new(url);
    config.include = args.collect(); // e.g. shop\..* ; empty = every user table
    config.from = Some("latest".into());

    let mut source = MysqlSource::start(config, SourceOptions::default());
    while let Some(event) = source.next().await? {
        match event {
            Event::Rows(chunk) => {
                for change in &chunk.changes {
                    let t = &change.table;
                    // Column names and keys come from the schema as of this change.
                    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                    println!("{:?} {}.{} {:?}", change.kind, t.db, t.name, names);
                    println!("  before: {:?}\n  after:  {:?}", change.before, change.after);
                }
                if chunk.last {
                    println!("commit {:?} -> resume at {:?}", chunk.meta.gtid, chunk.position);
                }
            }
            Event::Ddl(ddl) => println!("DDL in {}: {}", ddl.schema, ddl.statement),
            Event::Progress(_) => {} // idle or filtered stretch: only the position moved
        }
    }
    Ok(())
}
