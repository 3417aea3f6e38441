//! A custom [`Sink`]: counts row changes per table and prints the totals after each batch.
//!
//! ```text
//! cargo run -p otter-examples --example custom_sink -- mysql://root@127.0.0.1:3306
//! ```
//!
//! Captures from the current end of the binlog until Ctrl-C. The sink contract (see
//! `otter_core::traits`): complete every [`Ack`] — `done()` once the batch is durable, `fail()`
//! otherwise; the pipeline checkpoints only batches acknowledged in order.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use otter_core::change::Event;
use otter_core::pipeline::Pipeline;
use otter_core::source::mysql::{MysqlCapture, MysqlSourceConfig, SourceOptions};
use otter_core::traits::{Ack, Batch, Sink};
use otter_core::Result;

/// Rows seen per `db.table`. Counting keeps nothing to write later, so a batch is done as soon as
/// it is counted.
#[derive(Default)]
struct CountingSink {
    counts: BTreeMap<String, u64>,
}

#[async_trait]
impl Sink for CountingSink {
    fn name(&self) -> &str {
        "count"
    }

    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
        for event in &batch.events {
            if let Event::Rows(chunk) = event {
                for change in &chunk.changes {
                    *self.counts.entry(format!("{}.{}", change.table.db, change.table.name)).or_default() += 1;
                }
            }
        }
        if batch.row_count() > 0 {
            println!("after batch {}: {:?}", batch.seq, self.counts);
        }
        ack.done();
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        Ok(()) // every batch was acknowledged in `send`
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "mysql://root@127.0.0.1:3306".into());
    let mut config = MysqlSourceConfig::new(url);
    config.from = Some("latest".into());
    let options = SourceOptions { name: "count".into(), ..SourceOptions::default() };
    let pipeline = Pipeline::starting("count", Box::new(MysqlCapture { config, options }), Box::new(CountingSink::default()));
    pipeline.run(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
