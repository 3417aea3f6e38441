//! The replication connection: register as a replica, request the binlog from a file position or
//! a GTID state, and hand out each event as the exact bytes the server sent (for otter-binlog to
//! verify and decode).
//!
//! The driver (mysql_async) delivers events split into header, data and checksum; they are joined
//! back into the original frame so that otter's parser checks the CRC and owns all decoding.
//! Invariants: every frame returned is byte-identical to what the server wrote; the events the
//! driver expands out of a TRANSACTION_PAYLOAD are dropped (otter expands payloads itself) only
//! after checking they are exactly the payload's inner events; the artificial ROTATE that starts a
//! dump has its optional checksum removed, because it arrives before the FORMAT_DESCRIPTION that
//! says whether checksums are on.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use mysql_common::packets::{GnoInterval, Sid, Tag};
use mysql_common::proto::MySerialize;
use otter_binlog::event::payload::PayloadEvent;
use otter_binlog::{EventType, Limits, Parser, Status};

use crate::mysql::conn::{codes, server_code, translate, ConnectOptions, ServerInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::position::{BinlogCoord, GtidSet, MariadbGtidPos};
use crate::schema::Flavor;

/// Where a dump starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// At a file position.
    Coord(BinlogCoord),
    /// After a MariaDB GTID position (`@slave_connect_state`).
    MariadbGtid(MariadbGtidPos),
    /// After a MySQL GTID set (`COM_BINLOG_DUMP_GTID`).
    MysqlGtid(GtidSet),
}

/// One event from the server.
#[derive(Debug)]
pub struct RawEvent {
    /// The event bytes (header, body, checksum).
    pub frame: Vec<u8>,
    /// The decompressed inner events of a TRANSACTION_PAYLOAD event.
    pub payload: Option<Vec<u8>>,
}

/// An open binlog dump.
pub struct BinlogConn {
    stream: BinlogStream,
    server_id: u32,
    /// Header bytes of payload inner events the driver will deliver and otter must drop.
    expect_inner: VecDeque<Vec<u8>>,
    seen_format: bool,
    limits: Limits,
}

const MARIA_SLAVE_CAPABILITY_GTID: u32 = 4;

impl BinlogConn {
    /// Connects, registers as replica `server_id` and starts the dump at `start`. With an
    /// `identity` (the capturing instance's), the server id is claimed first
    /// ([`super::replica_lock`]): a server id another otter streams with is an error, not a
    /// silent takeover of its stream.
    pub async fn open(
        opts: &ConnectOptions,
        server: &ServerInfo,
        server_id: u32,
        identity: Option<&str>,
        start: &StreamStart,
        heartbeat: Duration,
    ) -> Result<BinlogConn> {
        let mut conn = opts.connect().await?;
        if let Some(identity) = identity {
            super::replica_lock::claim(&mut conn, server_id, identity).await?;
        }
        let nanos = heartbeat.as_nanos().clamp(1_000_000, 4_294_967 * 1_000_000_000);
        let mut setup = vec![format!("SET @master_heartbeat_period = {nanos}")];
        if server.flavor == Flavor::MariaDb {
            setup.push(format!("SET @mariadb_slave_capability = {MARIA_SLAVE_CAPABILITY_GTID}"));
            if let StreamStart::MariadbGtid(pos) = start {
                setup.push(format!("SET @slave_connect_state = '{pos}'"));
                setup.push("SET @slave_gtid_strict_mode = 1".into());
                setup.push("SET @slave_gtid_ignore_duplicates = 0".into());
            }
        }
        for sql in setup {
            conn.query_drop(sql).await.map_err(|e| translate(e, "setting up the replication session"))?;
        }
        let file_bytes;
        let mut request = BinlogStreamRequest::new(server_id);
        match start {
            StreamStart::Coord(c) => {
                file_bytes = c.file.clone().into_bytes();
                request = request.with_filename(&file_bytes).with_pos(c.offset);
            }
            StreamStart::MariadbGtid(_) => {
                request = request.with_filename(b"").with_pos(4);
            }
            StreamStart::MysqlGtid(set) => {
                request = request.with_gtid().with_gtid_set(sids(set)?);
            }
        }
        let stream = conn.get_binlog_stream(request).await.map_err(|e| dump_error(e, start, server_id))?;
        Ok(BinlogConn { stream, server_id, expect_inner: VecDeque::new(), seen_format: false, limits: Limits::default() })
    }

    /// The next event; `Ok(None)` when the server ended the dump (shutdown, or the session was
    /// killed cleanly).
    pub async fn next(&mut self, start: &StreamStart) -> Result<Option<RawEvent>> {
        loop {
            let Some(item) = self.stream.next().await else { return Ok(None) };
            let event = item.map_err(|e| dump_error(e, start, self.server_id))?;
            let mut frame = Vec::with_capacity(event.header().event_size() as usize);
            event.header().serialize(&mut frame);
            frame.extend_from_slice(event.data());
            let is_fde = event.header().event_type_raw() == EventType::FormatDescription.code();
            if is_fde {
                if let Ok(Some(alg)) = event.footer().get_checksum_alg() {
                    frame.push(alg as u8);
                }
                self.seen_format = true;
            }
            if let Some(crc) = event.checksum() {
                frame.extend_from_slice(&crc);
            }
            if let Some(expected) = self.expect_inner.pop_front() {
                if frame.get(..19) == Some(&expected[..]) {
                    continue;
                }
                return Err(Error::new(
                    ErrorKind::Parse,
                    "the driver delivered an event that is not the expected part of a transaction payload",
                ));
            }
            if frame.len() != event.header().event_size() as usize {
                return Err(Error::new(
                    ErrorKind::Parse,
                    format!(
                        "rebuilt event has {} bytes, its header says {}",
                        frame.len(),
                        event.header().event_size()
                    ),
                ));
            }
            if !self.seen_format && event.header().event_type_raw() == EventType::Rotate.code() {
                strip_checksum(&mut frame);
            }
            let payload = if event.header().event_type_raw() == EventType::TransactionPayload.code() {
                Some(self.expand_payload(&frame)?)
            } else {
                None
            };
            return Ok(Some(RawEvent { frame, payload }));
        }
    }

