//! The small events: ROTATE, XID, INTVAR, RAND, USER_VAR, INCIDENT, HEARTBEAT (v1, v2),
//! ROWS_QUERY, XA_PREPARE and MariaDB's ANNOTATE_ROWS, BINLOG_CHECKPOINT and START_ENCRYPTION.
//!
//! Invariant: each parser reads only its event body (header and checksum already stripped) and
//! borrows every variable-length field from it.

use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// ROTATE_EVENT: the stream continues in another binlog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateEvent<'a> {
    /// Position of the first event in the next file.
    pub position: u64,
    /// Name of the next file.
    pub next_file: &'a [u8],
}

impl<'a> RotateEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize) -> Result<Self> {
        let mut r = Reader::new(body);
        let position = if post_header_len >= 8 { r.u64_le().or_trunc("rotate position")? } else { 4 };
        r.skip(post_header_len.saturating_sub(8)).or_trunc("rotate post-header")?;
        Ok(RotateEvent { position, next_file: r.take_rest() })
    }
}

/// XID_EVENT: commit of an XA-capable (InnoDB) transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XidEvent {
    /// The server's transaction id.
    pub xid: u64,
}

impl XidEvent {
    pub(crate) fn parse(body: &[u8]) -> Result<Self> {
        Ok(XidEvent { xid: Reader::new(body).u64_le().or_trunc("xid")? })
    }
}

/// INTVAR_EVENT: `LAST_INSERT_ID()` or `INSERT_ID` for the next statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntvarEvent {
    /// 1 = LAST_INSERT_ID, 2 = INSERT_ID.
    pub kind: u8,
    /// The value.
    pub value: u64,
}

impl IntvarEvent {
    pub(crate) fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        Ok(IntvarEvent { kind: r.u8().or_trunc("intvar")?, value: r.u64_le().or_trunc("intvar")? })
    }
}

/// RAND_EVENT: the seeds of `RAND()` for the next statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandEvent {
    /// First seed.
    pub seed1: u64,
    /// Second seed.
    pub seed2: u64,
}

impl RandEvent {
    pub(crate) fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        Ok(RandEvent { seed1: r.u64_le().or_trunc("rand")?, seed2: r.u64_le().or_trunc("rand")? })
    }
}

/// USER_VAR_EVENT: a user variable used by the next statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserVarEvent<'a> {
    /// The variable name (without `@`).
    pub name: &'a [u8],
    /// `None` when the value is NULL.
    pub value: Option<UserVarValue<'a>>,
}

/// The value of a user variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserVarValue<'a> {
    /// Item result type: 0 string, 1 real, 2 int, 3 row, 4 decimal.
    pub kind: u8,
    /// Character set number.
    pub charset: u32,
    /// The raw value bytes (little-endian for numbers).
    pub bytes: &'a [u8],
    /// Flags (bit 0: unsigned), when present.
    pub flags: Option<u8>,
}

impl<'a> UserVarEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let name_len = r.u32_le().or_trunc("user var name")?;
        let name = r.take(usize::try_from(name_len).map_err(|_| invalid("user var name"))?).or_trunc("user var name")?;
        let is_null = r.u8().or_trunc("user var")?;
        if is_null != 0 {
            return Ok(UserVarEvent { name, value: None });
        }
        let kind = r.u8().or_trunc("user var type")?;
        let charset = r.u32_le().or_trunc("user var charset")?;
        let len = r.u32_le().or_trunc("user var length")?;
        let bytes = r.take(usize::try_from(len).map_err(|_| invalid("user var length"))?).or_trunc("user var value")?;
        let flags = r.u8();
        Ok(UserVarEvent { name, value: Some(UserVarValue { kind, charset, bytes, flags }) })
    }
}

/// INCIDENT_EVENT: something happened on the primary that replicas cannot follow (e.g. lost events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentEvent<'a> {
    /// Incident number (1 = LOST_EVENTS).
    pub incident: u16,
    /// The message.
    pub message: &'a [u8],
}

impl<'a> IncidentEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let incident = r.u16_le().or_trunc("incident")?;
        let message = if r.is_empty() { &[][..] } else { r.u8_bytes().or_trunc("incident message")? };
        Ok(IncidentEvent { incident, message })
    }
}

/// HEARTBEAT_LOG_EVENT (v1) or HEARTBEAT_LOG_EVENT_V2: the primary is alive; nothing new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatEvent<'a> {
    /// The binlog file the primary is at.
    pub log_file: &'a [u8],
    /// The position in that file (v2 carries it in the body; v1 in the header's `log_pos`).
    pub position: Option<u64>,
}

impl<'a> HeartbeatEvent<'a> {
    pub(crate) fn parse_v1(body: &'a [u8]) -> Result<Self> {
        Ok(HeartbeatEvent { log_file: body, position: None })
    }

