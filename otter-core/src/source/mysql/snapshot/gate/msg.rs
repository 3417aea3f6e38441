//! What readers tell the gate, and what it asks of them.

use crate::change::Row;
use crate::error::Error;
use crate::mysql::chunk::KeyRange;
use crate::position::BinlogCoord;
use crate::schema::TableSchema;

/// One chunk read by a reader.
#[derive(Debug)]
pub struct ChunkRead {
    /// The reader (one chunk in flight per reader).
    pub reader: usize,
    /// The table's place in the gate's table list.
    pub table: usize,
    /// The chunk's number within the table in this run (0, 1, 2…).
    pub index: u64,
    /// The binlog position of the snapshot it was read in.
    pub at: BinlogCoord,
    /// The key range it covers: `(after, upto]`, `upto` the last key read (or the bound of a
    /// re-read); for the last chunk of a table (or part), the table's end (`None`) or the part's.
    pub range: KeyRange,
    /// The table's last chunk.
    pub last: bool,
    /// The table's definition at `at`, parsed.
    pub schema: TableSchema,
    /// `SHOW CREATE TABLE` at `at` (empty when the table was gone).
    pub create_table: String,
    /// The rows, in key order.
    pub rows: Vec<Row>,
    /// More pieces of the same snapshot follow (a table read whole): its reservation stays.
    pub more: bool,
    /// A piece of a table without a usable key, read whole: piece 0 empties the table on the
    /// target first (`TRUNCATE TABLE`), so a copy started again replaces what an earlier one left.
    pub keyless: bool,
    /// Released when the chunk is handed out (bounds what readers hold in memory).
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What readers tell the gate.
#[derive(Debug)]
pub enum Msg {
    /// A reader opened a snapshot at `at`: hold the stream there until its chunk arrives.
    Reserved {
        /// The reader.
        reader: usize,
        /// The snapshot's position.
        at: BinlogCoord,
    },
    /// A chunk was read (its reservation ends).
    Read(Box<ChunkRead>),
    /// A reader gave up its open snapshot (it retries with a new one).
    Cancelled {
        /// The reader.
        reader: usize,
    },
    /// A reader failed for good.
    Failed(Error),
}

/// A key range to read again (its chunk was stale).
#[derive(Debug, Clone, PartialEq)]
pub struct Reread {
    /// The table's place in the gate's table list.
    pub table: usize,
    /// The chunk's number.
    pub index: u64,
    /// The exact range.
    pub range: KeyRange,
    /// Whether it is the table's last chunk (open above).
    pub last: bool,
}
