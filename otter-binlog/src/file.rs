//! `FileReader`: streams the events of a binlog or relay-log file with bounded memory, including
//! the events inside TRANSACTION_PAYLOAD events.
//!
//! Invariants: the file must start with the magic `\xfebin`; the read buffer never holds more than
//! one event plus one read chunk (so a multi-GB file is never read whole); every error carries the
//! file offset of the event that failed; after an error the reader yields nothing more.

use std::fmt;
use std::io::{self, Read};

use crate::error::{truncated, ErrorKind, ParseError, Status};
use crate::event::{Event, EventData};
use crate::parser::Parser;

/// The 4 bytes every binlog file starts with.
pub const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

const READ_CHUNK: usize = 256 * 1024;

/// Failure of a [`FileReader`]: I/O, or a parse error with its file offset.
#[derive(Debug)]
pub enum ReadError {
    /// The underlying reader failed.
    Io(io::Error),
    /// The bytes are not a valid binlog at the given offset.
    Parse(ParseError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "read error: {e}"),
            ReadError::Parse(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Parse(e) => Some(e),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<ParseError> for ReadError {
    fn from(e: ParseError) -> Self {
        ReadError::Parse(e)
    }
}

/// One event read from a file.
#[derive(Debug)]
pub struct Frame<'r> {
    /// File offset of the event (for events inside a TRANSACTION_PAYLOAD: the payload event's).
    pub offset: u64,
    /// True for events that came out of a TRANSACTION_PAYLOAD.
    pub in_payload: bool,
    /// The event.
    pub event: Event<'r>,
    /// The parser state after this event (table maps for decoding its rows).
    pub parser: &'r Parser,
}

/// Reads events from a binlog file (or any `Read`).
#[derive(Debug)]
pub struct FileReader<R> {
    src: R,
    parser: Parser,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    offset: u64,
    eof: bool,
    failed: bool,
    /// The frame returned last whose payload is still to be expanded (start, len, offset).
    pending_payload: Option<(usize, usize, u64)>,
    payload: Vec<u8>,
    payload_pos: usize,
    payload_offset: u64,
}

impl FileReader<io::BufReader<std::fs::File>> {
    /// Opens a binlog file.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ReadError> {
        FileReader::new(io::BufReader::with_capacity(64 * 1024, std::fs::File::open(path)?))
    }
}

impl<R: Read> FileReader<R> {
    /// Starts reading `src`, checking the magic.
    pub fn new(src: R) -> Result<Self, ReadError> {
        Self::with_parser(src, Parser::new())
    }

    /// Starts reading `src` with a configured parser (e.g. other limits).
    pub fn with_parser(mut src: R, parser: Parser) -> Result<Self, ReadError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = src.read(magic.get_mut(got..).unwrap_or(&mut []))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if got < 4 || magic != MAGIC {
            return Err(ReadError::Parse(ParseError::new(ErrorKind::BadMagic).at(0)));
        }
        Ok(FileReader {
            src,
            parser,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 4,
            eof: false,
            failed: false,
            pending_payload: None,
            payload: Vec::new(),
            payload_pos: 0,
            payload_offset: 0,
        })
    }

    /// The parser state.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The file offset of the next (outer) event.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Reads the next event; `Ok(None)` at a clean end of file.
    pub fn next_event(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        if self.failed {
            return Ok(None);
        }
        let r = self.step();
        if r.is_err() {
            self.failed = true;
        }
        // Re-borrow for the returned frame (the borrow checker needs the split here).
        match r {
            Err(e) => Err(e),
            Ok(None) => Ok(None),
            Ok(Some(Where::Outer(start, len, offset))) => {
                let Self { parser, buf, .. } = self;
                let frame = buf.get(start..start + len).ok_or(ReadError::Parse(truncated("event")))?;
                let event = parser.parse_frame(frame).map_err(|e| ReadError::Parse(e.at(offset)))?;
                if matches!(event.data, EventData::TransactionPayload(_)) {
                    self.pending_payload = Some((start, len, offset));
                }
                Ok(Some(Frame { offset, in_payload: false, event, parser: &self.parser }))
            }
            Ok(Some(Where::Inner(pos))) => {
                let Self { parser, payload, payload_offset, .. } = self;
                let rest = payload.get(pos..).unwrap_or(&[]);
                match parser.parse_inner(rest).map_err(|e| ReadError::Parse(e.at(*payload_offset)))? {
                    Status::Complete((event, used)) => {
                        self.payload_pos = pos + used;
                        Ok(Some(Frame { offset: self.payload_offset, in_payload: true, event, parser: &self.parser }))
                    }
                    Status::Partial(_) => Err(ReadError::Parse(truncated("payload event").at(self.payload_offset))),
                }
            }
        }
    }

    fn step(&mut self) -> Result<Option<Where>, ReadError> {
        if let Some((start, len, offset)) = self.pending_payload.take() {
            self.expand_payload(start, len, offset)?;
        }
        if self.payload_pos < self.payload.len() {
            return Ok(Some(Where::Inner(self.payload_pos)));
        }
        loop {
            let avail = self.buf.get(self.start..self.end).unwrap_or(&[]);
            match self.parser.frame_len(avail).map_err(|e| ReadError::Parse(e.at(self.offset)))? {
                Status::Complete(len) => {
                    let (start, offset) = (self.start, self.offset);
                    self.start += len;
                    self.offset += len as u64;
                    return Ok(Some(Where::Outer(start, len, offset)));
                }
                Status::Partial(need) => {
                    if self.eof {
                        return if avail.is_empty() {
                            Ok(None)
                        } else {
                            Err(ReadError::Parse(truncated("event (file ends inside it)").at(self.offset)))
                        };
                    }
                    self.fill(need)?;
                }
            }
        }
    }

    fn expand_payload(&mut self, start: usize, len: usize, offset: u64) -> Result<(), ReadError> {
        let frame = self.buf.get(start..start + len).ok_or(ReadError::Parse(truncated("event")))?;
        let tag = |e: ParseError| ReadError::Parse(e.in_event(40).at(offset));
        let body = self.parser.body_of(frame).map_err(tag)?;
        let payload = crate::event::payload::PayloadEvent::parse(body).map_err(tag)?;
        self.payload = payload.decompress(self.parser.limits()).map_err(tag)?;
        self.payload_pos = 0;
        self.payload_offset = offset;
        Ok(())
    }

    /// Makes at least `need` bytes available from `start`, compacting and growing the buffer.
    fn fill(&mut self, need: usize) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = need.max(self.end + READ_CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < need {
            let dst = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            let n = match self.src.read(dst) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            self.end += n;
        }
        Ok(())
    }
}

enum Where {
    Outer(usize, usize, u64),
    Inner(usize),
}
