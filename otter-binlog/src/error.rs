//! The parser's error type: small, `Copy`, allocation-free, and it says what and where.
//!
//! Invariant: every failure of the parser on any input is one of these values; the parser never
//! panics. Positions are byte offsets in the stream (file offset for files, the event's start for
//! network events) and are attached by the layer that knows them ([`ParseError::at`]).

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended in the middle of `what` (the event header said it was longer).
    Truncated(&'static str),
    /// The stored CRC32 does not match the event bytes.
    BadChecksum {
        /// The checksum stored in the event footer.
        stored: u32,
        /// The checksum computed over the event.
        computed: u32,
    },
    /// The file does not start with the binlog magic `\xfebin`.
    BadMagic,
    /// A field holds a value that cannot be right (`what` names the field).
    Invalid(&'static str),
    /// A rows event refers to a table id with no preceding TABLE_MAP event.
    MissingTableMap(u64),
    /// A table map declares a column type this parser does not know.
    UnknownColumnType(u8),
    /// Valid input that this parser deliberately does not decode (e.g. pre-5.0 DECIMAL values).
    Unsupported(&'static str),
    /// Compressed data could not be inflated (zlib or zstd).
    Decompress(&'static str),
    /// A size exceeds the configured limit ([`crate::Limits`]).
    TooLarge {
        /// The size the input declared or reached.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The stream is encrypted (MariaDB `START_ENCRYPTION`); decrypting needs the server's keys.
    Encrypted,
}

/// A parse failure: its kind, the event type it happened in (if known) and a byte position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    kind: ErrorKind,
    event_type: Option<u8>,
    pos: Option<u64>,
}

impl ParseError {
    /// A new error of `kind` with no position yet.
    pub const fn new(kind: ErrorKind) -> Self {
        ParseError { kind, event_type: None, pos: None }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The type code of the event being parsed, when known.
    pub fn event_type(&self) -> Option<u8> {
        self.event_type
    }

    /// The stream position of the event that failed, when known.
    pub fn pos(&self) -> Option<u64> {
        self.pos
    }

    /// Attaches the stream position of the failing event (kept if one is already set).
    #[must_use]
    pub fn at(mut self, pos: u64) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }

    /// Attaches the type code of the failing event (kept if one is already set).
    #[must_use]
    pub fn in_event(mut self, type_code: u8) -> Self {
        if self.event_type.is_none() {
            self.event_type = Some(type_code);
        }
        self
    }

    /// True if more input could turn this failure into success (the data was cut short).
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated(_))
    }
}

impl From<ErrorKind> for ParseError {
    fn from(kind: ErrorKind) -> Self {
        ParseError::new(kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Truncated(what) => write!(f, "truncated {what}"),
            ErrorKind::BadChecksum { stored, computed } => {
                write!(f, "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")
            }
            ErrorKind::BadMagic => f.write_str("not a binlog file (missing \\xfebin magic)"),
            ErrorKind::Invalid(what) => write!(f, "invalid {what}"),
            ErrorKind::MissingTableMap(id) => write!(f, "rows event for table id {id} without a TABLE_MAP event"),
            ErrorKind::UnknownColumnType(t) => write!(f, "unknown column type {t}"),
            ErrorKind::Unsupported(what) => write!(f, "unsupported {what}"),
            ErrorKind::Decompress(what) => write!(f, "cannot decompress {what}"),
            ErrorKind::TooLarge { size, limit } => write!(f, "size {size} exceeds the limit {limit}"),
            ErrorKind::Encrypted => f.write_str("encrypted binlog (START_ENCRYPTION): cannot decode without the server's keys"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(t) = self.event_type {
            write!(f, " in {} event", crate::EventType::from_code(t).name())?;
        }
        if let Some(p) = self.pos {
            write!(f, " at offset {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// Result of a parse that may need more input: httparse-style "complete or partial".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole item was parsed.
    Complete(T),
    /// The buffer holds only part of the next item; at least this many bytes in total are needed.
    Partial(usize),
}

/// Shorthand for parse results.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Builds a `Truncated` error.
pub(crate) const fn truncated(what: &'static str) -> ParseError {
    ParseError::new(ErrorKind::Truncated(what))
}

/// Builds an `Invalid` error.
pub(crate) const fn invalid(what: &'static str) -> ParseError {
    ParseError::new(ErrorKind::Invalid(what))
}