    /// Decompresses a payload event and remembers its inner events' headers, which the driver
    /// is about to deliver separately.
    fn expand_payload(&mut self, frame: &[u8]) -> Result<Vec<u8>> {
        // Parse the payload body with a throwaway parser: header 19 bytes, CRC trailing if any.
        let body_end = frame.len().saturating_sub(4);
        let candidates = [frame.get(19..body_end), frame.get(19..)];
        let mut last_err = None;
        for body in candidates.into_iter().flatten() {
            match PayloadEvent::parse(body).and_then(|p| p.decompress(&self.limits)) {
                Ok(inner) => {
                    let p = Parser::new();
                    let mut rest = &inner[..];
                    while !rest.is_empty() {
                        match p.frame_len(rest)? {
                            Status::Complete(len) => {
                                self.expect_inner.push_back(rest.get(..19).unwrap_or(rest).to_vec());
                                rest = rest.get(len..).unwrap_or(&[]);
                            }
                            Status::Partial(_) => break,
                        }
                    }
                    return Ok(inner);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.map(Error::from).unwrap_or_else(|| Error::new(ErrorKind::Parse, "empty transaction payload")))
    }
}

/// Removes a trailing CRC32 from an event when it matches the bytes before it, fixing the length.
fn strip_checksum(frame: &mut Vec<u8>) {
    let n = frame.len();
    if n < 19 + 4 {
        return;
    }
    let (data, crc) = frame.split_at(n - 4);
    let Ok(crc) = <[u8; 4]>::try_from(crc) else { return };
    if crc32fast_hash(data) == u32::from_le_bytes(crc) {
        frame.truncate(n - 4);
        if let Some(len_field) = frame.get_mut(9..13) {
            len_field.copy_from_slice(&((n - 4) as u32).to_le_bytes());
        }
    }
}

fn crc32fast_hash(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h.finalize()
}

fn sids(set: &GtidSet) -> Result<Vec<Sid<'static>>> {
    set.iter()
        .map(|(tsid, ranges)| {
            let mut sid = Sid::new(tsid.uuid.0)
                .with_intervals(ranges.iter().map(|&(s, e)| GnoInterval::new(s, e.saturating_add(1))).collect());
            if !tsid.tag.is_empty() {
                let tag = Tag::new(tsid.tag.clone()).map_err(|_| Error::config(format!("invalid GTID tag {}", tsid.tag)))?;
                sid = sid.with_tag(tag);
            }
            Ok(sid)
        })
        .collect()
}

/// ER_SLAVE_SAME_ID: another replica registered with our server id and the server ended our dump.
const SAME_SERVER_ID: u16 = 4052;

/// Translates a dump failure into an error that names the start position and what to do.
fn dump_error(e: mysql_async::Error, start: &StreamStart, server_id: u32) -> Error {
    let msg = match &e {
        mysql_async::Error::Server(s) => s.message.clone(),
        _ => String::new(),
    };
    let lower = msg.to_ascii_lowercase();
    let same_id = lower.contains("same server_uuid") || lower.contains("same server_id") || lower.contains("same server id");
    if server_code(&e) == Some(SAME_SERVER_ID) || (server_code(&e) == Some(codes::FATAL_READING_BINLOG) && same_id) {
        return Error::new(
            ErrorKind::ServerIdConflict,
            format!(
                "server id {server_id} is already streaming from this server: another otter, or a replica with the same id, \
                 connected with it and the server ended this stream ({msg}); set a distinct server_id"
            ),
        );
    }
    if server_code(&e) == Some(codes::FATAL_READING_BINLOG) {
        if lower.contains("purged") || lower.contains("could not find first log file") || lower.contains("could not find gtid") || lower.contains("is missing the gtid") {
            return Error::new(
                ErrorKind::PositionPurged,
                format!(
                    "the source no longer has the binlog at {} ({msg}); start from an available position \
                     (otter check shows the earliest) and resync the tables if data was missed",
                    describe(start)
                ),
            );
        }
        if lower.contains("binary log is not open") || lower.contains("binlog is not open") {
            return Error::new(ErrorKind::Preflight, format!("binary logging is off on the source ({msg}): start it with --log-bin"));
        }
        return Error::new(ErrorKind::Server, format!("the source refused the binlog dump from {}: {msg}", describe(start)));
    }
    let err = translate(e, "binlog dump");
    if err.kind() == ErrorKind::Privilege || err.kind() == ErrorKind::Auth {
        return err.context("the replication account needs REPLICATION SLAVE (and BINLOG MONITOR on MariaDB 10.5+)");
    }
    err
}

fn describe(start: &StreamStart) -> String {
    match start {
        StreamStart::Coord(c) => c.to_string(),
        StreamStart::MariadbGtid(p) => format!("GTID {p}"),
        StreamStart::MysqlGtid(s) => format!("GTID set {s}"),
    }
}

