//! # otter-binlog
//!
//! A sans-IO, zero-copy parser for MySQL (5.5–9.x) and MariaDB (10.x–11.x) binary logs, relay logs
//! and replication streams. It never panics, never loops and never allocates without bound on any
//! input: every failure is a small `Copy` [`ParseError`] that says what went wrong and where.
//!
//! ```
//! use otter_binlog::{EventData, FileReader, Value};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mysql-testsuite/write-full-row.binlog");
//! let mut reader = FileReader::open(path)?;
//! let mut rows_seen = 0;
//! while let Some(frame) = reader.next_event()? {
//!     if let EventData::Rows(rows) = &frame.event.data {
//!         let table = frame.parser.table_for(rows)?;
//!         for row in rows.rows(table)? {
//!             let row = row?;
//!             println!("{} {:?} -> {:?}", table.full_name(), row.before, row.after);
//!             // FULL row images hold every column of an inserted row.
//!             if let Some(after) = &row.after {
//!                 assert!(after.iter().all(|v| !matches!(v, Value::Absent)));
//!             }
//!             rows_seen += 1;
//!         }
//!     }
//! }
//! assert_eq!(rows_seen, 7);
//! # Ok(()) }
//! ```
//!
//! Layers: [`Reader`] is the checked cursor every decoder reads through; [`Parser`] holds the only
//! state (format description, checksum algorithm, table-map cache) and frames events out of byte
//! buffers (`Complete`/`Partial`, as httparse does); [`FileReader`] streams files with bounded
//! memory. Row images decode lazily against their [`TableMap`] into [`Value`]s that borrow the
//! event bytes.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]
#![deny(missing_docs)]

pub mod column;
mod compress;
pub mod decimal;
pub mod encode;
mod error;
pub mod event;
mod event_type;
mod file;
mod header;
pub mod json;
pub mod json_diff;
pub mod latin1;
mod parser;
mod reader;
mod text;
pub mod rows;
pub mod summary;
pub mod table_map;
pub mod temporal;
pub mod value;

pub use compress::Limits;
pub use error::{ErrorKind, ParseError, Result, Status};
pub use event::{Event, EventData};
pub use event_type::{EventType, RowsKind};
pub use file::{FileReader, Frame, ReadError, MAGIC};
pub use header::{ChecksumAlg, EventHeader};
pub use parser::Parser;
pub use reader::Reader;
pub use rows::{RowChange, Rows, RowsEvent};
pub use table_map::{Column, TableMap};
pub use value::Value;
