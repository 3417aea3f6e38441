//! `Parser`: the only state of the sans-IO parser — the stream's format (from the last FORMAT_
//! DESCRIPTION event), its checksum algorithm and the table-map cache — and the framing of events
//! out of byte buffers.
//!
//! Invariants:
//! - an event is decoded only after its frame is complete and, when checksums are on, verified;
//! - the table-map cache is cleared on every real (non-artificial) ROTATE and trimmed at statement
//!   ends (servers re-send TABLE_MAP events for every statement), so it stays bounded;
//! - an identical TABLE_MAP event (same bytes) reuses the cached map: no allocation per statement;
//! - after MariaDB's START_ENCRYPTION every further event is refused with `Encrypted`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::compress::Limits;
use crate::error::{invalid, truncated, ErrorKind, ParseError, Result, Status};
use crate::event::format::Format;
use crate::event::{parse_body, Event, EventData};
use crate::event_type::EventType;
use crate::header::{verify_crc32, ChecksumAlg, EventHeader, CHECKSUM_LEN, HEADER_LEN_V1};
use crate::reader::Reader;
use crate::rows::RowsEvent;
use crate::table_map::TableMap;

/// Table maps kept across statements before the cache is trimmed at a statement end.
const TABLE_CACHE_SOFT_LIMIT: usize = 4096;

/// The parser state shared by the file reader and the network stream.
#[derive(Debug, Clone)]
pub struct Parser {
    format: Format,
    checksum: ChecksumAlg,
    seen_format: bool,
    tables: HashMap<u64, Arc<TableMap>>,
    limits: Limits,
    encrypted: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// A parser for a binlog or relay-log file: the format and checksum come from its first event.
    pub fn new() -> Parser {
        Parser {
            format: Format::default(),
            checksum: ChecksumAlg::Off,
            seen_format: false,
            tables: HashMap::new(),
            limits: Limits::default(),
            encrypted: false,
        }
    }

    /// A parser for a replication stream whose checksum algorithm was negotiated before the first
    /// event (the artificial ROTATE that precedes the FORMAT_DESCRIPTION already carries it).
    pub fn with_checksum(checksum: ChecksumAlg) -> Parser {
        Parser { checksum, ..Parser::new() }
    }

