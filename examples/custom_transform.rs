//! A custom [`Transform`] — the equivalent of Otter's EventProcessor: code that sees every batch
//! between the source and the sink and edits it in place.
//!
//! This one drops the changes of test accounts (an `email` ending in `@example.com`) and masks
//! every other e-mail address (`alice@shop.io` → `a****@shop.io`). The pipeline routes
//! `shop.order_*` shards into `shop.orders` with a built-in transform first, then applies the
//! custom one, and prints JSON lines to stdout:
//!
//! ```text
//! cargo run -p otter-examples --example custom_transform -- mysql://root@127.0.0.1:3306
//! ```
//!
//! What a transform must respect (`otter_core::traits::Transform`): it runs on the pipeline's
//! task, so keep it cheap and synchronous; it may edit values, schemas and drop changes, but never
//! reorder events or touch positions. In particular, do not remove a transaction chunk to drop
//! its rows: empty its `changes` instead (the chunk carries the transaction end and the resume
//! position). Each row image holds one value per column of `change.table`; find columns with
//! `TableSchema::column_index` (case-insensitive) rather than fixed positions, since schemas
//! change with DDL.

use otter_binlog::Value;
use otter_core::change::{Event, RowChange};
use otter_core::pipeline::Pipeline;
use otter_core::sink::{Format, JsonlSink, JsonlSinkConfig};
use otter_core::source::mysql::{MysqlCapture, MysqlSourceConfig, SourceOptions};
use otter_core::traits::{Batch, Transform};
use otter_core::transform::{build, RouteConfig, TransformConfig};
use otter_core::Result;

/// Drops test accounts and masks e-mail addresses in a column of that name, in every table.
struct MaskEmails {
    column: String,
}

impl MaskEmails {
    /// The column's text in the change's newest image.
    fn email<'a>(&self, change: &'a RowChange) -> Option<&'a [u8]> {
        let i = change.table.column_index(&self.column)?;
        let image = change.after.as_ref().or(change.before.as_ref())?;
        match image.get(i)? {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// `alice@shop.io` → `a****@shop.io` (non-addresses are masked entirely).
fn mask(address: &[u8]) -> Vec<u8> {
    match address.iter().position(|&b| b == b'@') {
        Some(at) if at > 0 => {
            let mut out = address.get(..1).unwrap_or_default().to_vec();
            out.extend(std::iter::repeat_n(b'*', at - 1));
            out.extend_from_slice(address.get(at..).unwrap_or_default());
            out
        }
        _ => vec![b'*'; address.len()],
    }
}

impl Transform for MaskEmails {
    fn name(&self) -> &str {
        "mask_emails"
    }

    fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        for event in &mut batch.events {
            let Event::Rows(chunk) = event else { continue };
            chunk.changes.retain(|c| !self.email(c).is_some_and(|e| e.ends_with(b"@example.com")));
            for change in &mut chunk.changes {
                let Some(i) = change.table.column_index(&self.column) else { continue };
                for image in [&mut change.before, &mut change.after].into_iter().flatten() {
                    if let Some(Value::Bytes(b)) = image.get_mut(i) {
                        *b = mask(b).into();
                    }
                }
            }
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "mysql://root@127.0.0.1:3306".into());
    let mut config = MysqlSourceConfig::new(url);
    config.from = Some("latest".into());
    let capture = MysqlCapture { config, options: SourceOptions { name: "mask".into(), ..SourceOptions::default() } };
    let route = build(&TransformConfig::Route(RouteConfig { from: "shop.order_*".into(), to: "shop.orders".into(), wildcard: None }))?;
    let sink = JsonlSink::open(JsonlSinkConfig::new("-", Format::Otter), "mask")?;
    Pipeline::starting("mask", Box::new(capture), Box::new(sink))
        .transform(route)
        .transform(Box::new(MaskEmails { column: "email".into() }))
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