    /// v2 is a list of (type, packed length, value): 1 = file name, 2 = position, 0 = end.
    pub(crate) fn parse_v2(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut ev = HeartbeatEvent { log_file: &[], position: None };
        while let Some(field) = r.u8() {
            if field == 0 {
                break;
            }
            let value = r.packed_bytes().or_trunc("heartbeat field")?;
            match field {
                1 => ev.log_file = value,
                2 => ev.position = Some(Reader::new(value).packed().or_trunc("heartbeat position")?),
                _ => {}
            }
        }
        Ok(ev)
    }
}

/// ROWS_QUERY_LOG_EVENT (MySQL) / ANNOTATE_ROWS_EVENT (MariaDB): the SQL text behind the next rows events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsQueryEvent<'a> {
    /// The statement text.
    pub query: &'a [u8],
}

impl<'a> RowsQueryEvent<'a> {
    /// MySQL prefixes the text with a (truncated) 1-byte length that is ignored.
    pub(crate) fn parse_mysql(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        r.skip(1).or_trunc("rows query")?;
        Ok(RowsQueryEvent { query: r.take_rest() })
    }

    pub(crate) fn parse_annotate(body: &'a [u8]) -> Result<Self> {
        Ok(RowsQueryEvent { query: body })
    }
}

/// MariaDB BINLOG_CHECKPOINT_EVENT: binlogs before this one are no longer needed for crash recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinlogCheckpointEvent<'a> {
    /// The oldest binlog file still needed.
    pub file: &'a [u8],
}

impl<'a> BinlogCheckpointEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let len = r.u32_le().or_trunc("binlog checkpoint")?;
        let file = r.take(usize::try_from(len).map_err(|_| invalid("checkpoint name"))?).or_trunc("binlog checkpoint name")?;
        Ok(BinlogCheckpointEvent { file })
    }
}

/// MariaDB START_ENCRYPTION_EVENT: every later event of this file is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartEncryptionEvent<'a> {
    /// Encryption scheme (1).
    pub scheme: u8,
    /// Key version.
    pub key_version: u32,
    /// 12-byte nonce.
    pub nonce: &'a [u8],
}

impl<'a> StartEncryptionEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        Ok(StartEncryptionEvent {
            scheme: r.u8().or_trunc("start encryption")?,
            key_version: r.u32_le().or_trunc("start encryption")?,
            nonce: r.take(12).or_trunc("start encryption nonce")?,
        })
    }
}

/// An XA transaction id (`format_id`, `gtrid`, `bqual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xid<'a> {
    /// The format id.
    pub format_id: i32,
    /// Global transaction id.
    pub gtrid: &'a [u8],
    /// Branch qualifier.
    pub bqual: &'a [u8],
}

/// XA_PREPARE_LOG_EVENT: `XA PREPARE` (or `XA COMMIT ... ONE PHASE`) of an XA transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XaPrepareEvent<'a> {
    /// True for `XA COMMIT ... ONE PHASE`.
    pub one_phase: bool,
    /// The XA id.
    pub xid: Xid<'a>,
}

impl<'a> XaPrepareEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let one_phase = r.u8().or_trunc("xa prepare")? != 0;
        let format_id = r.i32_le().or_trunc("xa prepare")?;
        let gtrid_len = r.u32_le().or_trunc("xa prepare")?;
        let bqual_len = r.u32_le().or_trunc("xa prepare")?;
        if gtrid_len > 64 || bqual_len > 64 {
            return Err(invalid("xa id length"));
        }
        let gtrid = r.take(gtrid_len as usize).or_trunc("xa gtrid")?;
        let bqual = r.take(bqual_len as usize).or_trunc("xa bqual")?;
        Ok(XaPrepareEvent { one_phase, xid: Xid { format_id, gtrid, bqual } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_and_heartbeat() {
        let mut b = 4u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"mysql-bin.000002");
        let r = RotateEvent::parse(&b, 8).unwrap();
        assert_eq!((r.position, r.next_file), (4, &b"mysql-bin.000002"[..]));
        let hb = HeartbeatEvent::parse_v2(&[1, 3, b'a', b'b', b'c', 2, 2, 252, 0, 0]).unwrap_err();
        assert!(hb.is_truncation());
        let hb = HeartbeatEvent::parse_v2(&[1, 3, b'a', b'b', b'c', 2, 3, 252, 1, 2, 0]).unwrap();
        assert_eq!((hb.log_file, hb.position), (&b"abc"[..], Some(0x0201)));
    }

    #[test]
    fn user_var() {
        let mut b = 1u32.to_le_bytes().to_vec();
        b.extend_from_slice(b"x");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&33u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&7u64.to_le_bytes());
        let u = UserVarEvent::parse(&b).unwrap();
        assert_eq!(u.name, b"x");
        assert_eq!(u.value.unwrap().bytes, 7u64.to_le_bytes());
        assert!(UserVarEvent::parse(&b[..b.len() - 1]).is_err());
    }
}
