//! MariaDB GTID_EVENT (domain-server-sequence, flags, group commit id, XA id, extra flags) and
//! GTID_LIST_EVENT (the binlog state at the start of a file).
//!
//! Invariant: like the server, fields guarded by a flag are read only when the flag is set, and
//! the extra-flags byte only when bytes remain after them (zero padding then reads as "no flags").

use crate::error::{invalid, Result};
use crate::event::misc::Xid;
use crate::reader::{OrTruncated, Reader};

/// `FL_STANDALONE`: the event group has no BEGIN (a DDL or other standalone statement).
pub const FL_STANDALONE: u8 = 1;
/// `FL_GROUP_COMMIT_ID`: a commit id follows.
pub const FL_GROUP_COMMIT_ID: u8 = 2;
/// `FL_TRANSACTIONAL`: all changes are in transactional engines.
pub const FL_TRANSACTIONAL: u8 = 4;
/// `FL_ALLOW_PARALLEL`: may be applied in parallel (optimistic mode).
pub const FL_ALLOW_PARALLEL: u8 = 8;
/// `FL_WAITED`: the transaction waited for a row lock on the primary.
pub const FL_WAITED: u8 = 16;
/// `FL_DDL`: the group is DDL.
pub const FL_DDL: u8 = 32;
/// `FL_PREPARED_XA`: XA PREPARE of an XA transaction.
pub const FL_PREPARED_XA: u8 = 64;
/// `FL_COMPLETED_XA`: XA COMMIT/ROLLBACK.
pub const FL_COMPLETED_XA: u8 = 128;

const FL_EXTRA_MULTI_ENGINE: u8 = 1;
const FL_EXTRA_COMMIT_ALTER: u8 = 4;
const FL_EXTRA_ROLLBACK_ALTER: u8 = 8;

/// MariaDB GTID_EVENT: the start of an event group, with its GTID `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariadbGtidEvent<'a> {
    /// The sequence number.
    pub seq_no: u64,
    /// The replication domain.
    pub domain_id: u32,
    /// `FL_*` flags.
    pub flags: u8,
    /// Group commit id (transactions with the same id committed together).
    pub commit_id: Option<u64>,
    /// The XA id of XA PREPARE / XA COMMIT groups.
    pub xid: Option<Xid<'a>>,
    /// Extra flags (MariaDB 10.8+).
    pub flags_extra: u8,
    /// Number of extra engines in a multi-engine transaction.
    pub extra_engines: Option<u8>,
    /// For COMMIT/ROLLBACK of a two-phase ALTER: the sequence number of its START ALTER.
    pub start_alter_seq_no: Option<u64>,
}

impl<'a> MariadbGtidEvent<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let seq_no = r.u64_le().or_trunc("gtid seq_no")?;
        let domain_id = r.u32_le().or_trunc("gtid domain_id")?;
        let flags = r.u8().or_trunc("gtid flags")?;
        let commit_id =
            if flags & FL_GROUP_COMMIT_ID != 0 { Some(r.u64_le().or_trunc("gtid commit id")?) } else { None };
        let xid = if flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
            let format_id = r.i32_le().or_trunc("gtid xid")?;
            let gtrid_len = r.u8().or_trunc("gtid xid")?;
            let bqual_len = r.u8().or_trunc("gtid xid")?;
            if gtrid_len > 64 || bqual_len > 64 {
                return Err(invalid("xid length"));
            }
            let gtrid = r.take(usize::from(gtrid_len)).or_trunc("gtid xid")?;
            let bqual = r.take(usize::from(bqual_len)).or_trunc("gtid xid")?;
            Some(Xid { format_id, gtrid, bqual })
        } else {
            None
        };
        let mut ev = MariadbGtidEvent {
            seq_no,
            domain_id,
            flags,
            commit_id,
            xid,
            flags_extra: 0,
            extra_engines: None,
            start_alter_seq_no: None,
        };
        if let Some(extra) = r.u8() {
            ev.flags_extra = extra;
            if extra & FL_EXTRA_MULTI_ENGINE != 0 {
                ev.extra_engines = Some(r.u8().or_trunc("gtid extra engines")?);
            }
            if extra & (FL_EXTRA_COMMIT_ALTER | FL_EXTRA_ROLLBACK_ALTER) != 0 {
                ev.start_alter_seq_no = Some(r.u64_le().or_trunc("gtid start alter seq_no")?);
            }
        }
        Ok(ev)
    }

    /// True when the group has no BEGIN/COMMIT around it (DDL or another standalone statement).
    pub fn is_standalone(&self) -> bool {
        self.flags & FL_STANDALONE != 0
    }
}

/// One `domain-server-seq` triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariadbGtid {
    /// Replication domain.
    pub domain_id: u32,
    /// Originating server.
    pub server_id: u32,
    /// Sequence number.
    pub seq_no: u64,
}

impl std::fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

/// MariaDB GTID_LIST_EVENT: the last GTID of every domain (and server) before this file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidListEvent {
    /// Flags (top 4 bits of the count field).
    pub flags: u8,
    /// The GTIDs.
    pub gtids: Vec<MariadbGtid>,
}

impl GtidListEvent {
    pub(crate) fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let raw = r.u32_le().or_trunc("gtid list count")?;
        let count = (raw & 0x0fff_ffff) as usize;
        let flags = (raw >> 28) as u8;
        if count.checked_mul(16).is_none_or(|n| n > r.len()) {
            return Err(crate::error::truncated("gtid list"));
        }
        let mut gtids = Vec::with_capacity(count);
        for _ in 0..count {
            gtids.push(MariadbGtid {
                domain_id: r.u32_le().or_trunc("gtid list")?,
                server_id: r.u32_le().or_trunc("gtid list")?,
                seq_no: r.u64_le().or_trunc("gtid list")?,
            });
        }
        Ok(GtidListEvent { flags, gtids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_with_commit_id() {
        let mut b = 42u64.to_le_bytes().to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(FL_GROUP_COMMIT_ID | FL_TRANSACTIONAL);
        b.extend_from_slice(&9u64.to_le_bytes());
        let g = MariadbGtidEvent::parse(&b).unwrap();
        assert_eq!((g.seq_no, g.domain_id, g.commit_id), (42, 3, Some(9)));
        assert!(MariadbGtidEvent::parse(&b[..15]).is_err());
    }

    #[test]
    fn gtid_list_rejects_huge_counts() {
        let b = 0x0fff_ffffu32.to_le_bytes();
        assert!(GtidListEvent::parse(&b).is_err());
    }
}
