//! FORMAT_DESCRIPTION_EVENT (binlog v4) and START_EVENT_V3 (v1/v3): how the rest of the stream is
//! encoded — common header length, per-type post-header lengths, checksum algorithm.
//!
//! Invariants: the checksum algorithm is read from the FDE itself (servers that know checksums —
//! MySQL 5.6.1+, MariaDB 5.3+ — always append an algorithm byte and a CRC to their FDE, whatever
//! `binlog_checksum` says); post-header lengths missing from a short FDE fall back to the v4
//! defaults, so an FDE never makes a later lookup fail.

use crate::error::{invalid, Result};
use crate::header::{ChecksumAlg, CHECKSUM_LEN, HEADER_LEN, HEADER_LEN_V1};
use crate::reader::{OrTruncated, Reader};
use crate::EventType;

/// Length of the server version field.
const SERVER_VERSION_LEN: usize = 50;
/// binlog version (2) + server version (50) + create timestamp (4).
const START_V3_LEN: usize = 2 + SERVER_VERSION_LEN + 4;

/// The server version string of an FDE, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerVersion {
    /// Major version (5, 8, 10, 11...).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
    /// True for MariaDB servers.
    pub mariadb: bool,
}

impl ServerVersion {
    /// Parses a version string such as `8.0.36-log` or `10.11.6-MariaDB-log`.
    pub fn parse(s: &[u8]) -> ServerVersion {
        let mut nums = [0u16; 3];
        let mut idx = 0;
        let mut seen_digit = false;
        for &b in s {
            match b {
                b'0'..=b'9' => {
                    if let Some(n) = nums.get_mut(idx) {
                        *n = n.saturating_mul(10).saturating_add(u16::from(b - b'0'));
                    }
                    seen_digit = true;
                }
                b'.' if seen_digit && idx < 2 => {
                    idx += 1;
                    seen_digit = false;
                }
                _ => break,
            }
        }
        let mariadb = s.windows(7).any(|w| w.eq_ignore_ascii_case(b"mariadb"));
        let [major, minor, patch] = nums;
        // MariaDB 10+ may present itself as "5.5.5-10.x.y-MariaDB" for old clients.
        if mariadb && (major, minor, patch) == (5, 5, 5) {
            if let Some(rest) = s.get(6..) {
                let real = ServerVersion::parse(rest);
                if real.major >= 10 {
                    return ServerVersion { mariadb: true, ..real };
                }
            }
        }
        ServerVersion { major, minor, patch, mariadb }
    }

    /// Servers from which on every FDE carries a checksum algorithm byte and a CRC.
    pub fn checksum_aware(&self) -> bool {
        let v = (self.major, self.minor, self.patch);
        if self.mariadb {
            v >= (5, 3, 0)
        } else {
            v >= (5, 6, 1)
        }
    }
}

/// A decoded FORMAT_DESCRIPTION_EVENT or START_EVENT_V3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription<'a> {
    /// 1, 3 or 4.
    pub binlog_version: u16,
    /// The server version string, NUL padding removed.
    pub server_version: &'a [u8],
    /// When the binlog was created (0 for FDEs after the first).
    pub create_timestamp: u32,
    /// Common header length of the following events.
    pub header_len: u8,
    /// Post-header length per event type (`post_header_lens[type - 1]`).
    pub post_header_lens: &'a [u8],
    /// The checksum algorithm of the following events; `None` for servers that predate checksums.
    pub checksum: Option<ChecksumAlg>,
    /// The raw algorithm byte (0 off, 1 crc32, 255 undefined).
    pub checksum_raw: Option<u8>,
}

impl<'a> FormatDescription<'a> {
    /// Parses an FDE body (`frame` is the whole event including header and footer).
    pub(crate) fn parse(frame: &'a [u8]) -> Result<FormatDescription<'a>> {
        let body = frame.get(HEADER_LEN..).or_trunc("format description")?;
        let mut r = Reader::new(body);
        let binlog_version = r.u16_le().or_trunc("format description")?;
        let server_version = trim_nul(r.take(SERVER_VERSION_LEN).or_trunc("server version")?);
        let create_timestamp = r.u32_le().or_trunc("format description")?;
        let header_len = r.u8().or_trunc("format description")?;
        if usize::from(header_len) < HEADER_LEN {
            return Err(invalid("format description header length"));
        }
        let rest = r.rest();
        let (post_header_lens, checksum_raw) = if ServerVersion::parse(server_version).checksum_aware() {
            let split = rest.len().checked_sub(1 + CHECKSUM_LEN).or_trunc("format description checksum")?;
            let (lens, tail) = rest.split_at(split);
            (lens, tail.first().copied())
        } else {
            (rest, None)
        };
        let checksum = match checksum_raw {
            Some(1) => Some(ChecksumAlg::Crc32),
            Some(0) | Some(255) => Some(ChecksumAlg::Off),
            Some(_) => return Err(invalid("checksum algorithm")),
            None => None,
        };
        Ok(FormatDescription {
            binlog_version,
            server_version,
            create_timestamp,
            header_len,
            post_header_lens,
            checksum,
            checksum_raw,
        })
    }

    /// Parses a START_EVENT_V3 (binlog v1 and v3); `header_len` is 13 (v1) or 19 (v3).
    pub(crate) fn parse_start_v3(frame: &'a [u8], header_len: usize) -> Result<FormatDescription<'a>> {
        let body = frame.get(header_len..).or_trunc("start event")?;
        let mut r = Reader::new(body);
        let binlog_version = r.u16_le().or_trunc("start event")?;
        let server_version = trim_nul(r.take(SERVER_VERSION_LEN).or_trunc("server version")?);
        let create_timestamp = r.u32_le().or_trunc("start event")?;
        Ok(FormatDescription {
            binlog_version,
            server_version,
            create_timestamp,
            header_len: if header_len == HEADER_LEN_V1 { HEADER_LEN_V1 as u8 } else { HEADER_LEN as u8 },
            post_header_lens: &[],
            checksum: None,
            checksum_raw: None,
        })
    }

    /// The parsed server version.
    pub fn version(&self) -> ServerVersion {
        ServerVersion::parse(self.server_version)
    }
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..end).unwrap_or(b)
}

/// The owned part of an FDE that the parser keeps for the rest of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// 1, 3 or 4.
    pub binlog_version: u16,
    /// Common header length (13 or 19).
    pub header_len: usize,
    /// The server that wrote the stream.
    pub server: ServerVersion,
    post_header_lens: Vec<u8>,
}

