//! MySQL GTID events: GTID_LOG_EVENT, ANONYMOUS_GTID_LOG_EVENT, GTID_TAGGED_LOG_EVENT (MySQL
//! 8.4+, encoded with MySQL's serialization framework) and PREVIOUS_GTIDS_LOG_EVENT.
//!
//! Invariant: optional trailing fields (logical clock, commit timestamps, transaction length,
//! server versions, commit group ticket) are read only when present; an event from an older server
//! simply leaves them `None`. Unknown trailing fields of a tagged event are ignored, as the format
//! allows.

use std::fmt;

use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// A server UUID (the source id of MySQL GTIDs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Uuid {
    fn read(r: &mut Reader<'_>) -> Result<Uuid> {
        let b = r.take(16).or_trunc("uuid")?;
        let mut u = [0u8; 16];
        u.copy_from_slice(b);
        Ok(Uuid(u))
    }
}

/// GTID_LOG_EVENT / ANONYMOUS_GTID_LOG_EVENT / GTID_TAGGED_LOG_EVENT: the start of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtidEvent<'a> {
    /// `gtid_flags` (bit 0: may have statement-based events).
    pub flags: u8,
    /// Source UUID (all zero for anonymous transactions).
    pub uuid: Uuid,
    /// Transaction number within the source (0 for anonymous).
    pub gno: u64,
    /// The GTID tag (MySQL 8.4+ tagged GTIDs), if any.
    pub tag: Option<&'a [u8]>,
    /// Logical clock: the last transaction this one may run in parallel with.
    pub last_committed: Option<i64>,
    /// Logical clock: this transaction's sequence number.
    pub sequence_number: Option<i64>,
    /// Commit time on the immediate source, microseconds since the epoch.
    pub immediate_commit_timestamp: Option<u64>,
    /// Commit time on the original source, microseconds since the epoch.
    pub original_commit_timestamp: Option<u64>,
    /// Length of the whole transaction in the binlog.
    pub transaction_length: Option<u64>,
    /// Version of the immediate source (e.g. 80036).
    pub immediate_server_version: Option<u32>,
    /// Version of the original source.
    pub original_server_version: Option<u32>,
    /// Group replication commit ticket.
    pub commit_group_ticket: Option<u64>,
}

const TIMESTAMP_FLAG: u64 = 1 << 55;
const SERVER_VERSION_FLAG: u32 = 1 << 31;

