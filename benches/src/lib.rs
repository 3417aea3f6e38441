//! Helpers shared by otter's benchmarks (`benches/parse.rs`) and the allocation test
//! (`tests/alloc_free.rs`): otter's whole-file decode loop, so that both measure exactly the same
//! hot path.
//!
//! [`OtterDecoder`] walks an in-memory binlog with [`Parser::parse`] (framing, CRC32 verification,
//! table maps) and decodes every row of every rows event with [`Rows::next_into`] into two
//! `Vec<Value>` buffers it reuses across rows *and* events, so that after the first events it
//! allocates nothing for fixed-width columns. [`frame_file`] is the framing-only baseline.
//!
//! [`Rows::next_into`]: otter_binlog::Rows::next_into

use otter_binlog::{EventData, ParseError, Parser, Status, Value, MAGIC};

/// What one pass over a binlog saw. Every decoder of the benchmark (otter and the peers) reports
/// these, so they can be checked against each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events (framed and parsed).
    pub events: u64,
    /// Row changes (an UPDATE's before/after pair counts once).
    pub rows: u64,
    /// Decoded values that are not SQL NULL (before and after images together).
    pub values: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.events += o.events;
        self.rows += o.rows;
        self.values += o.values;
    }
}

/// Why a pass failed: a parse error at a file offset, or a file without the binlog magic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodeError {
    /// The file does not start with `\xfebin`.
    BadMagic,
    /// The parser failed on the event at this file offset (or the file ends inside an event).
    Parse {
        /// File offset of the event.
        offset: usize,
        /// The error.
        error: Option<ParseError>,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadMagic => f.write_str("not a binlog file (bad magic)"),
            DecodeError::Parse { offset, error: Some(e) } => write!(f, "at offset {offset}: {e}"),
            DecodeError::Parse { offset, error: None } => write!(f, "at offset {offset}: file ends inside an event"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The body of a binlog file after its 4-byte magic.
pub fn events_of(file: &[u8]) -> Result<&[u8], DecodeError> {
    file.strip_prefix(&MAGIC[..]).ok_or(DecodeError::BadMagic)
}

/// otter's full decode: every event parsed (CRC32 verified), every row value decoded.
///
/// The two row buffers live as long as the decoder; decoding into them allocates only while they
/// grow to the widest row seen.
#[derive(Debug, Default)]
pub struct OtterDecoder {
    before: Vec<Value<'static>>,
    after: Vec<Value<'static>>,
}

impl OtterDecoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        OtterDecoder::default()
    }

    /// Decodes a whole binlog file (magic included) with a fresh [`Parser`].
    pub fn decode_file(&mut self, file: &[u8]) -> Result<Counts, DecodeError> {
        let mut parser = Parser::new();
        self.decode_events(&mut parser, events_of(file)?, MAGIC.len())
    }

    /// Decodes `events`, a run of whole events, with `parser` (whose state, e.g. the format and
    /// the table-map cache, carries over). `offset` is the file offset of `events` (for errors).
    pub fn decode_events(&mut self, parser: &mut Parser, events: &[u8], offset: usize) -> Result<Counts, DecodeError> {
        let mut counts = Counts::default();
        let mut pos = 0;
        while let Some(rest) = events.get(pos..).filter(|r| !r.is_empty()) {
            let at = |error| DecodeError::Parse { offset: offset + pos, error };
            let (event, used) = match parser.parse(rest).map_err(|e| at(Some(e)))? {
                Status::Complete(done) => done,
                Status::Partial(_) => return Err(at(None)),
            };
            counts.events += 1;
            if let EventData::Rows(rows) = &event.data {
                let table = parser.table_for(rows).map_err(|e| at(Some(e)))?;
                let mut cursor = rows.rows(table).map_err(|e| at(Some(e)))?;
                // The values borrow this event: lend the buffers to it for its lifetime only.
                let (mut before, mut after) = (reuse(&mut self.before), reuse(&mut self.after));
                while cursor.next_into(&mut before, &mut after).map_err(|e| at(Some(e)))? {
                    counts.rows += 1;
                    counts.values += non_null(&before) + non_null(&after);
                    std::hint::black_box((&before, &after));
                }
                self.before = reuse_back(before);
                self.after = reuse_back(after);
            }
            pos += used;
        }
        Ok(counts)
    }
}

/// Framing only: walks every event of a binlog file with [`Parser::parse`] (frame, header, CRC32
/// when `parse` is true, event body without its rows) or only with [`Parser::frame_len`] (lengths,
/// no checksum) when it is false. Counts events; rows and values stay 0.
pub fn frame_file(file: &[u8], parse: bool) -> Result<Counts, DecodeError> {
    let events = events_of(file)?;
    let mut parser = Parser::new();
    let mut counts = Counts::default();
    let mut pos = 0;
    while let Some(rest) = events.get(pos..).filter(|r| !r.is_empty()) {
        let at = |error| DecodeError::Parse { offset: MAGIC.len() + pos, error };
        let status = if parse {
            match parser.parse(rest).map_err(|e| at(Some(e)))? {
                Status::Complete((event, used)) => {
                    std::hint::black_box(&event);
                    Status::Complete(used)
                }
                Status::Partial(n) => Status::Partial(n),
            }
        } else {
            parser.frame_len(rest).map_err(|e| at(Some(e)))?
        };
        match status {
            Status::Complete(len) => pos += len,
            Status::Partial(_) => return Err(at(None)),
        }
        counts.events += 1;
    }
    Ok(counts)
}

fn non_null(values: &[Value<'_>]) -> u64 {
    values.iter().filter(|v| !matches!(v, Value::Null | Value::Absent)).count() as u64
}

/// Takes the (empty) buffer out of `slot` for values of a shorter lifetime. Moving a
/// `Vec<Value<'static>>` into a `Vec<Value<'a>>` is a plain covariant move: no allocation.
fn reuse<'a>(slot: &mut Vec<Value<'static>>) -> Vec<Value<'a>> {
    std::mem::take(slot)
}

/// Empties `v` and returns its allocation with the `'static` lifetime again. The in-place
/// `collect` of an empty `vec::IntoIter` into a vector of a same-layout type keeps the buffer
/// (std's in-place iteration); nothing is copied and the closure never runs.
fn reuse_back(mut v: Vec<Value<'_>>) -> Vec<Value<'static>> {
    v.clear();
    v.into_iter().map(Value::into_owned).collect()
}