    /// Replaces the size limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Parser {
        self.limits = limits;
        self
    }

    /// The size limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The stream format (binlog version, header length, server version).
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The checksum algorithm of the following events.
    pub fn checksum(&self) -> ChecksumAlg {
        self.checksum
    }

    /// The cached table map for `table_id`.
    pub fn table(&self, table_id: u64) -> Option<&Arc<TableMap>> {
        self.tables.get(&table_id)
    }

    /// The table map a rows event refers to, or `MissingTableMap`.
    pub fn table_for(&self, rows: &RowsEvent<'_>) -> Result<&Arc<TableMap>> {
        self.tables.get(&rows.table_id).ok_or(ParseError::new(ErrorKind::MissingTableMap(rows.table_id)))
    }

    /// Forgets every table map (e.g. when a stream restarts at another position).
    pub fn clear_tables(&mut self) {
        self.tables.clear();
    }

    fn header_len_for(&self, buf: &[u8]) -> usize {
        if self.seen_format {
            return self.format.header_len;
        }
        // A binlog v1 (MySQL 3.23) starts with a START_EVENT_V3 of 13 + 56 bytes.
        let mut r = Reader::new(buf);
        let is_v1_start = r.skip(4).and_then(|_| r.u8()) == Some(EventType::StartV3.code())
            && r.skip(4).and_then(|_| r.u32_le()) == Some((HEADER_LEN_V1 + 56) as u32);
        if is_v1_start {
            HEADER_LEN_V1
        } else {
            self.format.header_len
        }
    }

    /// The length of the event at the start of `buf`: `Partial(n)` when fewer than `n` bytes are
    /// there, `Complete(len)` otherwise. Fails on impossible lengths.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Status<usize>> {
        if self.encrypted {
            // Every header after START_ENCRYPTION is ciphertext: its length means nothing.
            return Err(ParseError::new(ErrorKind::Encrypted));
        }
        let header_len = self.header_len_for(buf);
        if buf.len() < HEADER_LEN_V1 {
            return Ok(Status::Partial(HEADER_LEN_V1));
        }
        let mut r = Reader::new(buf);
        r.skip(9).ok_or(truncated("event header"))?;
        let len = r.u32_le().ok_or(truncated("event header"))? as usize;
        if len < header_len {
            return Err(invalid("event length (shorter than its header)"));
        }
        if len > self.limits.max_event_size {
            return Err(ParseError::new(ErrorKind::TooLarge { size: len as u64, limit: self.limits.max_event_size as u64 }));
        }
        Ok(if buf.len() < len { Status::Partial(len) } else { Status::Complete(len) })
    }

    /// Parses the event at the start of `buf`: `Complete((event, bytes used))`, or `Partial(n)`
    /// when the buffer holds fewer than the `n` bytes the event needs.
    pub fn parse<'a>(&mut self, buf: &'a [u8]) -> Result<Status<(Event<'a>, usize)>> {
        match self.frame_len(buf)? {
            Status::Partial(n) => Ok(Status::Partial(n)),
            Status::Complete(len) => {
                let frame = buf.get(..len).ok_or(truncated("event"))?;
                Ok(Status::Complete((self.parse_frame(frame)?, len)))
            }
        }
    }

    /// Parses exactly one event frame (a replication packet without its leading OK byte).
    pub fn parse_frame<'a>(&mut self, frame: &'a [u8]) -> Result<Event<'a>> {
        self.parse_frame_with(frame, false)
    }

    /// Parses one event of a decompressed TRANSACTION_PAYLOAD (inner events carry no checksum).
    pub fn parse_inner<'a>(&mut self, buf: &'a [u8]) -> Result<Status<(Event<'a>, usize)>> {
        match self.frame_len(buf)? {
            Status::Partial(_) => Err(truncated("event inside transaction payload")),
            Status::Complete(len) => {
                let frame = buf.get(..len).ok_or(truncated("event"))?;
                let ev = self.parse_frame_with(frame, true)?;
                if ev.event_type() == EventType::TransactionPayload {
                    return Err(invalid("nested transaction payload"));
                }
                Ok(Status::Complete((ev, len)))
            }
        }
    }

    fn parse_frame_with<'a>(&mut self, frame: &'a [u8], inner: bool) -> Result<Event<'a>> {
        let header_len = self.header_len_for(frame);
        let header = EventHeader::parse(frame, header_len)?;
        let t = EventType::from_code(header.type_code);
        let tag = |e: ParseError| e.in_event(header.type_code);
        if header.event_len as usize != frame.len() {
            return Err(tag(invalid("event length (differs from the frame)")));
        }
        if self.encrypted {
            // The header is ciphertext too: its type code means nothing.
            return Err(ParseError::new(ErrorKind::Encrypted));
        }
        let body_end = match t {
            EventType::FormatDescription => self.check_fde_checksum(frame).map_err(tag)?,
            _ if !inner && self.checksum == ChecksumAlg::Crc32 => {
                if frame.len() < header_len + CHECKSUM_LEN {
                    return Err(tag(truncated("checksum")));
                }
                verify_crc32(frame, false).map_err(tag)?;
                frame.len() - CHECKSUM_LEN
            }
            _ => frame.len(),
        };
        let body = frame.get(header_len..body_end).ok_or(tag(truncated("event body")))?;
        let data = match t {
            EventType::TableMap => EventData::TableMap(self.cached_table_map(body).map_err(tag)?),
            _ => parse_body(t, frame, body, &self.format, &self.limits).map_err(tag)?,
        };
        self.update_state(&header, &data);
        Ok(Event { header, data })
    }

    /// The body of an already verified frame (header and checksum footer stripped).
    pub(crate) fn body_of<'a>(&self, frame: &'a [u8]) -> Result<&'a [u8]> {
        let end = match self.checksum {
            ChecksumAlg::Crc32 => frame.len().checked_sub(CHECKSUM_LEN).ok_or(truncated("checksum"))?,
            ChecksumAlg::Off => frame.len(),
        };
        frame.get(self.format.header_len..end).ok_or(truncated("event body"))
    }

    /// Verifies an FDE's own checksum and returns where its body ends.
    fn check_fde_checksum(&self, frame: &[u8]) -> Result<usize> {
        let fde = crate::event::format::FormatDescription::parse(frame)?;
        match fde.checksum_raw {
            None => Ok(frame.len()),
            Some(alg) => {
                if alg == 1 {
                    verify_crc32(frame, true)?;
                }
                Ok(frame.len().saturating_sub(CHECKSUM_LEN))
            }
        }
    }

    fn cached_table_map(&mut self, body: &[u8]) -> Result<Arc<TableMap>> {
        let post_len = self.format.post_header_len(EventType::TableMap);
        let mut r = Reader::new(body);
        let id = if post_len == 6 { r.u32_le().map(u64::from) } else { r.u48_le() };
        if let Some(cached) = id.and_then(|id| self.tables.get(&id)) {
            if cached.same_body(body) {
                return Ok(Arc::clone(cached));
            }
        }
        let tm = Arc::new(TableMap::parse(body, post_len)?);
        self.tables.insert(tm.table_id, Arc::clone(&tm));
        Ok(tm)
    }

    fn update_state(&mut self, header: &EventHeader, data: &EventData<'_>) {
        match data {
            EventData::FormatDescription(fde) => {
                self.format = Format::from_fde(fde);
                if header.type_code == EventType::FormatDescription.code() {
                    self.checksum = fde.checksum.unwrap_or(ChecksumAlg::Off);
                } else {
                    // v1/v3 binlogs predate checksums.
                    self.checksum = ChecksumAlg::Off;
                }
                self.seen_format = true;
            }
            EventData::Rotate(_) if !header.is_artificial() => self.tables.clear(),
            EventData::Rows(rows) if rows.is_statement_end() && self.tables.len() > TABLE_CACHE_SOFT_LIMIT => {
                self.tables.clear()
            }
            EventData::StartEncryption(_) => self.encrypted = true,
            _ => {}
        }
    }
}