impl<'a> GtidEvent<'a> {
    /// Parses GTID_LOG_EVENT and ANONYMOUS_GTID_LOG_EVENT bodies.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let flags = r.u8().or_trunc("gtid flags")?;
        let uuid = Uuid::read(&mut r)?;
        let gno = r.u64_le().or_trunc("gtid gno")?;
        let mut ev = GtidEvent {
            flags,
            uuid,
            gno,
            tag: None,
            last_committed: None,
            sequence_number: None,
            immediate_commit_timestamp: None,
            original_commit_timestamp: None,
            transaction_length: None,
            immediate_server_version: None,
            original_server_version: None,
            commit_group_ticket: None,
        };
        // Logical clock (5.7+): type code 2, then two 8-byte numbers.
        if r.peek() == Some(2) && r.len() >= 17 {
            r.skip(1).or_trunc("gtid logical clock")?;
            ev.last_committed = Some(r.i64_le().or_trunc("last_committed")?);
            ev.sequence_number = Some(r.i64_le().or_trunc("sequence_number")?);
        } else {
            return Ok(ev);
        }
        if r.len() >= 7 {
            let ts = r.uint_le(7).or_trunc("commit timestamp")?;
            ev.immediate_commit_timestamp = Some(ts & !TIMESTAMP_FLAG);
            ev.original_commit_timestamp = if ts & TIMESTAMP_FLAG != 0 {
                Some(r.uint_le(7).or_trunc("original commit timestamp")?)
            } else {
                ev.immediate_commit_timestamp
            };
        }
        if !r.is_empty() {
            ev.transaction_length = Some(r.packed().or_trunc("transaction length")?);
        }
        if r.len() >= 4 {
            let v = r.u32_le().or_trunc("server version")?;
            ev.immediate_server_version = Some(v & !SERVER_VERSION_FLAG);
            ev.original_server_version = if v & SERVER_VERSION_FLAG != 0 {
                Some(r.u32_le().or_trunc("original server version")?)
            } else {
                ev.immediate_server_version
            };
        }
        if r.len() >= 8 {
            ev.commit_group_ticket = Some(r.u64_le().or_trunc("commit group ticket")?);
        }
        Ok(ev)
    }

    /// Parses a GTID_TAGGED_LOG_EVENT body (MySQL serialization framework, format version 1).
    pub(crate) fn parse_tagged(body: &'a [u8]) -> Result<Self> {
        let mut outer = Reader::new(body);
        let _version = varlen(&mut outer)?;
        let size = usize::try_from(varlen(&mut outer)?).map_err(|_| invalid("tagged gtid size"))?;
        // The size counts the whole message, including the two fields just read.
        let consumed = body.len().checked_sub(outer.len()).ok_or(invalid("tagged gtid size"))?;
        let inner_len = size.checked_sub(consumed).ok_or(invalid("tagged gtid size"))?;
        let mut r = outer.sub(inner_len).or_trunc("tagged gtid")?;
        let _last_non_ignorable = varlen(&mut r)?;
        let mut ev = GtidEvent::parse_untagged_defaults();
        let mut next_id = 0u64;
        while !r.is_empty() {
            let id = varlen(&mut r)?;
            if id < next_id {
                return Err(invalid("tagged gtid field order"));
            }
            next_id = id.saturating_add(1);
            match id {
                0 => ev.flags = u8::try_from(varlen(&mut r)?).map_err(|_| invalid("gtid flags"))?,
                1 => {
                    let mut u = [0u8; 16];
                    for b in &mut u {
                        *b = u8::try_from(varlen(&mut r)?).map_err(|_| invalid("uuid byte"))?;
                    }
                    ev.uuid = Uuid(u);
                }
                2 => ev.gno = varlen(&mut r)?,
                3 => {
                    let n = usize::try_from(varlen(&mut r)?).map_err(|_| invalid("gtid tag"))?;
                    let tag = r.take(n).or_trunc("gtid tag")?;
                    ev.tag = if tag.is_empty() { None } else { Some(tag) };
                }
                4 => ev.last_committed = Some(varlen_signed(&mut r)?),
                5 => ev.sequence_number = Some(varlen_signed(&mut r)?),
                6 => ev.immediate_commit_timestamp = Some(varlen(&mut r)?),
                7 => ev.original_commit_timestamp = Some(varlen(&mut r)?),
                8 => ev.transaction_length = Some(varlen(&mut r)?),
                9 => ev.immediate_server_version = Some(u32::try_from(varlen(&mut r)?).map_err(|_| invalid("server version"))?),
                10 => ev.original_server_version = Some(u32::try_from(varlen(&mut r)?).map_err(|_| invalid("server version"))?),
                11 => ev.commit_group_ticket = Some(varlen(&mut r)?),
                // A field from a newer server: its encoding is unknown, and the format promises it
                // is ignorable, so stop here.
                _ => break,
            }
        }
        if ev.original_commit_timestamp.is_none() {
            ev.original_commit_timestamp = ev.immediate_commit_timestamp;
        }
        if ev.original_server_version.is_none() {
            ev.original_server_version = ev.immediate_server_version;
        }
        Ok(ev)
    }

    fn parse_untagged_defaults() -> Self {
        GtidEvent {
            flags: 0,
            uuid: Uuid::default(),
            gno: 0,
            tag: None,
            last_committed: None,
            sequence_number: None,
            immediate_commit_timestamp: None,
            original_commit_timestamp: None,
            transaction_length: None,
            immediate_server_version: None,
            original_server_version: None,
            commit_group_ticket: None,
        }
    }

    /// True for ANONYMOUS_GTID events (GTID mode off).
    pub fn is_anonymous(&self) -> bool {
        self.uuid == Uuid::default() && self.gno == 0
    }
}

/// Reads an unsigned variable-length integer of MySQL's serialization framework: the number of
/// trailing one bits of the first byte, plus one, is the byte count (1–9), little-endian.
pub(crate) fn varlen(r: &mut Reader<'_>) -> Result<u64> {
    let first = r.peek().or_trunc("varlen integer")?;
    let n = (first.trailing_ones() as usize).saturating_add(1);
    let bytes = r.take(n).or_trunc("varlen integer")?;
    let (_, rest) = bytes.split_first().or_trunc("varlen integer")?;
    if n == 1 {
        return Ok(u64::from(first >> 1));
    }
    let mut tail = 0u64;
    for (i, b) in rest.iter().enumerate() {
        tail |= u64::from(*b) << (8 * i);
    }
    if n == 9 {
        // All 8 following bytes hold the value; the first byte holds only the length.
        return Ok(tail);
    }
    let low = u64::from(first).checked_shr(n as u32).unwrap_or(0);
    let high = tail.checked_shl(8u32.saturating_sub(n as u32)).ok_or(invalid("varlen integer"))?;
    Ok(low | high)
}

