//! Sources of change events. [`mysql::MysqlSource`] captures from a live MySQL/MariaDB server.

pub mod mysql;

use async_trait::async_trait;

use crate::change::Event;
use crate::error::Result;
use crate::position::Position;

/// Something that yields change events in source commit order.
#[async_trait]
pub trait Source: Send {
    /// The next event, waiting until one is available; `Ok(None)` when the source is finished
    /// (bounded sources only). An error ends the source.
    async fn next(&mut self) -> Result<Option<Event>>;

    /// The sink made every event up to `position` (one of this source's positions) durable.
    /// Called in stream order by the pipeline; a source may use it to bound the work a restart
    /// would redo (the MySQL snapshot hands a reader's next chunk out only after its previous
    /// one is acknowledged). Default: ignored.
    fn acknowledged(&mut self, _position: &Position) {}
}

/// A source not started yet: the pipeline starts it at the resume point it found (the sink's
/// stored position, else its checkpoint store's; `None`: the source's configured start).
#[async_trait]
pub trait SourceStart: Send {
    /// Starts capturing at `resume` (or at the configured start when `None`).
    async fn start(self: Box<Self>, resume: Option<Position>) -> Result<Box<dyn Source>>;
}