impl Default for Format {
    fn default() -> Self {
        Format { binlog_version: 4, header_len: HEADER_LEN, server: ServerVersion::default(), post_header_lens: Vec::new() }
    }
}

impl Format {
    /// The format an FDE describes.
    pub fn from_fde(fde: &FormatDescription<'_>) -> Format {
        Format {
            binlog_version: fde.binlog_version,
            header_len: usize::from(fde.header_len),
            server: fde.version(),
            post_header_lens: if fde.binlog_version >= 4 { fde.post_header_lens.to_vec() } else { Vec::new() },
        }
    }

    /// Post-header length of `t` in this stream.
    pub fn post_header_len(&self, t: EventType) -> usize {
        if self.binlog_version < 4 {
            return old_post_header_len(t, self.binlog_version);
        }
        let code = usize::from(t.code());
        match code.checked_sub(1).and_then(|i| self.post_header_lens.get(i)) {
            Some(&n) => usize::from(n),
            None => default_post_header_len(t),
        }
    }
}

/// Post-header lengths of binlog v1 and v3 (fixed by the format, no FDE).
fn old_post_header_len(t: EventType, binlog_version: u16) -> usize {
    use EventType::*;
    match t {
        StartV3 => START_V3_LEN,
        Query => 11,
        Rotate if binlog_version == 1 => 0,
        Rotate => 8,
        Load | NewLoad => 18,
        CreateFile | AppendBlock | ExecLoad | DeleteFile => 4,
        _ => 0,
    }
}

/// Post-header lengths of a current v4 server, used before the FDE or beyond its table.
pub(crate) fn default_post_header_len(t: EventType) -> usize {
    use EventType::*;
    match t {
        StartV3 => START_V3_LEN,
        Query | QueryCompressed => 13,
        Rotate => 8,
        Load | NewLoad => 18,
        CreateFile | AppendBlock | ExecLoad | DeleteFile | BeginLoadQuery => 4,
        ExecuteLoadQuery => 26,
        FormatDescription => START_V3_LEN + 1,
        TableMap => 8,
        PreGaWriteRows | PreGaUpdateRows | PreGaDeleteRows => 6,
        WriteRowsV1 | UpdateRowsV1 | DeleteRowsV1 => 8,
        WriteRowsCompressedV1 | UpdateRowsCompressedV1 | DeleteRowsCompressedV1 => 8,
        WriteRows | UpdateRows | DeleteRows | PartialUpdateRows => 10,
        WriteRowsCompressed | UpdateRowsCompressed | DeleteRowsCompressed => 10,
        Incident => 2,
        Gtid | AnonymousGtid | GtidTagged => 42,
        TransactionContext => 18,
        ViewChange => 52,
        BinlogCheckpoint | GtidList => 4,
        MariadbGtid => 19,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let v = ServerVersion::parse(b"8.0.36-log");
        assert_eq!((v.major, v.minor, v.patch, v.mariadb), (8, 0, 36, false));
        assert!(v.checksum_aware());
        let m = ServerVersion::parse(b"10.11.6-MariaDB-1-log");
        assert_eq!((m.major, m.minor, m.patch, m.mariadb), (10, 11, 6, true));
        assert!(ServerVersion::parse(b"5.5.40-MariaDB-log").checksum_aware());
        assert!(!ServerVersion::parse(b"5.5.40-log").checksum_aware());
        assert!(!ServerVersion::parse(b"5.6.0-m4").checksum_aware());
        let hidden = ServerVersion::parse(b"5.5.5-10.6.12-MariaDB");
        assert_eq!((hidden.major, hidden.minor), (10, 6));
    }
}
