//! # otter-core
//!
//! Change data capture from MySQL and MariaDB: a live capture that reads a server's binary log
//! as a replica would ([`source::mysql`]), a schema history that gives every row its column
//! names as of its position ([`history`], [`schema`]), the change model ([`change`]), and the
//! pipeline that batches changes, transforms them and hands them to a sink with ordered,
//! exactly-once checkpoints ([`pipeline`]). Sinks: JSON lines ([`sink`]), your own type
//! implementing [`Sink`], or the MySQL/MariaDB loader of the `otter-load` crate.
//!
//! Capture a server's changes into your own sink — the pipeline finds where to resume (the sink's
//! stored position, else its checkpoint store, else `from`) and starts the capture there:
//!
//! ```no_run
//! use std::sync::Arc;
//! use otter_core::{Ack, Batch, Event, MysqlCapture, MysqlSourceConfig, Pipeline, Result, Sink, SourceOptions};
//!
//! /// Prints each row change's table and kind.
//! struct Print;
//!
//! #[async_trait::async_trait]
//! impl Sink for Print {
//!     fn name(&self) -> &str {
//!         "print"
//!     }
//!     async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
//!         for event in &batch.events {
//!             if let Event::Rows(chunk) = event {
//!                 for c in &chunk.changes {
//!                     println!("{}.{} {:?}", c.table.db, c.table.name, c.kind);
//!                 }
//!             }
//!         }
//!         ack.done(); // durable: the checkpoint may move past this batch
//!         Ok(())
//!     }
//!     async fn flush(&mut self) -> Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<()> {
//! let mut config = MysqlSourceConfig::new("mysql://repl:secret@127.0.0.1:3306");
//! config.include = vec!["shop\\..*".into()];
//! let capture = MysqlCapture { config, options: SourceOptions { name: "print".into(), ..Default::default() } };
//! let stop = async { let _ = tokio::signal::ctrl_c().await; };
//! Pipeline::starting("print", Box::new(capture), Box::new(Print)).run(stop).await
//! # }
//! ```
//!
//! Invariants kept throughout: nothing is lost or delivered twice across restarts when the sink
//! acknowledges only what it made durable ([`traits`]); rows are decoded only with a schema that
//! matches their table map; errors say what is wrong and how to fix it ([`Error`]).
#![deny(missing_docs)]

pub mod change;
pub mod checkpoint;
pub mod error;
pub mod table_filter;
pub mod history;
pub mod instance;
pub mod json;
pub mod mysql;
pub mod pattern;
pub mod pipeline;
pub mod position;
pub mod preflight;
pub mod schema;
pub mod sink;
pub mod source;
pub mod traits;
pub mod transform;
pub mod two_way;

pub use change::{ChangeKind, Event, RowChange};
pub use error::{Error, ErrorKind, Result};
pub use pipeline::Pipeline;
pub use source::mysql::{MysqlCapture, MysqlSourceConfig, SourceOptions};
pub use traits::{Ack, Batch, Sink, Source, Transform};