/// Reads a signed variable-length integer (zig-zag: the low bit is the sign).
pub(crate) fn varlen_signed(r: &mut Reader<'_>) -> Result<i64> {
    let u = varlen(r)?;
    let magnitude = (u >> 1) as i64;
    Ok(if u & 1 == 1 { !magnitude } else { magnitude })
}

/// One source's executed intervals in a PREVIOUS_GTIDS event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtidSetEntry<'a> {
    /// The source UUID.
    pub uuid: Uuid,
    /// The tag (tagged format only).
    pub tag: Option<&'a [u8]>,
    intervals: &'a [u8],
}

impl<'a> GtidSetEntry<'a> {
    /// The intervals `[start, end)` (end exclusive, as stored).
    pub fn intervals(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.intervals.chunks_exact(16).map(|c| {
            let mut r = Reader::new(c);
            (r.u64_le().unwrap_or(0), r.u64_le().unwrap_or(0))
        })
    }
}

/// PREVIOUS_GTIDS_LOG_EVENT: the GTID set executed before this binlog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousGtidsEvent<'a> {
    /// One entry per source (and tag).
    pub entries: Vec<GtidSetEntry<'a>>,
}

impl<'a> PreviousGtidsEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let head = r.take(8).or_trunc("previous gtids count")?;
        // Tagged format: byte 0 and byte 7 are the format (1), bytes 1..7 the count.
        let tagged = head.first() == Some(&1) && head.get(7) == Some(&1);
        let count = if tagged {
            Reader::new(head.get(1..7).or_trunc("previous gtids count")?).uint_le(6).or_trunc("previous gtids count")?
        } else {
            Reader::new(head).u64_le().or_trunc("previous gtids count")?
        };
        // Each entry needs at least 24 bytes: never reserve more than the input can hold.
        let cap = usize::try_from(count).unwrap_or(usize::MAX).min(r.len() / 24);
        let mut entries = Vec::with_capacity(cap);
        for _ in 0..count {
            let uuid = Uuid::read(&mut r)?;
            let tag = if tagged {
                let n = usize::try_from(varlen(&mut r)?).map_err(|_| invalid("gtid tag"))?;
                let t = r.take(n).or_trunc("gtid tag")?;
                (!t.is_empty()).then_some(t)
            } else {
                None
            };
            let n = r.u64_le().or_trunc("gtid interval count")?;
            let bytes = usize::try_from(n).ok().and_then(|n| n.checked_mul(16)).ok_or(invalid("gtid interval count"))?;
            let intervals = r.take(bytes).or_trunc("gtid intervals")?;
            entries.push(GtidSetEntry { uuid, tag, intervals });
        }
        Ok(PreviousGtidsEvent { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_varlen(v: u64) -> Vec<u8> {
        let bits = 64 - v.leading_zeros() as usize;
        let n = ((bits * 575) >> 12) + 1;
        let mut out = vec![0u8; n];
        out[0] = (((1u16 << (n - 1)) - 1) as u8) | ((v << n) as u8);
        if n > 1 {
            let shift = 8 + ((n + 7) >> 4) - n;
            let rest = (v >> shift).to_le_bytes();
            out[1..].copy_from_slice(&rest[..n - 1]);
        }
        out
    }

    #[test]
    fn varlen_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 65535, 90600, 1 << 40, (1 << 56) - 1, 1 << 56, u64::MAX - 1, u64::MAX] {
            let enc = encode_varlen(v);
            let mut r = Reader::new(&enc);
            assert_eq!(varlen(&mut r).unwrap(), v, "{v} as {enc:?}");
            assert!(r.is_empty());
        }
        // From MySQL's documentation: 65535 is 0xfb 0xff 0x07.
        assert_eq!(varlen(&mut Reader::new(&[0xfb, 0xff, 0x07])).unwrap(), 65535);
        assert_eq!(varlen_signed(&mut Reader::new(&[0xeb, 0xff, 0x0f])).unwrap(), -65535);
    }

    #[test]
    fn uuid_text() {
        let u = Uuid([0x55, 0x77, 0x89, 0x04, 0x02, 0x99, 0x11, 0xf1, 0xb1, 0xb8, 0x4e, 0xf0, 0xc4, 0x95, 0x6f, 0xeb]);
        assert_eq!(u.to_string(), "55778904-0299-11f1-b1b8-4ef0c4956feb");
    }
}
