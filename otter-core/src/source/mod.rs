//! Sources of change events. [`mysql::MysqlSource`] captures from a live MySQL/MariaDB server.

pub mod mysql;

use async_trait::async_trait;

use crate::change::Event;
use crate::error::Result;

/// Something that yields change events in source commit order.
#[async_trait]
pub trait Source: Send {
    /// The next event, waiting until one is available; `Ok(None)` when the source is finished
    /// (bounded sources only). An error ends the source.
    async fn next(&mut self) -> Result<Option<Event>>;
}
